import json

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from backtesting_app.engine import FxCosts, align_forecasts, momentum_forecasts, run_backtest
from backtesting_app.models import BacktestRun
from backtesting_app.services import load_bars
from backtesting_app.tasks import backtest_run_execute

pytestmark = pytest.mark.django_db
PARAMS = {
    "entry_threshold": 0.0003,
    "confidence_threshold": 0.4,
    "stop_loss_pct": 0.004,
    "take_profit_pct": 0.006,
    "max_hold_bars": 12,
}


@pytest.fixture
def bars(fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    return load_bars(symbol="EURUSD", timeframe="1h")


def _forecasts_csv(ohlc, tmp_path, drop_last=0):
    table = momentum_forecasts(ohlc)
    path = tmp_path / "forecasts.csv"
    table.iloc[: len(table) - drop_last].to_csv(path, index=False)
    return path


def test_command_prints_stats_and_trades_equal_to_the_engine(bars, tmp_path, capsys):
    path = _forecasts_csv(bars, tmp_path)
    call_command(
        "backtest",
        "--symbol",
        "EUR/USD",
        "--timeframe",
        "H1",
        "--strategy",
        "forecast",
        "--forecasts",
        str(path),
        "--params",
        json.dumps(PARAMS),
        "--spread-pips",
        "1.5",
        "--leverage",
        "2",
        "--json",
    )
    out = json.loads(capsys.readouterr().out)
    pred, conf = align_forecasts(bars, pd.read_csv(path))
    direct = run_backtest(
        bars, "forecast", PARAMS, FxCosts(spread_pips=1.5, leverage=2), pred_return=pred, confidence=conf
    )
    assert out["stats"]["# Trades"] == len(direct.trades) == len(out["trades"]) > 5
    assert out["stats"]["Equity Final [$]"] == pytest.approx(direct.final_equity)
    assert (
        out["stats"]["Max. Drawdown [%]"] == pytest.approx(-direct.stats["Max. Drawdown [%]"])
        and out["stats"]["Max. Drawdown [%]"] > 0
    )
    assert out["trades"][0]["EntryBar"] == direct.trades["EntryBar"].iloc[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [
                "--strategy",
                "forecast",
                "--forecasts",
                "baseline",
                "--params",
                json.dumps({**PARAMS, "stop_loss_pct": -0.01}),
            ],
            "stop_loss_pct must be a fraction strictly between 0 and 1",
        ),
        (["--strategy", "forecast", "--params", json.dumps(PARAMS)], "needs forecasts"),
        (["--strategy", "forecast", "--forecasts", "baseline", "--params", "{not json"], "params is not valid JSON"),
        (
            ["--strategy", "pattern", "--params", json.dumps(PARAMS)],
            "unknown parameter\\(s\\) confidence_threshold, entry_threshold",
        ),
        (
            ["--strategy", "forecast", "--forecasts", "baseline", "--params", json.dumps(PARAMS), "--leverage", "0.5"],
            "leverage must be between 1 and 1000",
        ),
        (
            ["--strategy", "forecast", "--artifact", "eurusd:1", "--params", json.dumps(PARAMS)],
            "registered model .eurusd. has no version .1.",
        ),
    ],
)
def test_command_refuses_bad_requests(bars, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backtest", "--symbol", "EURUSD", "--timeframe", "1h", *args)


def test_forecasts_must_cover_the_range(bars, tmp_path):
    path = _forecasts_csv(bars, tmp_path, drop_last=5)
    with pytest.raises(CommandError, match="the forecasts do not cover the range: 5 bar\\(s\\) lack a forecast"):
        call_command(
            "backtest",
            "--symbol",
            "EURUSD",
            "--timeframe",
            "1h",
            "--strategy",
            "forecast",
            "--forecasts",
            str(path),
            "--params",
            json.dumps(PARAMS),
        )
    with pytest.raises(CommandError, match="no EURUSD 1d bars are stored in that range: choose a range with bars"):
        call_command(
            "backtest",
            "--symbol",
            "EURUSD",
            "--timeframe",
            "1d",
            "--strategy",
            "pattern",
            "--params",
            json.dumps({"stop_loss_pct": 0.01, "take_profit_pct": 0.01, "max_hold_bars": 5}),
        )


def test_api_backtest_lifecycle(api_client, bars, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/backtests/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": "combined",
                "params": {**PARAMS, "pattern_window": 6},
                "forecasts_source": "baseline",
                "engine": "fast",
                "spread_pips": 1.0,
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    assert backtest_run_execute(run_id) == "succeeded"
    detail = api_client.get(f"/api/backtests/{run_id}/").json()
    assert detail["status"] == "succeeded" and detail["stats"]["Max. Drawdown [%]"] >= 0
    equity = api_client.get(f"/api/backtests/{run_id}/equity/").json()
    assert len(equity["equity"]) == len(bars) and equity["equity"][-1] == pytest.approx(
        detail["stats"]["Equity Final [$]"]
    )
    assert max(equity["drawdown_pct"]) == pytest.approx(detail["stats"]["Max. Drawdown [%]"])
    trades = api_client.get(f"/api/backtests/{run_id}/trades/").json()
    assert len(trades) == detail["stats"]["# Trades"]

    upload = SimpleUploadedFile("f.csv", _forecasts_csv(bars, tmp_path).read_bytes())
    with django_capture_on_commit_callbacks(execute=False):
        multipart = api_client.post(
            "/api/backtests/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": "forecast",
                "params": json.dumps(PARAMS),
                "forecasts_source": "csv",
                "forecasts": upload,
            },
            format="multipart",
        )
    assert multipart.status_code == 202 and backtest_run_execute(multipart.json()["id"]) == "succeeded"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"strategy": "martingale"}, "is not a valid choice"),
        ({"params": {**PARAMS, "max_hold_bars": 0}}, "max_hold_bars must be a whole number from 1 to 1,000,000"),
        ({"forecasts_source": "csv"}, "forecasts_source csv needs an uploaded forecasts file"),
        ({"engine": "gpu"}, "is not a valid choice"),
        ({"spread": 50}, "unknown field(s) spread; known: "),  # spread_pips, not a silent default of 1
    ],
)
def test_api_refuses_bad_backtests_without_creating_runs(api_client, bars, body, message):
    request = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "strategy": "forecast",
        "params": PARAMS,
        "forecasts_source": "baseline",
        **body,
    }
    response = api_client.post("/api/backtests/", request, format="json")
    assert response.status_code == 400 and message in json.dumps(response.json())
    assert BacktestRun.objects.count() == 0


