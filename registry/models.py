"""Registered models, their immutable versions, files, tags, aliases and alias history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

FILE_KINDS = {
    # kind: file name suffix inside a version (and inside an export bundle)
    "checkpoint": ".ckpt",
    "meta": ".meta.json",
    "config": ".config.json",
    "stats": ".stats.npz",
    "history": ".history.json",
}


def _artifact_path(instance: ArtifactFile, filename: str) -> str:
    version = instance.version
    return f"registry/{version.registered_model.name}/v{version.version}/{filename}"


class RegisteredModel(models.Model):
    name = models.SlugField(max_length=100, unique=True, help_text="e.g. eurusd-1h-h12")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One immutable artifact: files and metadata never change after registration."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(help_text="auto-numbered per registered model")
    label = models.CharField(max_length=64, blank=True, help_text="optional human label such as v1.0.0")
    symbol = models.CharField(max_length=12, db_index=True)
    timeframe = models.CharField(max_length=8, db_index=True)
    horizon_bars = models.PositiveIntegerField()
    channel_order = models.JSONField(default=list)
    metrics = models.JSONField(default=dict, blank=True)
    periods = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "the train / val / test parts it was fitted and scored on: per part first_bar, last_bar, first_origin, "
            "last_origin (ISO UTC) and windows; empty when unknown (registered or exported before periods were kept)"
        ),
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Lineage: the training run that produced it (none for imported versions). The training app
    # owns that table; the id is kept here so the registry never depends on a later app.
    training_run_id = models.PositiveBigIntegerField(null=True, blank=True)
    source = models.CharField(
        max_length=16,
        default="registered",
        choices=[("registered", "registered"), ("training", "training run"), ("import", "imported bundle")],
    )
    content_sha256 = models.CharField(max_length=64, db_index=True, help_text="digest of files and metadata")

    class Meta:
        ordering = ["registered_model__name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["registered_model", "version"], name="registry_unique_version"),
            models.UniqueConstraint(
                fields=["registered_model", "label"], condition=~models.Q(label=""), name="registry_unique_label"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registered_model.name}:{self.version}"

    @property
    def ref(self) -> str:
        return f"{self.registered_model.name}:{self.version}"

    @property
    def tag_strings(self) -> list[str]:
        return [t.as_string for t in self.tags.all()]


class ArtifactFile(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=12, choices=[(k, k) for k in FILE_KINDS])
    file = models.FileField(upload_to=_artifact_path, max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["version", "kind"]
        constraints = [models.UniqueConstraint(fields=["version", "kind"], name="registry_unique_file_kind")]

    def __str__(self) -> str:
        return f"{self.version} {self.kind}"

    @property
    def bundle_name(self) -> str:
        return "model" + FILE_KINDS[self.kind]


class VersionTag(models.Model):
    """A free label (`eurusd`) or a key=value pair (`owner=alice`)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=64, db_index=True)
    value = models.CharField(max_length=128, blank=True, db_index=True)

    class Meta:
        ordering = ["key", "value"]
        constraints = [models.UniqueConstraint(fields=["version", "key", "value"], name="registry_unique_tag")]

    def __str__(self) -> str:
        return self.as_string

    @property
    def as_string(self) -> str:
        return f"{self.key}={self.value}" if self.value else self.key


class ModelAlias(models.Model):
    """A named pointer (`production`, `champion`) to one version of a registered model."""

    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.SlugField(max_length=64)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["registered_model", "name"]
        verbose_name_plural = "model aliases"
        constraints = [models.UniqueConstraint(fields=["registered_model", "name"], name="registry_unique_alias")]

    def __str__(self) -> str:
        return f"{self.registered_model.name}@{self.name} -> v{self.version.version}"


class AliasHistory(models.Model):
    registered_model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alias_history")
    alias = models.CharField(max_length=64)
    from_version = models.PositiveIntegerField(null=True, blank=True)
    to_version = models.PositiveIntegerField(null=True, blank=True, help_text="empty when the alias was removed")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name_plural = "alias history"

    def __str__(self) -> str:
        return f"{self.registered_model.name}@{self.alias}: {self.from_version} -> {self.to_version}"
