"""The trials view of an optimization run: every evaluated parameter set in a table sorted, filtered and
paged by the database, the parameter importance, and the heavy charts drawn on demand."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from backtesting_app import selectors
from backtesting_app.engine.optimize import parameter_importance
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
from backtesting_app.request import OptimizationRequest

SPACE = [
    {"name": "entry_threshold", "kind": "float", "low": 0.0, "high": 0.002, "step": 0.0002, "choices": []},
    {"name": "stop_loss_pct", "kind": "float", "low": 0.002, "high": 0.01, "step": 0.001, "choices": []},
    {"name": "take_profit_pct", "kind": "float", "low": 0.002, "high": 0.015, "step": 0.001, "choices": []},
    {"name": "max_hold_bars", "kind": "int", "low": 2, "high": 30, "step": 1, "choices": []},
]
OBJECTIVES = ["return", "drawdown", "sharpe"]
CONSTRAINTS = {"min_trades": 30, "max_drawdown_pct": 12}


def sharpe_of(stop_loss_pct: float) -> float:
    """The test's Sharpe ratio depends on stop_loss_pct alone: all of its importance is that parameter's."""
    return round(2.5 * math.sin(stop_loss_pct * 500) + 0.5, 10)


def make_run(owner, n: int = 3000, seed: int = 0, **fields) -> OptimizationRun:
    """A finished hybrid run with `n` stored results: grid, NSGA-II and local phases, plausible metrics
    (some without a Sharpe ratio, some infeasible) and the dominance ranks of the feasible ones."""
    rng = np.random.default_rng(seed)
    request = OptimizationRequest(
        symbol="EURUSD",
        timeframe="1h",
        strategy="forecast",
        fixed_params={"confidence_threshold": 0.3},
        space=SPACE,
        objectives=tuple(OBJECTIVES),
        constraints=CONSTRAINTS,
        method="hybrid",
        budget=n,
        holdout=0.0,
    )
    run = OptimizationRun.of_request(
        request,
        owner=owner,
        status="succeeded",
        progress=1.0,
        phase_counts={"grid": n // 5, "nsga2": n - n // 5 - n // 10, "local": n // 10},
        hv_history=[[n // 5, 100.0], [n, 180.0]],
        reference_point=[0, 50, 0],
        **fields,
    )
    run.save()
    entry = np.round(rng.integers(0, 11, n) * 0.0002, 10)
    stop = np.round(0.002 + rng.integers(0, 9, n) * 0.001, 10)
    take = np.round(0.002 + rng.integers(0, 14, n) * 0.001, 10)
    hold = rng.integers(2, 31, n)
    trades = np.maximum(0, (120 - entry * 50_000 + rng.normal(0, 15, n))).astype(int)
    returns = np.round(rng.normal(2, 4, n) + take * 200, 6)
    drawdown = np.round(np.abs(rng.normal(6, 3, n)) + stop * 100, 6)
    rows = []
    for i in range(n):
        phase = "grid" if i < n // 5 else ("local" if i >= n - n // 10 else "nsga2")
        metrics = {
            "return_pct": float(returns[i]),
            "max_drawdown_pct": float(drawdown[i]),
            "sharpe": None if trades[i] < 5 else sharpe_of(stop[i]),
            "win_rate_pct": float(rng.uniform(30, 60)),
            "profit_factor": None if trades[i] == 0 else float(rng.uniform(0.5, 2)),
            "n_trades": int(trades[i]),
        }
        params = {
            "entry_threshold": float(entry[i]),
            "stop_loss_pct": float(stop[i]),
            "take_profit_pct": float(take[i]),
            "max_hold_bars": int(hold[i]),
        }
        rows.append(
            OptimizationResult(
                run=run,
                key=f"{i}:{params}",
                params=params,
                metrics=metrics,
                phase=phase,
                generation=0 if phase == "grid" else (1 + (i - n // 5) // 40 if phase == "nsga2" else 0),
                feasible=bool(trades[i] >= 30 and drawdown[i] <= 12),
            )
        )
    OptimizationResult.objects.bulk_create(rows, batch_size=1000)
    stored = list(run.results.order_by("id"))
    feasible = [r for r in stored if r.feasible]
    F = np.array(
        [
            [
                -r.metrics["return_pct"],
                r.metrics["max_drawdown_pct"],
                -(r.metrics["sharpe"] if r.metrics["sharpe"] is not None else -1e12),
            ]
            for r in feasible
        ]
    )
    for i, r in enumerate(feasible):  # rank 0: no other feasible point dominates it; the rest rank 1
        dominated = np.any(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1))
        r.rank = 1 if dominated else 0
    OptimizationResult.objects.bulk_update(feasible, ["rank"], batch_size=1000)
    return run


@pytest.fixture
def run(user):
    return make_run(user)


def _expected(run, *, key=None, descending=False, keep=lambda r: True):
    """An independent order of the run's rows: by `key` (None last either way), ties by id."""
    rows = [r for r in run.results.order_by("id") if keep(r)]
    if key is None:
        return [r.pk for r in rows]
    present = sorted(
        (r for r in rows if key(r) is not None), key=key, reverse=descending
    )  # stable, reversed too: ties by id
    return [r.pk for r in present] + [r.pk for r in rows if key(r) is None]


