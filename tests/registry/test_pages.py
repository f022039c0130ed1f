import json

import pytest

from registry.views import _history_figure


@pytest.mark.parametrize(
    "history",
    [
        {
            "epochs": [
                {"epoch": 0, "step": 10, "train_loss": 0.9, "val_loss": 1.0},
                {"epoch": 1, "step": 20, "train_loss": 0.7, "val_loss": 0.8},
            ]
        },
        [{"epoch": 0, "train_loss": 0.9, "val_loss": 1.0}, {"epoch": 1, "train_loss": 0.7, "val_loss": 0.8}],
        {"epoch": [0, 1], "train_loss": [0.9, 0.7], "val_loss": [1.0, 0.8]},
    ],
)
def test_every_history_shape_is_charted_by_epoch(history):
    """What the trainer writes ({"epochs": [...]}) was once shown as "No training history file"."""
    fig = _history_figure(history)
    assert [t["name"] for t in fig["data"]] == ["train_loss", "val_loss"]
    # epochs counted from 1, as the training page counts them
    assert all(list(t["x"]) == [1, 2] for t in fig["data"]) and list(fig["data"][1]["y"]) == [1.0, 0.8]


def test_the_version_page_draws_a_trained_model_s_history(logged_in_client, artifact_files, db):
    from registry.services import artifact_register

    files = artifact_files(0)
    files["history"] = json.dumps({"epochs": [{"epoch": 0, "step": 5, "train_loss": 0.9, "val_loss": 1.0}]}).encode()
    version = artifact_register(
        model_name="m",
        files=files,
        symbol="EURUSD",
        timeframe="1h",
        horizon_bars=12,
        channel_order=["ret_open", "ret_high", "ret_low", "ret_close"],
        metrics={},
    )
    page = logged_in_client.get(f"/registry/versions/{version.pk}/").content.decode()
    assert 'id="history-figure"' in page and "No training history file" not in page


def test_the_list_compares_each_version_with_its_strongest_baseline_by_name(logged_in_client, artifact_files, db):
    """The lowest of the `crps_<baseline>` metrics, not the weakest; versions from before the GARCH
    baseline compare with the strongest they have, and one without baselines shows none."""
    from registry.services import artifact_register

    def register(seed, metrics):
        return artifact_register(
            model_name="m",
            files=artifact_files(seed),
            symbol="EURUSD",
            timeframe="1h",
            horizon_bars=12,
            channel_order=["ret_open", "ret_high", "ret_low", "ret_close"],
            metrics=metrics,
        )

    register(
        0,
        {
            "crps": 0.00145,
            "crps_random_walk": 0.00150,
            "crps_ewma_gaussian": 0.00153,
            "crps_seasonal_ewma": 0.00148,
            "crps_seasonal_garch_t": 0.00147,
        },
    )
    register(
        1, {"crps": 0.00145, "crps_random_walk": 0.00150, "crps_ewma_gaussian": 0.00153, "crps_seasonal_ewma": 0.00148}
    )
    register(2, {"crps": 0.00145})
    page = logged_in_client.get("/registry/").content.decode()
    assert "CRPS / strongest baseline" in page
    assert (
        "0.9864 vs crps_seasonal_garch_t" in page
    )  # 0.00145 / 0.00147, not / 0.00153 (the EWMA Gaussian, the weakest)
    assert "0.9797 vs crps_seasonal_ewma" in page  # 0.00145 / 0.00148: the strongest of the three it has
    assert page.count(" vs ") == 2


def _version(artifact_files, seed, *, metrics, config=None, history=None, model_name="m"):
    from registry.services import artifact_register

    files = artifact_files(seed)
    if config is not None:
        files["config"] = json.dumps(config).encode()
    if history is not None:
        files["history"] = json.dumps({"epochs": history}).encode()
    return artifact_register(
        model_name=model_name,
        files=files,
        symbol="EURUSD",
        timeframe="1h",
        horizon_bars=12,
        channel_order=["ret_open", "ret_high", "ret_low", "ret_close"],
        metrics=metrics,
    )


