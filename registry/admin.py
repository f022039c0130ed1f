"""Django admin: where staff curate the registry (tags, aliases, exports, pruning by hand)."""

from __future__ import annotations

import io
import zipfile

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from forexgpt_site.admin import ReadOnlyAdmin
from registry import services
from registry.models import AliasHistory, ArtifactFile, ModelAlias, ModelVersion, RegisteredModel, VersionTag


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        tags = VersionTag.objects.values_list("key", "value").distinct().order_by("key", "value")[:100]
        return [(f"{k}={v}" if v else k, f"{k}={v}" if v else k) for k, v in tags]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        key, value = services.parse_tag(self.value())
        return queryset.filter(tags__key=key, tags__value=value).distinct()


class AliasFilter(admin.SimpleListFilter):
    title = "alias"
    parameter_name = "alias"

    def lookups(self, request, model_admin):
        return [(n, n) for n in ModelAlias.objects.values_list("name", flat=True).distinct().order_by("name")]

    def queryset(self, request, queryset):
        return queryset.filter(aliases__name=self.value()).distinct() if self.value() else queryset


class ArtifactFileInline(admin.TabularInline):
    model = ArtifactFile
    fields = ["kind", "size", "sha256", "download"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="file")
    def download(self, obj):
        url = f"/api/registry/versions/{obj.version_id}/files/{obj.kind}/"
        return format_html('<a href="{}">download {}</a>', url, obj.bundle_name)


class VersionTagInline(admin.TabularInline):
    model = VersionTag
    extra = 1


class TagForm(forms.Form):
    tag = forms.CharField(help_text="a label (production) or key=value (owner=alice)")


