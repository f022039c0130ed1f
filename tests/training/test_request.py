"""TrainingRequest owns a training run's defaults, choices, limits and checks; the form, the
serializer, the command, the service and the child all come from it."""

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from training.request import TrainingRequest

SERIES = {"symbol": "EURUSD", "timeframe": "1h"}


def test_from_dict_fills_the_defaults():
    request = TrainingRequest.from_dict({"symbol": "eur/usd", "timeframe": "H1"})
    assert request == TrainingRequest(symbol="EURUSD", timeframe="1h")
    assert (
        request.horizon,
        request.patch_len,
        request.epochs,
        request.batch_size,
        request.denoiser,
        request.members,
        request.seed,
    ) == (12, 64, 6, 256, "transformer", 1, 0)
    assert (request.start, request.end, request.choices, request.fast_dev_run, request.name, request.model_name) == (
        None,
        None,
        {},
        False,
        "",
        "",
    )


def test_blank_values_take_the_defaults_and_text_numbers_are_read():
    request = TrainingRequest.from_dict(
        {
            **SERIES,
            "start": "",
            "end": None,
            "epochs": "",
            "horizon": "24",
            "batch_size": 32.0,
            "choices": {"num_gpus": "2"},
            "denoiser": "",
            "name": "x" * 200,
        }
    )
    assert (request.start, request.end, request.epochs, request.horizon, request.batch_size) == (None, None, 6, 24, 32)
    assert request.denoiser == "transformer" and request.choices == {"num_gpus": 2} and request.name == "x" * 120


def test_a_round_trip_through_plain_values_gives_the_same_request():
    request = TrainingRequest.from_dict(
        {
            **SERIES,
            "start": "2020-01-01",
            "end": "2020-06-30T12:00+02:00",
            "horizon": 6,
            "patch_len": 32,
            "epochs": 3,
            "batch_size": 16,
            "denoiser": "unet",
            "fast_dev_run": True,
            "seed": 7,
            "name": "trial",
            "model_name": "eurusd-small",
            "choices": {
                "precision": "bf16-mixed",
                "compile": False,
                "compile_mode": "reduce-overhead",
                "gradient_accumulation": 4,
            },
        }
    )
    assert request.start == datetime(2020, 1, 1, tzinfo=UTC)
    assert request.end == datetime(2020, 6, 30, 10, tzinfo=UTC)
    plain = json.loads(json.dumps(request.to_dict()))  # what JSON carries
    assert plain["start"] == "2020-01-01T00:00:00+00:00" and plain["choices"]["gradient_accumulation"] == 4
    assert TrainingRequest.from_dict(plain) == request


