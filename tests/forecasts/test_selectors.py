"""The one reader of an uploaded forecasts CSV (backtests, optimizations and calibrations use it),
and the quantile score a forecast set's page compares forecasters with."""

import io
import re

import numpy as np
import pandas as pd
import pytest

from forecasts import selectors
from forecasts.selectors import read_forecasts_csv


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def test_reads_names_stripped_and_timestamps_as_utc():
    frame = read_forecasts_csv(
        _csv(" timestamp , pred_return\n2024-01-02T10:00+01:00,0.001\n2024-01-02T11:00+01:00,-0.002\n")
    )
    assert list(frame.columns) == ["timestamp", "pred_return"]
    assert list(frame["timestamp"]) == [
        pd.Timestamp("2024-01-02 09:00", tz="UTC"),
        pd.Timestamp("2024-01-02 10:00", tz="UTC"),
    ]
    assert list(frame["pred_return"]) == [0.001, -0.002]


def test_a_table_without_timestamps_is_read_as_it_is():
    frame = read_forecasts_csv(_csv("y_true,y_pred\n0.1,0.2\n"))
    assert frame.to_dict(orient="list") == {"y_true": [0.1], "y_pred": [0.2]}


@pytest.mark.parametrize(
    "text, message",
    [
        (b"\xff\xfe\x00bad", "the forecasts file is not a readable CSV"),
        (b"", "the forecasts file is not a readable CSV"),
        (b"timestamp,pred_return\n", "the forecasts file has no rows"),
        (b"timestamp,pred_return\n2024-01-02 10:00,0.1\nsoon,0.2\n", "timestamp on row 2 is not a date/time"),
    ],
)
def test_refuses_with_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        read_forecasts_csv(io.BytesIO(text))


def test_time_order_is_required_only_when_asked():
    text = "timestamp,y_true,y_pred\n2024-01-02 10:00,0,0\n2024-01-02 12:00,0,0\n2024-01-02 11:00,0,0\n"
    assert len(read_forecasts_csv(_csv(text))) == 3  # a backtest aligns forecasts by their timestamps
    with pytest.raises(ValueError, match=r"timestamps must be ascending \(time-ordered\); row 3 goes back in time"):
        read_forecasts_csv(_csv(text), time_ordered=True)


def test_the_quantile_score_is_twice_the_mean_pinball_loss_over_the_seven_levels():
    from forecasts.selectors import quantile_score

    names = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")
    # every quantile 1 above the outcome: each level's loss is 1 - tau, whose mean over the levels is 0.5
    assert quantile_score({n: np.ones(3) for n in names}, np.zeros(3)) == pytest.approx(1.0)
    # every quantile 1 below: tau each, mean 0.5 again; and a perfect forecast scores 0
    assert quantile_score({n: -np.ones(3) for n in names}, np.zeros(3)) == pytest.approx(1.0)
    assert quantile_score({n: np.full(3, 0.2) for n in names}, np.full(3, 0.2)) == 0


@pytest.fixture
def eurusd_3000(db, shared_file, tmp_path):
    """The first 3,000 hours of EURUSD H1 2014-2024 stored: enough bars for the seasonal baselines."""
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    sliced = tmp_path / "eurusd_3000.csv"
    pd.read_csv(shared_file("EURUSD_H1_2014-2024.csv"), nrows=3000).to_csv(sliced, index=False)
    candles_import_file(source=sliced, request=ImportRequest(symbol="EURUSD", timeframe="1h"))


