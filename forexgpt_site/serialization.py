"""Values made storable as JSON, one rule everywhere (job results, API answers): numpy scalars become
Python numbers, timestamps ISO 8601 text, durations text, NaN null, and infinity the strings "inf" /
"-inf" (an infinite interval width or profit factor is a result, not a missing value)."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd


def json_value(value):
    """`value` (nested dicts, lists and tuples too) as JSON-compatible Python values."""
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return str(value)
    return value
