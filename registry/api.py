from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import selectors, services
from registry.models import RegisteredModel
from registry.serializers import (
    AliasHistorySerializer,
    AliasSerializer,
    BundleUploadSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
    TagSerializer,
    VersionFilterSerializer,
)


class IsStaff(BasePermission):
    message = "only staff may curate the registry"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff)


class RegisteredModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Registered models with their version count and aliases; `.../alias-history/` lists every alias move."""

    serializer_class = RegisteredModelSerializer
    queryset = RegisteredModel.objects.all()
    lookup_field = "name"

    @action(detail=True, url_path="alias-history")
    def alias_history(self, request, name=None):
        return Response(AliasHistorySerializer(selectors.alias_history(self.get_object()), many=True).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"aliases/(?P<alias>[-\w]+)", permission_classes=[IsStaff])
    def remove_alias(self, request, name=None, alias=None):
        removed = services.alias_remove(registered_model=self.get_object(), alias=alias, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT if removed else status.HTTP_404_NOT_FOUND)


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Versions, filterable by `model`, `symbol`, `timeframe`, `tag` (repeatable) and `alias`."""

    serializer_class = ModelVersionSerializer
    filter_backends = []

    def get_queryset(self):
        if self.action != "list":
            return selectors.versions_queryset()
        params = VersionFilterSerializer(
            data={**self.request.query_params.dict(), "tag": self.request.query_params.getlist("tag")}
        )
        params.is_valid(raise_exception=True)
        filters = dict(params.validated_data)
        return selectors.versions_filtered(tags=filters.pop("tag", None), **filters)

    @extend_schema(
        parameters=[
            OpenApiParameter("model"),
            OpenApiParameter("symbol"),
            OpenApiParameter("timeframe"),
            OpenApiParameter("tag", many=True),
            OpenApiParameter("alias"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: bytes})
    @action(detail=True, url_path=r"files/(?P<kind>[a-z]+)")
    def file(self, request, pk=None, kind=None):
        version = self.get_object()
        record = version.files.filter(kind=kind).first()
        if record is None:
            return Response({"detail": f"no {kind} file"}, status=status.HTTP_404_NOT_FOUND)
        record.version = version
        services.file_check(record, doing="serve")  # a 400 naming it, before a byte goes out
        return FileResponse(record.file.open("rb"), as_attachment=True, filename=record.bundle_name)

    @extend_schema(responses={200: bytes})
    @action(detail=True)
    def export(self, request, pk=None):
        version = self.get_object()
        services.bundle_check(version=version)  # a refusal before the first byte goes out
        response = StreamingHttpResponse(
            services.bundle_chunks(version=version, checked=True), content_type="application/zip"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{version.registered_model.name}-v{version.version}.zip"'
        )
        return response

    @extend_schema(request=TagSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post", "delete"], permission_classes=[IsStaff])
    def tags(self, request, pk=None):
        version = self.get_object()
        body = TagSerializer(data=request.data if request.method == "POST" else request.query_params)
        body.is_valid(raise_exception=True)
        fn = services.version_tag_add if request.method == "POST" else services.version_tag_remove
        fn(version=version, tag=body.validated_data["tag"], user=request.user)
        return Response(
            ModelVersionSerializer(selectors.versions_queryset().get(pk=version.pk), context={"request": request}).data
        )

    @extend_schema(request=AliasSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def alias(self, request, pk=None):
        version = self.get_object()
        body = AliasSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.alias_set(version=version, alias=body.validated_data["alias"], user=request.user)
        return Response(
            ModelVersionSerializer(selectors.versions_queryset().get(pk=version.pk), context={"request": request}).data
        )


class BundleImportView(APIView):
    """Import an exported bundle (multipart `bundle`); 201 when created, 200 when already present."""

    permission_classes = [IsStaff]
    parser_classes = [MultiPartParser]

    @extend_schema(request=BundleUploadSerializer, responses=ModelVersionSerializer)
    def post(self, request):
        body = BundleUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version, created = services.bundle_import(source=body.validated_data["bundle"], user=request.user)
        data = ModelVersionSerializer(
            selectors.versions_queryset().get(pk=version.pk), context={"request": request}
        ).data
        return Response({**data, "created": created}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
