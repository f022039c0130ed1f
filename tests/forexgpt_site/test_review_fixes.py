"""Defects found in review, each pinned by a test that failed before its fix."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from marketdata.models import CandleImport

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method, url", [
    ("get", "/api/registry/versions/"), ("get", "/api/registry/models/"), ("post", "/api/registry/import/"),
    ("get", "/api/calibrations/"), ("post", "/api/calibrations/"), ("post", "/api/candles/import/"),
    ("post", "/api/candle-imports/1/cancel/"), ("get", "/api/registry/versions/1/export/"),
])
def test_anonymous_callers_are_refused_everywhere(method, url):
    assert getattr(APIClient(), method)(url).status_code in (401, 403)


def test_view_only_staff_cannot_run_curating_admin_actions(client, django_user_model, register):
    version = register()
    viewer = django_user_model.objects.create_user(username="viewer", password="viewer-pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(viewer)
    page = client.get("/admin/registry/modelversion/")
    assert page.status_code == 200
    assert "delete_versions" not in page.content.decode() and "add_tag" not in page.content.decode()
    client.post("/admin/registry/modelversion/", {"action": "delete_versions", "_selected_action": [version.pk]})
    assert version.__class__.objects.filter(pk=version.pk).exists()


def _import_run(owner):
    run = CandleImport(owner=owner, original_name="x.csv", symbol="EURUSD", timeframe="1h")
    run.file.save("x.csv", ContentFile(b""), save=False)
    run.save()
    return run


def test_only_the_owner_or_staff_cancel(api_client, user, staff_user, django_user_model):
    other = django_user_model.objects.create_user(username="other", password="other-pass-123")
    theirs = _import_run(other)
    assert api_client.post(f"/api/candle-imports/{theirs.pk}/cancel/").status_code == 403
    theirs.refresh_from_db()
    assert theirs.status == "queued"
    mine = _import_run(user)
    assert api_client.post(f"/api/candle-imports/{mine.pk}/cancel/").json()["status"] == "cancelled"
    staff = APIClient()
    staff.force_authenticate(staff_user)
    assert staff.post(f"/api/candle-imports/{theirs.pk}/cancel/").json()["status"] == "cancelled"


def test_a_run_whose_worker_died_can_be_cancelled_and_is_reaped(user, settings, capsys):
    from forexgpt_site.jobs import job_cancel

    settings.FOREXGPT_JOB_STALE_MINUTES = 15
    long_ago = timezone.now() - timedelta(minutes=20)
    dead, alive, dead2 = (_import_run(user) for _ in range(3))
    CandleImport.objects.filter(pk__in=[dead.pk, dead2.pk]).update(status="running", heartbeat_at=long_ago)
    CandleImport.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())
    assert job_cancel(run=dead, user=user).status == "cancelled"
    alive = job_cancel(run=alive, user=user)
    assert alive.status == "running" and alive.cancel_requested
    call_command("reap_stale_jobs", "--json")
    assert json.loads(capsys.readouterr().out)["marketdata.CandleImport"] == 1
    dead2.refresh_from_db()
    assert dead2.status == "failed" and "worker stopped reporting" in dead2.message


def test_resampling_again_corrects_a_bar_first_built_from_part_of_its_hour(fixture_path, tmp_path):
    from marketdata.selectors import candles_frame
    from marketdata.services import candles_import_file, candles_resample

    lines = fixture_path("eurusd_m1.csv").read_text().splitlines()
    first_half = tmp_path / "a.csv"
    first_half.write_text("\n".join(lines[:31]) + "\n")  # header + 07:00-07:29
    candles_import_file(source=first_half, symbol="EURUSD", timeframe="1m")
    candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")
    candles_import_file(source=fixture_path("eurusd_m1.csv"), symbol="EURUSD", timeframe="1m")
    report = candles_resample(symbol="EURUSD", source_timeframe="1m", target_timeframe="1h")
    assert report["updated"] == 1
    m1 = candles_frame(symbol="EURUSD", timeframe="1m")
    hour = m1[m1["ts"] < m1["ts"].iloc[0] + timedelta(hours=1)]
    bar = candles_frame(symbol="EURUSD", timeframe="1h").iloc[0]
    assert (bar["high"], bar["close"]) == (hour["high"].max(), hour["close"].iloc[-1])


def test_csv_without_a_time_column_and_with_split_date_time():
    from marketdata.engine import ImportRejected, read_text

    with pytest.raises(ImportRejected, match="CSV has no timestamp column"):
        read_text("when,open,high,low,close\n2020-01-01,1,1,1,1\n", format="csv")
    parsed = read_text("date,time,open,high,low,close\n2020-01-06,10:00,1,1.2,0.9,1.1\n2020-01-06,11:00,1,1.2,0.9,1.1\n")
    assert [t.hour for t in parsed.frame["ts"]] == [10, 11]


def test_compare_page_ignores_odd_digits(logged_in_client):
    assert logged_in_client.get("/conformal/compare/", {"run": ["²", "1"]}).status_code == 200
