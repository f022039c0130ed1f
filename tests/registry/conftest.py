import io
import json

import numpy as np
import pytest
import torch

CHANNELS = ["ret_open", "ret_high", "ret_low", "ret_close"]


@pytest.fixture
def artifact_files(tmp_path):
    """Real artifact files: a tiny torch checkpoint, config, stats and history, as a trainer writes them."""

    def _make(seed: int = 0) -> dict:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(len(CHANNELS), 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        ckpt = tmp_path / f"model-{seed}.ckpt"
        torch.save({"state_dict": net.state_dict(), "epoch": 3}, ckpt)
        stats = io.BytesIO()
        rng = np.random.default_rng(seed)
        np.savez(stats, mu=rng.normal(size=len(CHANNELS)), sigma=rng.uniform(0.5, 2, size=len(CHANNELS)))
        return {
            "checkpoint": ckpt,
            "config": {"patch_len": 64, "horizon_bars": 12, "seed": seed},
            "stats": stats.getvalue(),
            "history": json.dumps({"epoch": [1, 2, 3], "train_loss": [1.0, 0.7, 0.5 + seed / 100], "val_loss": [1.1, 0.8, 0.6]}).encode(),
        }

    return _make


@pytest.fixture
def register(artifact_files):
    from registry.services import artifact_register

    def _register(name="eurusd-1h-h12", seed=0, **kwargs):
        params = {"symbol": "EUR/USD", "timeframe": "1h", "horizon_bars": 12, "channel_order": CHANNELS,
                  "metrics": {"crps": 0.001 + seed / 1000, "mae": 0.002}, **kwargs}
        return artifact_register(model_name=name, files=artifact_files(seed), **params)

    return _register


def stored_files(media_root) -> list[str]:
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []
