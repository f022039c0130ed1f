"""Export a version as one verified .zip bundle; import one, verifying everything before writing."""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction

from registry.models import FILE_KINDS, ModelVersion

from ._common import ChecksumMismatch, RegistryError, content_digest, parse_tag, read_stats, require_staff
from .versions import _clean_metadata, version_store

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same version exports to the same bytes
_KIND_BY_NAME = {"model" + suffix: kind for kind, suffix in FILE_KINDS.items()}
MANIFEST_MAX_BYTES = 1024 * 1024  # metadata and a checksum per file: a larger manifest is not one
_CHUNK_BYTES = 1024 * 1024


def bundle_manifest(version: ModelVersion) -> dict:
    files = {f.bundle_name: {"kind": f.kind, "sha256": f.sha256, "size": f.size} for f in version.files.all()}
    metadata = {
        "symbol": version.symbol,
        "timeframe": version.timeframe,
        "horizon_bars": version.horizon_bars,
        "channel_order": version.channel_order,
        "metrics": version.metrics,
    }
    if version.periods:  # a version without periods exports the manifest it always did
        metadata["periods"] = version.periods
    return {
        "format_version": FORMAT_VERSION,
        "model": version.registered_model.name,
        "version": version.version,
        "label": version.label,
        "created_at": version.created_at.isoformat(),
        "description": version.description,
        "metadata": metadata,
        "tags": sorted(version.tag_strings),
        "content_sha256": version.content_sha256,
        "files": dict(sorted(files.items())),
    }


class _Drain(io.RawIOBase):
    """An unseekable sink that keeps what zipfile writes until the stream takes it."""

    def __init__(self):
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def file_check(record, *, doing: str, data: bytes | None = None, path: Path | None = None) -> None:
    """The stored file of `record` (an ArtifactFile) - or `data`, its bytes already read, or `path`, a
    local copy - still matches the checksum registered with it; RegistryError otherwise, naming the
    version, the file and what was refused (`doing`: "export", "serve", "use"). Read in chunks: memory
    stays flat whatever its size."""
    if data is not None:
        actual = hashlib.sha256(data).hexdigest()
    else:
        digest = hashlib.sha256()
        with open(path, "rb") if path is not None else record.file.open("rb") as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                digest.update(chunk)
        actual = digest.hexdigest()
    if actual != record.sha256:
        raise ChecksumMismatch(
            f"{record.version.ref} {record.kind} file no longer matches its checksum (it changed in storage after "
            f"it was registered); refusing to {doing} it - import the version's bundle again, or delete the version"
        )


def bundle_check(*, version: ModelVersion) -> None:
    """Every file of the version still matches its checksum (`file_check`); RegistryError names the first
    that does not. An export checks first, so a refusal comes before any byte of the bundle is sent."""
    for record in version.files.select_related("version__registered_model"):
        file_check(record, doing="export")


def bundle_chunks(*, version: ModelVersion, checked: bool = False) -> Iterator[bytes]:
    """The version as a zip (its files plus manifest.json: format, metadata, sha256 per file), made
    and given out a chunk at a time: memory stays at a few MiB whatever the checkpoint's size. Checks
    the files first (`bundle_check`) unless the caller did."""
    if not checked:
        bundle_check(version=version)
    drain = _Drain()
    with zipfile.ZipFile(drain, "w", compression=zipfile.ZIP_DEFLATED) as bundle:

        def info_of(name: str, size: int) -> zipfile.ZipInfo:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.file_size = size  # so zipfile knows up front whether the member needs ZIP64
            return info

        manifest = json.dumps(bundle_manifest(version), indent=2, sort_keys=True).encode()
        bundle.writestr(info_of(MANIFEST, len(manifest)), manifest)
        yield drain.take()
        for record in sorted(version.files.all(), key=lambda f: f.bundle_name):
            with record.file.open("rb") as fh, bundle.open(info_of(record.bundle_name, record.size), "w") as member:
                while chunk := fh.read(_CHUNK_BYTES):
                    member.write(chunk)
                    yield drain.take()
    yield drain.take()


def bundle_export(*, version: ModelVersion) -> bytes:
    """The whole bundle in memory (`bundle_chunks` joined): for small versions and tests; the API streams."""
    return b"".join(bundle_chunks(version=version))


