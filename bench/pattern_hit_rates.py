"""Hit rates of every pattern on all of EURUSD_H1_2014-2024.csv.

    .venv/bin/python bench/pattern_hit_rates.py [--forward-bars 12]

A hit is a log return over the next N bars in the pattern's direction (doji has none).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backtesting_app.engine import ohlc_frame  # noqa: E402
from backtesting_app.engine.patterns import pattern_events, pattern_summary  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--forward-bars", type=int, default=12)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    ohlc = ohlc_frame(pd.read_csv(DATA).rename(columns={"timestamp": "ts"}))
    summary = pattern_summary(pattern_events(ohlc, forward_bars=args.forward_bars))
    print(f"{len(ohlc):,} bars, forward {args.forward_bars} bars")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