def test_pattern_scan_api(api_client, bars):
    body = api_client.get(
        "/api/patterns/", {"symbol": "EURUSD", "timeframe": "1h", "forward_bars": 6, "max_events": 10000}
    ).json()
    assert body["events_total"] == body["events_returned"] == len(body["events"])
    assert body["bars"] == len(bars) and body["forward_bars"] == 6
    engulfing = [e for e in body["events"] if e["pattern"] == "engulfing" and e["hit"] is not None]
    summary = {row["pattern"]: row for row in body["summary"]}
    assert summary["engulfing"]["hit_rate"] == pytest.approx(np.mean([e["hit"] for e in engulfing]))
    assert (
        api_client.get("/api/patterns/", {"symbol": "EURUSD", "timeframe": "1h", "patterns": "wedge"}).status_code
        == 400
    )


def test_pages(logged_in_client, bars, django_capture_on_commit_callbacks):
    assert b"No backtests yet" in logged_in_client.get("/backtests/").content
    ids = []
    for engine in ("reference", "fast"):
        with django_capture_on_commit_callbacks(execute=False):
            response = logged_in_client.post(
                "/backtests/",
                {
                    "symbol": "EURUSD",
                    "timeframe": "1h",
                    "strategy": "forecast",
                    "params": json.dumps(PARAMS),
                    "forecasts_source": "baseline",
                    "engine": engine,
                    "spread_pips": "1",
                    "commission": "0",
                    "leverage": "1",
                    "size": "0.95",
                    "cash": "100000",
                },
            )
        run = BacktestRun.objects.latest("pk")
        assert response.status_code == 302 and response["Location"] == f"/backtests/runs/{run.pk}/"
        backtest_run_execute(run.pk)
        ids.append(run.pk)
    page = logged_in_client.get(f"/backtests/runs/{ids[0]}/").content.decode()
    assert 'id="equity-figure"' in page and 'id="trades-chart-figure"' in page and "Max. Drawdown [%]" in page
    compare = logged_in_client.get("/backtests/compare/", {"run": ids})
    rows = dict(compare.context["rows"])
    assert rows["# Trades"][0] == rows["# Trades"][1]  # both engines, the same trades
    scan = logged_in_client.get("/backtests/patterns/", {"symbol": "EURUSD", "timeframe": "1h", "forward_bars": "12"})
    assert 'id="summary-table"' in scan.content.decode()


