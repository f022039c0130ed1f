"""Import speed, read-back speed and M1 -> H1 agreement, measured on this machine.

    .venv/bin/python bench/import_speed.py [--database-url URL]

Imports the 186,348-row `EURUSD_M1_2017-01_2017-06.csv` into a fresh scratch database (a temp
SQLite file unless --database-url is given) through the same service the command uses, and
compares that M1 series resampled to H1 with `EURUSD_H1_2014-2024.csv` on their common hours. Reads
the stored series back (what every page, training run and backtest does) with `candles_frame` and,
alternating with it in the same run, through Django's per-row converters (`values_list`, as
`candles_frame` read before 2026-11-27): the median of 5 reads each, the same frame checked.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("FOREXGPT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    m1_path, h1_path = DATA / "EURUSD_M1_2017-01_2017-06.csv", DATA / "EURUSD_H1_2014-2024.csv"
    if not m1_path.exists():
        sys.exit(f"{m1_path} is absent: the benchmark needs ../shared/data")

    from scratch_django import scratch_django

    scratch_django(args.database_url)
    from django.db import connection

    from marketdata.engine import normalize_timeframe, pip_size, read_candles, resample_ohlcv, validate
    from marketdata.models import Candle
    from marketdata.request import ImportRequest
    from marketdata.selectors import OHLCV, candles_frame, candles_queryset
    from marketdata.services import candles_import_file

    Candle.objects.filter(symbol="EURUSD", timeframe="1m").delete()
    started = time.perf_counter()
    parsed = validate(read_candles(m1_path))
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    report = candles_import_file(source=m1_path, request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    import_s = time.perf_counter() - started
    started = time.perf_counter()
    again = candles_import_file(source=m1_path, request=ImportRequest(symbol="EURUSD", timeframe="1m"))
    reimport_s = time.perf_counter() - started

    def through_converters():
        import pandas as pd

        rows = list(candles_queryset(symbol="EURUSD", timeframe="1m").values_list("ts", *OHLCV))
        frame = pd.DataFrame(rows, columns=["ts", *OHLCV])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame

    if not candles_frame(symbol="EURUSD", timeframe="1m").equals(through_converters()):
        sys.exit("candles_frame and the ORM's values_list read different frames")
    reads = {"candles_frame": [], "values_list": []}
    for _ in range(5):
        for name, read in (
            ("candles_frame", lambda: candles_frame(symbol="EURUSD", timeframe="1m")),
            ("values_list", through_converters),
        ):
            started = time.perf_counter()
            read()
            reads[name].append(time.perf_counter() - started)
    read_s = {name: statistics.median(times) for name, times in reads.items()}

    h1 = validate(read_candles(h1_path)).set_index("ts")
    bars = resample_ohlcv(parsed, normalize_timeframe("1m"), normalize_timeframe("1h")).set_index("ts")
    common = bars.index.intersection(h1.index)
    cols = ["open", "high", "low", "close"]
    diff = (bars.loc[common, cols] - h1.loc[common, cols]).abs()
    pip = pip_size("EURUSD")
    result = {
        "database": connection.vendor,
        "rows": report["inserted"],
        "parse_and_validate_s": round(parse_s, 2),
        "import_s": round(import_s, 2),
        "import_rows_per_s": round(report["inserted"] / import_s),
        "reimport_s": round(reimport_s, 2),
        "reimport_duplicates": again["duplicates"],
        "read_s": {name: round(v, 3) for name, v in read_s.items()},
        "read_speedup_vs_values_list": round(read_s["values_list"] / read_s["candles_frame"], 2),
        "h1_hours_compared": len(common),
        "share_within_1_pip_all_ohlc": round(float((diff <= pip + 1e-9).all(axis=1).mean()), 4),
        "share_within_1_pip_by_field": {c: round(float((diff[c] <= pip + 1e-9).mean()), 4) for c in cols},
        "median_abs_diff_pips": {c: round(float(diff[c].median() / pip), 2) for c in cols},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
