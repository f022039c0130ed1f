"""Market data engine: read real candle exports, validate, flag anomalies, resample. No Django here."""

from ._errors import ImportRejected, RowError
from ._formats import DEFAULT_TZ, FORMATS, ParsedFile, detect_format, read_candles, read_text
from ._resample import resample_ohlcv
from ._symbols import Timeframe, normalize_symbol, normalize_timeframe, pip_size
from ._validate import ANOMALY_KINDS, AnomalyScan, drop_anomalies, scan_anomalies, validate

__all__ = [
    "ANOMALY_KINDS",
    "AnomalyScan",
    "DEFAULT_TZ",
    "FORMATS",
    "ImportRejected",
    "ParsedFile",
    "RowError",
    "Timeframe",
    "detect_format",
    "drop_anomalies",
    "normalize_symbol",
    "normalize_timeframe",
    "pip_size",
    "read_candles",
    "read_text",
    "resample_ohlcv",
    "scan_anomalies",
    "validate",
]
