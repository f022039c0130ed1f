import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from knox.models import AuthToken
from rest_framework.test import APIClient

from registry.models import AliasHistory, ModelVersion, VersionTag
from registry.services import alias_set, bundle_export, version_delete, version_tag_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(staff_user):
    client = APIClient()
    _, token = AuthToken.objects.create(user=staff_user)  # (row, token): only the hash is stored
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_list_filters(api_client, register, staff_user):
    one, two = register(), register(seed=1)
    other = register(name="usdjpy-1h-h12", symbol="USDJPY")
    version_tag_add(version=one, tag="eurusd", user=staff_user)
    alias_set(version=two, alias="production", user=staff_user)
    refs = lambda **q: [v["ref"] for v in api_client.get("/api/registry/versions/", q).json()["results"]]
    assert refs() == ["eurusd-1h-h12:2", "eurusd-1h-h12:1", "usdjpy-1h-h12:1"]
    assert refs(symbol="EUR/USD") == ["eurusd-1h-h12:2", "eurusd-1h-h12:1"]
    assert refs(tag="eurusd") == ["eurusd-1h-h12:1"]
    assert refs(alias="production") == ["eurusd-1h-h12:2"]
    assert refs(model="usdjpy-1h-h12", timeframe="H1") == [other.ref]
    detail = api_client.get(f"/api/registry/versions/{two.pk}/").json()
    assert detail["aliases"] == ["production"] and {f["kind"] for f in detail["files"]} == {
        "checkpoint",
        "config",
        "history",
        "meta",
        "stats",
    }
    assert api_client.get("/api/registry/models/eurusd-1h-h12/").json()["aliases"] == {"production": 2}


def test_file_download_and_export(api_client, register, artifact_files):
    version = register()
    response = api_client.get(f"/api/registry/versions/{version.pk}/files/checkpoint/")
    assert (
        response.status_code == 200
        and b"".join(response.streaming_content) == artifact_files(0)["checkpoint"].read_bytes()
    )
    bundle = api_client.get(f"/api/registry/versions/{version.pk}/export/")
    assert bundle["Content-Type"] == "application/zip" and bundle.streaming  # streamed, never whole in memory
    assert b"".join(bundle.streaming_content) == bundle_export(version=version)
    assert api_client.get(f"/api/registry/versions/{version.pk}/files/weights/").status_code == 404


def test_curation_is_refused_to_non_staff(api_client, register):
    version = register()
    bundle = bundle_export(version=version)
    assert api_client.post(f"/api/registry/versions/{version.pk}/alias/", {"alias": "production"}).status_code == 403
    assert api_client.post(f"/api/registry/versions/{version.pk}/tags/", {"tag": "x"}).status_code == 403
    assert api_client.delete("/api/registry/models/eurusd-1h-h12/aliases/production/").status_code == 403
    upload = SimpleUploadedFile("b.zip", bundle)
    assert api_client.post("/api/registry/import/", {"bundle": upload}, format="multipart").status_code == 403
    assert (VersionTag.objects.count(), AliasHistory.objects.count()) == (0, 0)


def test_staff_curate_through_the_api(staff_api, register):
    version = register()
    assert staff_api.post(f"/api/registry/versions/{version.pk}/tags/", {"tag": "owner=alice"}).json()["tags"] == [
        "owner=alice"
    ]
    assert staff_api.delete(f"/api/registry/versions/{version.pk}/tags/?tag=owner=alice").json()["tags"] == []
    assert staff_api.post(f"/api/registry/versions/{version.pk}/alias/", {"alias": "champion"}).json()["aliases"] == [
        "champion"
    ]
    history = staff_api.get("/api/registry/models/eurusd-1h-h12/alias-history/").json()
    assert [(h["alias"], h["from_version"], h["to_version"], h["changed_by"]) for h in history] == [
        ("champion", None, 1, "curator")
    ]
    bad = staff_api.post(f"/api/registry/versions/{version.pk}/alias/", {"alias": "Not A Slug"})
    assert bad.status_code == 400 and "must be a slug" in bad.json()["detail"]
    assert staff_api.delete("/api/registry/models/eurusd-1h-h12/aliases/champion/").status_code == 204

    bundle = bundle_export(version=version)
    assert (
        staff_api.post(
            "/api/registry/import/", {"bundle": SimpleUploadedFile("b.zip", bundle)}, format="multipart"
        ).status_code
        == 200
    )
    version_delete(version=version)
    created = staff_api.post(
        "/api/registry/import/", {"bundle": SimpleUploadedFile("b.zip", bundle)}, format="multipart"
    )
    assert created.status_code == 201 and created.json()["created"] is True
    refused = staff_api.post(
        "/api/registry/import/", {"bundle": SimpleUploadedFile("b.zip", b"garbage")}, format="multipart"
    )
    assert refused.status_code == 400 and "not a zip archive" in refused.json()["detail"]