@pytest.mark.parametrize(
    "change, message",
    [
        ({"learning_rate": 0.1}, "unknown training request field(s) learning_rate"),
        ({"symbol": ""}, "symbol is required"),
        ({"timeframe": None}, "timeframe is required"),
        ({"symbol": "EUR$USD"}, "symbol 'EUR$USD' is not a currency pair such as EURUSD"),
        ({"timeframe": "7m"}, "timeframe '7m' does not divide a day evenly"),
        ({"start": "soon"}, "start 'soon' is not a date/time"),
        ({"start": "2021-01-01", "end": "2020-01-01"}, "start 2021-01-01 00:00 is after end 2020-01-01 23:59"),
        ({"horizon": 0}, "horizon must be a whole number from 1 to 10,000, not 0"),
        ({"patch_len": 7}, "patch_len must be a whole number from 8 to 10,000, not 7"),
        ({"patch_len": 2**31 - 1}, "patch_len must be a whole number from 8 to 10,000, not 2147483647"),
        ({"epochs": 0}, "epochs must be a whole number from 1 to 100,000, not 0"),
        ({"epochs": 2.5}, "epochs must be a whole number from 1 to 100,000, not 2.5"),
        ({"epochs": True}, "epochs must be a whole number from 1 to 100,000, not True"),
        ({"epochs": 2**31}, "epochs must be a whole number from 1 to 100,000, not 2147483648"),
        ({"batch_size": 1}, "batch_size must be a whole number from 2 to 8,192, not 1"),
        ({"batch_size": 2**31 - 1}, "batch_size must be a whole number from 2 to 8,192, not 2147483647"),  # 22 GB
        ({"seed": -1}, "seed must be a whole number from 0 to 2,147,483,647, not -1"),
        ({"members": 0}, "members must be a whole number from 1 to 8, not 0"),
        ({"members": 9}, "members must be a whole number from 1 to 8, not 9"),
        ({"denoiser": "lstm"}, "unknown denoiser 'lstm'; choose transformer or unet"),
        ({"fast_dev_run": "yes"}, "fast_dev_run must be true or false, not 'yes'"),
        ({"model_name": "x" * 101}, "must be a slug of at most 100 characters"),
        ({"model_name": "My Model"}, "model_name 'My Model' must be a slug of at most 100 characters"),
        ({"choices": [1]}, "choices must be an object"),
        ({"choices": {"turbo": True}}, "unknown training option(s) turbo; known: channels_last, compile"),
        ({"choices": {"precision": "fp8"}}, "precision must be 32-true, 16-mixed or bf16-mixed, not 'fp8'"),
        ({"choices": {"compile_mode": "turbo"}}, "compile_mode must be one of default, reduce-overhead, max-autotune"),
        ({"choices": {"compile": "yes"}}, "compile must be true, false or null, not 'yes'"),
        ({"choices": {"gradient_checkpointing": None}}, "gradient_checkpointing must be true or false, not None"),
        ({"choices": {"num_gpus": -1}}, "num_gpus must be a whole number from 0 to 2,147,483,647, not -1"),
        (
            {"choices": {"gradient_accumulation": 0}},
            "gradient_accumulation must be a whole number from 1 to 2,147,483,647, not 0",
        ),
        (
            {"choices": {"cpu_processes": "two"}},
            "cpu_processes must be a whole number from 1 to 2,147,483,647, not 'two'",
        ),
    ],
)
def test_bad_requests_name_the_field(change, message):
    with pytest.raises(ValueError) as info:
        TrainingRequest.from_dict({**SERIES, **change})
    assert message in str(info.value)


def test_choices_from_keeps_only_what_differs_from_the_hardwares_call():
    flat = {
        "precision": None,
        "compile": False,
        "num_gpus": None,
        "gradient_accumulation": 1,
        "gradient_checkpointing": False,
        "num_nodes": 2,
        "compile_mode": "default",
    }
    assert TrainingRequest.choices_from(flat) == {"compile": False, "num_nodes": 2}
    request = TrainingRequest.from_dict(
        {**SERIES, "choices": {"precision": "16-mixed", "gradient_checkpointing": True}}
    )
    user_choices = request.user_choices()
    assert (user_choices.precision, user_choices.gradient_checkpointing, user_choices.compile) == (
        "16-mixed",
        True,
        None,
    )


def test_the_form_the_serializer_and_the_command_take_the_requests_defaults_and_choices():
    from training.forms import TrainingForm
    from training.management.commands.train import Command
    from training.serializers import TrainingCreateSerializer

    form, serializer = TrainingForm(), TrainingCreateSerializer()
    parser = Command().create_parser("manage.py", "train")
    actions = {a.dest: a for a in parser._actions}
    for name in ("horizon", "patch_len", "epochs", "batch_size", "denoiser"):
        default = getattr(TrainingRequest, name)
        assert form.fields[name].initial == serializer.fields[name].default == actions[name].default == default, name
    for name in ("seed", "fast_dev_run", "model_name"):
        assert serializer.fields[name].default == getattr(TrainingRequest, name), name
    assert (
        actions["seed"].default == TrainingRequest.seed and actions["model_name"].default == TrainingRequest.model_name
    )
    assert [value for value, _ in form.fields["denoiser"].choices] == list(TrainingRequest.DENOISERS)
    assert (
        list(serializer.fields["denoiser"].choices)
        == list(TrainingRequest.DENOISERS)
        == list(actions["denoiser"].choices)
    )
    assert [value for value, _ in form.fields["precision"].choices] == ["", *TrainingRequest.PRECISIONS]
    assert list(actions["precision"].choices) == list(TrainingRequest.PRECISIONS)
    assert list(actions["compile_mode"].choices) == list(TrainingRequest.COMPILE_MODES)
    assert (
        form.fields["epochs"].min_value,
        form.fields["patch_len"].min_value,
        form.fields["batch_size"].min_value,
    ) == (1, 8, 2)


