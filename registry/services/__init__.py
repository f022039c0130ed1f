"""Registry writes. Import from here: `from registry.services import artifact_register`."""

from ._common import OPERATOR, ChecksumMismatch, RegistryError, parse_tag, read_stats
from .bundles import (
    FORMAT_VERSION,
    bundle_check,
    bundle_chunks,
    bundle_export,
    bundle_import,
    bundle_manifest,
    bundle_verify,
    file_check,
)
from .versions import (
    alias_remove,
    alias_set,
    artifact_register,
    artifacts_prune,
    version_delete,
    version_tag_add,
    version_tag_remove,
)

__all__ = [
    "ChecksumMismatch",
    "FORMAT_VERSION",
    "OPERATOR",
    "RegistryError",
    "alias_remove",
    "alias_set",
    "artifact_register",
    "artifacts_prune",
    "bundle_check",
    "bundle_chunks",
    "bundle_export",
    "bundle_import",
    "bundle_manifest",
    "bundle_verify",
    "file_check",
    "parse_tag",
    "read_stats",
    "version_delete",
    "version_tag_add",
    "version_tag_remove",
]
