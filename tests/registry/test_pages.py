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


def test_the_list_compares_each_version_with_its_strongest_baseline_by_name(logged_in_client, artifact_files, db):
    """The lowest of the `crps_<baseline>` metrics, not the weakest; versions from before the GARCH
    baseline compare with the strongest they have, and one without baselines shows none."""
    from registry.services import artifact_register

    def register(seed, metrics):
        return artifact_register(model_name="m", files=artifact_files(seed), symbol="EURUSD", timeframe="1h", horizon_bars=12,
                                 channel_order=["ret_open", "ret_high", "ret_low", "ret_close"], metrics=metrics)

    register(0, {"crps": 0.00145, "crps_random_walk": 0.00150, "crps_ewma_gaussian": 0.00153, "crps_seasonal_ewma": 0.00148,
                 "crps_seasonal_garch_t": 0.00147})
    register(1, {"crps": 0.00145, "crps_random_walk": 0.00150, "crps_ewma_gaussian": 0.00153, "crps_seasonal_ewma": 0.00148})
    register(2, {"crps": 0.00145})
    page = logged_in_client.get("/registry/").content.decode()
    assert "CRPS / strongest baseline" in page
    assert "0.9864 vs crps_seasonal_garch_t" in page  # 0.00145 / 0.00147, not / 0.00153 (the EWMA Gaussian, the weakest)
    assert "0.9797 vs crps_seasonal_ewma" in page  # 0.00145 / 0.00148: the strongest of the three it has
    assert page.count(" vs ") == 2
