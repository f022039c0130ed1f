"""Export a version as one verified .zip bundle; import one, verifying everything before writing."""

from __future__ import annotations

import io
import json
import posixpath
import stat
import zipfile
from typing import IO

from django.conf import settings
from django.db import transaction

from registry.models import FILE_KINDS, ModelVersion

from ._common import RegistryError, content_digest, parse_tag, read_stats, require_staff, sha256_bytes
from .versions import _clean_metadata, version_store

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same version exports to the same bytes
_KIND_BY_NAME = {"model" + suffix: kind for kind, suffix in FILE_KINDS.items()}


def bundle_manifest(version: ModelVersion) -> dict:
    files = {f.bundle_name: {"kind": f.kind, "sha256": f.sha256, "size": f.size} for f in version.files.all()}
    return {
        "format_version": FORMAT_VERSION,
        "model": version.registered_model.name,
        "version": version.version,
        "label": version.label,
        "created_at": version.created_at.isoformat(),
        "description": version.description,
        "metadata": {
            "symbol": version.symbol, "timeframe": version.timeframe, "horizon_bars": version.horizon_bars,
            "channel_order": version.channel_order, "metrics": version.metrics,
        },
        "tags": sorted(version.tag_strings),
        "content_sha256": version.content_sha256,
        "files": dict(sorted(files.items())),
    }


def bundle_export(*, version: ModelVersion) -> bytes:
    """The version as a zip: its files plus manifest.json (format, metadata, sha256 per file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            bundle.writestr(info, data)

        add(MANIFEST, json.dumps(bundle_manifest(version), indent=2, sort_keys=True).encode())
        for record in sorted(version.files.all(), key=lambda f: f.bundle_name):
            with record.file.open("rb") as fh:
                data = fh.read()
            if sha256_bytes(data) != record.sha256:
                raise RegistryError(f"{version.ref} {record.kind} file no longer matches its checksum; refusing to export it")
            add(record.bundle_name, data)
    return buffer.getvalue()


def _read_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Read at most `limit` bytes, whatever the header claims (zip bombs lie)."""
    with bundle.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RegistryError(f"member {info.filename} is larger than the {limit:,}-byte limit")
    return data


def _check_member_name(info: zipfile.ZipInfo) -> None:
    name = info.filename
    mode = info.external_attr >> 16
    if (name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or posixpath.normpath(name) != name
            or ":" in name):
        raise RegistryError(f"member {name!r} has a path that escapes the bundle")
    if info.is_dir() or "/" in name:
        raise RegistryError(f"member {name!r} is in a folder; a bundle is flat")
    if stat.S_ISLNK(mode):
        raise RegistryError(f"member {name!r} is a symbolic link")


def _check_manifest_types(manifest: dict) -> None:
    expected = {"model": str, "label": str, "description": str, "created_at": str, "metadata": dict, "tags": list,
                "files": dict, "content_sha256": str}
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


