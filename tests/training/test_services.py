import pytest

from training.request import TrainingRequest


@pytest.mark.django_db
def test_too_few_bars_for_a_split_are_refused_and_nothing_is_stored(user):
    from training.models import TrainingRun
    from training.services import training_run_start

    with pytest.raises(ValueError, match="0 bars are too few for windows of 64 bars and a 12-bar horizon"):
        training_run_start(user=user, request=TrainingRequest(symbol="EURUSD", timeframe="1h"), enqueue=False)
    assert not TrainingRun.objects.exists()