def test_the_form_builds_the_request_with_its_choices():
    from training.forms import TrainingForm

    form = TrainingForm(
        {
            "symbol": "eur/usd",
            "timeframe": "H1",
            "horizon": "12",
            "patch_len": "32",
            "epochs": "2",
            "batch_size": "16",
            "denoiser": "unet",
            "precision": "bf16-mixed",
            "compile": "off",
            "gradient_accumulation": "1",
            "gradient_checkpointing": "on",
            "start": "2020-01-01T00:00",
        }
    )
    assert form.is_valid(), form.errors
    assert form.request_object == TrainingRequest(
        symbol="EURUSD",
        timeframe="1h",
        horizon=12,
        patch_len=32,
        epochs=2,
        batch_size=16,
        denoiser="unet",
        start=datetime(2020, 1, 1, tzinfo=UTC),
        choices={"precision": "bf16-mixed", "compile": False, "gradient_checkpointing": True},
    )
    bad = TrainingForm(
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "horizon": "12",
            "patch_len": "32",
            "epochs": "2",
            "batch_size": "16",
            "denoiser": "transformer",
            "gradient_accumulation": "1",
            "start": "2021-01-01T00:00",
            "end": "2020-01-01T00:00",
        }
    )
    assert not bad.is_valid() and bad.non_field_errors() == ["start 2021-01-01 00:00 is after end 2020-01-01 00:00"]


@pytest.fixture
def eurusd(db, fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def test_a_stored_run_gives_back_the_request_it_was_made_from(eurusd, user):
    from forexgpt_site.jobs import request_of
    from training.models import TrainingRun
    from training.services import training_run_start

    request = TrainingRequest.from_dict(
        {
            **SERIES,
            "patch_len": 32,
            "epochs": 2,
            "seed": 3,
            "model_name": "tiny",
            "choices": {"num_gpus": 0, "precision": "32-true"},
            "start": "2000-01-01",
        }
    )
    run = training_run_start(user=user, request=request, enqueue=False)
    run = TrainingRun.objects.get(pk=run.pk)
    stored = run.request  # the whole request, as to_dict() writes it; the columns lists and filters use beside it
    assert (
        run.owner,
        stored["epochs"],
        stored["patch_len"],
        stored["seed"],
        stored["model_name"],
        stored["choices"],
    ) == (user, 2, 32, 3, "tiny", {"num_gpus": 0, "precision": "32-true"})
    assert (run.symbol, run.timeframe, run.start, run.horizon, run.denoiser) == (
        "EURUSD",
        "1h",
        request.start,
        12,
        "transformer",
    )
    assert stored == request.to_dict() and request_of(run) == request


def test_the_api_refuses_a_bad_request_with_a_400_naming_the_field(api_client, db):
    from training.models import TrainingRun

    bad = api_client.post("/api/training-runs/", {**SERIES, "epochs": 0}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"] == "epochs must be a whole number from 1 to 100,000, not 0"
    slug = api_client.post("/api/training-runs/", {**SERIES, "model_name": "Not A Slug"}, format="json")
    assert slug.status_code == 400 and "must be a slug of at most 100 characters" in slug.json()["detail"]
    typo = api_client.post("/api/training-runs/", {**SERIES, "epoch": 1}, format="json")  # not run on the default 6
    assert typo.status_code == 400 and typo.json()["detail"].startswith("unknown field(s) epoch; known: ")
    assert not TrainingRun.objects.exists()


def test_the_page_shows_the_requests_and_the_services_refusals(logged_in_client, db):
    from training.models import TrainingRun

    form = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "horizon": "12",
        "patch_len": "32",
        "epochs": "1",
        "batch_size": "16",
        "denoiser": "transformer",
        "gradient_accumulation": "1",
    }
    page = logged_in_client.post("/training/", {**form, "timeframe": "7m"}).content.decode()
    assert "timeframe &#x27;7m&#x27; does not divide a day evenly" in page
    page = logged_in_client.post("/training/", form).content.decode()  # no bars stored
    assert "no EURUSD 1h bars are stored: import them first" in page
    assert not TrainingRun.objects.exists()


def test_the_page_queues_the_request_it_was_given(logged_in_client, eurusd, user):
    from training.models import TrainingRun

    form = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "horizon": "12",
        "patch_len": "32",
        "epochs": "1",
        "batch_size": "16",
        "denoiser": "unet",
        "gradient_accumulation": "2",
        "compile": "on",
        "fast_dev_run": "on",
        "name": "smoke",
    }
    response = logged_in_client.post("/training/", form)
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/training/runs/{run.pk}/"
    asked = run.request
    assert (
        run.owner,
        run.name,
        asked["epochs"],
        asked["batch_size"],
        run.denoiser,
        asked["fast_dev_run"],
        asked["choices"],
        run.status,
    ) == (user, "smoke", 1, 16, "unet", True, {"gradient_accumulation": 2, "compile": True}, "queued")


