import io
import json
import zipfile

import pytest
from django.core.management import call_command

from registry.models import ArtifactFile, ModelVersion, RegisteredModel
from registry.services import RegistryError, bundle_export, bundle_import, version_delete
from tests.registry.conftest import stored_files

pytestmark = pytest.mark.django_db


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def _rezip(members: dict[str, bytes], extra_infos=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for info, data in extra_infos:
            z.writestr(info, data)
    return buffer.getvalue()


def test_round_trip_is_byte_for_byte(register, staff_user, artifact_files):
    version = register(label="v1.0.0", tags=["eurusd", "owner=alice"])
    originals = {f.kind: f.file.read() for f in version.files.all()}
    bundle = bundle_export(version=version)
    manifest = json.loads(_members(bundle)["manifest.json"])
    assert manifest["format_version"] == 1 and manifest["model"] == "eurusd-1h-h12"
    assert manifest["files"]["model.ckpt"]["sha256"] == version.files.get(kind="checkpoint").sha256
    version_delete(version=version)
    assert ModelVersion.objects.count() == 0

    imported, created = bundle_import(source=bundle, user=staff_user)
    assert created and imported.ref == "eurusd-1h-h12:1" and imported.label == "v1.0.0" and imported.source == "import"
    assert sorted(imported.tag_strings) == ["eurusd", "owner=alice"]
    assert {f.kind: f.file.read() for f in imported.files.all()} == originals
    assert bundle_export(version=imported) == bundle  # the whole bundle, byte for byte


def test_importing_the_same_bundle_twice_creates_nothing(register, staff_user):
    bundle = bundle_export(version=register())
    again, created = bundle_import(source=bundle, user=staff_user)
    assert not created and again.version == 1
    assert ModelVersion.objects.count() == 1 and ArtifactFile.objects.count() == 5


def test_import_into_an_existing_model_takes_the_next_number(register, staff_user):
    first = register()
    bundle = bundle_export(version=register(seed=1))
    version_delete(version=ModelVersion.objects.get(version=2))
    register(seed=2)  # takes number 2
    imported, created = bundle_import(source=bundle, user=staff_user)
    assert created and imported.version == 3 and first.version == 1


def _tamper(kind):
    def change(members):
        manifest = json.loads(members["manifest.json"])
        if kind == "format":
            manifest["format_version"] = 99
        elif kind == "missing":
            members.pop("model.history.json")
        elif kind == "extra":
            members["notes.txt"] = b"hello"
        elif kind == "checksum":
            members["model.ckpt"] = members["model.ckpt"][:-1] + bytes([members["model.ckpt"][-1] ^ 1])
        elif kind == "digest":
            manifest["metadata"]["horizon_bars"] = 24
        members["manifest.json"] = json.dumps(manifest).encode()
        return _rezip(members)

    return change


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (_tamper("format"), "unknown bundle format version 99; this server reads 1"),
        (_tamper("missing"), "files listed in the manifest are missing: model.history.json"),
        (_tamper("extra"), "files not listed in the manifest: notes.txt"),
        (_tamper("checksum"), "checksum mismatch for model.ckpt"),
        (_tamper("digest"), "content digest does not match"),
        (lambda m: _rezip({**m, "../evil.txt": b"x"}), r"member '../evil.txt' has a path that escapes the bundle"),
        (lambda m: _rezip({**m, "/etc/evil": b"x"}), r"member '/etc/evil' has a path that escapes the bundle"),
        (lambda m: _rezip({**m, "sub/model.ckpt": b"x"}), r"member 'sub/model.ckpt' is in a folder"),
        (lambda m: _rezip({k: v for k, v in m.items() if k != "manifest.json"}), "the bundle has no manifest.json"),
        (lambda m: b"this is not a zip file at all", "not a zip archive"),
        (lambda m: b"", "the bundle is empty"),
    ],
)
def test_bad_bundles_are_refused_with_nothing_written(register, staff_user, make_bad, message, _media_root):
    good = bundle_export(version=register())
    version_delete(version=ModelVersion.objects.get())
    RegisteredModel.objects.all().delete()
    before = stored_files(_media_root)
    with pytest.raises(RegistryError, match=message):
        bundle_import(source=make_bad(_members(good)), user=staff_user)
    assert (RegisteredModel.objects.count(), ModelVersion.objects.count(), ArtifactFile.objects.count()) == (0, 0, 0)
    assert stored_files(_media_root) == before == []


def test_truncated_bundle_is_refused(register, staff_user):
    good = bundle_export(version=register())
    version_delete(version=ModelVersion.objects.get())
    for cut in (len(good) // 2, len(good) - 10):
        with pytest.raises(RegistryError, match="not a zip archive, or a truncated one|truncated or corrupt"):
            bundle_import(source=good[:cut], user=staff_user)
    assert ModelVersion.objects.count() == 0


def test_oversized_members_are_refused(register, staff_user, settings):
    good = bundle_export(version=register())
    version_delete(version=ModelVersion.objects.get())
    settings.FOREXGPT_BUNDLE_MAX_MEMBER_BYTES = 1400  # above the manifest, below the checkpoint
    with pytest.raises(RegistryError, match=r"member model.ckpt is [\d,]+ bytes; the limit is 1,400"):
        bundle_import(source=good, user=staff_user)
    assert ModelVersion.objects.count() == 0


def test_symlink_member_is_refused(register, staff_user):
    good = _members(bundle_export(version=register()))
    version_delete(version=ModelVersion.objects.get())
    link = zipfile.ZipInfo("model.txt")
    link.external_attr = 0o120777 << 16
    with pytest.raises(RegistryError, match="is a symbolic link"):
        bundle_import(source=_rezip(good, [(link, b"/etc/passwd")]), user=staff_user)


def test_only_staff_import(register, user):
    bundle = bundle_export(version=register())
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied, match="only staff may import artifacts"):
        bundle_import(source=bundle, user=user)


