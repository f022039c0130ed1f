import hashlib
import io
import json
import re

import numpy as np
import pytest
import torch
from django.core.exceptions import PermissionDenied

from registry.models import AliasHistory, ArtifactFile, ModelVersion, RegisteredModel
from registry.selectors import (
    version_by_ref,
    version_checkpoint_path,
    version_file_bytes,
    version_latest_with_tags,
    version_stats,
    versions_filtered,
)
from registry.services import (
    RegistryError,
    alias_remove,
    alias_set,
    artifacts_prune,
    version_tag_add,
    version_tag_remove,
)
from tests.registry.conftest import CHANNELS, stored_files

pytestmark = pytest.mark.django_db


def test_register_stores_files_with_size_and_checksum(register, artifact_files, _media_root):
    source = artifact_files(0)
    version = register(label="v1.0.0", description="first")
    assert version.ref == "eurusd-1h-h12:1" and version.symbol == "EURUSD" and version.timeframe == "1h"
    files = {f.kind: f for f in version.files.all()}
    assert sorted(files) == ["checkpoint", "config", "history", "meta", "stats"]
    ckpt = source["checkpoint"].read_bytes()
    assert files["checkpoint"].size == len(ckpt)
    assert files["checkpoint"].sha256 == hashlib.sha256(ckpt).hexdigest()
    assert files["checkpoint"].file.name == "registry/eurusd-1h-h12/v1/model.ckpt"  # relative: storage API only
    meta = json.loads(files["meta"].file.read())
    assert meta["horizon_bars"] == 12 and meta["channel_order"] == CHANNELS and meta["label"] == "v1.0.0"
    assert register(seed=1).version == 2


