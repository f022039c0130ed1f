from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.models import AliasHistory, ArtifactFile, ModelVersion, RegisteredModel


class ArtifactFileSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = ArtifactFile
        fields = ["kind", "size", "sha256", "download"]

    def get_download(self, obj) -> str:
        request = self.context.get("request")
        url = f"/api/registry/versions/{obj.version_id}/files/{obj.kind}/"
        return request.build_absolute_uri(url) if request else url


class PartPeriodSerializer(serializers.Serializer):
    """One part of a model's data: the bars its windows read and its forecast origins (window ends)."""

    first_bar = serializers.DateTimeField(help_text="its first window's first input bar (UTC)")
    last_bar = serializers.DateTimeField(help_text="its last window's last target bar (UTC)")
    first_origin = serializers.DateTimeField(help_text="its first window end: the first forecast origin (UTC)")
    last_origin = serializers.DateTimeField(help_text="its last window end (UTC)")
    windows = serializers.IntegerField(help_text="windows in the part")


class PeriodsSerializer(serializers.Serializer):
    """The chronological parts a model was trained (`train`), validated (`val`: early stopping, the
    fitted spread and drift) and tested (`test`) on."""

    train = PartPeriodSerializer()
    val = PartPeriodSerializer()
    test = PartPeriodSerializer()


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="registered_model.name")
    ref = serializers.CharField(read_only=True)
    tags = serializers.ListField(source="tag_strings", child=serializers.CharField())
    aliases = serializers.SerializerMethodField()
    files = ArtifactFileSerializer(many=True)
    created_by = serializers.StringRelatedField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "ref",
            "model",
            "version",
            "label",
            "symbol",
            "timeframe",
            "horizon_bars",
            "channel_order",
            "metrics",
            "description",
            "tags",
            "aliases",
            "files",
            "created_at",
            "created_by",
            "source",
            "training_run_id",
            "content_sha256",
            "periods",
        ]
        read_only_fields = fields

    periods = serializers.SerializerMethodField(
        help_text="train / val / test periods; null when unknown (older or imported versions)"
    )

    def get_aliases(self, obj) -> list[str]:
        return [a.name for a in obj.aliases.all()]

    @extend_schema_field(PeriodsSerializer(allow_null=True))
    def get_periods(self, obj):
        return obj.periods or None


class RegisteredModelSerializer(serializers.ModelSerializer):
    versions = serializers.IntegerField(source="versions.count", read_only=True)
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "description", "created_at", "versions", "aliases"]

    def get_aliases(self, obj) -> dict[str, int]:
        return {a.name: a.version.version for a in obj.aliases.select_related("version")}


class AliasHistorySerializer(serializers.ModelSerializer):
    changed_by = serializers.StringRelatedField()

    class Meta:
        model = AliasHistory
        fields = ["alias", "from_version", "to_version", "changed_by", "changed_at"]


class VersionFilterSerializer(serializers.Serializer):
    model = serializers.CharField(required=False)
    symbol = serializers.CharField(required=False)
    timeframe = serializers.CharField(required=False)
    tag = serializers.ListField(child=serializers.CharField(), required=False)
    alias = serializers.CharField(required=False)


class TagSerializer(serializers.Serializer):
    tag = serializers.CharField()


class AliasSerializer(serializers.Serializer):
    alias = serializers.CharField()


class BundleUploadSerializer(serializers.Serializer):
    bundle = serializers.FileField()
