"""Optimizer engine: spaces, directions, constraints, memoization, resume. No database."""

import numpy as np
import pandas as pd
import pytest
from pymoo.indicators.hv import HV

from backtesting_app.engine import FxCosts, align_forecasts, momentum_forecasts, ohlc_frame, run_backtest
from backtesting_app.engine._objectives import objective_matrix, objective_vector
from backtesting_app.engine._search import _compass
from backtesting_app.engine.optimize import (
    BacktestProblem,
    BudgetExhausted,
    GeneticOptimizer,
    HybridOptimizer,
    InProcessEvaluator,
    ParameterSpace,
    PoolEvaluator,
    SearchState,
    default_space,
    optimize_grid,
    parse_constraints,
)

OBJECTIVES = ["return", "drawdown", "sharpe"]


@pytest.fixture(scope="module")
def problem():
    from tests.conftest import FIXTURES

    frame = pd.concat([pd.read_csv(FIXTURES / "eurusd_h1.csv")]).rename(columns={"timestamp": "ts"})
    ohlc = ohlc_frame(frame)
    pred, conf = align_forecasts(ohlc, momentum_forecasts(ohlc, halflife=6))
    return BacktestProblem(ohlc, "forecast", FxCosts(spread_pips=0.5), pred_return=pred, confidence=conf)


class Counting:
    """An evaluator that records every parameter set it is asked for."""

    def __init__(self, problem, fail_after=None):
        self.inner = InProcessEvaluator(problem)
        self.seen = []
        self.fail_after = fail_after

    def __call__(self, batch):
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise RuntimeError("worker killed")
        self.seen.extend(tuple(sorted(p.items())) for p in batch)
        return self.inner(batch)


def test_fast_metrics_equal_the_reference_stats(problem):
    params = {
        "entry_threshold": 0.0002,
        "confidence_threshold": 0.3,
        "stop_loss_pct": 0.003,
        "take_profit_pct": 0.004,
        "max_hold_bars": 8,
    }
    m = problem.evaluate(params)
    ref = run_backtest(
        problem.ohlc, "forecast", params, problem.costs, pred_return=problem.pred, confidence=problem.conf
    ).stats
    assert m["n_trades"] == ref["# Trades"] > 10
    assert m["return_pct"] == pytest.approx(ref["Return [%]"])
    assert m["max_drawdown_pct"] == pytest.approx(-ref["Max. Drawdown [%]"]) and m["max_drawdown_pct"] > 0
    assert m["sharpe"] == pytest.approx(ref["Sharpe Ratio"])
    assert m["win_rate_pct"] == pytest.approx(ref["Win Rate [%]"])
    assert m["profit_factor"] == pytest.approx(ref["Profit Factor"])


def test_drawdown_is_minimized_and_return_maximized():
    F = objective_matrix(
        [
            {"return_pct": 5, "max_drawdown_pct": 2, "sharpe": 1.0},
            {"return_pct": 5, "max_drawdown_pct": 9, "sharpe": 1.0},
        ],
        OBJECTIVES,
    )
    assert F.tolist() == [[-5, 2, -1.0], [-5, 9, -1.0]]  # pymoo minimizes: the smaller drawdown dominates


@pytest.mark.parametrize(
    "spec, message",
    [
        ([{"name": "stop_loss_pct", "low": 0.02, "high": 0.01}], "stop_loss_pct: empty range"),
        ([{"name": "stop_loss_pct", "low": 0.01, "high": 0.02, "step": 0.05}], "step 0.05 is larger than the range"),
        ([{"name": "leverage", "low": 1, "high": 5}], "unknown parameter 'leverage' for the forecast strategy"),
        ([{"name": "max_hold_bars", "kind": "int", "low": 1.5, "high": 9}], "needs whole-number bounds"),
        ([], "the space has no parameters"),
    ],
)
def test_bad_spaces_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        ParameterSpace.from_dict(spec)


def test_constraints_parse_and_bad_ones_are_named():
    cs = parse_constraints({"min_trades": 30, "max_drawdown_pct": 25})
    assert [str(c) for c in cs] == ["n_trades >= 30", "max_drawdown_pct <= 25"]
    assert cs[0].violation({"n_trades": 10}) == 20 and cs[1].violation({"max_drawdown_pct": 20}) == -5
    with pytest.raises(ValueError, match="unknown constraint 'min_happiness'"):
        parse_constraints({"min_happiness": 1})


