"""Registry reads: find versions by reference or tags, and load what inference needs."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.db.models import Prefetch, QuerySet

from forexgpt_site.parsing import parse_utc
from registry.models import AliasHistory, ModelAlias, ModelVersion, VersionTag
from registry.services import ChecksumMismatch, RegistryError, file_check, parse_tag, read_stats

_REF_RE = re.compile(r"^(?P<name>[-a-zA-Z0-9_]+)(?::(?P<version>[^@:]+)|@(?P<alias>[-a-zA-Z0-9_]+))?$")


def versions_queryset() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("registered_model", "created_by").prefetch_related(
        "files", "tags", Prefetch("aliases", queryset=ModelAlias.objects.order_by("name"))
    )


def versions_filtered(
    *,
    model: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    tags: list[str] | None = None,
    alias: str | None = None,
) -> QuerySet[ModelVersion]:
    qs = versions_queryset()
    if model:
        qs = qs.filter(registered_model__name=model)
    if symbol:
        from marketdata.engine import normalize_symbol

        qs = qs.filter(symbol=normalize_symbol(symbol))
    if timeframe:
        from marketdata.engine import normalize_timeframe

        qs = qs.filter(timeframe=normalize_timeframe(timeframe).code)
    for tag in tags or []:
        key, value = parse_tag(tag)
        qs = qs.filter(pk__in=VersionTag.objects.filter(key=key, value=value).values("version"))
    if alias:
        qs = qs.filter(aliases__name=alias)
    return qs.order_by("registered_model__name", "-version").distinct()


def version_by_ref(ref: str) -> ModelVersion:
    """`name` (latest), `name:3`, `name:v1.0.0` (label) or `name@production`."""
    match = _REF_RE.match((ref or "").strip())
    if not match:
        raise RegistryError(f"reference {ref!r} is not name, name:VERSION or name@alias")
    name, version, alias = match.group("name", "version", "alias")
    qs = versions_queryset().filter(registered_model__name=name)
    if alias:
        found = qs.filter(aliases__name=alias).first()
        what = f"alias {alias!r}"
    elif version:
        found = qs.filter(version=int(version)).first() if version.isdigit() else qs.filter(label=version).first()
        what = f"version {version!r}"
    else:
        found = qs.order_by("-version").first()
        what = None
    if found is None:
        raise RegistryError(
            f"registered model {name!r} has no {what}"
            if what
            else f"there is no registered model {name!r} (no version of it)"
        )
    return found


def version_latest_with_tags(tags: list[str], *, model: str | None = None) -> ModelVersion:
    found = versions_filtered(model=model, tags=tags).order_by("-created_at", "-version").first()
    if found is None:
        raise RegistryError(f"no version is tagged {', '.join(tags)}")
    return found


def version_file_record(version: ModelVersion, kind: str):
    """The version's ArtifactFile of `kind`; RegistryError when it has none."""
    record = version.files.filter(kind=kind).first()
    if record is None:
        raise RegistryError(f"{version.ref} has no {kind} file")
    record.version = version
    return record


def version_file_bytes(version: ModelVersion, kind: str) -> bytes:
    """The bytes of one of the version's files, checked against the checksum registered with them."""
    record = version_file_record(version, kind)
    with record.file.open("rb") as fh:
        data = fh.read()
    file_check(record, doing="use", data=data)
    return data


