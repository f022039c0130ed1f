"""Zip bombs: a bundle import streams each member to disk and never holds a member in memory."""

import hashlib
import io
import json
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from registry.models import ArtifactFile, ModelVersion, RegisteredModel
from registry.services import RegistryError, bundle_export, bundle_import, version_delete
from registry.services._common import content_digest
from tests.registry.conftest import stored_files

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
BOMB_BYTES = 256 * MiB


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zeros_sha256(size: int) -> str:
    digest, chunk = hashlib.sha256(), bytes(MiB)
    for _ in range(size // MiB):
        digest.update(chunk)
    return digest.hexdigest()


def _bomb(good: bytes, *, size: int = BOMB_BYTES) -> bytes:
    """`good` with its checkpoint replaced by `size` zero bytes: a valid bundle of a few hundred KB."""
    members = _members(good)
    manifest = json.loads(members.pop("manifest.json"))
    manifest["files"]["model.ckpt"].update(size=size, sha256=_zeros_sha256(size))
    manifest["content_sha256"] = content_digest(
        manifest["metadata"], {e["kind"]: e["sha256"] for e in manifest["files"].values()}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            if name != "model.ckpt":
                z.writestr(name, data)
        info = zipfile.ZipInfo("model.ckpt")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as member:  # streamed: the test never holds the bomb's content either
            chunk = bytes(MiB)
            for _ in range(size // MiB):
                member.write(chunk)
    return buffer.getvalue()


def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def _reset_peak_rss() -> int | None:
    """Reset the kernel's peak-RSS mark (Linux); the resident size now, or None where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except OSError:
        return None


@pytest.fixture
def bomb(register):
    good = bundle_export(version=register())
    version_delete(version=ModelVersion.objects.get())
    RegisteredModel.objects.all().delete()
    return _bomb(good)


@pytest.fixture
def staging(settings, tmp_path):
    """Where the import stages members (Django's upload temp folder), to check nothing is left there."""
    folder = tmp_path / "staging"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def test_a_zip_bomb_imports_with_flat_memory(bomb, staff_user, staging):
    assert len(bomb) < 2 * MiB  # 256 MiB of zeros compresses about a thousandfold
    started, rss_before = time.monotonic(), _reset_peak_rss()
    tracemalloc.start()
    try:
        version, created = bundle_import(source=bomb, user=staff_user)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = None if rss_before is None else (_status_kib("VmHWM") - rss_before) * 1024
    print(
        f"importing a {BOMB_BYTES // MiB} MiB member: peak traced memory {peak / MiB:.1f} MiB, "
        f"peak RSS growth {'n/a' if rss_growth is None else f'{rss_growth / MiB:.1f} MiB'}, {time.monotonic() - started:.1f} s"
    )
    assert created and version.files.get(kind="checkpoint").size == BOMB_BYTES
    assert version.files.get(kind="checkpoint").sha256 == _zeros_sha256(BOMB_BYTES)
    assert peak < 16 * MiB, f"the import held {peak / MiB:.0f} MiB at once for a {BOMB_BYTES // MiB} MiB member"
    assert rss_growth is None or rss_growth < 64 * MiB, f"resident memory grew {rss_growth / MiB:.0f} MiB"
    assert list(staging.iterdir()) == []


def test_a_bundle_over_the_total_cap_is_refused_before_any_member_is_read(
    bomb, staff_user, settings, staging, _media_root, monkeypatch
):
    settings.FOREXGPT_BUNDLE_MAX_TOTAL_BYTES = 64 * MiB
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(
        zipfile.ZipFile, "open", lambda self, name, *a, **k: opened.append(name) or real_open(self, name, *a, **k)
    )
    with pytest.raises(
        RegistryError,
        match=r"the bundle's files add up to 268,\d{3},\d{3} bytes uncompressed; "
        r"the limit is 67,108,864 \(FOREXGPT_BUNDLE_MAX_TOTAL_MB\)",
    ):
        bundle_import(source=bomb, user=staff_user)
    assert opened == []
    assert (RegisteredModel.objects.count(), ModelVersion.objects.count(), ArtifactFile.objects.count()) == (0, 0, 0)
    assert stored_files(_media_root) == [] and list(staging.iterdir()) == []


def test_a_member_over_the_cap_while_streaming_is_refused_and_its_partial_copy_removed(
    bomb, staff_user, settings, staging, _media_root, monkeypatch
):
    # A header may understate a member; the stream is counted as it is written, whatever the header says.
    from registry.services import bundles

    monkeypatch.setattr(bundles, "_declared_total", lambda infos: 0)
    settings.FOREXGPT_BUNDLE_MAX_TOTAL_BYTES = 64 * MiB
    with pytest.raises(RegistryError, match=r"model.ckpt: the bundle's files add up to more than 67,108,864 bytes"):
        bundle_import(source=bomb, user=staff_user)
    assert ModelVersion.objects.count() == 0 and stored_files(_media_root) == [] and list(staging.iterdir()) == []


def test_a_compressed_stats_archive_cannot_unpack_into_a_large_array(register, staff_user):
    members = _members(bundle_export(version=register()))
    version_delete(version=ModelVersion.objects.get())
    stats = io.BytesIO()
    np.savez_compressed(stats, mu=np.zeros(4 * MiB), sigma=np.ones(4))  # 32 MiB of float64 in ~32 KB
    members["model.stats.npz"] = stats.getvalue()
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["model.stats.npz"].update(
        size=len(stats.getvalue()), sha256=hashlib.sha256(stats.getvalue()).hexdigest()
    )
    members["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(
        RegistryError, match=r"stats file unpacks to [\d,]+ bytes; normalization stats are at most 16,777,216"
    ):
        bundle_import(source=buffer.getvalue(), user=staff_user)
    assert ModelVersion.objects.count() == 0


def test_an_uploaded_file_is_read_from_disk_not_into_memory(register, staff_user, tmp_path):
    """The API hands over Django's upload (a file on disk above 10 MB); the management command a path."""
    bundle = bundle_export(version=register())
    version_delete(version=ModelVersion.objects.get())
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    with open(path, "rb") as fh:
        version, created = bundle_import(source=fh, user=staff_user)
    assert created and bundle_export(version=version) == bundle
    again, created = bundle_import(source=path, user=staff_user)
    assert not created and again.pk == version.pk
