"""Registering versions, tags, aliases and pruning."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from forexgpt_site.parsing import parse_utc
from marketdata.engine import normalize_symbol, normalize_timeframe
from registry.models import (
    FILE_KINDS,
    AliasHistory,
    ArtifactFile,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    VersionTag,
)

from ._common import (
    RegistryError,
    content_digest,
    db_user,
    parse_tag,
    read_stats,
    require_staff,
    sha256_bytes,
    sha256_file,
)

REQUIRED_KINDS = ("checkpoint", "config", "stats")


def _as_bytes(kind: str, value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise RegistryError(f"{kind} file {path} does not exist")
        return path.read_bytes()
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, sort_keys=True).encode()
    raise RegistryError(f"{kind}: give bytes, a path, or (for JSON files) a dict")


PERIOD_PARTS = ("train", "val", "test")
PERIOD_KEYS = ("first_bar", "last_bar", "first_origin", "last_origin", "windows")
_PERIOD_TIMES = PERIOD_KEYS[:4]


def _clean_periods(periods) -> dict:
    """The train / val / test periods as ISO UTC text, checked: each part's first bar <= first origin
    <= last origin <= last bar, a positive window count, and the parts in time order. Empty (None or
    {}) means unknown."""
    if periods is None or periods == {}:
        return {}
    shape = "periods must map train, val and test to {first_bar, last_bar, first_origin, last_origin, windows}"
    if not isinstance(periods, dict) or set(periods) != set(PERIOD_PARTS):
        raise RegistryError(shape)
    cleaned, previous_last = {}, None
    for part in PERIOD_PARTS:
        span = periods[part]
        if not isinstance(span, dict) or set(span) != set(PERIOD_KEYS):
            raise RegistryError(
                f"{shape}; {part} has {sorted(span) if isinstance(span, dict) else type(span).__name__}"
            )
        try:
            times = {key: parse_utc(span[key], f"periods {part} {key}") for key in _PERIOD_TIMES}
        except ValueError as exc:
            raise RegistryError(str(exc)) from exc
        if any(value is None for value in times.values()):
            raise RegistryError(f"periods {part}: every date/time is required")
        windows = span["windows"]
        if not isinstance(windows, int) or isinstance(windows, bool) or windows < 1:
            raise RegistryError(f"periods {part} windows must be a positive whole number, not {windows!r}")
        if not times["first_bar"] <= times["first_origin"] <= times["last_origin"] <= times["last_bar"]:
            raise RegistryError(f"periods {part}: first_bar <= first_origin <= last_origin <= last_bar does not hold")
        if previous_last is not None and times["first_bar"] <= previous_last:
            raise RegistryError(
                f"periods {part} starts before the part before it ends: the parts must be in time order"
            )
        previous_last = times["last_bar"]
        cleaned[part] = {key: f"{value:%Y-%m-%dT%H:%M:%SZ}" for key, value in times.items()} | {"windows": windows}
    return cleaned


def _clean_metadata(*, symbol, timeframe, horizon_bars, channel_order, metrics, periods=None) -> dict:
    """The version's metadata, checked; `periods` is there only when known."""
    try:
        symbol = normalize_symbol(symbol)
        timeframe = normalize_timeframe(timeframe).code
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc
    if not isinstance(horizon_bars, int) or isinstance(horizon_bars, bool) or horizon_bars < 1:
        raise RegistryError(f"horizon_bars must be a positive integer, not {horizon_bars!r}")
    if not isinstance(channel_order, (list, tuple)) or not all(isinstance(c, str) and c for c in channel_order):
        raise RegistryError("channel_order must be a list of channel names")
    if not isinstance(metrics, dict):
        raise RegistryError("metrics must be a mapping of name to number")
    cleaned = {
        "symbol": symbol,
        "timeframe": timeframe,
        "horizon_bars": horizon_bars,
        "channel_order": list(channel_order),
        "metrics": metrics,
    }
    periods = _clean_periods(periods)
    return cleaned | ({"periods": periods} if periods else {})


class _StagedFile(File):
    """A verified file staged on disk: the storage moves it into place (a rename on one disk), never reads it whole."""

    def temporary_file_path(self) -> str:
        return self.name


