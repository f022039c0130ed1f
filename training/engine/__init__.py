"""Diffusion forecaster engine: features, model, hardware, optimization config, training, forecasts,
quality, the train / validation / test periods. No Django here.

The names below load their module on first use (PEP 562), so a web process that only needs
`chronological_split` or the sampler names does not import torch (seconds, and hundreds of MB per
web worker); only the model, training and inference modules do."""

from importlib import import_module

_EXPORTS = {
    "features": ("Normalizer", "chronological_split", "horizon_targets", "make_features", "windows"),
    "forecast": (
        "BASELINES",
        "QUANTILE_NAMES",
        "QUANTILES",
        "baseline_scores",
        "crps_samples",
        "forecast_scores",
        "shrink_drift",
        "strongest_baseline",
        "summarize",
    ),
    "hardware": ("HardwareInfo", "detect_hardware"),
    "model": ("DiffusionForecaster", "EnsembleForecaster", "build_forecaster", "sample_forecasts"),
    "optimization": ("OptimizationConfig", "UserChoices", "build_config"),
    "periods": ("in_sample_of", "origin_parts", "period_overlap", "periods_of", "sample_label_of"),
    "sampling": ("DEFAULT_SAMPLER", "DEFAULT_STEPS", "SAMPLERS"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