class AliasForm(forms.Form):
    alias = forms.SlugField(help_text="e.g. production, champion")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    # Few, short columns: at a laptop's width the list fits beside the filter panel (browser-tested);
    # horizon and source are on the version's page and in the filters.
    list_display = [
        "ref_display",
        "label",
        "symbol",
        "timeframe",
        "tags_display",
        "aliases_display",
        "metrics_display",
        "created_at",
    ]
    list_filter = ["registered_model", "symbol", "timeframe", TagFilter, AliasFilter, "source"]
    search_fields = ["registered_model__name", "label", "description", "tags__key", "tags__value"]
    readonly_fields = [
        "registered_model",
        "version",
        "label",
        "symbol",
        "timeframe",
        "horizon_bars",
        "channel_order",
        "metrics",
        "periods",
        "created_at",
        "created_by",
        "source",
        "lineage",
        "content_sha256",
        "alias_history",
    ]
    fields = readonly_fields[:3] + ["description"] + readonly_fields[3:]
    inlines = [ArtifactFileInline, VersionTagInline]
    actions = ["add_tag", "remove_tag", "set_alias", "export_bundles", "delete_versions"]
    list_select_related = ["registered_model"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags", "aliases")

    def has_add_permission(self, request):
        return False  # versions come from training runs, the API, or imported bundles

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # ours also removes the files
        return actions

    @admin.display(description="version", ordering="version")
    def ref_display(self, obj):
        return obj.ref

    @admin.display(description="tags")
    def tags_display(self, obj):
        return ", ".join(t.as_string for t in obj.tags.all())

    @admin.display(description="aliases")
    def aliases_display(self, obj):
        return ", ".join(a.name for a in obj.aliases.all())

    @admin.display(description="metrics")
    def metrics_display(self, obj):
        """The test CRPS and the q05-q95 coverage when recorded, else the first two numeric metrics."""
        numeric = {
            k: v for k, v in sorted(obj.metrics.items()) if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        short = {"crps": "CRPS", "coverage_q05_q95": "cov"}
        keys = [k for k in short if k in numeric] or list(numeric)[:2]
        return format_html_join(" · ", "{} {}", ((short.get(k, k), f"{numeric[k]:.4g}") for k in keys))

    @admin.display(description="lineage")
    def lineage(self, obj):
        if obj.training_run_id:
            return f"training run #{obj.training_run_id}"
        return "imported bundle" if obj.source == "import" else "registered directly"

    @admin.display(description="alias history")
    def alias_history(self, obj):
        rows = AliasHistory.objects.filter(registered_model=obj.registered_model).select_related("changed_by")[:20]
        return (
            format_html_join(
                "",
                "<div>{} {}: {} &rarr; {} by {}</div>",
                (
                    (
                        h.changed_at.strftime("%Y-%m-%d %H:%M"),
                        h.alias,
                        h.from_version or "-",
                        h.to_version or "removed",
                        h.changed_by or "operator",
                    )
                    for h in rows
                ),
            )
            or "-"
        )

    def _form_action(self, request, queryset, form_class, title, apply):
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    done = apply(form.cleaned_data)
                except (services.RegistryError, PermissionError) as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                    return None
                self.message_user(request, done, messages.SUCCESS)
                return None
        else:
            form = form_class()
        return TemplateResponse(
            request,
            "admin/registry/version_action.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": request.POST["action"],
                "opts": self.model._meta,
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            },
        )

    @admin.action(description="Add a tag to the selected versions", permissions=["change"])
    def add_tag(self, request, queryset):
        def apply(data):
            for version in queryset:
                services.version_tag_add(version=version, tag=data["tag"], user=request.user)
            return f"tagged {queryset.count()} version(s) {data['tag']}"

        return self._form_action(request, queryset, TagForm, "Add a tag", apply)

    @admin.action(description="Remove a tag from the selected versions", permissions=["change"])
    def remove_tag(self, request, queryset):
        def apply(data):
            removed = sum(services.version_tag_remove(version=v, tag=data["tag"], user=request.user) for v in queryset)
            return f"removed {data['tag']} from {removed} version(s)"

        return self._form_action(request, queryset, TagForm, "Remove a tag", apply)

    @admin.action(description="Point an alias at the selected versions (one per model)", permissions=["change"])
    def set_alias(self, request, queryset):
        per_model = queryset.values("registered_model").annotate(n=Count("id")).filter(n__gt=1)
        if per_model.exists():
            self.message_user(
                request,
                "an alias points at one version per model: select at most one version of each model",
                messages.ERROR,
            )
            return None

        def apply(data):
            for version in queryset:
                services.alias_set(version=version, alias=data["alias"], user=request.user)
            return f"{data['alias']} now points at " + ", ".join(v.ref for v in queryset)

        return self._form_action(request, queryset, AliasForm, "Set an alias", apply)

    @admin.action(description="Export the selected versions as bundles (one zip of zips)")
    def export_bundles(self, request, queryset):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as outer:
            for version in queryset.select_related("registered_model").order_by("registered_model__name", "version"):
                outer.writestr(
                    f"{version.registered_model.name}-v{version.version}.zip", services.bundle_export(version=version)
                )
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="registry-export.zip"'
        return response

    @admin.action(description="Delete the selected versions and their files", permissions=["delete"])
    def delete_versions(self, request, queryset):
        protected = [v.ref for v in queryset if v.aliases.exists()]
        if protected:
            self.message_user(request, f"move or remove their aliases first: {', '.join(protected)}", messages.ERROR)
            return None
        refs = [v.ref for v in queryset]
        for version in queryset:
            services.version_delete(version=version)
        self.message_user(request, f"deleted {', '.join(refs)}", messages.SUCCESS)
        return None

    def delete_model(self, request, obj):
        services.version_delete(version=obj)


class ModelAliasInline(admin.TabularInline):
    model = ModelAlias
    fields = ["name", "version", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # aliases move through the version list's action, which records history


class AliasHistoryInline(admin.TabularInline):
    model = AliasHistory
    fields = ["changed_at", "alias", "from_version", "to_version", "changed_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "version_count", "alias_list", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "created_at", "created_by", "versions_link"]
    inlines = [ModelAliasInline, AliasHistoryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_versions=Count("versions")).prefetch_related("aliases__version")

    def has_add_permission(self, request):
        return False

    @admin.display(description="versions", ordering="n_versions")
    def version_count(self, obj):
        return obj.n_versions

    @admin.display(description="aliases")
    def alias_list(self, obj):
        return ", ".join(f"{a.name}->v{a.version.version}" for a in obj.aliases.all())

    @admin.display(description="versions")
    def versions_link(self, obj):
        url = reverse("admin:registry_modelversion_changelist") + f"?registered_model__id__exact={obj.pk}"
        return format_html('<a href="{}">all versions of {}</a>', url, obj.name)


@admin.register(AliasHistory)
class AliasHistoryAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "registered_model", "alias", "from_version", "to_version", "changed_by"]
    list_filter = ["registered_model", "alias"]
    readonly_fields = list_display