def test_commands_export_import_prune(register, tmp_path, capsys):
    version = register()
    out = tmp_path / "bundle.zip"
    call_command("export_artifact", "eurusd-1h-h12:1", str(out), "--json")
    assert json.loads(capsys.readouterr().out)["bytes"] == out.stat().st_size
    call_command("import_artifact", str(out), "--json")
    assert json.loads(capsys.readouterr().out) == {
        "ref": "eurusd-1h-h12:1",
        "created": False,
        "content_sha256": version.content_sha256,
    }
    version_delete(version=version)
    call_command("import_artifact", str(out), "--json")
    assert json.loads(capsys.readouterr().out)["created"] is True
    register(seed=1)
    call_command("prune_artifacts", "--keep", "1", "--dry-run", "--json")
    assert json.loads(capsys.readouterr().out) == {"dry_run": True, "removed": ["eurusd-1h-h12:1"]}
    assert ModelVersion.objects.count() == 2
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="refused: not a zip archive"):
        call_command("import_artifact", str(bad))

    folder = tmp_path / "bundles"
    folder.mkdir()
    with pytest.raises(
        CommandError,
        match=r"bundles is a folder: give the path of the \.zip to write \(e\.g\. .*eurusd-1h-h12-v1\.zip\)",
    ):
        call_command("export_artifact", "eurusd-1h-h12:1", str(folder))
    with pytest.raises(CommandError, match="cannot write .*nowhere/x.zip: No such file or directory"):
        call_command("export_artifact", "eurusd-1h-h12:1", str(tmp_path / "nowhere" / "x.zip"))
    assert not list(tmp_path.glob("**/*.partial"))  # nothing half-written left behind


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(metadata="x"), "manifest field 'metadata' must be dict, not str"),
        (lambda m: m.update(files=[1, 2]), "manifest field 'files' must be dict, not list"),
        (lambda m: m.update(tags=5), "manifest field 'tags' must be list, not int"),
        (lambda m: m.update(version=-1), "manifest version must be a positive whole number"),
        (lambda m: m.update(label="x" * 65), "label is longer than 64 characters"),
        (lambda m: m["files"].update({"model.ckpt": ["kind"]}), "manifest entry for model.ckpt must be an object"),
    ],
)
def test_malformed_manifests_are_refused_cleanly(register, staff_user, change, message):
    members = _members(bundle_export(version=register()))
    version_delete(version=ModelVersion.objects.get())
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(RegistryError, match=message):
        bundle_import(source=_rezip(members), user=staff_user)
    assert ModelVersion.objects.count() == 0


def test_unknown_members_are_refused_before_any_is_read(register, staff_user, monkeypatch):
    members = _members(bundle_export(version=register()))
    version_delete(version=ModelVersion.objects.get())
    bad = _rezip({**members, "a.bin": b"0" * 1000, "b.bin": b"1"})
    read = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(
        zipfile.ZipFile, "open", lambda self, name, *a, **k: read.append(name) or real_open(self, name, *a, **k)
    )
    with pytest.raises(RegistryError, match="files not listed in the manifest: a.bin, b.bin"):
        bundle_import(source=bad, user=staff_user)
    assert read == []


def test_an_export_streams_a_large_checkpoint_in_chunks(artifact_files, tmp_path):
    import hashlib
    import os
    import tracemalloc
    import zipfile

    from registry.services import artifact_register, bundle_chunks
    from tests.conftest import CHANNELS

    files = artifact_files(0)
    big = tmp_path / "big.ckpt"
    big.write_bytes(files["checkpoint"].read_bytes() + os.urandom(24 * 2**20))  # 24 MiB that deflate cannot shrink
    version = artifact_register(
        model_name="big",
        files={**files, "checkpoint": big},
        symbol="EURUSD",
        timeframe="1h",
        horizon_bars=12,
        channel_order=CHANNELS,
    )
    out = tmp_path / "bundle.zip"
    tracemalloc.start()
    largest = 0
    with open(out, "wb") as fh:
        for chunk in bundle_chunks(version=version):
            fh.write(chunk)
            largest = max(largest, len(chunk))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.stat().st_size > 24 * 2**20 and largest < 4 * 2**20
    assert peak < 12 * 2**20  # the export that built the zip in memory held all 24 MiB, twice
    with zipfile.ZipFile(out) as bundle:  # a valid zip: every member's CRC checked, the checkpoint whole
        assert bundle.testzip() is None
        assert hashlib.sha256(bundle.read("model.ckpt")).hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
