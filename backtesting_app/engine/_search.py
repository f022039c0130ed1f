"""Multi-objective search: memoized evaluation, NSGA-II driven ask/tell, the hybrid
grid -> NSGA-II -> local grid optimizer, pure grid and pure NSGA-II baselines, hypervolume."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.evaluator import Evaluator
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.indicators.hv import HV
from pymoo.problems.static import StaticProblem
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

from ._objectives import Constraint, constraint_matrix, objective_matrix
from ._space import ParameterSpace

# The search methods by name, with the label pages show (models, forms, serializers and commands offer these).
METHODS = {"hybrid": "hybrid", "grid": "grid", "nsga2": "NSGA-II"}
# How walk-forward picks a point of an in-sample front: rule -> (metric, sign of the score minimized).
PICK_RULES = {"max_sharpe": ("sharpe", -1), "max_return": ("return_pct", -1), "min_drawdown": ("max_drawdown_pct", 1)}

# Hypervolume reference point per objective, in the minimized form (maximized objectives negated):
# a point at least this bad adds nothing. Return -100%, drawdown 100%, Sharpe -10, win rate 0%,
# profit factor 0, 0 trades.
REFERENCE_POINT = {"return": 100.0, "drawdown": 100.0, "sharpe": 10.0, "win_rate": 0.0, "profit_factor": 0.0, "trades": 0.0}


class BudgetExhausted(Exception):
    pass


@dataclass
class Record:
    x: tuple
    params: dict
    metrics: dict
    phase: str
    generation: int


@dataclass
class SearchState:
    """Every evaluated point, memoized: a parameter set is evaluated at most once.

    `records` are the points this search has visited, in order; `memo` also holds results stored by
    an earlier attempt (`preload`). The search is a pure function of its seed and the results, and
    the budget counts visited points, so a resumed search replays its stored part for free and
    continues exactly where the interrupted one stopped. Each batch of new evaluations is reported
    through `on_batch(records, state)` (persist, progress); `should_stop()` cancels.
    """

    space: ParameterSpace
    objectives: list[str]
    constraints: list[Constraint]
    evaluator: Callable[[list[dict]], list[dict]]
    budget: int
    on_batch: Callable[[list[Record], "SearchState"], None] | None = None
    should_stop: Callable[[], bool] | None = None
    max_batch: int = 100  # new points evaluated between two reports (persist, progress, cancel)
    records: list[Record] = field(default_factory=list)
    memo: dict = field(default_factory=dict)
    hv_history: list = field(default_factory=list)
    evaluations: int = 0  # new evaluations made by this attempt
    _visited: set = field(default_factory=set)

    def preload(self, records: list[Record]) -> None:
        """Results stored by an earlier attempt: known, and never evaluated again."""
        for r in records:
            self.memo.setdefault(r.x, r)

    @property
    def remaining(self) -> int:
        return self.budget - len(self.records)

    def evaluate_batch(self, xs, *, phase: str, generation: int = 0, allow_partial: bool = True) -> list[Record]:
        """Records for `xs` (snapped), visiting new points within the budget."""
        if self.should_stop and self.should_stop():
            raise BudgetExhausted("stopped")
        snapped = [self.space.snap(x) for x in xs]
        fresh = list(dict.fromkeys(x for x in snapped if x not in self._visited))
        if len(fresh) > self.remaining:
            if not allow_partial or self.remaining <= 0:
                raise BudgetExhausted("budget")
            fresh = fresh[: self.remaining]
        # In slices of at most `max_batch` new points: each slice is recorded and reported (persist,
        # progress, cancel) before the next is evaluated, so a large grid never goes silent.
        for start in range(0, len(fresh), self.max_batch):
            if start and self.should_stop and self.should_stop():
                raise BudgetExhausted("stopped")
            part = fresh[start:start + self.max_batch]
            unknown = [x for x in part if x not in self.memo]
            if unknown:
                params = [self.space.decode(x) for x in unknown]
                metrics = self.evaluator(params)
                new = [Record(x, p, m, phase, generation) for x, p, m in zip(unknown, params, metrics)]
                for r in new:
                    self.memo[r.x] = r
                self.evaluations += len(new)
            self._visited.update(part)
            self.records.extend(self.memo[x] for x in part)
            if start + self.max_batch >= len(fresh):  # the hypervolume once per batch: it ranks every record
                self.hv_history.append((len(self.records), self.hypervolume()))
            if unknown and self.on_batch:
                self.on_batch([self.memo[x] for x in unknown], self)
        return [self.memo[x] for x in snapped if x in self._visited]

    # -- fronts ---------------------------------------------------------------------------------
    def matrices(self, records=None):
        records = self.records if records is None else records
        metrics = [r.metrics for r in records]
        F = objective_matrix(metrics, self.objectives)
        G = constraint_matrix(metrics, self.constraints) if self.constraints else np.zeros((len(records), 0))
        cv = np.maximum(G, 0).sum(axis=1) if G.size else np.zeros(len(records))
        return F, G, cv

    def front(self, records=None) -> list[int]:
        """Indices of the non-dominated feasible records (feasibility first: with none feasible,
        the least-violating records)."""
        records = self.records if records is None else records
        if not records:
            return []
        F, _, cv = self.matrices(records)
        feasible = np.flatnonzero(cv <= 0)
        if not len(feasible):
            return list(np.flatnonzero(cv == cv.min()))
        first = NonDominatedSorting().do(F[feasible], only_non_dominated_front=True)
        return sorted(int(feasible[i]) for i in first)

    def ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """Dominance rank (0 = front; infeasible after all feasible) and crowding distance per record."""
        F, _, cv = self.matrices()
        rank = np.full(len(F), -1)
        crowd = np.zeros(len(F))
        feasible = np.flatnonzero(cv <= 0)
        offset = 0
        if len(feasible):
            for k, front in enumerate(NonDominatedSorting().do(F[feasible])):
                idx = feasible[front]
                rank[idx] = k
                crowd[idx] = calc_crowding_distance(F[idx]) if len(idx) > 2 else np.inf
            offset = rank.max() + 1
        infeasible = np.flatnonzero(cv > 0)
        if len(infeasible):
            order = np.argsort(cv[infeasible], kind="stable")
            rank[infeasible[order]] = offset + np.arange(len(order))
        return rank, crowd

    def hypervolume(self, records=None) -> float:
        idx = self.front(records)
        records = self.records if records is None else records
        if not idx:
            return 0.0
        F, _, cv = self.matrices([records[i] for i in idx])
        if (cv > 0).any():
            return 0.0
        ref = np.array([REFERENCE_POINT[o] for o in self.objectives])
        return float(HV(ref_point=ref)(F))


class _SnapRepair(Repair):
    def __init__(self, space: ParameterSpace):
        super().__init__()
        self.space = space

    def _do(self, problem, X, **kwargs):
        return np.array([self.space.snap(x) for x in X], dtype=float)


class GeneticOptimizer:
    """NSGA-II (pymoo) driven ask/tell, so the caller reports progress, cancels and checkpoints
    between generations. Integer and stepped parameters are repaired onto their grid."""

    def __init__(self, space: ParameterSpace, n_obj: int, n_constr: int, *, pop_size: int = 40, seed: int = 0,
                 xl=None, xu=None, initial=None, max_generations: int = 1000):
        self.space = space
        xl = space.xl if xl is None else np.asarray(xl, float)
        xu = space.xu if xu is None else np.asarray(xu, float)
        self.problem = Problem(n_var=len(space.parameters), n_obj=n_obj, n_ieq_constr=n_constr, xl=xl, xu=xu)
        sampling = np.asarray(initial, float) if initial is not None and len(initial) else None
        options = {"sampling": sampling} if sampling is not None else {}
        self.algorithm = NSGA2(pop_size=pop_size, repair=_SnapRepair(space), eliminate_duplicates=True, **options)
        self.algorithm.setup(self.problem, termination=("n_gen", max_generations), seed=seed, verbose=False)
        self._pop = None

    @property
    def generation(self) -> int:
        return int(self.algorithm.n_gen or 0)

    def has_next(self) -> bool:
        return self.algorithm.has_next()

    def ask(self) -> np.ndarray | None:
        """The next generation's points; None when pymoo has nothing new to offer (a tiny space)."""
        self._pop = self.algorithm.ask()
        return None if self._pop is None else self._pop.get("X")

    def tell(self, F: np.ndarray, G: np.ndarray | None = None) -> None:
        kwargs = {"F": F} if G is None or not G.size else {"F": F, "G": G}
        Evaluator().eval(StaticProblem(self.problem, **kwargs), self._pop)
        self.algorithm.tell(infills=self._pop)