@pytest.mark.django_db
def test_a_range_of_too_few_bars_or_backwards_says_which(bars, logged_in_client):
    two = {
        "symbol": "EURUSD",
        "timeframe": "1h",
        "forward_bars": 6,
        "start": "2014-05-30T15:00",
        "end": "2014-05-30T16:00",
    }
    page = logged_in_client.get("/backtests/patterns/", two).content.decode()
    assert "only 2 EURUSD 1h bar(s) in that range: at least 3 are needed" in page and "import data first" not in page
    backwards = {**two, "start": "2014-06-02T00:00", "end": "2014-06-01T00:00"}
    page = logged_in_client.get("/backtests/patterns/", backwards).content.decode()
    assert "start 2014-06-02 00:00 is after end 2014-06-01 00:00" in page


@pytest.mark.django_db
def test_the_pattern_scan_is_in_the_navigation_and_reads_plainly(bars, logged_in_client):
    """Found by a newcomer: not in the navigation, "with trades" without trades, directions as 1/-1,
    "nan" forward returns at the end of the range, one marker for every pattern."""
    page = logged_in_client.get(
        "/backtests/patterns/", {"symbol": "EURUSD", "timeframe": "1h", "forward_bars": 12}
    ).content.decode()
    assert 'href="/backtests/patterns/"' in page and "nan" not in page
    assert "bullish" in page or "bearish" in page
    from backtesting_app import charts, selectors

    scan = selectors.pattern_scan(symbol="EURUSD", timeframe="1h", forward_bars=12)
    fig = charts.trades_figure(scan["ohlc"], [], scan["events"])
    assert "with trades" not in fig["layout"]["title"]["text"] and "with patterns" in fig["layout"]["title"]["text"]
    names = [t["name"] for t in fig["data"][1:]]
    assert len(names) == len(set(names)) > 1 and len({t["marker"]["symbol"] for t in fig["data"][1:]}) == len(names)


def test_a_forecast_backtest_without_trades_says_how_close_the_forecasts_came(
    api_client, bars, tmp_path, django_capture_on_commit_callbacks
):
    """Forecasts whose median barely moves (a model without directional skill, its drift shrunk) clear
    no entry threshold: the run says so, with the largest move, instead of a bare '0 trades'."""
    table = momentum_forecasts(bars)
    table["pred_return"] = table["pred_return"] * 1e-3  # every |pred_return| far below the threshold
    path = tmp_path / "still.csv"
    largest = table.loc[table["confidence"] >= PARAMS["confidence_threshold"], "pred_return"].abs().max()
    table.rename(columns=str.title).to_csv(path, index=False)  # column names in any case, as the strategy reads them
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(
            "/api/backtests/",
            {
                "symbol": "EURUSD",
                "timeframe": "1h",
                "strategy": "forecast",
                "params": json.dumps(PARAMS),
                "forecasts_source": "csv",
                "forecasts": SimpleUploadedFile("f.csv", path.read_bytes()),
            },
            format="multipart",
        )
    assert backtest_run_execute(response.json()["id"]) == "succeeded"
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.stats["# Trades"] == 0
    assert (
        f"0 trades: no forecast in the range with confidence >= 0.4 moves more than entry_threshold 0.0003 "
        f"(the largest |pred_return| is {largest:.2g}); lower entry_threshold or optimize it"
    ) in run.message


def test_a_trade_says_why_it_closed():
    from backtesting_app.selectors import exit_reason

    long = {"Size": 10, "EntryBar": 3, "ExitBar": 9, "SL": 1.0950, "TP": 1.1100}
    assert exit_reason(long | {"ExitPrice": 1.0950}, last_bar=100) == "stop loss"
    assert (
        exit_reason(long | {"ExitPrice": 1.0930}, last_bar=100) == "stop loss"
    )  # a gap through the stop fills at the open
    assert exit_reason(long | {"ExitPrice": 1.1100}, last_bar=100) == "take profit"
    assert exit_reason(long | {"ExitPrice": 1.1000}, last_bar=100) == "max hold"
    assert exit_reason(long | {"ExitPrice": 1.1000, "ExitBar": 100}, last_bar=100) == "end of data"
    short = {"Size": -10, "EntryBar": 3, "ExitBar": 9, "SL": 1.1100, "TP": 1.0950, "ExitPrice": 1.1120}
    assert (
        exit_reason(short, last_bar=100) == "stop loss"
        and exit_reason(short | {"ExitPrice": 1.0940}, last_bar=100) == "take profit"
    )


