import pytest

from training.services import parse_choices


@pytest.mark.parametrize("choices, message", [
    ([1], "choices must be an object"),
    ({"turbo": True}, "unknown training option\\(s\\) turbo"),
    ({"precision": "fp8"}, "precision must be 32-true, 16-mixed or bf16-mixed"),
    ({"compile_mode": "turbo"}, "compile_mode must be one of default, reduce-overhead"),
])
def test_bad_training_choices_are_named(choices, message):
    with pytest.raises(ValueError, match=message):
        parse_choices(choices)


@pytest.mark.django_db
def test_a_model_name_must_be_a_short_slug(user):
    from training.services import training_run_start

    with pytest.raises(ValueError, match="must be a slug of at most 100 characters"):
        training_run_start(user=user, symbol="EURUSD", timeframe="1h", model_name="x" * 101, enqueue=False)