def test_a_sets_page_scores_four_baselines_fitted_on_the_models_training_part_with_ratios(
    eurusd_3000, user, logged_in_client
):
    """The seasonal EWMA and GARCH(1,1)-t are fitted on the bars up to the version's last training
    origin (as the training run's scores are); each baseline's row has the model's CRPS over its own
    to four digits, and the strongest (lowest CRPS) is marked."""
    from forecasts.selectors import forecast_scores, quantile_score
    from marketdata.selectors import candles_frame
    from tests.forecasts.conftest import register_forecaster, stored_set
    from training.engine.forecast import QUANTILE_NAMES
    from training.engine.garch import seasonal_garch_t_quantiles

    version = register_forecaster(periods=True)
    fs = stored_set(user, version)
    scores = forecast_scores(fs)
    assert list(scores["forecasters"]) == ["model", "seasonal_garch_t", "seasonal_ewma", "ewma_gaussian", "random_walk"]
    candles = candles_frame(symbol="EURUSD", timeframe="1h")
    ts = candles["ts"]
    train_last = int((ts <= pd.Timestamp(version.periods["train"]["last_origin"])).sum()) - 1
    assert scores["baselines_fitted_on"] == {
        "last_bar": ts.iloc[train_last].to_pydatetime(),
        "bars": train_last + 1,
        "why": "the model's training part",
    }
    known = selectors.forecast_frame(fs, calibrated=False).dropna(subset=["y_true"])
    ends = pd.Index(ts).get_indexer(pd.DatetimeIndex(known["timestamp"]))
    garch = seasonal_garch_t_quantiles(candles["close"].to_numpy(float), ts, ends, 12, train_last=train_last)
    expected = quantile_score(dict(zip(QUANTILE_NAMES, garch)), known["y_true"].to_numpy())
    assert scores["forecasters"]["seasonal_garch_t"]["quantile_crps"] == pytest.approx(expected, rel=1e-12)
    lowest = min((s["quantile_crps"], name) for name, s in scores["forecasters"].items() if name != "model")[1]
    assert scores["strongest_baseline"] == lowest
    page = logged_in_client.get(f"/forecasts/{fs.pk}/").content.decode()
    assert "model / this" in page and 'id="baselines-fitted-on"' in page
    for name, s in scores["forecasters"].items():
        row = re.search(rf'<tr data-forecaster="{name}">(.*?)</tr>', page, re.S).group(1)
        assert s["label"] in row
        if name != "model":
            assert f'<td class="num">{s["model_ratio"]:.4f}</td>' in row
            assert s["model_ratio"] == pytest.approx(
                scores["forecasters"]["model"]["quantile_crps"] / s["quantile_crps"]
            )
        assert ("strongest baseline" in row) == (name == lowest)
    assert "seasonal GARCH(1,1)-t" in page


def test_a_set_keeps_its_labels_and_scores_when_its_version_is_deleted(eurusd_3000, user, api_client):
    """The version's periods are stored with the set: pruning the version later changes nothing the set's
    page or API says of it (before, its rows lost their parts and the baselines were fitted elsewhere)."""
    from forecasts.models import ForecastSet
    from forecasts.selectors import forecast_frame, forecast_scores
    from registry.services import version_delete
    from tests.forecasts.conftest import register_forecaster, stored_set

    version = register_forecaster(periods=True)
    fs = stored_set(user, version)
    assert fs.periods == version.periods
    before = (
        forecast_scores(fs),
        forecast_frame(fs, labelled=True),
        api_client.get(f"/api/forecasts/{fs.pk}/scores/").json(),
    )
    version_delete(version=version)
    fs = ForecastSet.objects.get(pk=fs.pk)
    assert fs.artifact_version is None
    after = (
        forecast_scores(fs),
        forecast_frame(fs, labelled=True),
        api_client.get(f"/api/forecasts/{fs.pk}/scores/").json(),
    )
    assert after[0] == before[0] and after[2] == before[2] and after[2]["overlap"] is not None
    pd.testing.assert_frame_equal(after[1], before[1])
    assert after[1]["part"].notna().all()