def test_the_trades_chart_shows_a_short_backtest_whole_and_centres_a_picked_trade(bars):
    from backtesting_app import charts

    pred, conf = align_forecasts(bars, momentum_forecasts(bars, halflife=6))
    result = run_backtest(
        bars,
        "forecast",
        {**PARAMS, "entry_threshold": 0.0002, "confidence_threshold": 0.0},
        FxCosts(),
        pred_return=pred,
        confidence=conf,
        engine="fast",
    )
    trades = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in result.trades.to_dict("records")
    ]
    assert len(trades) >= 3
    whole = charts.trades_figure(bars, trades, None)
    assert len(whole["data"][0]["x"]) == len(bars)  # 399 bars: every one drawn, every trade on it
    k = len(trades) // 2
    picked = charts.trades_figure(bars, trades, None, highlight=k)
    shade = picked["layout"]["shapes"][0]
    assert (
        pd.Timestamp(shade["x0"]) == bars.index[trades[k]["EntryBar"]]
        and pd.Timestamp(shade["x1"]) == bars.index[trades[k]["ExitBar"]]
    )
    assert picked["layout"]["title"]["text"].startswith(f"Trade {k}: ")


def _backtest_on_a_stored_set(api_client, *, start, end):
    """POST a forecast backtest on 'a stored forecast set' (none picked) of EURUSD 1h over start..end."""
    return api_client.post(
        "/api/backtests/",
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "strategy": "forecast",
            "params": PARAMS,
            "forecasts_source": "forecast_set",
            "start": start,
            "end": end,
        },
        format="json",
    )


def test_a_backtest_on_a_forecast_set_none_covers_says_what_is_stored_and_where_the_data_ends(api_client, bars):
    response = _backtest_on_a_stored_set(api_client, start="2014-06-02", end="2014-06-06")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "no stored forecast set covers EURUSD 1h from 2014-06-02 00:00 to 2014-06-06 23:59" in detail
    assert "no forecast set of EURUSD 1h is stored; the EURUSD 1h bars end 2014-06-24 05:00 UTC" in detail, detail
    assert BacktestRun.objects.count() == 0


def test_a_set_made_for_a_range_of_days_covers_that_range_though_the_bars_end_before_midnight(api_client, bars):
    """A range's end given as a date is the end of that day; the data ends earlier (Friday 20:00 here), so
    does a set made for that range, and it must still count as covering it."""
    from datetime import UTC, datetime

    from backtesting_app.request import BacktestRequest
    from forecasts.models import ForecastSet
    from forecasts.selectors import forecast_sets_covering

    def made(first, last):
        return ForecastSet.objects.create(
            symbol="EURUSD", timeframe="1h", artifact_ref="m:1", status="succeeded", first=first, last=last, rows=1
        )

    # the week's bars: Sunday 21:00 to Friday 20:00
    whole = made(datetime(2014, 6, 1, 21, tzinfo=UTC), datetime(2014, 6, 6, 20, tzinfo=UTC))
    short = made(datetime(2014, 6, 1, 21, tzinfo=UTC), datetime(2014, 6, 6, 19, tzinfo=UTC))  # one bar short
    week = BacktestRequest.from_dict(
        {
            "symbol": "EURUSD",
            "timeframe": "1h",
            "strategy": "forecast",
            "params": PARAMS,
            "forecasts_source": "baseline",
        }
        | {"start": "2014-05-31", "end": "2014-06-06"}  # Saturday to Friday
    )
    covering = forecast_sets_covering(symbol="EURUSD", timeframe="1h", start=week.start, end=week.end)
    assert list(covering) == [whole]
    assert short not in forecast_sets_covering(symbol="EURUSD", timeframe="1h", end=week.end)

    response = _backtest_on_a_stored_set(api_client, start="2014-06-02", end="2014-06-06")
    assert response.status_code == 400
    assert (
        f"no forecast set was picked; these cover EURUSD 1h from 2014-06-02 00:00 to 2014-06-06 23:59: #{whole.pk}"
        in (response.json()["detail"])
    )