def test_genetic_ask_tell_repairs_integers_onto_their_grid():
    space = default_space()
    ga = GeneticOptimizer(space, 3, 0, pop_size=12, seed=3)
    for _ in range(3):
        X = ga.ask()
        hold = X[:, space.names.index("max_hold_bars")]
        assert np.array_equal(hold, np.round(hold))
        steps = X[:, space.names.index("stop_loss_pct")]
        assert np.allclose((steps - 0.001) / 0.0005, np.round((steps - 0.001) / 0.0005))
        ga.tell(np.random.default_rng(0).normal(size=(len(X), 3)))


def test_genetic_operators_keep_pymoos_defaults_unless_the_hybrid_widens_them():
    from pymoo.core.variable import get

    mating = GeneticOptimizer(default_space(), 3, 0, pop_size=12, seed=3).algorithm.mating
    assert (get(mating.crossover.eta), get(mating.mutation.eta)) == (
        15,
        20,
    )  # the pure NSGA-II baseline as pymoo ships it
    wide = GeneticOptimizer(default_space(), 3, 0, pop_size=12, seed=3, eta=HybridOptimizer().eta)
    assert (get(wide.algorithm.mating.crossover.eta), get(wide.algorithm.mating.mutation.eta)) == (10, 10)
    X = wide.ask()
    hold = X[:, default_space().names.index("max_hold_bars")]
    assert np.array_equal(hold, np.round(hold))  # wider steps are still repaired onto the grid


def test_hybrid_evaluates_each_point_once_within_budget_and_respects_constraints(problem):
    counting = Counting(problem)
    constraints = parse_constraints({"min_trades": 15, "max_drawdown_pct": 3})
    state = SearchState(default_space(), OBJECTIVES, constraints, counting, budget=250)
    HybridOptimizer(seed=2).run(state)
    assert len(counting.seen) == len(set(counting.seen)) == len(state.records) <= 250
    assert {r.phase for r in state.records} == {"grid", "nsga2", "local"}
    front = state.front()
    assert front
    for i in front:
        m = state.records[i].metrics
        assert m["n_trades"] >= 15 and m["max_drawdown_pct"] <= 3
    assert [h[1] for h in state.hv_history] == sorted(h[1] for h in state.hv_history)  # the front only grows


def test_the_hybrid_spends_its_whole_budget(problem):
    state = SearchState(
        default_space(), OBJECTIVES, parse_constraints({"min_trades": 15}), InProcessEvaluator(problem), budget=300
    )
    HybridOptimizer(seed=1).run(state)
    assert len(state.records) == state.evaluations == 300
    phases = [r.phase for r in state.records]
    assert phases.index("grid") < phases.index("nsga2") < phases.index("local")  # grid, then NSGA-II, then local steps
    vectors = [objective_vector(state.records[i].metrics, OBJECTIVES) for i in state.front()]
    assert len(vectors) == len(set(vectors))  # no two front points with the same objectives


class Synthetic:
    """Metrics from a formula of the parameters, so that the right answer is known."""

    def __init__(self, space, formula):
        self.space, self.formula = space, formula

    def __call__(self, batch):
        out = []
        for params in batch:
            u = (np.array(self.space.encode(params)) - self.space.xl) / (self.space.xu - self.space.xl)
            ret, dd, sharpe = self.formula(u)
            out.append({"return_pct": ret, "max_drawdown_pct": dd, "sharpe": sharpe, "n_trades": 100})
        return out


def test_the_front_holds_one_parameter_set_per_objective_vector():
    """max_hold_bars changes nothing here: every vector is reached by 4 parameter sets."""
    space = ParameterSpace.from_dict(
        {
            "stop_loss_pct": {"low": 0.002, "high": 0.01, "step": 0.002},
            "max_hold_bars": {"kind": "int", "low": 1, "high": 4, "step": 1},
        }
    )
    state = SearchState(
        space, OBJECTIVES, [], Synthetic(space, lambda u: (10 * u[0], 2 + 8 * u[0] ** 2, 1.0)), budget=100
    )
    optimize_grid(state, 5)
    assert len(state.records) == 20
    front = state.front()
    vectors = [objective_vector(state.records[i].metrics, OBJECTIVES) for i in front]
    assert len(vectors) == len(set(vectors)) == 5  # every stop loss trades return for drawdown: all 5 on the front
    for i, v in zip(front, vectors):  # the first visited of its group stands for it
        assert i == min(k for k, r in enumerate(state.records) if objective_vector(r.metrics, OBJECTIVES) == v)
    assert state.hypervolume() == pytest.approx(
        float(HV(ref_point=np.array([100.0, 100.0, 10.0]))(state.matrices()[0]))
    )