def test_staff_curate_tags_and_aliases_from_the_version_page(client, staff_user, artifact_files, db):
    from registry.models import AliasHistory

    version = _version(artifact_files, 0, metrics={})
    client.force_login(staff_user)
    url = f"/registry/versions/{version.pk}/"
    page = client.post(url, {"action": "tag_add", "value": "stage=review"}, follow=True).content.decode()
    assert "tag stage=review added" in page and version.tags.get().as_string == "stage=review"
    page = client.post(url, {"action": "alias_set", "value": "champion"}, follow=True).content.decode()
    assert f"alias champion now points at {version.ref}" in page and [a.name for a in version.aliases.all()] == [
        "champion"
    ]
    assert 'aria-label="remove alias champion"' in page and 'id="curation"' in page
    page = client.post(url, {"action": "alias_set", "value": "Not A Slug"}, follow=True).content.decode()
    assert "must be a slug" in page and version.aliases.count() == 1
    client.post(url, {"action": "alias_remove", "value": "champion"})
    client.post(url, {"action": "tag_remove", "value": "stage=review"})
    assert not version.tags.exists() and not version.aliases.exists()
    assert list(AliasHistory.objects.values_list("to_version", flat=True).order_by("pk")) == [version.version, None]


def test_a_user_who_is_not_staff_sees_a_hint_and_cannot_curate(logged_in_client, artifact_files, db):
    version = _version(artifact_files, 0, metrics={})
    url = f"/registry/versions/{version.pk}/"
    page = logged_in_client.get(url).content.decode()
    assert 'id="curation-hint"' in page and 'id="curation"' not in page and "remove tag" not in page
    assert logged_in_client.post(url, {"action": "tag_add", "value": "mine"}).status_code == 403
    assert logged_in_client.post(url, {"action": "alias_set", "value": "champion"}).status_code == 403
    assert not version.tags.exists() and not version.aliases.exists()


def test_an_unknown_version_asked_for_comparison_is_said(logged_in_client, artifact_files, db):
    a = _version(artifact_files, 0, metrics={"crps": 0.00145}, config={"epochs": 6}, history=[])
    page = logged_in_client.get("/registry/compare/", {"version": [a.pk, 999, "abc"]}).content.decode()
    assert "no model version 999, abc: left out" in page and a.ref in page


def test_versions_compare_side_by_side_with_overlaid_losses(logged_in_client, artifact_files, db):
    a = _version(
        artifact_files,
        0,
        metrics={"crps": 0.00145, "crps_random_walk": 0.0015},
        config={"epochs": 6, "batch_size": 256, "model": {"dim": 64}},
        history=[{"epoch": 0, "train_loss": 0.9, "val_loss": 1.0}, {"epoch": 1, "train_loss": 0.7, "val_loss": 0.8}],
    )
    b = _version(
        artifact_files,
        1,
        metrics={"crps": 0.00150, "crps_random_walk": 0.0015, "mae_median": 0.001},
        config={"epochs": 12, "batch_size": 256, "model": {"dim": 64}},
        history=[{"epoch": 0, "train_loss": 0.95, "val_loss": 1.1}],
    )
    response = logged_in_client.get(f"/registry/compare/?version={b.pk}&version={a.pk}&version=99999999&version=x")
    page = response.content.decode()
    assert response.status_code == 200 and page.index(b.ref) < page.index(
        a.ref
    )  # in the order asked; unknown ids skipped
    figure = json.loads(page.split('id="compare-figure" type="application/json">')[1].split("</script>")[0])
    assert [t["name"] for t in figure["data"]] == [
        f"{b.ref} val_loss",
        f"{b.ref} train_loss",
        f"{a.ref} val_loss",
        f"{a.ref} train_loss",
    ]
    assert list(figure["data"][2]["x"]) == [1, 2]
    assert '<td class="num best">0.00145</td>' in page  # the lower CRPS of the row
    assert '<tr class="differs"><td>epochs</td><td class="num">12</td><td class="num">6</td></tr>' in page
    assert "<td>model.dim</td>" in page
    only = logged_in_client.get(f"/registry/compare/?version={a.pk}&version={b.pk}&diff=1").content.decode()
    assert "<td>epochs</td>" in only and "<td>model.dim</td>" not in only and "<td>batch_size</td>" not in only
    empty = logged_in_client.get("/registry/compare/").content.decode()
    assert "Tick versions on the" in empty
    listing = logged_in_client.get("/registry/").content.decode()
    assert f'name="version" value="{a.pk}"' in listing and 'action="/registry/compare/"' in listing