def test_without_periods_the_seasonal_baselines_fit_the_bars_before_the_first_forecast(eurusd_3000, user):
    from forecasts.selectors import MIN_SEASON_BARS, forecast_scores
    from marketdata.selectors import candles_frame
    from tests.forecasts.conftest import register_forecaster, stored_set

    version = register_forecaster()  # a version from before periods were kept
    ts = candles_frame(symbol="EURUSD", timeframe="1h")["ts"]
    late = stored_set(user, version, start=ts.iloc[2000].isoformat())
    fitted = forecast_scores(late)["baselines_fitted_on"]
    assert (fitted["bars"], fitted["why"]) == (2000, "the bars before the first scored forecast")
    early = stored_set(user, version, start=ts.iloc[MIN_SEASON_BARS - 100].isoformat())  # too few bars before it
    scores = forecast_scores(early)
    assert scores["baselines_fitted_on"] is None and set(scores["forecasters"]) == {
        "model",
        "ewma_gaussian",
        "random_walk",
    }


def test_a_sets_seasonal_baselines_are_fitted_once_until_its_scored_rows_change(eurusd_3000, user, monkeypatch):
    from forecasts import selectors as forecast_selectors
    from tests.forecasts.conftest import register_forecaster, stored_set
    from training.engine import garch

    fits = []
    real = garch.seasonal_garch_t_quantiles
    monkeypatch.setattr(garch, "seasonal_garch_t_quantiles", lambda *a, **kw: fits.append(1) or real(*a, **kw))
    fs = stored_set(user, register_forecaster(periods=True))
    first = forecast_selectors.forecast_scores(fs)
    again = forecast_selectors.forecast_scores(fs)  # a second page view: no second GARCH fit
    assert len(fits) == 1 and again["forecasters"] == first["forecasters"]


def test_the_job_that_made_a_set_fits_its_baselines_so_its_page_does_not(
    eurusd_3000, user, monkeypatch, logged_in_client
):
    """The worker scores the set as its job ends (the forecasts are made by the child, which this test
    leaves out: the set's rows are stored already); the page's first view then fits nothing."""
    from forecasts import services
    from tests.forecasts.conftest import register_forecaster, stored_set
    from training.engine import garch

    fits = []
    real = garch.seasonal_garch_t_quantiles
    monkeypatch.setattr(garch, "seasonal_garch_t_quantiles", lambda *a, **kw: fits.append(1) or real(*a, **kw))
    monkeypatch.setattr(services, "job_run_child", lambda *a, **kw: 0)
    fs = stored_set(user, register_forecaster(periods=True))
    services.forecast_set_work(fs, ctx=None)
    assert len(fits) == 1
    page = logged_in_client.get(f"/forecasts/{fs.pk}/").content.decode()
    assert "seasonal GARCH(1,1)-t" in page and len(fits) == 1


def test_the_fan_breaks_its_lines_at_a_hole_in_the_data_but_not_at_a_weekend():
    from forecasts.views import _broken, data_gaps

    hours = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    weekend = pd.date_range("2024-01-08", periods=24, freq="h", tz="UTC")  # after a 4-day hole
    when = hours.append(weekend)
    gaps = data_gaps(when)
    assert gaps == [(hours[-1], weekend[0])]
    x, y = _broken(when, np.arange(len(when), dtype=float), gaps)
    assert len(x) == len(when) + 1 and np.isnan(y[48]) and hours[-1] < x[48] < weekend[0]
    friday_to_sunday = pd.DatetimeIndex(["2024-01-05 21:00", "2024-01-07 22:00"], tz="UTC")
    assert data_gaps(friday_to_sunday) == []  # the weekend's closure is no hole


def test_the_fan_hides_the_weekend_closure_but_keeps_a_hole_in_the_data_in_view():
    from forecasts.views import LONG_GAP
    from marketdata.charts import closure_breaks

    week = pd.date_range("2024-01-01", "2024-01-09", freq="h", tz="UTC")
    week = week[(week <= "2024-01-05 20:00+00:00") | (week >= "2024-01-07 21:00+00:00")]
    when = week.append(pd.date_range("2024-01-15", periods=24, freq="h", tz="UTC"))  # after a 6-day hole
    weekend = {"values": ["2024-01-05T21:00:00"], "dvalue": 48 * 3_600_000}
    assert closure_breaks(when, longest=LONG_GAP) == [weekend]  # what the fan uses
    assert len(closure_breaks(when)) == 2  # (price charts hide the hole too; the Data page counts it)
