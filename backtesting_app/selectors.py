from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Case, F, FloatField, Func, Q, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Greatest, Mod

from backtesting_app.engine.optimize import OBJECTIVES, objective_vector, parameter_importance, parse_constraints
from backtesting_app.engine.patterns import pattern_events, pattern_summary
from backtesting_app.models import BacktestRun, OptimizationResult, OptimizationRun
from backtesting_app.services import load_bars
from forexgpt_site.errors import DomainError, domain_errors
from forexgpt_site.jobs import request_of
from marketdata.selectors import candles_queryset


def backtest_equity(run: BacktestRun) -> pd.DataFrame:
    if not run.equity:
        raise DomainError(f"backtest {run.pk} has no results yet (status {run.status})")
    with run.equity.open("rb") as fh:
        frame = pd.read_csv(fh)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


@domain_errors()  # what the pattern engine refuses (a pattern, a range) is the caller's refusal
def pattern_scan(*, symbol: str, timeframe: str, start=None, end=None, forward_bars: int = 12, patterns=None) -> dict:
    """Detected patterns in a range with forward returns after `forward_bars` bars and hit rates.
    ValueError for a range of more than FOREXGPT_PATTERN_SCAN_MAX_BARS bars (counted before any is read)."""
    limit = settings.FOREXGPT_PATTERN_SCAN_MAX_BARS
    bars = candles_queryset(symbol=symbol, timeframe=timeframe, start=start, end=end).count()
    if bars > limit:
        raise DomainError(
            f"that range holds {bars:,} {symbol} {timeframe} bars; a pattern scan reads at most {limit:,} "
            f"(FOREXGPT_PATTERN_SCAN_MAX_BARS): choose a shorter range or a coarser timeframe"
        )
    ohlc = load_bars(symbol=symbol, timeframe=timeframe, start=start, end=end)
    events = pattern_events(ohlc, patterns, forward_bars=forward_bars)
    return {
        "bars": len(ohlc),
        "forward_bars": forward_bars,
        "events": events,
        "summary": pattern_summary(events),
        "ohlc": ohlc,
    }


def exit_reason(trade: dict, *, last_bar: int) -> str:
    """Why a trade closed, read off its fills: at or through its stop ("stop loss"), at or beyond its
    target ("take profit"), on the range's last bar ("end of data"), else the strategy closed it
    ("max hold")."""
    long = trade["Size"] > 0
    price, sl, tp = trade["ExitPrice"], trade.get("SL"), trade.get("TP")
    tolerance = 1e-9 * abs(price)
    if sl is not None and (price <= sl + tolerance if long else price >= sl - tolerance):
        return "stop loss"
    if tp is not None and (price >= tp - tolerance if long else price <= tp + tolerance):
        return "take profit"
    return "end of data" if trade["ExitBar"] >= last_bar else "max hold"


def pareto_front_for_run(run: OptimizationRun):
    return (
        OptimizationResult.objects.filter(run=run, front_entry__isnull=False)
        .select_related("front_entry")
        .order_by("id")
    )


def optimization_summary(run: OptimizationRun) -> dict:
    """What scripts and the command print: counts per phase, hypervolume, the front with its stats.
    Each front point is one objective vector; `equivalent` lists the other parameter sets reaching it."""
    request = request_of(run)
    same = {}
    for r in OptimizationResult.objects.filter(run=run, rank=0, feasible=True).order_by("id"):
        same.setdefault(objective_vector(r.metrics, request.objectives), []).append(r)
    front = []
    for r in pareto_front_for_run(run):
        others = [o.params for o in same.get(objective_vector(r.metrics, request.objectives), []) if o.pk != r.pk]
        front.append(
            {
                "id": r.pk,
                "params": r.params,
                "metrics": r.metrics,
                "phase": r.phase,
                "crowding_distance": r.front_entry.crowding_distance,
                "parameter_sets": 1 + len(others),
                "equivalent": others,
                "rerun": r.stats is not None,
                "holdout": r.holdout_metrics,
                "reference": {
                    k: (r.stats or {}).get(k) for k in ("Return [%]", "Max. Drawdown [%]", "Sharpe Ratio", "# Trades")
                },
            }
        )
    return {
        "id": run.pk,
        "status": run.status,
        "message": run.message,
        "method": run.method,
        "budget": request.budget,
        "objectives": list(request.objectives),
        "constraints": request.constraints,
        "evaluations": run.results.count(),
        "phase_counts": run.phase_counts,
        "hypervolume": run.hv_history[-1][1] if run.hv_history else None,
        "reference_point": run.reference_point,
        "front": front,
        "walk_forward": run.walk_forward_result,
        "front_reruns": sum(p["rerun"] for p in front),
        "front_rerun_limit": settings.FOREXGPT_FRONT_RERUNS,
        "holdout": request.holdout,
        "evidence": run.evidence,
    }