def test_admin_is_staff_only_and_bulk_tags(client, user, staff_user, register):
    versions = [register(seed=i) for i in range(3)]
    client.force_login(user)
    assert client.get("/admin/registry/modelversion/").status_code == 302
    client.force_login(staff_user)
    url = "/admin/registry/modelversion/"
    assert client.get(url).status_code == 200
    picked = [str(versions[0].pk), str(versions[2].pk)]
    form = client.post(url, {"action": "add_tag", "_selected_action": picked})
    assert form.status_code == 200 and b"Add a tag" in form.content
    client.post(url, {"action": "add_tag", "_selected_action": picked, "apply": "1", "tag": "reviewed"})
    assert sorted(ModelVersion.objects.filter(tags__key="reviewed").values_list("version", flat=True)) == [1, 3]
    filtered = client.get(url, {"tag": "reviewed"})
    assert [v.version for v in filtered.context["cl"].result_list] == [3, 1]
    client.post(
        url, {"action": "set_alias", "_selected_action": [str(versions[1].pk)], "apply": "1", "alias": "production"}
    )
    assert ModelVersion.objects.get(aliases__name="production").version == 2
    refused = client.post(url, {"action": "set_alias", "_selected_action": picked}, follow=True)
    assert b"select at most one version of each model" in refused.content
    export = client.post(url, {"action": "export_bundles", "_selected_action": picked})
    with zipfile.ZipFile(io.BytesIO(export.content)) as outer:
        assert outer.namelist() == ["eurusd-1h-h12-v1.zip", "eurusd-1h-h12-v3.zip"]
    for page in (
        f"/admin/registry/modelversion/{versions[0].pk}/change/",
        "/admin/registry/registeredmodel/",
        "/admin/registry/aliashistory/",
    ):
        assert client.get(page).status_code == 200, page


def test_registry_pages(logged_in_client, register, staff_user):
    assert b"No model versions" in logged_in_client.get("/registry/").content
    version = register(label="v1.0.0")
    version_tag_add(version=version, tag="eurusd", user=staff_user)
    body = logged_in_client.get("/registry/").content.decode()
    assert "eurusd-1h-h12:1" in body and "crps=0.001" in body
    detail = logged_in_client.get(f"/registry/versions/{version.pk}/").content.decode()
    assert version.files.get(kind="checkpoint").sha256 in detail and 'id="history-figure"' in detail
    assert (
        "No model versions match these filters"
        in logged_in_client.get("/registry/", {"tag": "absent"}).content.decode()
    )


def test_view_only_staff_cannot_run_curating_admin_actions(client, django_user_model, register):
    from django.contrib.auth.models import Permission

    version = register()
    viewer = django_user_model.objects.create_user(username="viewer", password="viewer-pass-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(viewer)
    page = client.get("/admin/registry/modelversion/")
    assert page.status_code == 200
    assert "delete_versions" not in page.content.decode() and "add_tag" not in page.content.decode()
    client.post("/admin/registry/modelversion/", {"action": "delete_versions", "_selected_action": [version.pk]})
    assert ModelVersion.objects.filter(pk=version.pk).exists()