def _check_member_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    mode = info.external_attr >> 16
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or ".." in name.split("/")
        or posixpath.normpath(name) != name
        or ":" in name
    ):
        raise RegistryError(f"member {name!r} has a path that escapes the bundle")
    if info.is_dir() or "/" in name:
        raise RegistryError(f"member {name!r} is in a folder; a bundle is flat")
    if stat.S_ISLNK(mode):
        raise RegistryError(f"member {name!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise RegistryError(f"member {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise RegistryError(
            f"member {name!r} is compressed with method {info.compress_type}; a bundle is stored or deflated"
        )


def _check_manifest_types(manifest: dict) -> None:
    expected = {
        "model": str,
        "label": str,
        "description": str,
        "created_at": str,
        "metadata": dict,
        "tags": list,
        "files": dict,
        "content_sha256": str,
    }
    for key, kind in expected.items():
        if key in manifest and manifest[key] is not None and not isinstance(manifest[key], kind):
            raise RegistryError(f"manifest field {key!r} must be {kind.__name__}, not {type(manifest[key]).__name__}")
    version = manifest.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise RegistryError(f"manifest version must be a positive whole number, not {version!r}")
    if len(manifest.get("label") or "") > 64:
        raise RegistryError("manifest label is longer than 64 characters")
    for name, entry in (manifest.get("files") or {}).items():
        if not isinstance(entry, dict):
            raise RegistryError(f"manifest entry for {name} must be an object with kind, sha256 and size")
    if not all(isinstance(tag, str) for tag in manifest.get("tags") or []):
        raise RegistryError("manifest tags must be strings")


@dataclass(frozen=True)
class StagedMember:
    """A bundle member extracted to a private temporary file, with what was counted on the way."""

    path: Path
    size: int
    sha256: str


def _declared_total(infos: list[zipfile.ZipInfo]) -> int:
    """What the members claim to unpack to, checked before any is decompressed (and counted again while streaming)."""
    return sum(info.file_size for info in infos)


def _read_manifest(bundle: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict:
    if info.file_size > MANIFEST_MAX_BYTES:
        raise RegistryError(f"manifest.json is {info.file_size:,} bytes; the limit is {MANIFEST_MAX_BYTES:,}")
    with bundle.open(info) as fh:
        raw = fh.read(MANIFEST_MAX_BYTES + 1)  # zipfile stops at the declared size; the cap is for safety
    if len(raw) > MANIFEST_MAX_BYTES:
        raise RegistryError(f"manifest.json is larger than the {MANIFEST_MAX_BYTES:,}-byte limit")
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise RegistryError(f"manifest.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise RegistryError("manifest.json must hold an object")
    return manifest


def _extract(
    bundle: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, *, member_limit: int, budget: int, total_limit: int
) -> StagedMember:
    """Stream one member to `path`, hashing and counting as it goes: memory stays at one chunk.

    zipfile already stops at the size the header declares (and then checks the CRC); the count
    here does not rely on that.
    """
    digest, size = hashlib.sha256(), 0
    with bundle.open(info) as src, open(path, "xb") as dst:
        while chunk := src.read(_CHUNK_BYTES):
            size += len(chunk)
            if size > member_limit:
                raise RegistryError(f"member {info.filename} is larger than the {member_limit:,}-byte limit")
            if size > budget:
                raise RegistryError(
                    f"{info.filename}: the bundle's files add up to more than {total_limit:,} bytes "
                    "uncompressed (FOREXGPT_BUNDLE_MAX_TOTAL_MB)"
                )
            digest.update(chunk)
            dst.write(chunk)
    return StagedMember(path=path, size=size, sha256=digest.hexdigest())


def bundle_verify(stream: IO[bytes], *, into: Path) -> tuple[dict, dict[str, StagedMember]]:
    """Check a bundle completely, extracting its listed files into the folder `into`.

    Returns (manifest, staged file by kind) or raises RegistryError. Names, declared sizes and the
    manifest are checked before any artifact member is decompressed; each member is then streamed
    to disk while it is hashed, so memory stays flat whatever the archive unpacks to. The caller
    owns `into` and removes it.
    """
    member_limit = settings.FOREXGPT_BUNDLE_MAX_MEMBER_BYTES
    total_limit = settings.FOREXGPT_BUNDLE_MAX_TOTAL_BYTES
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if not size:
        raise RegistryError("the bundle is empty")
    if size > total_limit:
        raise RegistryError(
            f"the bundle is {size:,} bytes; the limit is {total_limit:,} (FOREXGPT_BUNDLE_MAX_TOTAL_MB)"
        )
    try:
        bundle = zipfile.ZipFile(stream)
    except zipfile.BadZipFile as exc:
        raise RegistryError(f"not a zip archive, or a truncated one ({exc})") from exc
    with bundle:
        infos = bundle.infolist()
        for info in infos:
            _check_member_name(info)
            if info.file_size > member_limit:
                raise RegistryError(
                    f"member {info.filename} is {info.file_size:,} bytes; the limit is {member_limit:,}"
                )
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise RegistryError("the bundle names a member twice")
        if MANIFEST not in names:
            raise RegistryError("the bundle has no manifest.json")
        # Refuse unknown members before reading any: at most one manifest and one file per kind
        # are ever decompressed.
        extra = sorted(set(names) - {MANIFEST, *_KIND_BY_NAME})
        if extra:
            raise RegistryError(f"files not listed in the manifest: {', '.join(extra)}")
        declared = _declared_total(infos)
        if declared > total_limit:
            raise RegistryError(
                f"the bundle's files add up to {declared:,} bytes uncompressed; "
                f"the limit is {total_limit:,} (FOREXGPT_BUNDLE_MAX_TOTAL_MB)"
            )
        # Disk errors while staging are the server's, not the bundle's: they are not caught here.
        try:
            by_name = {info.filename: info for info in infos}
            manifest_info = by_name.pop(MANIFEST)
            manifest = _read_manifest(bundle, manifest_info)
            listed = _check_manifest(manifest, members=set(by_name))
            staged: dict[str, StagedMember] = {}
            budget = total_limit - manifest_info.file_size
            for name, entry in sorted(listed.items()):
                member = _extract(
                    bundle,
                    by_name[name],
                    into / name,
                    member_limit=member_limit,
                    budget=budget,
                    total_limit=total_limit,
                )
                budget -= member.size
                if member.size != entry.get("size") or member.sha256 != entry.get("sha256"):
                    raise RegistryError(f"checksum mismatch for {name}: the file is not the one the manifest describes")
                staged[entry["kind"]] = member
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise RegistryError(f"the bundle is truncated or corrupt ({exc})") from exc
    for kind in ("checkpoint", "config", "stats"):
        if kind not in staged:
            raise RegistryError(f"the bundle lacks its {kind} file")
    metadata = _clean_metadata(
        **{
            k: manifest.get("metadata", {}).get(k)
            for k in ("symbol", "timeframe", "horizon_bars", "channel_order", "metrics", "periods")
        }
    )
    read_stats(staged["stats"].path, channels=len(metadata["channel_order"]))
    if content_digest(metadata, {kind: member.sha256 for kind, member in staged.items()}) != manifest.get(
        "content_sha256"
    ):
        raise RegistryError("the manifest's content digest does not match its files and metadata")
    for tag in manifest.get("tags", []):
        parse_tag(tag)
    manifest["metadata"] = metadata
    return manifest, staged


def _check_manifest(manifest: dict, *, members: set[str]) -> dict[str, dict]:
    """The manifest's files table, once its types, format and file names are known to be right."""
    _check_manifest_types(manifest)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise RegistryError(
            f"unknown bundle format version {manifest.get('format_version')!r}; this server reads {FORMAT_VERSION}"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise RegistryError("manifest.json has no files table")
    missing, extra = sorted(set(listed) - members), sorted(members - set(listed))
    if missing:
        raise RegistryError(f"files listed in the manifest are missing: {', '.join(missing)}")
    if extra:
        raise RegistryError(f"files not listed in the manifest: {', '.join(extra)}")
    for name, entry in listed.items():
        kind = _KIND_BY_NAME.get(name)
        if kind is None or entry.get("kind") != kind:
            raise RegistryError(f"{name} is not a known artifact file name for its kind")
    return listed


@contextmanager
def _opened(source: bytes | str | Path | IO[bytes]) -> Iterator[IO[bytes]]:
    """The bundle as a seekable binary stream: bytes, a path, or an open file (Django's upload)."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield fh
    else:
        yield source


def bundle_import(*, source: bytes | str | Path | IO[bytes], user) -> tuple[ModelVersion, bool]:
    """Import a bundle (staff only). Returns (version, created); the same bundle twice creates nothing.

    `source` is the bundle's bytes, its path, or a seekable file such as an upload; members are
    staged in Django's upload temp folder and moved into the store once everything checks out.
    """
    from django.utils.dateparse import parse_datetime
    from django.utils.text import slugify

    require_staff(user, "import artifacts")
    with (
        _opened(source) as stream,
        tempfile.TemporaryDirectory(prefix="bundle-", dir=settings.FILE_UPLOAD_TEMP_DIR) as staging,
    ):
        manifest, staged = bundle_verify(stream, into=Path(staging))
        name = manifest.get("model")
        if not isinstance(name, str) or slugify(name) != name:
            raise RegistryError(f"manifest model name {name!r} is not a slug")
        with transaction.atomic():
            existing = ModelVersion.objects.filter(
                registered_model__name=name, content_sha256=manifest["content_sha256"]
            ).first()
            if existing:
                return existing, False
            label = manifest.get("label") or ""
            if label and ModelVersion.objects.filter(registered_model__name=name, label=label).exists():
                raise RegistryError(f"{name} already has a different version labelled {label!r}")
            version = version_store(
                model_name=name,
                contents={kind: member.path for kind, member in staged.items()},
                hashes={kind: member.sha256 for kind, member in staged.items()},
                metadata=manifest["metadata"],
                label=label,
                description=manifest.get("description") or "",
                user=user,
                source="import",
                tags=manifest.get("tags", []),
                created_at=parse_datetime(manifest.get("created_at") or ""),
                version_number=manifest.get("version"),
            )
    return version, True