def _run_genetic(state: SearchState, *, phase: str, pop_size: int, seed: int, budget: int, xl=None, xu=None, initial=None,
                 max_generations: int = 100):
    """NSGA-II until `budget` new evaluations are spent or `max_generations` pass.

    The loop depends only on the seed and the results, never on which results were already known,
    so a resumed search replays its stored generations and continues exactly where it stopped."""
    ga = GeneticOptimizer(state.space, len(state.objectives), len(state.constraints), pop_size=pop_size, seed=seed,
                          xl=xl, xu=xu, initial=initial, max_generations=max_generations)
    stop_at = len(state.records) + budget
    while ga.has_next() and len(state.records) < stop_at:
        X = ga.ask()
        if X is None or not len(X):
            break
        records = state.evaluate_batch(X, phase=phase, generation=ga.generation)
        if len(records) < len(X):  # the budget ran out mid-generation: stop here
            break
        F, G, _ = state.matrices(records)
        ga.tell(F, G)


def optimize_grid(state: SearchState, divisions: int) -> None:
    state.evaluate_batch(state.space.grid(divisions), phase="grid")


def optimize_nsga2(state: SearchState, *, pop_size: int = 40, seed: int = 0) -> None:
    try:
        _run_genetic(state, phase="nsga2", pop_size=pop_size, seed=seed, budget=state.remaining)
    except BudgetExhausted:
        pass


