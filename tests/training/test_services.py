import pytest

from training.request import TrainingRequest


@pytest.mark.django_db
def test_too_few_bars_for_a_split_are_refused_and_nothing_is_stored(user):
    from training.models import TrainingRun
    from training.services import training_run_start

    with pytest.raises(ValueError, match=r"no EURUSD 1h bars are stored: import them first \(the Data page"):
        training_run_start(user=user, request=TrainingRequest(symbol="EURUSD", timeframe="1h"), enqueue=False)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_the_run_page_shows_the_model_against_four_baselines_and_its_fitted_spread_and_drift(logged_in_client):
    from training.models import TrainingRun

    def scores(crps):
        return {
            "crps": crps,
            "mae_median": 0.001,
            "coverage_q05_q95": 0.88,
            "n": 1000,
            "pinball": {"q05": 1e-4, "q50": 5e-4, "q95": 1e-4},
        }

    quality = {
        "windows": 1000,
        "horizon_bars": 12,
        "model": scores(0.0097),
        "random_walk": scores(0.0100),
        "ewma_gaussian": scores(0.0102),
        "seasonal_ewma": scores(0.0098),
        "seasonal_garch_t": scores(0.00975),
        "spread": {
            "spread": 1.15,
            "drift": 0.25,
            "levels_scale": "predictive",
            "band_levels": [0.0312, 0.9688],
            "val_coverage_q05_q95": [0.861, 0.9],
        },
    }
    run = TrainingRun.objects.create(symbol="EURUSD", timeframe="1h", status="succeeded", quality=quality)
    page = logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    for label, ratio in (
        ("seasonal GARCH(1,1)-t", "0.9949"),
        ("seasonal EWMA", "0.9898"),
        ("EWMA Gaussian", "0.9510"),
        ("random walk", "0.9700"),
    ):
        assert f"<td>{label}" in page and f'<td class="num">{ratio}</td>' in page
    assert (
        "The strongest baseline here (the lowest CRPS) is the seasonal GARCH(1,1)-t: the model's CRPS is 0.9949x its."
        in page
    )
    assert "spread factor 1.15" in page and "its drift 0.25" in page
    assert (
        "Its 90% band is read at the 0.031 and 0.969 levels of its forecast distribution" in page
        and "0.861 before, 0.900 after" in page
    )
    del quality["spread"]["levels_scale"]  # a run from before 2026-12-08: its levels were its 100 samples'
    TrainingRun.objects.filter(pk=run.pk).update(quality=quality)
    page = logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    assert "Its 90% band is read at its 100 samples' 0.031 and 0.969 levels" in page


def test_the_status_line_compares_with_the_strongest_baseline_by_name():
    from training.services.child import quality_line

    quality = {
        "model": {"crps": 0.00145},
        "random_walk": {"crps": 0.0015},
        "ewma_gaussian": {"crps": 0.00153},
        "seasonal_ewma": {"crps": 0.00148},
        "seasonal_garch_t": {"crps": 0.00147},
    }
    assert quality_line(quality) == "test CRPS 0.00145, 0.9864x the strongest baseline, seasonal GARCH(1,1)-t (0.00147)"
    quality["seasonal_ewma"]["crps"] = 0.00146  # whichever is lowest, not a fixed one
    assert (
        quality_line(quality)
        == "test CRPS 0.00145, 0.9932x the strongest baseline, seasonal EWMA (hour of week) (0.00146)"
    )


@pytest.mark.django_db
def test_the_run_page_names_the_phase_counts_epochs_from_one_and_drops_a_stale_eta(logged_in_client, api_client):
    from training.models import TrainingRun
    from training.request import TrainingRequest

    run = TrainingRun.of_request(
        TrainingRequest(symbol="EURUSD", timeframe="1h", epochs=6),
        status="running",
        progress=0.45,
        epoch=2,
        step=163,
        eta_s=120,
    )
    run.save()
    page = logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    assert ">training</dd>" in page and "epoch 3 of 6, step 163" in page and ">120 s</dd>" in page
    for progress, phase in (
        (0.905, "fitting the spread and drift on the validation part"),
        (0.93, "scoring the test period"),
        (0.975, "registering the model version"),
    ):
        TrainingRun.objects.filter(pk=run.pk).update(progress=progress)
        assert api_client.get(f"/api/training-runs/{run.pk}/history/").json()["phase"] == phase
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", progress=1.0)
    page = logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    assert ">succeeded</dd>" in page and '<dd id="eta">-</dd>' in page  # no leftover countdown on a finished run


@pytest.mark.django_db
def test_a_finished_run_shows_its_last_epoch_of_its_epochs_on_the_run_page_and_the_list(logged_in_client):
    from training.models import TrainingRun

    run = TrainingRun.objects.create(
        symbol="EURUSD", timeframe="1h", status="succeeded", epoch=0, step=176, request={"epochs": 1}
    )
    assert "epoch 1 of 1, step 176" in logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    assert '<td class="num">1 of 1</td>' in logged_in_client.get("/training/").content.decode()
    TrainingRun.objects.filter(pk=run.pk).update(status="failed", step=0)  # failed before its first step
    assert (
        '<dd id="epoch-step" data-epochs="1">-</dd>'
        in logged_in_client.get(f"/training/runs/{run.pk}/").content.decode()
    )
    assert '<td class="num">-</td>' in logged_in_client.get("/training/").content.decode()