def _stored_content(data: bytes | Path) -> File:
    return ContentFile(data) if isinstance(data, bytes) else _StagedFile(open(data, "rb"), name=str(data))


def version_store(
    *,
    model_name: str,
    contents: dict[str, bytes | Path],
    metadata: dict,
    label: str = "",
    description: str = "",
    user=None,
    training_run_id: int | None = None,
    source: str = "registered",
    tags=(),
    created_at=None,
    version_number: int | None = None,
    hashes: dict[str, str] | None = None,
) -> ModelVersion:
    """Write a verified version: rows and files together, or neither.

    `contents` maps file kind to bytes, or to the path of a staged file that is moved into the
    store; it must already be complete (meta included). `hashes` may give the files' sha256 when
    the caller computed them already.
    """
    hashes = hashes or {
        kind: sha256_bytes(data) if isinstance(data, bytes) else sha256_file(data) for kind, data in contents.items()
    }
    sizes = {kind: len(data) if isinstance(data, bytes) else data.stat().st_size for kind, data in contents.items()}
    user = db_user(user)
    saved: list[ArtifactFile] = []
    try:
        with transaction.atomic():
            registered, _ = RegisteredModel.objects.get_or_create(name=model_name, defaults={"created_by": user})
            registered = RegisteredModel.objects.select_for_update().get(pk=registered.pk)
            if label and registered.versions.filter(label=label).exists():
                raise RegistryError(f"{model_name} already has a version labelled {label!r}")
            taken = registered.versions.aggregate(n=Max("version"))["n"] or 0
            if version_number is None or registered.versions.filter(version=version_number).exists():
                version_number = taken + 1
            version = ModelVersion.objects.create(
                registered_model=registered,
                version=version_number,
                label=label,
                description=description,
                created_by=user,
                training_run_id=training_run_id,
                source=source,
                content_sha256=content_digest(metadata, hashes),
                created_at=created_at or timezone.now(),
                **metadata,
            )
            for kind in sorted(contents):
                record = ArtifactFile(version=version, kind=kind, size=sizes[kind], sha256=hashes[kind])
                with _stored_content(contents[kind]) as content:
                    record.file.save("model" + FILE_KINDS[kind], content, save=False)
                saved.append(record)
                record.save()
            for tag in tags:
                key, value = parse_tag(tag)
                VersionTag.objects.get_or_create(version=version, key=key, value=value)
    except BaseException:
        for record in saved:
            record.file.storage.delete(record.file.name)
        raise
    return version


def artifact_register(
    *,
    model_name: str,
    files: dict,
    symbol: str,
    timeframe: str,
    horizon_bars: int,
    channel_order: list[str],
    metrics: dict | None = None,
    label: str = "",
    description: str = "",
    user=None,
    training_run_id: int | None = None,
    tags=(),
    periods: dict | None = None,
) -> ModelVersion:
    """Register a new immutable version of `model_name` (created if new).

    `files` maps kind (checkpoint, config, stats, history, meta) to bytes, a path, or a dict for
    JSON files. checkpoint, config and stats are required; meta is written from the metadata
    when not given. `periods`: the train / val / test parts the model was fitted and scored on
    (`training.engine.periods_of`), kept with the version, in its meta.json and in its digest.
    """
    from django.utils.text import slugify

    if not model_name or slugify(model_name) != model_name or len(model_name) > 100:
        raise RegistryError(f"model name {model_name!r} must be a slug such as eurusd-1h-h12 (100 characters at most)")
    if len(label) > 64:
        raise RegistryError("a version label has 64 characters at most")
    unknown = set(files) - set(FILE_KINDS)
    if unknown:
        raise RegistryError(f"unknown file kind(s) {', '.join(sorted(unknown))}; known: {', '.join(FILE_KINDS)}")
    missing = [k for k in REQUIRED_KINDS if k not in files]
    if missing:
        raise RegistryError(f"a version needs its {', '.join(missing)} file(s)")
    metadata = _clean_metadata(
        symbol=symbol,
        timeframe=timeframe,
        horizon_bars=horizon_bars,
        channel_order=channel_order,
        metrics=metrics or {},
        periods=periods,
    )
    contents = {kind: _as_bytes(kind, value) for kind, value in files.items()}
    read_stats(contents["stats"], channels=len(metadata["channel_order"]))
    for kind in ("config", "history", "meta"):
        if kind in contents:
            try:
                json.loads(contents[kind])
            except ValueError as exc:
                raise RegistryError(f"{kind} file is not valid JSON ({exc})") from exc
    if "meta" not in contents:
        contents["meta"] = json.dumps(
            {"name": model_name, "label": label, **metadata}, indent=2, sort_keys=True
        ).encode()
    return version_store(
        model_name=model_name,
        contents=contents,
        metadata=metadata,
        label=label,
        description=description,
        user=user,
        training_run_id=training_run_id,
        source="training" if training_run_id else "registered",
        tags=tags,
    )