@dataclass
class HybridOptimizer:
    """Phase 1: a coarse grid (`divisions` per parameter, fewer if it would take over 40% of the
    budget); phase 2: NSGA-II in boxes of one grid cell around the top-K front grid points (most
    spread first), sharing the budget until 20% is left; phase 3: a fine local grid (one step of
    each parameter, nearest neighbours first) around the front points. Budget shared, memoized."""

    divisions: int = 4
    top_k: int = 3
    pop_size: int = 20
    seed: int = 0
    phase3_share: float = 0.2

    def run(self, state: SearchState, on_phase: Callable[[str], None] | None = None) -> None:
        space = state.space
        try:
            divisions = self.divisions
            while divisions > 2 and len(space.grid(divisions)) > 0.4 * state.budget:
                divisions -= 1
            on_phase and on_phase("grid")
            grid = space.grid(divisions)
            state.evaluate_batch(grid, phase="grid")
            on_phase and on_phase("nsga2")
            self._phase2(state, grid_records=[state.memo[space.snap(x)] for x in grid if space.snap(x) in state.memo], divisions=divisions)
            on_phase and on_phase("local")
            self._phase3(state)
        except BudgetExhausted as exc:
            if str(exc) == "stopped":
                raise

    def _phase2(self, state: SearchState, grid_records, divisions: int) -> None:
        space = state.space
        front = state.front(grid_records)
        if not front:
            return
        F, _, _ = state.matrices([grid_records[i] for i in front])
        crowd = calc_crowding_distance(F) if len(front) > 2 else np.full(len(front), np.inf)
        chosen = [grid_records[front[i]] for i in np.argsort(-crowd, kind="stable")[: self.top_k]]
        cell = (space.xu - space.xl) / max(divisions - 1, 1)
        reserve = int(self.phase3_share * state.budget)
        for k, center in enumerate(chosen):
            share = (state.remaining - reserve) // (len(chosen) - k)
            if share <= 0:
                break
            x = np.array(center.x)
            xl, xu = np.maximum(space.xl, x - cell), np.minimum(space.xu, x + cell)
            inside = [r.x for r in grid_records if np.all(np.array(r.x) >= xl) and np.all(np.array(r.x) <= xu)]
            rng = np.random.default_rng(self.seed + k)
            fill = rng.uniform(xl, xu, size=(max(0, self.pop_size - len(inside)), len(x)))
            initial = np.vstack([np.array(inside[: self.pop_size]), fill]) if len(fill) else np.array(inside[: self.pop_size])
            _run_genetic(state, phase="nsga2", pop_size=self.pop_size, seed=self.seed + k, budget=share, xl=xl, xu=xu,
                         initial=np.array([space.snap(v) for v in initial]))

    def _phase3(self, state: SearchState) -> None:
        space = state.space
        steps = np.array([(p.step or (1.0 if p.kind in ("int", "choice") else (p.high - p.low) / 20)) for p in space.parameters])
        front = state.front()
        if not front:
            return
        F, _, _ = state.matrices([state.records[i] for i in front])
        crowd = calc_crowding_distance(F) if len(front) > 2 else np.full(len(front), np.inf)
        centers = [state.records[front[i]].x for i in np.argsort(-crowd, kind="stable")]
        offsets = sorted(itertools.product((-1, 0, 1), repeat=len(steps)), key=lambda o: (sum(map(abs, o)), o))[1:]
        for center in centers:
            if state.remaining <= 0:
                return
            candidates = [tuple(np.array(center) + np.array(o) * steps) for o in offsets]
            state.evaluate_batch(candidates, phase="local")


def pick_point(state: SearchState, rule: str = "max_sharpe") -> Record | None:
    """A point from the feasible front by a stated rule: `max_sharpe`, `max_return` or `min_drawdown`;
    None when no point meets the constraints."""
    idx = state.front()
    if idx:
        _, _, cv = state.matrices([state.records[i] for i in idx])
        idx = [i for i, v in zip(idx, cv) if v <= 0]
    if not idx:
        return None
    key, sign = PICK_RULES[rule]
    def score(i):
        v = state.records[i].metrics.get(key)
        return math.inf if v is None else sign * v
    return state.records[min(idx, key=score)]
