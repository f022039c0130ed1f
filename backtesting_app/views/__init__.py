"""Pages, one module per feature: `backtests` (runs, compare, patterns) and `optimizations`."""