# --- The trials view: every evaluated parameter set, sorted, filtered and paged in the database -------------

TRIALS_PER_PAGE = 50
CHART_POINTS = 5_000  # evaluations drawn in the run's charts and fitted for importance; beyond it an even sample
TRIAL_COLUMNS = ("id", "phase", "generation", "rank", "feasible", "violation")
TRIAL_METRICS = tuple(key for key, _ in OBJECTIVES.values())
_YES, _NO = ("1", "yes", "true", "on"), ("0", "no", "false", "off")


@dataclass(frozen=True)
class TrialQuery:
    """Which evaluated parameter sets the trials table shows, in which order: `sort` is a column, a metric
    or a searched parameter (a leading "-" descends; missing values last, ties by id); `bounds` holds
    (key, "min" | "max", value) ranges on metrics and numeric parameters."""

    sort: str = "id"
    phase: str = ""
    feasible: bool | None = None
    front: bool = False
    bounds: tuple[tuple[str, str, float], ...] = ()
    page: int = 1
    errors: tuple[str, ...] = field(default=(), compare=False)

    def as_params(self, **changes) -> dict:
        """The query string of this query with `changes` (page=, sort=), without defaults."""
        q = replace(self, **changes)
        out = {
            "sort": q.sort if q.sort != "id" else "",
            "phase": q.phase,
            "feasible": "" if q.feasible is None else ("yes" if q.feasible else "no"),
            "front": "yes" if q.front else "",
            **{f"{bound}_{key}": repr(value) for key, bound, value in q.bounds},
            "page": q.page if q.page != 1 else "",
        }
        return {k: v for k, v in out.items() if v != ""}


def optimization_parameter_kinds(run: OptimizationRun) -> dict[str, str]:
    """The run's searched parameters in order, each with its kind (float, int or choice)."""
    space = request_of(run).space
    if isinstance(space, dict):  # the mapping form a request may give
        return {name: spec.get("kind", "float") for name, spec in space.items()}
    return {p["name"]: p.get("kind", "float") for p in space}


def optimization_trial_query(*, run: OptimizationRun, params, strict: bool = False) -> TrialQuery:
    """A TrialQuery from query parameters (sort, phase, feasible, front, min_<key>, max_<key>, page).
    A bad value is a ValueError naming it when `strict` (the API); otherwise it is left out and named
    in `errors` (the page)."""
    kinds = optimization_parameter_kinds(run)
    numeric = set(TRIAL_METRICS) | {name for name, kind in kinds.items() if kind != "choice"}
    errors, fields = [], {}

    def bad(message):
        if strict:
            raise DomainError(message)
        errors.append(message)

    sort = (params.get("sort") or "id").strip()
    key = sort.lstrip("-")
    if key in (*TRIAL_COLUMNS, *TRIAL_METRICS, *kinds):
        fields["sort"] = ("-" if sort.startswith("-") else "") + key
    else:
        bad(f"sort: unknown column {key!r}; sort by {', '.join((*TRIAL_COLUMNS, *TRIAL_METRICS, *kinds))}")
    phase = (params.get("phase") or "").strip()
    if phase and phase not in ("grid", "nsga2", "local"):
        bad(f"phase: {phase!r} is none of grid, nsga2, local")
    elif phase:
        fields["phase"] = phase
    for name in ("feasible", "front"):
        value = (params.get(name) or "").strip().lower()
        if value in _YES or value in _NO:
            fields[name] = value in _YES
        elif value:
            bad(f"{name}: say yes or no, not {value!r}")
    bounds = []
    for name in params:
        bound, _, key = name.partition("_")
        if bound not in ("min", "max") or not key or params.get(name) in ("", None):
            continue
        if key not in numeric:
            bad(f"{name}: {key!r} is not a metric or a numeric searched parameter")
            continue
        try:
            value = float(params.get(name))
        except (TypeError, ValueError):
            bad(f"{name}: {params.get(name)!r} is not a number")
            continue
        if not math.isfinite(value):
            bad(f"{name}: {params.get(name)!r} is not a finite number")
            continue
        bounds.append((key, bound, value))
    page = params.get("page") or "1"
    try:
        fields["page"] = max(1, int(page))
    except (TypeError, ValueError):
        bad(f"page: {page!r} is not a whole number")
    return TrialQuery(**fields, bounds=tuple(sorted(bounds)), errors=tuple(errors))


