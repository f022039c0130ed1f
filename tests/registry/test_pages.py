import json

import pytest

from registry.views import _history_figure


@pytest.mark.parametrize("history", [
    {"epochs": [{"epoch": 0, "step": 10, "train_loss": 0.9, "val_loss": 1.0}, {"epoch": 1, "step": 20, "train_loss": 0.7, "val_loss": 0.8}]},
    [{"epoch": 0, "train_loss": 0.9, "val_loss": 1.0}, {"epoch": 1, "train_loss": 0.7, "val_loss": 0.8}],
    {"epoch": [0, 1], "train_loss": [0.9, 0.7], "val_loss": [1.0, 0.8]},
])
def test_every_history_shape_is_charted_by_epoch(history):
    """What the trainer writes ({"epochs": [...]}) was once shown as "No training history file"."""
    fig = _history_figure(history)
    assert [t["name"] for t in fig["data"]] == ["train_loss", "val_loss"]
    assert all(list(t["x"]) == [0, 1] for t in fig["data"]) and list(fig["data"][1]["y"]) == [1.0, 0.8]


def test_the_version_page_draws_a_trained_model_s_history(logged_in_client, artifact_files, db):
    from registry.services import artifact_register

    files = artifact_files(0)
    files["history"] = json.dumps({"epochs": [{"epoch": 0, "step": 5, "train_loss": 0.9, "val_loss": 1.0}]}).encode()
    version = artifact_register(model_name="m", files=files, symbol="EURUSD", timeframe="1h", horizon_bars=12,
                                channel_order=["ret_open", "ret_high", "ret_low", "ret_close"], metrics={})
    page = logged_in_client.get(f"/registry/versions/{version.pk}/").content.decode()
    assert 'id="history-figure"' in page and "No training history file" not in page
