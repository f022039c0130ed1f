"""CalibrationRequest: the defaults, every check with the field it names, the round trip, and the
faces (form, serializer, command, stored run) that come from it."""

import math
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError

from conformal.engine import METHODS
from conformal.request import CalibrationRequest


def test_defaults():
    request = CalibrationRequest.from_dict({})
    assert request == CalibrationRequest()
    assert (request.method, request.alpha, request.forecast_set, request.artifact, request.name) == (
        "aci",
        0.1,
        None,
        "",
        "",
    )
    assert (request.cal_size, request.window, request.gamma, request.lr, request.score) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert request.params == {}  # every engine parameter takes the method's default
    assert CalibrationRequest.METHODS == METHODS and CalibrationRequest.SCORES == ("absolute", "normalized", "cqr")


def test_form_values_are_parsed_and_blanks_take_the_defaults():
    request = CalibrationRequest.from_dict(
        {
            "method": "window",
            "alpha": "0.05",
            "cal_size": "300",
            "window": " 200 ",
            "gamma": "",
            "lr": None,
            "score": "normalized",
            "forecast_set": SimpleNamespace(pk=7),
            "artifact": " eurusd-1h-h12:3 ",
            "name": "n" * 200,
        }
    )
    assert request == CalibrationRequest(
        method="window",
        alpha=0.05,
        cal_size=300,
        window=200,
        score="normalized",
        forecast_set=7,
        artifact="eurusd-1h-h12:3",
        name="n" * 120,
    )
    assert request.params == {"cal_size": 300, "window": 200, "score": "normalized"}
    assert CalibrationRequest.from_dict({"cal_size": 300.0, "gamma": "0.01", "lr": 1, "forecast_set": "12"}).params == {
        "cal_size": 300,
        "gamma": 0.01,
        "lr": 1,
    }
    assert CalibrationRequest.from_dict({"forecast_set": "12"}).forecast_set == 12


@pytest.mark.parametrize(
    "data, message",
    [
        ({"methods": "aci"}, r"unknown calibration option\(s\) methods; known: alpha, artifact, cal_size"),
        (
            {"method": "bayes"},
            "unknown method 'bayes'; choose one of split, asymmetric, normalized, cqr, window, aci, pid",
        ),
        ({"alpha": "ten"}, "alpha must be a number strictly between 0 and 1, not 'ten'"),
        ({"alpha": [0.1]}, r"alpha must be a number strictly between 0 and 1, not '\[0.1\]'"),
        ({"alpha": 1.2}, "alpha must be strictly between 0 and 1, not 1.2"),
        ({"alpha": "0"}, "alpha must be strictly between 0 and 1, not 0.0"),
        ({"alpha": True}, "alpha must be strictly between 0 and 1, not 1.0"),
        ({"alpha": math.nan}, "alpha must be strictly between 0 and 1, not nan"),
        ({"cal_size": 0}, "cal_size must be a positive whole number, not 0"),
        ({"cal_size": "-3"}, "cal_size must be a positive whole number, not '-3'"),
        ({"cal_size": "3e2"}, "cal_size must be a positive whole number, not '3e2'"),
        ({"cal_size": 2.5}, "cal_size must be a positive whole number, not 2.5"),
        ({"cal_size": True}, "cal_size must be a positive whole number, not True"),
        ({"window": "9" * 40}, "window must be a positive whole number, not '9999"),
        ({"window": -1}, "window must be a positive whole number, not -1"),
        ({"gamma": -1.0}, "gamma must be a positive step size, not -1.0"),
        ({"gamma": "fast"}, "gamma must be a positive step size, not 'fast'"),
        ({"gamma": math.inf}, "gamma must be a positive step size, not 'inf'"),
        ({"gamma": "nan"}, "gamma must be a positive step size, not 'nan'"),
        ({"gamma": True}, "gamma must be a positive step size, not 'True'"),
        ({"lr": 0}, "lr must be a positive step size, not 0"),
        ({"score": "squared"}, "unknown score 'squared'; choose one of absolute, normalized, cqr"),
        ({"forecast_set": "abc"}, "forecast_set must be a forecast set's id, not 'abc'"),
        ({"forecast_set": -4}, "forecast_set must be a forecast set's id, not '-4'"),
        ({"forecast_set": True}, "forecast_set must be a forecast set's id, not 'True'"),
    ],
)
def test_each_check_names_its_field(data, message):
    with pytest.raises(ValueError, match=message):
        CalibrationRequest.from_dict(data)


