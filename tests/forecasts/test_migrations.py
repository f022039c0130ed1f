"""Migration 0007 stores each forecast set's model periods with the set, from its version while it exists."""

import pytest

from tests.migrating import migrate, state_at

BEFORE = [("forecasts", "0006_forecastset_adaptation"), ("registry", "0002_modelversion_periods")]
AFTER = [("forecasts", "0007_forecastset_periods"), ("registry", "0002_modelversion_periods")]
PERIODS = {"train": {"first_bar": "2014-05-30T15:00:00+00:00", "last_origin": "2014-06-10T00:00:00+00:00"}}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_set_made_before_takes_its_versions_periods():
    with state_at(BEFORE) as old:
        Model, Version = old.get_model("registry", "RegisteredModel"), old.get_model("registry", "ModelVersion")
        ForecastSet = old.get_model("forecasts", "ForecastSet")
        model = Model.objects.create(name="eurusd-1h-h12")

        def version(number, periods):
            return Version.objects.create(
                registered_model=model,
                version=number,
                symbol="EURUSD",
                timeframe="1h",
                horizon_bars=12,
                periods=periods,
                content_sha256="0" * 64,
            )

        known = ForecastSet.objects.create(symbol="EURUSD", timeframe="1h", artifact_version=version(1, PERIODS))
        unknown = ForecastSet.objects.create(symbol="EURUSD", timeframe="1h", artifact_version=version(2, {}))
        orphan = ForecastSet.objects.create(symbol="EURUSD", timeframe="1h", artifact_version=None)
        new = migrate(AFTER).get_model("forecasts", "ForecastSet")
        assert [new.objects.get(pk=fs.pk).periods for fs in (known, unknown, orphan)] == [PERIODS, None, None]
