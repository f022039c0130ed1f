import io

import numpy as np
import pytest


@pytest.fixture
def eurusd(db, fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def register_forecaster(*, drift: float = 1.0):
    """A registered diffusion forecaster: real (untrained, tiny) weights, its normalizer fitted on the
    fixture's bars - exactly the files a training run registers, with `drift` as a run would fit it."""
    import torch

    from marketdata.selectors import candles_frame
    from registry.services import artifact_register
    from training.engine import DiffusionForecaster
    from training.engine.trainer import prepare_data

    data = prepare_data(candles_frame(symbol="EURUSD", timeframe="1h"), patch_len=32, horizon=12)
    data.normalizer.drift = drift
    torch.manual_seed(0)
    model = DiffusionForecaster(channels=len(data.channels), patch_len=32, horizon=12, dim=16, layers=1, heads=2)
    checkpoint, stats = io.BytesIO(), io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "model_config": model.config}, checkpoint)
    np.savez(stats, **data.normalizer.to_npz())
    config = {"model": model.config, "patch_len": 32, "horizon": 12, "channels": data.channels}
    return artifact_register(model_name="eurusd-1h-h12", files={"checkpoint": checkpoint.getvalue(), "config": config,
                                                                "stats": stats.getvalue(), "history": {"epochs": []}},
                             symbol="EURUSD", timeframe="1h", horizon_bars=12, channel_order=data.channels, metrics={},
                             description="test forecaster")


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