@transaction.atomic
def version_tag_add(*, version: ModelVersion, tag: str, user) -> VersionTag:
    require_staff(user, "change tags")
    key, value = parse_tag(tag)
    return VersionTag.objects.get_or_create(version=version, key=key, value=value)[0]


@transaction.atomic
def version_tag_remove(*, version: ModelVersion, tag: str, user) -> int:
    require_staff(user, "change tags")
    key, value = parse_tag(tag)
    return VersionTag.objects.filter(version=version, key=key, value=value).delete()[0]


@transaction.atomic
def alias_set(*, version: ModelVersion, alias: str, user) -> ModelAlias:
    """Point `alias` of the version's model at it (staff only); every move leaves a history row."""
    from django.utils.text import slugify

    require_staff(user, "move aliases")
    if not alias or slugify(alias) != alias:
        raise RegistryError(f"alias {alias!r} must be a slug such as production or champion")
    registered = RegisteredModel.objects.select_for_update().get(pk=version.registered_model_id)
    current = ModelAlias.objects.filter(registered_model=registered, name=alias).select_related("version").first()
    if current and current.version_id == version.pk:
        return current
    AliasHistory.objects.create(
        registered_model=registered,
        alias=alias,
        changed_by=db_user(user),
        from_version=current.version.version if current else None,
        to_version=version.version,
    )
    if current:
        current.version, current.updated_at = version, timezone.now()
        current.save(update_fields=["version", "updated_at"])
        return current
    return ModelAlias.objects.create(registered_model=registered, name=alias, version=version)


@transaction.atomic
def alias_remove(*, registered_model: RegisteredModel, alias: str, user) -> bool:
    require_staff(user, "move aliases")
    current = ModelAlias.objects.filter(registered_model=registered_model, name=alias).select_related("version").first()
    if not current:
        return False
    AliasHistory.objects.create(
        registered_model=registered_model,
        alias=alias,
        changed_by=db_user(user),
        from_version=current.version.version,
        to_version=None,
    )
    current.delete()
    return True


def _protected() -> Q:
    return Q(aliases__isnull=False) | Q(tags__key="production") | Q(tags__value="production")


def artifacts_prune(*, keep: int, dry_run: bool = False, model_name: str | None = None) -> list[str]:
    """Delete all but the newest `keep` versions of each model, files and rows together.

    Never removes a version that an alias points at or that is tagged `production`.
    Returns the refs removed (or that would be, with dry_run).
    """
    if keep < 0:
        raise RegistryError("--keep must be zero or more")
    models = RegisteredModel.objects.all()
    if model_name:
        models = models.filter(name=model_name)
    doomed: list[ModelVersion] = []
    for registered in models:
        newest = list(registered.versions.order_by("-version").values_list("pk", flat=True)[:keep])
        doomed += list(registered.versions.exclude(pk__in=newest).exclude(_protected()).distinct().order_by("version"))
    refs = [v.ref for v in doomed]
    if dry_run:
        return refs
    for version in doomed:
        version_delete(version=version)
    return refs


def version_delete(*, version: ModelVersion) -> None:
    """Remove a version's rows, then its files (a version an alias points at cannot be deleted)."""
    names = [(f.file.storage, f.file.name) for f in version.files.all()]
    with transaction.atomic():
        version.delete()
    for storage, name in names:
        storage.delete(name)