def test_checkpoint_and_stats_load_for_inference(register, artifact_files):
    version = register()
    state = torch.load(version_checkpoint_path(version), weights_only=True)
    assert state["epoch"] == 3 and state["state_dict"]["0.weight"].shape == (8, len(CHANNELS))
    stats = version_stats(version)
    with np.load(__import__("io").BytesIO(artifact_files(0)["stats"])) as expected:
        assert np.array_equal(stats["mu"], expected["mu"]) and np.array_equal(stats["sigma"], expected["sigma"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.pop("checkpoint"), "needs its checkpoint"),
        (lambda f: f.update(stats=b"not an npz"), "stats file is not a readable .npz"),
        (lambda f: f.update(config=b"{broken"), "config file is not valid JSON"),
        (lambda f: f.update(weights=b"x"), "unknown file kind"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_written(artifact_files, change, message, _media_root):
    from registry.services import artifact_register

    files = artifact_files(0)
    change(files)
    with pytest.raises(RegistryError, match=message):
        artifact_register(
            model_name="m", files=files, symbol="EURUSD", timeframe="1h", horizon_bars=12, channel_order=CHANNELS
        )
    assert (RegisteredModel.objects.count(), ModelVersion.objects.count(), ArtifactFile.objects.count()) == (0, 0, 0)
    assert stored_files(_media_root) == []


def _stats_with_levels(levels, key="level_map") -> bytes:
    out = io.BytesIO()
    np.savez(out, mu=np.zeros(len(CHANNELS)), sigma=np.ones(len(CHANNELS)), **{key: levels})
    return out.getvalue()


def test_the_registry_checks_band_levels_against_the_engines_grid():
    from registry.services._common import LEVEL_POINTS
    from training.engine.forecast import LEVEL_GRID

    assert LEVEL_GRID.shape == (LEVEL_POINTS,)


@pytest.mark.parametrize(
    "levels, message",
    [
        (np.linspace(0, 1, 50), r"101 finite numbers \(the band levels' map\), not \(50,\)"),
        (np.r_[np.linspace(0, 1, 100), np.nan], "101 finite numbers"),
        (np.linspace(1, 0, 101), "must rise from 0 to 1"),
        (np.linspace(0, 1.2, 101), "must rise from 0 to 1"),
    ],
)
@pytest.mark.parametrize("key", ["level_map", "levels"])  # the map now, and as saved before 2026-12-08
def test_stats_with_a_broken_band_levels_map_are_refused(artifact_files, levels, message, key, _media_root):
    from registry.services import artifact_register

    files = artifact_files(0) | {"stats": _stats_with_levels(levels, key)}
    with pytest.raises(RegistryError, match=message) as refused:
        artifact_register(
            model_name="m", files=files, symbol="EURUSD", timeframe="1h", horizon_bars=12, channel_order=CHANNELS
        )
    assert f"stats {key} must" in str(refused.value)
    assert ModelVersion.objects.count() == 0
    files["stats"] = _stats_with_levels(np.linspace(0, 1, 101) ** 1.1, key)  # a real map is taken
    artifact_register(
        model_name="m", files=files, symbol="EURUSD", timeframe="1h", horizon_bars=12, channel_order=CHANNELS
    )
    assert ModelVersion.objects.count() == 1


def test_stats_must_match_the_channels(register):
    with pytest.raises(RegistryError, match="stats have 4 channels but channel_order lists 2"):
        register(channel_order=["a", "b"])


def test_a_failure_while_storing_removes_the_files_already_written(register, _media_root, monkeypatch):
    register()
    before = stored_files(_media_root)
    from registry.models import VersionTag

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(VersionTag.objects, "get_or_create", broken)
    with pytest.raises(RuntimeError):
        register(seed=1, tags=["x"])
    assert ModelVersion.objects.count() == 1
    assert stored_files(_media_root) == before


def test_labels_are_unique_per_model(register):
    register(label="v1")
    with pytest.raises(RegistryError, match="already has a version labelled 'v1'"):
        register(seed=1, label="v1")
    assert register(name="other-model", label="v1").version == 1


def test_refs(register, staff_user):
    one, two = register(label="v1.0.0"), register(seed=1)
    alias_set(version=one, alias="production", user=staff_user)
    assert version_by_ref("eurusd-1h-h12") == two
    assert version_by_ref("eurusd-1h-h12:1") == one
    assert version_by_ref("eurusd-1h-h12:v1.0.0") == one
    assert version_by_ref("eurusd-1h-h12@production") == one
    with pytest.raises(RegistryError, match="has no alias 'champion'"):
        version_by_ref("eurusd-1h-h12@champion")
    with pytest.raises(RegistryError, match="there is no registered model 'nope'"):
        version_by_ref("nope")
    with pytest.raises(RegistryError, match="is not name, name:VERSION or name@alias"):
        version_by_ref("a b")


def test_tags_filter_and_need_staff(register, staff_user, user):
    one, two = register(), register(seed=1)
    version_tag_add(version=one, tag="eurusd", user=staff_user)
    version_tag_add(version=two, tag="owner=alice", user=staff_user)
    version_tag_add(version=two, tag="eurusd", user=staff_user)
    assert list(versions_filtered(tags=["eurusd"])) == [two, one]
    assert list(versions_filtered(tags=["eurusd", "owner=alice"])) == [two]
    assert version_latest_with_tags(["eurusd"]) == two
    with pytest.raises(PermissionDenied, match="only staff may change tags"):
        version_tag_add(version=one, tag="x", user=user)
    assert version_tag_remove(version=two, tag="eurusd", user=staff_user) == 1
    assert list(versions_filtered(tags=["eurusd"])) == [one]
    with pytest.raises(RegistryError, match="must be a label"):
        version_tag_add(version=one, tag="has space", user=staff_user)


def test_alias_moves_leave_history_and_need_staff(register, staff_user, user):
    one, two = register(), register(seed=1)
    alias_set(version=one, alias="production", user=staff_user)
    alias_set(version=two, alias="production", user=staff_user)
    alias_set(version=two, alias="production", user=staff_user)  # no move, no row
    assert version_by_ref("eurusd-1h-h12@production") == two
    rows = list(
        AliasHistory.objects.order_by("id").values_list("alias", "from_version", "to_version", "changed_by__username")
    )
    assert rows == [("production", None, 1, "curator"), ("production", 1, 2, "curator")]
    with pytest.raises(PermissionDenied, match="only staff may move aliases"):
        alias_set(version=one, alias="production", user=user)
    assert alias_remove(registered_model=one.registered_model, alias="production", user=staff_user)
    assert AliasHistory.objects.order_by("-id").values_list("from_version", "to_version").first() == (2, None)


def test_prune_keeps_newest_and_protected_versions(register, staff_user, _media_root):
    versions = [register(seed=i) for i in range(5)]
    alias_set(version=versions[0], alias="champion", user=staff_user)
    version_tag_add(version=versions[1], tag="production", user=staff_user)
    assert artifacts_prune(keep=2, dry_run=True) == ["eurusd-1h-h12:3"]
    assert ModelVersion.objects.count() == 5
    files_of_v3 = [f.file.name for f in versions[2].files.all()]
    assert artifacts_prune(keep=2) == ["eurusd-1h-h12:3"]
    assert sorted(ModelVersion.objects.values_list("version", flat=True)) == [1, 2, 4, 5]
    remaining = stored_files(_media_root)
    assert not any(name in remaining for name in files_of_v3)
    assert len(remaining) == 4 * 5
    assert artifacts_prune(keep=0) == ["eurusd-1h-h12:4", "eurusd-1h-h12:5"]


def test_a_file_changed_in_storage_is_refused_wherever_it_would_be_used(
    register, api_client, logged_in_client, _media_root
):
    """The checksum registered with each file is checked on every read, not only on export: a checkpoint
    changed on disk is neither forecast with nor served."""
    version = register()
    checkpoint = version.files.get(kind="checkpoint")
    with open(_media_root / checkpoint.file.name, "ab") as fh:
        fh.write(b"\0")  # one byte appended
    refused = (
        "eurusd-1h-h12:1 checkpoint file no longer matches its checksum (it changed in storage after it was registered)"
    )
    with pytest.raises(RegistryError, match=re.escape(refused + "; refusing to use it")):
        version_checkpoint_path(version)
    served = api_client.get(f"/api/registry/versions/{version.pk}/files/checkpoint/")
    assert served.status_code == 400 and served.json()["detail"].startswith(refused + "; refusing to serve it")
    assert (
        api_client.get(f"/api/registry/versions/{version.pk}/files/config/").status_code == 200
    )  # the others are intact

    config = version.files.get(kind="config")
    (_media_root / config.file.name).write_text("{}")
    with pytest.raises(RegistryError, match="eurusd-1h-h12:1 config file no longer matches its checksum"):
        version_file_bytes(version, "config")
    history = version.files.get(kind="history")
    (_media_root / history.file.name).write_text('{"epochs": []}')
    page = logged_in_client.get(f"/registry/versions/{version.pk}/").content.decode()
    assert "eurusd-1h-h12:1 history file no longer matches its checksum" in page  # said, not silently blank


def test_a_remote_checkpoints_cached_copy_is_copied_again_when_it_does_not_match(register, monkeypatch, tmp_path):
    """Remote storage (no local path): the checkpoint is copied into a temp cache; a copy cut short (a
    worker killed mid-copy) is replaced by a fresh one, never refused for good."""
    from django.db.models.fields.files import FieldFile

    def no_local_path(self):
        raise NotImplementedError("this backend doesn't support absolute paths")

    version = register()
    monkeypatch.setattr(FieldFile, "path", property(no_local_path))
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    first = version_checkpoint_path(version)
    whole = first.read_bytes()
    first.write_bytes(whole[: len(whole) // 2])  # cut short
    again = version_checkpoint_path(version)
    assert again == first and again.read_bytes() == whole and not list(tmp_path.rglob("*.partial"))