def test_compass_steps_reach_the_best_point_of_a_smooth_problem_and_stop():
    """Return peaks at 80% of every parameter's range; drawdown and Sharpe are constant. From the centre,
    steps of half the range, halved when they fail, end on the allowed point nearest the peak."""
    space = default_space()
    state = SearchState(
        space, OBJECTIVES, [], Synthetic(space, lambda u: (10 - 100 * ((u - 0.8) ** 2).sum(), 5.0, 1.0)), budget=2000
    )
    state.evaluate_batch([(space.xl + space.xu) / 2], phase="grid")
    _compass(state, start=0.5, stop_at=state.budget, phase="local")
    best = max(state.records, key=lambda r: r.metrics["return_pct"])
    assert best.x == space.snap(space.xl + 0.8 * (space.xu - space.xl))
    assert len(state.records) < 400  # it stopped on its own: every step shrank below the parameters' steps


def test_a_killed_search_resumes_from_its_records_without_re_evaluating(problem):
    full = SearchState(default_space(), OBJECTIVES, [], InProcessEvaluator(problem), budget=200)
    HybridOptimizer(seed=5).run(full)

    dying = Counting(problem, fail_after=90)
    first = SearchState(default_space(), OBJECTIVES, [], dying, budget=200)
    with pytest.raises(RuntimeError, match="worker killed"):
        HybridOptimizer(seed=5).run(first)
    stored = list(first.records)
    assert 0 < len(stored) < 200

    again = Counting(problem)
    second = SearchState(default_space(), OBJECTIVES, [], again, budget=200)
    second.preload(stored)
    HybridOptimizer(seed=5).run(second)
    assert not set(again.seen) & set(dying.seen)  # nothing evaluated twice across the two attempts
    assert len(dying.seen) + len(again.seen) == len(second.records) == len(full.records)
    assert {r.x for r in second.records} == {r.x for r in full.records}  # the same search as uninterrupted


def test_pool_evaluator_equals_in_process(problem):
    space = default_space()
    params = [space.decode(x) for x in space.grid(2)[:12]]
    with PoolEvaluator(problem, workers=2) as pool:
        assert pool(params) == InProcessEvaluator(problem)(params)


def test_grid_respects_the_budget(problem):
    state = SearchState(default_space(), OBJECTIVES, [], InProcessEvaluator(problem), budget=20)
    optimize_grid(state, 2)  # 32 points: the first 20 are evaluated
    assert len(state.records) == 20 and state.remaining == 0
    with pytest.raises(BudgetExhausted):
        optimize_grid(state, 3)


def test_walk_forward_optimizes_in_sample_and_stitches_out_of_sample(problem):
    from backtesting_app.engine.optimize import walk_forward

    space = ParameterSpace.from_dict(
        {
            "stop_loss_pct": {"low": 0.002, "high": 0.01, "step": 0.002},
            "take_profit_pct": {"low": 0.002, "high": 0.01, "step": 0.002},
            "max_hold_bars": {"kind": "int", "low": 2, "high": 20, "step": 6},
        }
    )
    problem.fixed = {"entry_threshold": 0.0002, "confidence_threshold": 0.3}
    try:
        result = walk_forward(
            problem, space, OBJECTIVES, [], in_sample=150, out_of_sample=50, budget=60, rule="max_sharpe"
        )
    finally:
        problem.fixed = {}
    windows = result["windows"]
    assert len(windows) == (len(problem.ohlc) - 150) // 50 == 4
    equity = 1.0
    for k, w in enumerate(windows):
        oos = problem.slice(150 + 50 * k, 200 + 50 * k)
        oos.fixed = {"entry_threshold": 0.0002, "confidence_threshold": 0.3}
        assert oos.evaluate(w["params"]) == w["out_of_sample_metrics"]  # the picked point, re-run out of sample
        equity *= 1 + w["out_of_sample_metrics"]["return_pct"] / 100
    assert result["stitched_equity"][-1] == pytest.approx(equity)
    assert result["out_of_sample_return_pct"] == pytest.approx((equity - 1) * 100)
    with pytest.raises(ValueError, match="too few for one"):
        walk_forward(problem, space, OBJECTIVES, [], in_sample=390, out_of_sample=50, budget=20)


def test_walk_forward_never_tests_a_point_that_breaks_the_constraints(problem):
    from backtesting_app.engine.optimize import walk_forward

    space = ParameterSpace.from_dict({"stop_loss_pct": {"low": 0.002, "high": 0.01, "step": 0.004}})
    problem.fixed = {
        "entry_threshold": 0.0002,
        "confidence_threshold": 0.3,
        "take_profit_pct": 0.005,
        "max_hold_bars": 6,
    }
    try:
        with pytest.raises(ValueError, match="no window produced a feasible point"):
            walk_forward(
                problem,
                space,
                OBJECTIVES,
                parse_constraints({"min_trades": 10_000}),
                in_sample=200,
                out_of_sample=100,
                budget=20,
            )
    finally:
        problem.fixed = {}