def version_checkpoint_path(version: ModelVersion) -> Path:
    """A local path to the checkpoint, checked against its registered checksum: the stored file
    itself, or a cached copy for remote storage."""
    record = version_file_record(version, "checkpoint")
    try:
        path = Path(record.file.path)
    except NotImplementedError:  # a remote storage backend: a checked copy in the temp cache
        path = Path(tempfile.gettempdir()) / "forexgpt-artifacts" / record.sha256 / "model.ckpt"
        if path.exists():
            try:
                file_check(record, doing="use", path=path)
                return path
            except ChecksumMismatch:  # a copy cut short or changed since: copied again below
                path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"model.ckpt.{os.getpid()}.partial")
        with record.file.open("rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.replace(path)  # never a half-written copy under the name read
    file_check(record, doing="use", path=path)
    return path


def version_against_strongest_baseline(version: ModelVersion) -> dict | None:
    """The version's test CRPS against the strongest baseline its metrics record (the lowest of the
    `crps_<baseline>` metrics, whichever baselines its trainer scored): {"baseline", "label", "crps", "ratio"};
    None without a CRPS or a baseline. The label is the metric's own name (the registry knows no trainer's
    baselines: it sits before training in the flow), as its metrics table shows it."""
    metrics = version.metrics or {}
    known = [
        (key[len("crps_") :], float(value))
        for key, value in metrics.items()
        if key.startswith("crps_") and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    ]
    if not known or not isinstance(metrics.get("crps"), (int, float)):
        return None
    name, crps = min(known, key=lambda pair: pair[1])
    return {"baseline": name, "label": f"crps_{name}", "crps": crps, "ratio": metrics["crps"] / crps}


def version_stats(version: ModelVersion) -> dict[str, np.ndarray]:
    """Normalization stats (`mu`, `sigma` per channel, in `channel_order`) for inference."""
    return read_stats(version_file_bytes(version, "stats"), channels=len(version.channel_order))


PART_NAMES = {"train": "training", "val": "validation", "test": "test"}


def version_periods(version: ModelVersion) -> list[dict] | None:
    """The version's parts in time order for a page: `part` (train, val, test), `name`, the four
    times as aware UTC datetimes and `windows`; None when its periods are unknown."""
    if not version.periods:
        return None
    return [
        {
            "part": part,
            "name": name,
            "windows": version.periods[part]["windows"],
            **{
                key: parse_utc(version.periods[part][key])
                for key in ("first_bar", "last_bar", "first_origin", "last_origin")
            },
        }
        for part, name in PART_NAMES.items()
    ]


def out_of_sample_start(version: ModelVersion):
    """The first whole UTC day at or after the first bar of the version's test part (a date), the
    start a forecast form proposes: forecasts from there on are made on bars the model was never
    fitted to. None when its periods are unknown."""
    if not version.periods:
        return None
    first = parse_utc(version.periods["test"]["first_bar"])
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight if midnight == first else midnight + timedelta(days=1)).date()


def alias_history(version_or_model) -> QuerySet[AliasHistory]:
    registered = getattr(version_or_model, "registered_model", version_or_model)
    return AliasHistory.objects.filter(registered_model=registered).select_related("changed_by")


COMPARE_MAX = 8  # versions side by side on one page


def _json_file(version: ModelVersion, kind: str):
    """A version's JSON file (history, config, meta) parsed; None when it has none or it is not JSON."""
    import json

    try:
        return json.loads(version_file_bytes(version, kind))
    except (RegistryError, ValueError):
        return None


def _flat_scalars(value, prefix: str = "") -> dict:
    """Nested dicts of a config flattened to `a.b` keys, scalars only (lists and tables left out)."""
    out = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out |= _flat_scalars(item, f"{prefix}{key}.")
    elif isinstance(value, (str, int, float, bool)) or value is None:
        out[prefix.rstrip(".")] = value
    return out


def history_epochs(history) -> list[dict]:
    """Per-epoch rows of a stored history: {"epochs": [...]} as the trainer writes it, or a bare list."""
    if isinstance(history, dict):
        history = history.get("epochs")
    return [row for row in history if isinstance(row, dict)] if isinstance(history, list) else []


def versions_compared(ids: list[int]) -> dict:
    """Up to COMPARE_MAX versions side by side, in the order asked: each one's metrics (with the
    lowest CRPS-like value of a row marked), its training parameters from its config file (rows
    where the versions differ marked), periods and per-epoch history for overlaid loss curves."""
    found = {v.pk: v for v in versions_queryset().filter(pk__in=ids[:COMPARE_MAX])}
    versions = [found[pk] for pk in dict.fromkeys(ids[:COMPARE_MAX]) if pk in found]
    metric_keys = sorted({k for v in versions for k in (v.metrics or {})})
    metrics = []
    for key in metric_keys:
        values = [(v.metrics or {}).get(key) for v in versions]
        numbers = [x for x in values if isinstance(x, (int, float)) and not isinstance(x, bool)]
        # Lower is better for a score (CRPS, MAE); coverage is judged against its nominal level, not ranked.
        best = min(numbers) if key.startswith(("crps", "mae")) and len(numbers) > 1 else None
        metrics.append({"key": key, "values": [(x, best is not None and x == best) for x in values]})
    configs = [_flat_scalars(_json_file(v, "config") or {}) for v in versions]
    param_keys = sorted({k for c in configs for k in c})
    params = [
        {"key": k, "values": [c.get(k) for c in configs], "differs": len({repr(c.get(k)) for c in configs}) > 1}
        for k in param_keys
    ]
    return {
        "versions": versions,
        "metrics": metrics,
        "params": params,
        "histories": [history_epochs(_json_file(v, "history")) for v in versions],
        "periods": [version_periods(v) for v in versions],
    }
