"""Public optimizer API (re-exported here so callers need one import)."""

from ._evaluate import EVALUATORS, BacktestProblem, InProcessEvaluator, PoolEvaluator
from ._evidence import (
    HOLDOUT_SHARE,
    PERMUTATIONS,
    bars_range,
    model_value,
    returns_matrix,
    selection_statistics,
    split_holdout,
)
from ._importance import parameter_importance
from ._objectives import OBJECTIVES, Constraint, check_objectives, fast_metrics, objective_vector, parse_constraints
from ._overfitting import (
    MAX_PBO_BLOCKS,
    PBO_METRICS,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_variance_of,
    spa_test,
)
from ._search import (
    METHODS,
    PICK_RULES,
    REFERENCE_POINT,
    BudgetExhausted,
    GeneticOptimizer,
    HybridOptimizer,
    Record,
    SearchState,
    optimize_grid,
    optimize_nsga2,
    pick_point,
)
from ._space import Parameter, ParameterSpace, default_space
from ._walkforward import walk_forward

__all__ = [
    "objective_vector",
    "EVALUATORS",
    "METHODS",
    "OBJECTIVES",
    "PICK_RULES",
    "REFERENCE_POINT",
    "BacktestProblem",
    "BudgetExhausted",
    "Constraint",
    "GeneticOptimizer",
    "HybridOptimizer",
    "InProcessEvaluator",
    "Parameter",
    "ParameterSpace",
    "PoolEvaluator",
    "Record",
    "SearchState",
    "check_objectives",
    "default_space",
    "fast_metrics",
    "optimize_grid",
    "optimize_nsga2",
    "parse_constraints",
    "pick_point",
    "walk_forward",
    "MAX_PBO_BLOCKS",
    "PBO_METRICS",
    "deflated_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_variance_of",
    "spa_test",
    "parameter_importance",
    "HOLDOUT_SHARE",
    "PERMUTATIONS",
    "bars_range",
    "model_value",
    "returns_matrix",
    "selection_statistics",
    "split_holdout",
]