def test_round_trip():
    request = CalibrationRequest(
        method="pid", alpha=0.2, cal_size=400, lr=0.1, score="cqr", forecast_set=3, artifact="m:2", name="pid"
    )
    assert request.to_dict() == {
        "method": "pid",
        "alpha": 0.2,
        "cal_size": 400,
        "window": None,
        "gamma": None,
        "lr": 0.1,
        "score": "cqr",
        "forecast_set": 3,
        "artifact": "m:2",
        "name": "pid",
    }
    assert CalibrationRequest.from_dict(request.to_dict()) == request
    assert CalibrationRequest.from_dict(CalibrationRequest().to_dict()) == CalibrationRequest()


def test_the_form_serializer_and_command_take_the_requests_defaults_and_choices():
    from conformal.forms import CalibrationForm
    from conformal.management.commands.calibrate import Command
    from conformal.serializers import CalibrationCreateSerializer

    form = CalibrationForm()
    assert form.fields["method"].initial == "aci" and form.fields["alpha"].initial == 0.1
    assert [value for value, _ in form.fields["method"].choices] == list(METHODS)
    fields = CalibrationCreateSerializer().fields
    assert fields["alpha"].default == 0.1 and list(fields["method"].choices) == list(METHODS)
    assert list(fields["score"].choices) == ["absolute", "normalized", "cqr"]
    parser = Command().create_parser("manage.py", "calibrate")
    options = parser.parse_args(["--forecasts", "f.csv", "--method", "split"])
    assert options.alpha == 0.1 and options.score is None
    with pytest.raises(
        CommandError, match=r"--score: invalid choice: 'squared' \(choose from 'absolute', 'normalized', 'cqr'\)"
    ):
        parser.parse_args(["--forecasts", "f.csv", "--method", "split", "--score", "squared"])


@pytest.mark.django_db
def test_the_worker_rebuilds_the_request_from_the_run(forecasts_csv, user, django_capture_on_commit_callbacks):
    from conformal.models import CalibrationRun
    from conformal.services import calibration_run_start
    from forexgpt_site.jobs import request_of

    request = CalibrationRequest(
        method="aci", alpha=0.05, cal_size=300, window=200, gamma=0.01, score="normalized", name="aci run"
    )
    with django_capture_on_commit_callbacks(execute=False):
        run = calibration_run_start(
            user=user, request=request, upload=SimpleUploadedFile("f.csv", forecasts_csv.read_bytes())
        )
    run = CalibrationRun.objects.get(pk=run.pk)
    assert (run.method, run.alpha, run.name) == ("aci", 0.05, "aci run")
    assert request_of(run).params == {"cal_size": 300, "window": 200, "gamma": 0.01, "score": "normalized"}
    assert run.request == request.to_dict() and request_of(run) == request
    # The worker reads the request stored at the start (checked then), not the columns beside it.
    CalibrationRun.objects.filter(pk=run.pk).update(method="split", alpha=0.5)
    assert request_of(CalibrationRun.objects.get(pk=run.pk)) == request


@pytest.mark.django_db
def test_a_refused_request_is_a_400_on_the_api_and_a_form_error_on_the_page(
    api_client, logged_in_client, forecasts_csv
):
    from conformal.models import CalibrationRun

    def post(**data):
        return api_client.post(
            "/api/calibrations/",
            {"forecasts": SimpleUploadedFile("f.csv", forecasts_csv.read_bytes()), **data},
            format="multipart",
        )

    bad_gamma = post(method="aci", gamma=-1)
    assert (bad_gamma.status_code, bad_gamma.json()) == (
        400,
        {"detail": "gamma must be a positive step size, not -1.0"},
    )
    bad_alpha = post(method="split", alpha=1.5)
    assert (bad_alpha.status_code, bad_alpha.json()) == (
        400,
        {"detail": "alpha must be strictly between 0 and 1, not 1.5"},
    )
    bad_score = post(method="window", score="squared")
    assert bad_score.status_code == 400 and "score" in bad_score.json()
    no_method = post()
    assert no_method.status_code == 400 and "method" in no_method.json()  # the API names its method
    nothing = api_client.post("/api/calibrations/", {"method": "split"}, format="json")
    assert (nothing.status_code, nothing.json()) == (
        400,
        {"detail": "a calibration needs forecasts: a stored forecast set or an uploaded CSV"},
    )
    with forecasts_csv.open("rb") as fh:
        page = logged_in_client.post("/conformal/", {"forecasts": fh, "method": "aci", "alpha": "0.1", "gamma": "-1"})
    assert page.status_code == 200 and "gamma must be a positive step size, not -1.0" in page.content.decode()
    assert CalibrationRun.objects.count() == 0