def bundle_verify(data: bytes, *, max_member_bytes: int | None = None) -> tuple[dict, dict[str, bytes]]:
    """Check a bundle completely in memory; return (manifest, contents by kind) or raise RegistryError."""
    limit = max_member_bytes or settings.FOREXGPT_BUNDLE_MAX_MEMBER_BYTES
    if not data:
        raise RegistryError("the bundle is empty")
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise RegistryError(f"not a zip archive, or a truncated one ({exc})") from exc
    with bundle:
        infos = bundle.infolist()
        for info in infos:
            _check_member_name(info)
            if info.file_size > limit:
                raise RegistryError(f"member {info.filename} is {info.file_size:,} bytes; the limit is {limit:,}")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise RegistryError("the bundle names a member twice")
        if MANIFEST not in names:
            raise RegistryError("the bundle has no manifest.json")
        # Refuse unknown members before reading any: at most one manifest and one file per kind
        # are ever decompressed, each capped at the member limit.
        extra = sorted(set(names) - {MANIFEST, *_KIND_BY_NAME})
        if extra:
            raise RegistryError(f"files not listed in the manifest: {', '.join(extra)}")
        try:
            members = {info.filename: _read_member(bundle, info, limit) for info in infos}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, RegistryError):
                raise
            raise RegistryError(f"the bundle is truncated or corrupt ({exc})") from exc
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except ValueError as exc:
        raise RegistryError(f"manifest.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise RegistryError("manifest.json must hold an object")
    _check_manifest_types(manifest)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise RegistryError(f"unknown bundle format version {manifest.get('format_version')!r}; this server reads {FORMAT_VERSION}")
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise RegistryError("manifest.json has no files table")
    missing, extra = sorted(set(listed) - set(members)), sorted(set(members) - set(listed))
    if missing:
        raise RegistryError(f"files listed in the manifest are missing: {', '.join(missing)}")
    if extra:
        raise RegistryError(f"files not listed in the manifest: {', '.join(extra)}")
    contents: dict[str, bytes] = {}
    for name, entry in listed.items():
        kind = _KIND_BY_NAME.get(name)
        if kind is None or entry.get("kind") != kind:
            raise RegistryError(f"{name} is not a known artifact file name for its kind")
        data = members[name]
        if len(data) != entry.get("size") or sha256_bytes(data) != entry.get("sha256"):
            raise RegistryError(f"checksum mismatch for {name}: the file is not the one the manifest describes")
        contents[kind] = data
    for kind in ("checkpoint", "config", "stats"):
        if kind not in contents:
            raise RegistryError(f"the bundle lacks its {kind} file")
    metadata = _clean_metadata(**{k: manifest.get("metadata", {}).get(k) for k in
                                  ("symbol", "timeframe", "horizon_bars", "channel_order", "metrics")})
    read_stats(contents["stats"], channels=len(metadata["channel_order"]))
    if content_digest(metadata, {k: sha256_bytes(v) for k, v in contents.items()}) != manifest.get("content_sha256"):
        raise RegistryError("the manifest's content digest does not match its files and metadata")
    for tag in manifest.get("tags", []):
        parse_tag(tag)
    manifest["metadata"] = metadata
    return manifest, contents


def bundle_import(*, source: bytes | IO, user) -> tuple[ModelVersion, bool]:
    """Import a bundle (staff only). Returns (version, created); the same bundle twice creates nothing."""
    from django.utils.dateparse import parse_datetime
    from django.utils.text import slugify

    require_staff(user, "import artifacts")
    limit = settings.FOREXGPT_BUNDLE_MAX_MEMBER_BYTES * (len(FILE_KINDS) + 1)
    size = len(source) if isinstance(source, bytes) else getattr(source, "size", None)
    if size is not None and size > limit:
        raise RegistryError(f"the bundle is {size:,} bytes; the limit is {limit:,}")
    data = source if isinstance(source, bytes) else source.read(limit + 1)
    if len(data) > limit:
        raise RegistryError(f"the bundle is larger than the {limit:,}-byte limit")
    manifest, contents = bundle_verify(data)
    name = manifest.get("model")
    if not isinstance(name, str) or slugify(name) != name:
        raise RegistryError(f"manifest model name {name!r} is not a slug")
    with transaction.atomic():
        existing = ModelVersion.objects.filter(registered_model__name=name, content_sha256=manifest["content_sha256"]).first()
        if existing:
            return existing, False
        label = manifest.get("label") or ""
        if label and ModelVersion.objects.filter(registered_model__name=name, label=label).exists():
            raise RegistryError(f"{name} already has a different version labelled {label!r}")
        version = version_store(
            model_name=name, contents=contents, metadata=manifest["metadata"], label=label,
            description=manifest.get("description") or "", user=user, source="import", tags=manifest.get("tags", []),
            created_at=parse_datetime(manifest.get("created_at") or ""), version_number=manifest.get("version"),
        )
    return version, True
