"""Training throughput of the default model on this machine: fp32 eager vs the chosen configuration,
and each optimization alone, measured side by side in one run.

    .venv/bin/python bench/train_throughput.py [--batch 64] [--steps 30] [--precision bf16-mixed] [--compile]

The chosen configuration is what hardware detection picks (on a CPU: fp32 eager, so the table is the
baseline alone unless options are forced with the flags, which then get measured too).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.engine import UserChoices, build_config, detect_hardware  # noqa: E402
from training.engine.speedup import estimate_speedup  # noqa: E402
from training.engine.trainer import model_kwargs, prepare_data  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--precision", default=None)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--gradient_checkpointing", action="store_true")
    args = p.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    data = prepare_data(pd.read_csv(DATA, nrows=20_000).rename(columns={"timestamp": "ts"}))
    hw = detect_hardware()
    choices = UserChoices(
        precision=args.precision,
        compile=True if args.compile else None,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    cfg = build_config(hw, choices)
    rows = estimate_speedup(
        model_kwargs(data, cfg),
        data.x["train"],
        data.y["train"],
        cfg,
        batch_size=args.batch,
        epochs=30,
        steps=args.steps,
    )
    device = ", ".join(g.name for g in hw.gpus) or f"CPU ({hw.cpu_cores} cores)"
    print(json.dumps({"device": device, "batch": args.batch, "timed_steps": args.steps, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
