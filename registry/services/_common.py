from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
from django.core.exceptions import PermissionDenied

from forexgpt_site.errors import DomainError

TAG_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}(=[^\s=]{1,128})?$")


class RegistryError(DomainError):
    """Bad input to the registry: the message says what is wrong; nothing was written."""


class ChecksumMismatch(RegistryError):
    """A version's stored file no longer matches the sha256 registered with it."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, *, chunk_bytes: int = 1 << 20) -> str:
    """sha256 of a file, read a chunk at a time (checkpoints run to gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def parse_tag(tag: str) -> tuple[str, str]:
    """`eurusd` -> ("eurusd", ""); `owner=alice` -> ("owner", "alice")."""
    tag = (tag or "").strip()
    if not TAG_RE.match(tag):
        raise RegistryError(f"tag {tag!r} must be a label (letters, digits, _.:-) or key=value without spaces")
    key, _, value = tag.partition("=")
    return key, value


class _Operator:
    """Whoever runs a management command: shell access already implies the right to curate."""

    is_staff = True
    is_authenticated = True

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = _Operator()


def db_user(user):
    """The user to record on a row (None for the shell operator)."""
    return None if user is None or user is OPERATOR else user


def require_staff(user, action: str) -> None:
    if not (user is not None and getattr(user, "is_staff", False)):
        raise PermissionDenied(f"only staff may {action}")


# Normalization stats are a few per-channel vectors; an .npz is itself a zip, and one that unpacks
# to more than this is a bomb, not stats.
STATS_MAX_BYTES = 16 * 1024 * 1024


# The band levels' map holds one level per point of training.engine.forecast.LEVEL_GRID (the registry may
# not import training; tests/registry/test_versions.py checks the two agree).
LEVEL_POINTS = 101


def read_stats(data: bytes | Path, *, channels: int | None = None) -> dict[str, np.ndarray]:
    """Normalization stats from `.stats.npz` bytes or file: per-channel `mu` and `sigma` (no pickles)."""
    try:
        npz = np.load(io.BytesIO(data) if isinstance(data, bytes) else data, allow_pickle=False)
    except Exception as exc:
        raise RegistryError(f"stats file is not a readable .npz archive ({exc})") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise RegistryError("stats file is not a readable .npz archive (it holds a single array, not mu and sigma)")
    with npz:
        unpacked = sum(info.file_size for info in npz.zip.infolist())
        if unpacked > STATS_MAX_BYTES:
            raise RegistryError(
                f"stats file unpacks to {unpacked:,} bytes; normalization stats are at most {STATS_MAX_BYTES:,}"
            )
        try:
            stats = {key: npz[key] for key in npz.files}
        except Exception as exc:
            raise RegistryError(f"stats file is not a readable .npz archive ({exc})") from exc
    missing = {"mu", "sigma"} - set(stats)
    if missing:
        raise RegistryError(f"stats file lacks {', '.join(sorted(missing))} (per-channel mu and sigma)")
    if stats["mu"].shape != stats["sigma"].shape:
        raise RegistryError(f"stats mu {stats['mu'].shape} and sigma {stats['sigma'].shape} differ in shape")
    if channels is not None and stats["mu"].shape[-1] != channels:
        raise RegistryError(f"stats have {stats['mu'].shape[-1]} channels but channel_order lists {channels}")
    # the band levels' map (training.engine.forecast.fit_levels), or `levels` as saved before 2026-12-08
    for key in ("level_map", "levels"):
        if key not in stats:
            continue
        levels = stats[key]
        if levels.shape != (LEVEL_POINTS,) or not np.all(np.isfinite(levels)):
            raise RegistryError(
                f"stats {key} must be {LEVEL_POINTS} finite numbers (the band levels' map), not {levels.shape}"
            )
        if levels[0] < 0 or levels[-1] > 1 or np.any(np.diff(levels) < 0):
            raise RegistryError(f"stats {key} must rise from 0 to 1 (the band levels' map)")
    return stats


def content_digest(metadata: dict, file_hashes: dict[str, str]) -> str:
    """Identity of a version's content: its core metadata (its periods when it has them) and the
    sha256 of each file. A version without periods keeps the digest it had before periods existed."""
    core = {k: metadata.get(k) for k in ("symbol", "timeframe", "horizon_bars", "channel_order", "metrics")}
    if metadata.get("periods"):
        core["periods"] = metadata["periods"]
    return sha256_bytes(
        json.dumps({"metadata": core, "files": dict(sorted(file_hashes.items()))}, sort_keys=True).encode()
    )
