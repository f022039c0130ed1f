"""Writes of market data: imports (all-or-nothing, and seen all at once: a large one stages its bars
in short transactions, then publishes them; conflicting bars settled by a policy), resampling, the
demo series, deletion. Every write of bars is a CandleImport row, and every bar points at the one
that wrote it."""

from ._imports import (
    UploadRefused,
    candle_import_path_start,
    candle_import_path_work,
    candle_import_retry,
    candle_import_start,
    candle_import_work,
    candles_import_file,
    rejection_report,
    uploads_expire,
)
from ._series import DEMO_SOURCE, candles_resample, demo_data_load
from ._store import CHUNK, candles_delete, candles_delete_written_by, candles_discard_staged, candles_store

__all__ = [
    "UploadRefused",
    "CHUNK",
    "DEMO_SOURCE",
    "candle_import_path_start",
    "candle_import_path_work",
    "candle_import_retry",
    "candle_import_work",
    "candle_import_start",
    "candles_delete",
    "candles_delete_written_by",
    "candles_discard_staged",
    "candles_import_file",
    "candles_resample",
    "candles_store",
    "demo_data_load",
    "rejection_report",
    "uploads_expire",
]
