#!/usr/bin/env bash
# Forecasts/s on an NVIDIA GPU: the old 20-step DDIM path vs the default sampler, fp32 vs bf16, on
# 8,192 evenly spaced test windows of EURUSD H1, with quality against the old path (bench/forecast_throughput.py
# --device cuda). Run from the repository root; needs the trained bench model and the data:
#
#   .venv/bin/python bench/forecast_throughput.py --windows 8 --skip-epoch --eval-windows 0   # trains it once here
#   mkdir -p .gpu-data && cp /tmp/forexgpt-forecast-bench.pt .gpu-data/forecast-bench.pt
#   cp ../shared/data/EURUSD_H1_2014-2024.csv .gpu-data/
#   bash bench/gpu_forecast.sh [OUT_DIR]     (on the GPU host; $OUT wins where it is set)
set -uo pipefail
OUT="${OUT:-${1:-bench/out/gpu}}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"${PYTHON:-python3}" bench/forecast_throughput.py --device cuda --checkpoint .gpu-data/forecast-bench.pt \
    --windows 8192 --gpu-batch "${GPU_BATCH:-4096}" > "$OUT/forecast-gpu.json" 2> >(tee "$OUT/forecast-gpu.log" >&2)
echo "exit $?"