def _number_of(field_name: str, key: str):
    """A JSON key's number; SQL NULL where the key is missing or null (SQLite's ->> gives the text 'null',
    which casts to 0)."""
    path = f"{field_name}__{key}"
    return Case(
        When(**{path: None}, then=Value(None, output_field=FloatField())),
        default=Cast(KT(path), FloatField()),
        output_field=FloatField(),
    )


def _violation_expression(constraints) -> Func | Value:
    """The sum of the run's constraint violations (pymoo's CV: the positive parts), as Constraint.violation
    counts them: a missing metric violates by 1e9."""
    terms = []
    for c in constraints:
        missing = c.value - 1e9 if c.bound == "min" else c.value + 1e9
        x = Coalesce(_number_of("metrics", c.metric), Value(missing), output_field=FloatField())
        gap = Value(c.value) - x if c.bound == "min" else x - Value(c.value)
        terms.append(Greatest(Value(0.0), gap, output_field=FloatField()))
    return sum(terms[1:], terms[0]) if terms else Value(0.0, output_field=FloatField())


def optimization_trials_queryset(*, run: OptimizationRun, query: TrialQuery):
    """The run's results that `query` keeps, in its order: filters and order run in the database."""
    kinds = optimization_parameter_kinds(run)
    qs = OptimizationResult.objects.filter(run=run)
    if query.phase:
        qs = qs.filter(phase=query.phase)
    if query.feasible is not None:
        qs = qs.filter(feasible=query.feasible)
    if query.front:
        qs = qs.filter(rank=0, feasible=True)
    for i, (key, bound, value) in enumerate(query.bounds):
        qs = qs.annotate(**{f"bound_{i}": _number_of("params" if key in kinds else "metrics", key)})
        qs = qs.filter(**{f"bound_{i}__{'gte' if bound == 'min' else 'lte'}": value})
    key = query.sort.lstrip("-")
    if key == "violation":
        expression = _violation_expression(parse_constraints(request_of(run).constraints))
    elif key in TRIAL_METRICS:
        expression = _number_of("metrics", key)
    elif key in kinds:
        expression = KT(f"params__{key}") if kinds[key] == "choice" else _number_of("params", key)
    else:
        expression = F(key)
    if key != "id":
        qs = qs.annotate(sort_value=expression)
        expression = F("sort_value")
    order = expression.desc(nulls_last=True) if query.sort.startswith("-") else expression.asc(nulls_last=True)
    return qs.order_by(order, "id") if key != "id" else qs.order_by(order)


def optimization_trials(*, run: OptimizationRun, query: TrialQuery, per_page: int = TRIALS_PER_PAGE) -> dict:
    """One page of the trials table: rows (params, metrics, phase, generation, rank, feasible and the
    constraint violation), the page and the counts."""
    paginator = Paginator(
        optimization_trials_queryset(run=run, query=query).values(
            "id", "params", "metrics", "phase", "generation", "rank", "feasible"
        ),
        per_page,
    )
    page = paginator.get_page(query.page)
    constraints = parse_constraints(request_of(run).constraints)
    rows = [{**r, "violation": sum(max(0.0, c.violation(r["metrics"])) for c in constraints)} for r in page.object_list]
    return {"rows": rows, "page": page, "count": paginator.count, "total": run.results.count(), "query": query}


def optimization_chart_rows(*, run: OptimizationRun, limit: int | None = None) -> tuple[list[dict], int]:
    """The results the run's charts draw and its importance is fitted on, and how many there are in all:
    every one up to `limit` (default CHART_POINTS); beyond it every k-th by id (an even sample across the phases) and the whole
    feasible front."""
    limit = CHART_POINTS if limit is None else limit
    total = run.results.count()
    qs = run.results.order_by("id")
    if total > limit:
        step = math.ceil(total / limit)
        qs = qs.annotate(id_step=Mod("id", step)).filter(Q(id_step=0) | Q(rank=0, feasible=True))
    return list(qs.values("id", "params", "metrics", "rank", "feasible", "phase")), total


def optimization_importance(*, run: OptimizationRun, rows: list[dict]) -> dict:
    """parameter_importance of each of the run's objectives over `rows` (optimization_chart_rows)."""
    names = list(optimization_parameter_kinds(run))
    params = [r["params"] for r in rows]
    out = {}
    for objective in request_of(run).objectives:
        key = OBJECTIVES[objective][0]
        out[key] = parameter_importance(params, [r["metrics"].get(key) for r in rows], names=names)
    return out