def violation(r) -> float:
    trades = r.metrics.get("n_trades")
    dd = r.metrics.get("max_drawdown_pct")
    return max(0.0, 30 - trades if trades is not None else 1e9) + max(0.0, dd - 12 if dd is not None else 1e9)


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


@pytest.mark.django_db
def test_a_run_of_3000_evaluations_renders_its_first_page_of_trials_and_draws_the_heavy_charts_on_demand(
    run, logged_in_client
):
    response = logged_in_client.get(f"/optimizations/runs/{run.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Every evaluation (3,000)" in page and "Rows 1-50 of 3,000" in page
    assert _ids(page) == list(run.results.order_by("id").values_list("id", flat=True)[:50])
    assert page.count("Open as backtest") == 50 + run.results.filter(front_entry__isnull=False).count()
    for first in run.results.order_by("id")[:50]:
        assert f'action="/optimizations/runs/{run.pk}/results/{first.pk}/backtest/"' in page
    for heavy in ("projections", "scatter3d", "parallel", "slices"):  # drawn when their <details> opens
        card = re.search(rf'<details class="card" data-render="on-open" id="{heavy}-card">(.*?)</details>', page, re.S)
        assert card and f'id="{heavy}-figure"' in card.group(1), heavy
    assert 'id="importance-chart-figure"' in page and 'id="hv-chart-figure"' in page  # small: drawn at load
    for marker in ('id="phase-table"', 'id="hv"', 'id="job-status"', 'id="holdout-note"'):
        assert marker in page, marker


@pytest.mark.django_db
def test_the_3d_chart_draws_dominated_and_infeasible_points_apart_from_the_front(run):
    rows, total = selectors.optimization_chart_rows(run=run)
    from backtesting_app.charts import pareto_figures

    traces = {
        t["name"]: t
        for t in pareto_figures(rows, ["return_pct", "max_drawdown_pct", "sharpe"], total=total)["scatter3d"]["data"]
    }
    assert set(traces) == {"Pareto front", "dominated", "infeasible"}
    assert traces["dominated"]["marker"]["size"] >= 3 and traces["dominated"]["marker"]["opacity"] >= 0.5
    assert "rgba" not in traces["dominated"]["marker"]["color"]


@pytest.mark.django_db
def test_beyond_the_chart_limit_the_charts_draw_an_even_sample_and_the_whole_front(run, monkeypatch):
    monkeypatch.setattr(selectors, "CHART_POINTS", 500)
    rows, total = selectors.optimization_chart_rows(run=run)
    front = set(run.results.filter(rank=0, feasible=True).values_list("id", flat=True))
    every_sixth = {pk for pk in run.results.values_list("id", flat=True) if pk % 6 == 0}
    assert total == 3000 and {r["id"] for r in rows} == front | every_sixth
    assert {r["phase"] for r in rows} == {"grid", "nsga2", "local"}


SORTS = [
    ("-sharpe", lambda r: r.metrics["sharpe"], True),
    ("max_drawdown_pct", lambda r: r.metrics["max_drawdown_pct"], False),
    ("-profit_factor", lambda r: r.metrics["profit_factor"], True),
    ("stop_loss_pct", lambda r: r.params["stop_loss_pct"], False),
    ("-max_hold_bars", lambda r: r.params["max_hold_bars"], True),
    ("-violation", violation, True),
    ("phase", lambda r: r.phase, False),
    ("rank", lambda r: r.rank, False),
    ("-generation", lambda r: r.generation, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize("sort, key, descending", SORTS, ids=[s for s, _, _ in SORTS])
def test_the_table_sorts_in_the_database_as_python_sorts_the_rows(
    run, logged_in_client, api_client, sort, key, descending
):
    expected = _expected(run, key=key, descending=descending)
    html = logged_in_client.get(f"/optimizations/runs/{run.pk}/trials/", {"sort": sort, "page": 3}).content.decode()
    assert _ids(html) == expected[100:150]
    assert "Rows 101-150 of 3,000" in html
    api = api_client.get(f"/api/optimizations/{run.pk}/results/", {"sort": sort, "limit": 40, "offset": 2960}).json()
    assert [r["id"] for r in api["results"]] == expected[2960:]


@pytest.mark.django_db
def test_the_table_filters_by_phase_feasibility_front_and_ranges(run, logged_in_client, api_client):
    keep = lambda r: (
        r.phase == "nsga2"
        and r.feasible
        and r.metrics["sharpe"] is not None
        and r.metrics["sharpe"] >= 1  # noqa: E731
        and r.params["take_profit_pct"] <= 0.008
    )
    expected = _expected(run, key=lambda r: r.metrics["return_pct"], descending=True, keep=keep)
    assert 50 < len(expected) < 3000
    query = {
        "phase": "nsga2",
        "feasible": "yes",
        "min_sharpe": "1",
        "max_take_profit_pct": "0.008",
        "sort": "-return_pct",
    }
    html = logged_in_client.get(f"/optimizations/runs/{run.pk}/", {**query, "page": 2}).content.decode()
    assert _ids(html) == expected[50:100]
    assert f"of {len(expected):,} (filtered from 3,000)" in html
    assert (
        'name="min_sharpe" value="1.0"' in html and '<option value="nsga2" selected>' in html
    )  # the form keeps the filter
    api = api_client.get(f"/api/optimizations/{run.pk}/results/", {**query, "limit": 500}).json()
    assert api["count"] == len(expected) and [r["id"] for r in api["results"]] == expected[:500]

    front = _expected(run, keep=lambda r: r.rank == 0 and r.feasible)
    html = logged_in_client.get(f"/optimizations/runs/{run.pk}/trials/", {"front": "yes"}).content.decode()
    assert 0 < len(front) <= 50 and _ids(html) == front
    no_edge = _expected(
        run, keep=lambda r: r.metrics["sharpe"] is not None and r.metrics["sharpe"] <= 0
    )  # a null Sharpe is no 0
    assert api_client.get(f"/api/optimizations/{run.pk}/results/", {"max_sharpe": "0", "limit": 500}).json()[
        "count"
    ] == len(no_edge)
    infeasible = _expected(run, key=violation, keep=lambda r: not r.feasible)
    html = logged_in_client.get(
        f"/optimizations/runs/{run.pk}/trials/", {"feasible": "no", "sort": "violation"}
    ).content.decode()
    assert _ids(html) == infeasible[:50]


@pytest.mark.django_db
def test_the_sort_and_page_links_keep_the_filters(run, logged_in_client):
    html = logged_in_client.get(
        f"/optimizations/runs/{run.pk}/trials/", {"phase": "grid", "sort": "-sharpe"}
    ).content.decode()
    assert 'href="?sort=sharpe&amp;phase=grid#trials"' in html  # Sharpe again: the other way
    assert 'href="?sort=max_drawdown_pct&amp;phase=grid#trials"' in html  # drawdown's best first is its smallest
    assert 'href="?sort=-return_pct&amp;phase=grid#trials"' in html  # return's is its largest
    assert 'href="?sort=-sharpe&amp;phase=grid&amp;page=2#trials"' in html  # next page
    last = math.ceil(run.results.filter(phase="grid").count() / 50)
    html = logged_in_client.get(
        f"/optimizations/runs/{run.pk}/trials/", {"phase": "grid", "page": 999}
    ).content.decode()
    assert f"page {last} of {last}" in html  # past the end: the last page


@pytest.mark.django_db
def test_bad_query_values_are_named_on_the_page_and_400s_in_the_api(run, logged_in_client, api_client):
    html = logged_in_client.get(
        f"/optimizations/runs/{run.pk}/trials/",
        {"sort": "luck", "min_sharpe": "abc", "feasible": "maybe", "min_confidence": "2"},
    ).content.decode()
    errors = re.search(r'<ul class="error" id="trials-errors">(.*?)</ul>', html, re.S).group(1)
    for message in (
        "sort: unknown column &#x27;luck&#x27;",
        "min_sharpe: &#x27;abc&#x27; is not a number",
        "feasible: say yes or no",
        "min_confidence: &#x27;confidence&#x27; is not a metric",
    ):
        assert message in errors, message
    assert _ids(html) == _expected(run)[:50]  # the rest of the query still applies: here, nothing
    for query, message in (
        ({"sort": "luck"}, "sort: unknown column 'luck'"),
        ({"max_sharpe": "nan"}, "max_sharpe: 'nan' is not a finite number"),
        ({"phase": "warmup"}, "phase: 'warmup' is none of grid, nsga2, local"),
    ):
        response = api_client.get(f"/api/optimizations/{run.pk}/results/", query)
        assert response.status_code == 400 and message in response.json()["detail"], response.json()


@pytest.mark.django_db
def test_a_dominated_row_opens_as_a_backtest(run, logged_in_client, django_capture_on_commit_callbacks, fixture_path):
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    candles_import_file(source=fixture_path("eurusd_h1.csv"), request=ImportRequest(symbol="EURUSD", timeframe="1h"))
    dominated = run.results.filter(rank=1).order_by("id").last()
    with django_capture_on_commit_callbacks(execute=False):
        response = logged_in_client.post(f"/optimizations/runs/{run.pk}/results/{dominated.pk}/backtest/")
    backtest = BacktestRun.objects.get()
    assert response["Location"] == f"/backtests/runs/{backtest.pk}/" and backtest.origin_result == dominated
    assert backtest.request["params"] == {"confidence_threshold": 0.3, **dominated.params}


# --- Importance --------------------------------------------------------------------------------------------


def test_a_balanced_factorial_s_importance_is_the_classical_anova_epsilon_squared():
    """On a replicated full factorial the additive fit's effects are the level means less the grand mean, so
    each share is the textbook epsilon-squared, (SS_between - df * MS_residual) / SS_total (pandas here)."""
    rng = np.random.default_rng(5)
    levels = {"a": [0.1, 0.2, 0.3, 0.4], "b": [1, 2, 3], "c": ["x", "y"]}
    grid = pd.MultiIndex.from_product([*levels.values(), range(6)], names=[*levels, "replicate"]).to_frame(index=False)
    grid["y"] = (
        np.sin(grid["a"] * 10)
        + 0.3 * grid["b"] ** 2
        + 0.8 * (grid["c"] == "y") * grid["b"]  # an interaction too
        + rng.normal(0, 0.2, len(grid))
    )
    found = parameter_importance(grid[["a", "b", "c"]].to_dict("records"), grid["y"].tolist(), names=["a", "b", "c"])
    total = ((grid["y"] - grid["y"].mean()) ** 2).sum()
    between = {}
    for name in levels:
        means = grid.groupby(name)["y"].agg(["mean", "size"])
        between[name] = (means["size"] * (means["mean"] - grid["y"].mean()) ** 2).sum()
    df_resid = len(grid) - 1 - sum(len(v) - 1 for v in levels.values())
    ms_resid = (total - sum(between.values())) / df_resid
    for name, values in levels.items():
        assert found["importance"][name] == pytest.approx(
            (between[name] - (len(values) - 1) * ms_resid) / total, rel=1e-9
        ), name
    assert found["explained"] == pytest.approx(1 - ms_resid / (total / (len(grid) - 1)), rel=1e-9)
    assert 0.01 < 1 - found["explained"]  # the interaction and the noise are left unexplained


def test_a_parameter_that_changes_nothing_gets_nothing_from_few_points():
    """A handful of points: bins of an irrelevant parameter fit some noise by chance; that much is taken off."""
    rng = np.random.default_rng(8)
    shares = []
    for _ in range(50):
        params = [{"signal": float(s), "idle": float(i)} for s, i in zip(rng.integers(0, 3, 60), rng.uniform(0, 1, 60))]
        y = [p["signal"] + rng.normal(0, 1) for p in params]
        shares.append(parameter_importance(params, y, names=["signal", "idle"])["importance"]["idle"])
    assert np.mean(shares) < 0.015  # its 3 bins' unadjusted share averages about 2 / 60 (0.033 measured)


def test_an_objective_of_one_parameter_gets_all_the_importance_even_where_another_moves_with_it():
    rng = np.random.default_rng(3)
    x1 = rng.integers(0, 10, 4000)
    x2 = np.clip(x1 + rng.integers(-1, 2, 4000), 0, 9)  # the search sampled x2 close to x1
    x3 = rng.uniform(0, 1, 4000)
    y = np.cos(x1 / 2.0) * 3
    params = [{"x1": int(a) * 0.001, "x2": int(b), "x3": float(c)} for a, b, c in zip(x1, x2, x3)]
    found = parameter_importance(params, y.tolist(), names=["x1", "x2", "x3"])
    assert found["importance"]["x1"] == pytest.approx(1.0, abs=1e-9) and found["explained"] == pytest.approx(
        1.0, abs=1e-9
    )
    assert found["importance"]["x2"] < 1e-9 and found["importance"]["x3"] < 1e-9
    # ... where x2's own between-level share (its importance judged alone) is large
    frame = pd.DataFrame({"x2": x2, "y": y})
    alone = (frame.groupby("x2")["y"].transform("mean").var(ddof=0)) / frame["y"].var(ddof=0)
    assert alone > 0.5


def test_importance_needs_ten_finite_values_with_some_variance():
    params = [{"a": i} for i in range(12)]
    assert parameter_importance(params, [1.0] * 12, names=["a"]) is None
    assert parameter_importance(params, [None] * 3 + [float(i) for i in range(9)], names=["a"]) is None
    assert parameter_importance(params, [None] * 2 + [float(i) for i in range(10)], names=["a"])["n"] == 10


@pytest.mark.django_db
def test_the_page_says_sharpe_is_all_stop_loss(run, logged_in_client):
    html = logged_in_client.get(f"/optimizations/runs/{run.pk}/").content.decode()
    table = re.search(r'<table id="importance-table">(.*?)</table>', html, re.S).group(1)
    headers = re.findall(r'<th class="num">(.*?)</th>', table)
    assert headers == ["return %", "max drawdown %", "Sharpe"]
    shares = {
        name: re.findall(r'<td class="num">(\d+)%</td>', row)
        for name, row in re.findall(r'<tr data-parameter="(\w+)">(.*?)</tr>', table, re.S)
    }
    assert shares["stop_loss_pct"][2] == "100" and all(
        shares[n][2] == "0" for n in ("entry_threshold", "take_profit_pct", "max_hold_bars")
    )
    # and the numbers are the selector's, on the rows that have a Sharpe ratio
    rows, _ = selectors.optimization_chart_rows(run=run)
    sharpe = parameter_importance(
        [r["params"] for r in rows],
        [r["metrics"]["sharpe"] for r in rows],
        names=["entry_threshold", "stop_loss_pct", "take_profit_pct", "max_hold_bars"],
    )
    assert (
        sharpe["n"] == sum(r["metrics"]["sharpe"] is not None for r in rows)
        and sharpe["importance"]["stop_loss_pct"] > 0.999
    )
