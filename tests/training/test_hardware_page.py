"""The Hardware page shows a stored report at once: detection runs on the gpu worker, not in the request."""

from training.models import HardwareReport

REPORT = {
    "hardware": {
        "gpu_count": 0,
        "gpus": [],
        "cpu_cores": 2,
        "ram_gb": 23.5,
        "torch_version": "2.13.0+cpu",
        "libraries": {"flash_attn": {"importable": False, "usable": False, "reason": "not installed"}},
    },
    "optimizations": [{"name": "precision", "value": "32-true", "reason": "no CUDA device"}],
}


def test_the_page_shows_the_stored_report_with_its_age_and_detects_nothing(
    logged_in_client, django_capture_on_commit_callbacks
):
    HardwareReport.objects.create(host="worker-1", report=REPORT)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page = logged_in_client.get("/hardware/").content.decode()
    assert "worker-1" in page and "Detect again" in page and "no CUDA device" in page and not queued


def test_without_a_report_the_gpu_worker_is_asked_and_the_page_says_so(
    logged_in_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page = logged_in_client.get("/hardware/").content.decode()
    assert 'id="detecting"' in page and 'http-equiv="refresh"' in page and len(queued) == 1


def _old_report(minutes: float = 5) -> HardwareReport:
    from datetime import timedelta

    from django.utils import timezone

    return HardwareReport.objects.create(
        host="worker-1", report=REPORT, detected_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_detect_again_asks_the_worker_and_the_page_reloads_until_the_new_report_is_in(
    logged_in_client, django_capture_on_commit_callbacks
):
    _old_report()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = logged_in_client.post("/hardware/")
    assert response.status_code == 302 and len(queued) == 1
    page = logged_in_client.get("/hardware/").content.decode()
    assert "this page reloads itself until the new report is in" in page
    assert 'id="detect-waiting"' in page and 'http-equiv="refresh"' in page and "Detect again</button>" not in page
    HardwareReport.objects.create(host="worker-2", report=REPORT)  # what the worker stores
    page = logged_in_client.get("/hardware/").content.decode()
    assert "worker-2" in page and "Detect again</button>" in page and 'http-equiv="refresh"' not in page


def test_a_fresh_report_is_not_detected_again(logged_in_client, django_capture_on_commit_callbacks):
    HardwareReport.objects.create(host="worker-1", report=REPORT)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page = logged_in_client.post("/hardware/", follow=True).content.decode()
    assert not queued and "s old: it was not detected again" in page and 'id="detect-waiting"' not in page


def test_detect_again_while_training_names_the_run_it_waits_for(
    logged_in_client, user, django_capture_on_commit_callbacks
):
    from training.models import TrainingRun

    HardwareReport.objects.filter(pk=_old_report(minutes=4).pk).update(
        report={**REPORT, "source": "training run #7 as it started"}
    )
    run = TrainingRun.objects.create(owner=user, status="running", symbol="EURUSD", timeframe="1h")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        page = logged_in_client.post("/hardware/", follow=True).content.decode()
    assert len(queued) == 1 and f"it is busy with training run #{run.pk} and detects after it" in page
    assert "detecting after training run" in page and "by training run #7 as it started" in page


def test_a_burst_of_detections_queued_behind_one_runs_once(monkeypatch, db):
    from datetime import timedelta

    from django.utils import timezone

    from training import hardware, tasks

    detections = []
    monkeypatch.setattr(hardware, "hardware_detect", lambda: detections.append(1) or REPORT)
    HardwareReport.objects.create(host="worker-1", report=REPORT, detected_at=timezone.now() - timedelta(minutes=5))
    results = [tasks.hardware_detect_execute() for _ in range(5)]  # five clicks' tasks, taken one after another
    assert len(detections) == 1 and HardwareReport.objects.count() == 2
    assert all("fresh: not detected again" in r for r in results[1:])
