"""Diffusion forecaster engine: features, model, hardware, optimization config, training, forecasts,
quality. No Django here."""

from .features import Normalizer, chronological_split, horizon_targets, make_features, windows
from .forecast import (QUANTILE_NAMES, QUANTILES, crps_samples, ewma_gaussian_samples, forecast_scores,
                       random_walk_samples, summarize)
from .hardware import HardwareInfo, detect_hardware
from .model import DiffusionForecaster
from .optimization import OptimizationConfig, UserChoices, build_config
from .sampling import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS

__all__ = [
    "DEFAULT_SAMPLER", "DEFAULT_STEPS", "QUANTILES", "QUANTILE_NAMES", "SAMPLERS", "DiffusionForecaster", "HardwareInfo",
    "Normalizer", "OptimizationConfig", "UserChoices",
    "build_config", "chronological_split", "crps_samples", "detect_hardware", "ewma_gaussian_samples", "forecast_scores",
    "horizon_targets", "make_features", "random_walk_samples", "summarize", "windows",
]