def test_the_command_names_a_bad_flag(db):
    with pytest.raises(CommandError, match="epochs must be a whole number from 1"):
        call_command("train", "--symbol", "EURUSD", "--timeframe", "1h", "--epochs", "0")
    with pytest.raises(CommandError, match="model_name 'Bad Name' must be a slug"):
        call_command("train", "--symbol", "EURUSD", "--timeframe", "1h", "--model_name", "Bad Name")


def test_the_api_refuses_more_processes_than_the_machine_has_cores(api_client, eurusd, monkeypatch):
    from training.models import TrainingRun

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    for name in ("cpu_processes", "num_workers"):
        response = api_client.post(
            "/api/training-runs/", {**SERIES, "choices": {name: 8, "num_gpus": 0}}, format="json"
        )
        assert (
            response.status_code == 400
            and response.json()["detail"] == f"{name} must be at most this machine's 2 cores, not 8"
        )
    assert not TrainingRun.objects.exists()
    ok = api_client.post(
        "/api/training-runs/", {**SERIES, "choices": {"cpu_processes": 2, "num_gpus": 0}}, format="json"
    )
    assert ok.status_code == 202


def test_the_engine_refuses_more_processes_than_the_hardware_it_detected_has():
    from training.engine import build_config
    from training.engine.hardware import HardwareInfo
    from training.engine.optimization import UserChoices

    with pytest.raises(ValueError, match="cpu_processes must be at most this machine's 2 cores, not 3"):
        build_config(HardwareInfo(cpu_cores=2), UserChoices(cpu_processes=3, num_gpus=0))
    assert build_config(HardwareInfo(cpu_cores=2), UserChoices(cpu_processes=2, num_gpus=0)).devices == 2


def test_a_smoke_test_registers_apart_so_a_bare_name_never_means_a_one_batch_model():
    from training.models import TrainingRun

    def name(**request):
        return TrainingRun(symbol="EURUSD", timeframe="1h", horizon=12, request=request).registry_name

    assert name() == "eurusd-1h-h12" and name(model_name="mine") == "mine"
    assert (
        name(fast_dev_run=True) == "eurusd-1h-h12-smoke" and name(model_name="mine", fast_dev_run=True) == "mine-smoke"
    )
    assert len(name(model_name="x" * 100, fast_dev_run=True)) == 100  # still a registered model's name
