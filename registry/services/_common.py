from __future__ import annotations

import hashlib
import io
import json
import re

import numpy as np
from django.core.exceptions import PermissionDenied

TAG_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}(=[^\s=]{1,128})?$")


class RegistryError(ValueError):
    """Bad input to the registry: the message says what is wrong; nothing was written."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def read_stats(data: bytes, *, channels: int | None = None) -> dict[str, np.ndarray]:
    """Normalization stats from `.stats.npz` bytes: per-channel `mu` and `sigma` (no pickles)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
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
    return stats


def content_digest(metadata: dict, file_hashes: dict[str, str]) -> str:
    """Identity of a version's content: its core metadata and the sha256 of each file."""
    core = {k: metadata.get(k) for k in ("symbol", "timeframe", "horizon_bars", "channel_order", "metrics")}
    return sha256_bytes(json.dumps({"metadata": core, "files": dict(sorted(file_hashes.items()))}, sort_keys=True).encode())
