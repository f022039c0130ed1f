"""Market data engine: read real candle exports, validate, flag anomalies, resample. No Django here."""

from ._conflicts import (
    CONFLICT_POLICIES,
    DEFAULT_CONFLICT_POLICY,
    NEIGHBOUR_WINDOW,
    BarComparison,
    compare_bars,
    conflict_rejection,
    price_scale_refusal,
)
from ._errors import ImportConflict, ImportRejected, RowError
from ._formats import (
    DUKASCOPY_TZ_REFUSAL,
    FORMATS,
    ImportFormat,
    ParsedFile,
    detect_format,
    import_format,
    import_formats,
    read_candles,
    read_text,
    register_format,
    unregister_format,
    zone,
)
from ._resample import bin_count, resample_ohlcv
from ._symbols import WEEK_MINUTES, Timeframe, normalize_symbol, normalize_timeframe, pip_size
from ._validate import ANOMALY_KINDS, DROPPABLE, AnomalyScan, check_spacing, drop_anomalies, scan_anomalies, validate

__all__ = [
    "ANOMALY_KINDS",
    "AnomalyScan",
    "BarComparison",
    "CONFLICT_POLICIES",
    "DEFAULT_CONFLICT_POLICY",
    "DROPPABLE",
    "DUKASCOPY_TZ_REFUSAL",
    "FORMATS",
    "ImportConflict",
    "ImportFormat",
    "ImportRejected",
    "ParsedFile",
    "RowError",
    "Timeframe",
    "WEEK_MINUTES",
    "bin_count",
    "check_spacing",
    "compare_bars",
    "conflict_rejection",
    "NEIGHBOUR_WINDOW",
    "price_scale_refusal",
    "detect_format",
    "import_format",
    "import_formats",
    "drop_anomalies",
    "normalize_symbol",
    "register_format",
    "unregister_format",
    "normalize_timeframe",
    "pip_size",
    "read_candles",
    "read_text",
    "resample_ohlcv",
    "scan_anomalies",
    "validate",
    "zone",
]
