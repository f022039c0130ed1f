"""A version's train / validation / test periods: validated, stored, in its meta.json and digest,
carried by bundles, shown on its page and in the API; versions without periods keep their digest."""

import copy
import hashlib
import io
import json
import zipfile

import pytest

from registry.models import ModelVersion
from registry.selectors import out_of_sample_start, version_file_bytes
from registry.services import RegistryError, bundle_export, bundle_import, version_delete

pytestmark = pytest.mark.django_db

PERIODS = {
    "train": {
        "first_bar": "2014-05-30T15:00:00Z",
        "last_bar": "2014-06-12T03:00:00Z",
        "first_origin": "2014-06-02T22:00:00Z",
        "last_origin": "2014-06-11T15:00:00Z",
        "windows": 162,
    },
    "val": {
        "first_bar": "2014-06-12T05:00:00Z",
        "last_bar": "2014-06-18T04:00:00Z",
        "first_origin": "2014-06-13T12:00:00Z",
        "last_origin": "2014-06-17T16:00:00Z",
        "windows": 53,
    },
    "test": {
        "first_bar": "2014-06-18T06:00:00Z",
        "last_bar": "2014-06-24T05:00:00Z",
        "first_origin": "2014-06-19T13:00:00Z",
        "last_origin": "2014-06-23T17:00:00Z",
        "windows": 53,
    },
}


def _manifest(bundle: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        return json.loads(z.read("manifest.json"))


def _with_manifest(bundle: bytes, manifest: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, json.dumps(manifest).encode() if name == "manifest.json" else src.read(name))
    return out.getvalue()


def test_periods_are_stored_in_meta_json_and_survive_a_bundle_round_trip(register, staff_user):
    version = register(periods=PERIODS)
    assert version.periods == PERIODS
    assert json.loads(version_file_bytes(version, "meta"))["periods"] == PERIODS
    bundle = bundle_export(version=version)
    assert _manifest(bundle)["metadata"]["periods"] == PERIODS
    digest = version.content_sha256
    version_delete(version=version)

    imported, created = bundle_import(source=bundle, user=staff_user)
    assert created and imported.periods == PERIODS and imported.content_sha256 == digest
    assert bundle_export(version=imported) == bundle
    # the periods are part of the digest: a bundle whose periods were edited is refused
    edited = _manifest(bundle)
    edited["metadata"]["periods"]["test"]["first_bar"] = "2014-06-18T07:00:00Z"
    with pytest.raises(RegistryError, match="content digest does not match"):
        bundle_import(source=_with_manifest(bundle, edited), user=staff_user)


def test_a_version_without_periods_keeps_the_digest_and_manifest_it_always_had(register, staff_user):
    version = register()
    assert version.periods == {}
    files = {f.kind: f.sha256 for f in version.files.all()}
    # The digest as it was computed before periods existed, written out independently.
    core = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "horizon_bars": 12,
        "channel_order": version.channel_order,
        "metrics": version.metrics,
    }
    before = hashlib.sha256(
        json.dumps({"metadata": core, "files": dict(sorted(files.items()))}, sort_keys=True).encode()
    ).hexdigest()
    assert version.content_sha256 == before
    bundle = bundle_export(version=version)
    manifest = _manifest(bundle)
    assert "periods" not in manifest["metadata"] and "periods" not in json.loads(version_file_bytes(version, "meta"))
    version_delete(version=version)
    imported, created = bundle_import(source=bundle, user=staff_user)  # verifies: digest, files, metadata
    assert created and imported.periods == {} and imported.content_sha256 == before


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.pop("val"), "periods must map train, val and test"),
        (lambda p: p["test"].pop("windows"), "periods must map train, val and test .*test has"),
        (lambda p: p["val"].update(windows=0), "periods val windows must be a positive whole number, not 0"),
        (lambda p: p["train"].update(first_bar="soon"), "periods train first_bar 'soon' is not a date/time"),
        (lambda p: p["train"].update(first_origin="2014-05-01T00:00:00Z"), "periods train: first_bar <= first_origin"),
        (
            lambda p: p["test"].update(first_bar="2014-06-17T00:00:00Z"),
            "periods test starts before the part before it ends",
        ),
    ],
)
def test_bad_periods_are_refused_with_what_is_wrong_and_nothing_is_stored(register, change, message):
    periods = copy.deepcopy(PERIODS)
    change(periods)
    with pytest.raises(RegistryError, match=message):
        register(periods=periods)
    assert not ModelVersion.objects.exists()


def test_times_are_stored_as_utc_text_whatever_zone_they_came_in(register):
    periods = copy.deepcopy(PERIODS)
    periods["val"]["first_bar"] = "2014-06-12T07:00:00+02:00"
    assert register(periods=periods).periods["val"]["first_bar"] == "2014-06-12T05:00:00Z"


def test_a_test_part_starting_at_midnight_is_proposed_from_that_day(register):
    periods = copy.deepcopy(PERIODS)
    periods["val"]["last_bar"], periods["test"]["first_bar"] = "2014-06-17T22:00:00Z", "2014-06-18T00:00:00Z"
    assert out_of_sample_start(register(periods=periods)).isoformat() == "2014-06-18"
    assert out_of_sample_start(register(seed=1)) is None


def test_the_page_and_the_api_show_the_periods(register, logged_in_client, api_client):
    with_periods, without = register(periods=PERIODS), register(seed=1)
    page = logged_in_client.get(f"/registry/versions/{with_periods.pk}/").content.decode()
    assert 'id="periods-table"' in page
    for text in (
        "training",
        "2014-05-30 15:00",
        "2014-06-12 03:00",
        "validation",
        "2014-06-13 12:00 to 2014-06-17 16:00",
        "test",
        "2014-06-18 06:00",
        "2014-06-24 05:00",
    ):
        assert text in page
    # the version page's forecast form starts at the first whole day of the test period
    assert out_of_sample_start(with_periods).isoformat() == "2014-06-19"
    assert 'name="start" value="2014-06-19"' in page and "Proposed start: 2014-06-19" in page
    other = logged_in_client.get(f"/registry/versions/{without.pk}/").content.decode()
    assert 'id="periods-unknown"' in other and 'name="start" value=' not in other
    assert api_client.get(f"/api/registry/versions/{with_periods.pk}/").json()["periods"] == PERIODS
    assert api_client.get(f"/api/registry/versions/{without.pk}/").json()["periods"] is None
