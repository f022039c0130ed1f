import io

import numpy as np
import pytest


@pytest.fixture
def eurusd(db, fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def register_forecaster(*, drift: float = 1.0, periods: bool = False):
    """A registered diffusion forecaster: real (untrained, tiny) weights, its normalizer fitted on the
    fixture's bars - exactly the files a training run registers, with `drift` as a run would fit it;
    with `periods`, the train / val / test periods a run on those bars records (of the fixture's 399
    bars: training 2014-05-30 15:00 to 2014-06-12 03:00, validation 2014-06-12 05:00 to 2014-06-18
    04:00, test 2014-06-18 06:00 to 2014-06-24 05:00); without, a version from before periods were kept."""
    import torch

    from marketdata.selectors import candles_frame
    from registry.services import artifact_register
    from training.engine import DiffusionForecaster
    from training.engine.periods import periods_of
    from training.engine.trainer import prepare_data

    data = prepare_data(candles_frame(symbol="EURUSD", timeframe="1h"), patch_len=32, horizon=12)
    data.normalizer.drift = drift
    torch.manual_seed(0)
    model = DiffusionForecaster(channels=len(data.channels), patch_len=32, horizon=12, dim=16, layers=1, heads=2)
    checkpoint, stats = io.BytesIO(), io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "model_config": model.config}, checkpoint)
    np.savez(stats, **data.normalizer.to_npz())
    config = {"model": model.config, "patch_len": 32, "horizon": 12, "channels": data.channels}
    return artifact_register(
        model_name="eurusd-1h-h12",
        files={
            "checkpoint": checkpoint.getvalue(),
            "config": config,
            "stats": stats.getvalue(),
            "history": {"epochs": []},
        },
        symbol="EURUSD",
        timeframe="1h",
        horizon_bars=12,
        channel_order=data.channels,
        metrics={},
        description="test forecaster",
        periods=periods_of(data) if periods else None,
    )


def stored_set(user, version, **changes):
    """A finished forecast set of `version` on the fixture's bars, its rows written directly (no model:
    a Gaussian band of fixed width around a small random median), so that scores, calibrations and
    labels can be tested in a fraction of a second. `changes`: the request's start, end, ..."""
    from forecasts.models import ForecastRow, ForecastSet
    from forecasts.request import ForecastRequest
    from forecasts.services import forecast_set_start
    from marketdata.selectors import candles_frame

    request = ForecastRequest.from_dict(
        {"artifact": version.ref, "symbol": "EURUSD", "timeframe": "1h", "samples": 20, **changes}
    )
    fs = forecast_set_start(user=user, request=request, enqueue=False)
    ts = candles_frame(symbol="EURUSD", timeframe="1h")["ts"]
    stamps = ts[(ts >= fs.first) & (ts <= fs.last)]
    rng = np.random.default_rng(fs.pk)
    median = rng.normal(0, 2e-4, len(stamps))
    z = {"q05": -1.645, "q10": -1.2816, "q25": -0.6745, "q50": 0.0, "q75": 0.6745, "q90": 1.2816, "q95": 1.645}
    ForecastRow.objects.bulk_create(
        [
            ForecastRow(
                forecast_set=fs, ts=stamp, pred_return=m, confidence=0.6, **{q: m + k * 0.0015 for q, k in z.items()}
            )
            for stamp, m in zip(stamps, median)
        ]
    )
    ForecastSet.objects.filter(pk=fs.pk).update(status="succeeded", progress=1.0, rows=len(stamps))
    fs.refresh_from_db()
    return fs


@pytest.fixture
def forecaster(eurusd):
    return register_forecaster()


@pytest.fixture
def child_env(transactional_db, monkeypatch, settings, tmp_path):
    """Forecast children (real processes) see the test database, media and checkpoint folders."""
    from django.db import connection

    from tests.conftest import _database_url

    monkeypatch.setenv("DATABASE_URL", _database_url(connection.settings_dict))
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    settings.FOREXGPT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    monkeypatch.setenv("FOREXGPT_CHECKPOINT_DIR", str(settings.FOREXGPT_CHECKPOINT_DIR))
    monkeypatch.setenv("FOREXGPT_FORECAST_CHUNK", "64")
