#!/usr/bin/env bash
# The GPU measurements, end to end, on an NVIDIA host: run from the repository root.
#
#   bash bench/gpu_check.sh [OUT_DIR]          (default bench/out/gpu; $OUT wins where it is set)
#   GPU_CHECK_STEPS="train forecast" bash bench/gpu_check.sh     only those steps (import is always needed)
#
# 1. installs what the host lacks: a CUDA build of torch is kept when present, else installed;
#    the platform's requirements (from wheels in .whl/ on a host without network);
#    requirements-gpu.txt one line at a time, recording what will not install and why;
# 2. loads EURUSD H1 into a fresh SQLite database ($GPU_CHECK_DATA, default ../shared/data or .gpu-data);
# 3. hardware --json; train --estimate_speedup for both denoisers; flash-attn vs SDPA; DALI vs
#    DataLoader; a real training run that registers a version; forecasts/s of that version.
# Every step writes JSON to a parts folder; results.json merges them after each step, so a step that
# fails or runs out of time loses nothing of the others. bench/gpu_report.py turns it into tables.
set -uo pipefail
OUT="${OUT:-${1:-bench/out/gpu}}"
mkdir -p "$OUT"
PARTS="${GPU_CHECK_PARTS:-/tmp/gpu_check_parts}"
rm -rf "$PARTS"; mkdir -p "$PARTS"
PY="${PYTHON:-python3}"
BATCH="${GPU_CHECK_BATCH:-1024}"          # speedup table batch: large enough to keep the GPU busy
EPOCHS="${GPU_CHECK_EPOCHS:-10}"
TRAIN_BATCH="${GPU_CHECK_TRAIN_BATCH:-256}"
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
export FOREXGPT_DATA_DIR="${FOREXGPT_DATA_DIR:-/tmp/forexgpt-gpu-check}"
export SECRET_KEY="${SECRET_KEY:-gpu-check-only-not-a-secret}"
rm -rf "$FOREXGPT_DATA_DIR"
STARTED=$(date +%s)
merge() { "$PY" bench/gpu_check.py merge "$PARTS" "$OUT/results.json" >/dev/null 2>&1; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
STEPS="${GPU_CHECK_STEPS:-import hardware speedup_transformer train forecast train_cuda_graphs attention loader speedup_unet}"
step() {  # step NAME TIMEOUT_S COMMAND... : stdout -> parts/NAME.json, stderr -> the log; skipped unless in $STEPS
  local name=$1 limit=$2; shift 2
  case " $STEPS " in *" $name "*) ;; *) return 0 ;; esac
  local t0=$(date +%s)
  echo "== $name (limit ${limit}s, $(( t0 - STARTED ))s in)"
  timeout "$limit" "$@" > "$PARTS/$name.out" 2> >(tail -c 20000 >&2)
  local rc=$?
  "$PY" - "$PARTS/$name.out" "$PARTS/$name.json" "$rc" "$(( $(date +%s) - t0 ))" <<'EOF'
import json, sys
raw, target, rc, secs = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start = 0 if raw.startswith("{") else raw.find("\n{") + 1  # the JSON document, after any chatter
try:
    body = json.loads(raw[start:]) if raw[start:start + 1] == "{" else {"stdout_tail": raw[-3000:]}
except ValueError:
    body = {"stdout_tail": raw[-3000:]}
body = body if isinstance(body, dict) else {"value": body}
body.update({"exit_code": rc, "timed_out": rc in (124, 137), "step_wall_s": secs})
open(target, "w").write(json.dumps(body, indent=2))
EOF
  echo "   exit $rc after $(( $(date +%s) - t0 ))s"
  merge
}

# --- 1. install (GPU_CHECK_SKIP_INSTALL=1: use what is installed, e.g. a dry run in .venv) -------
[ "${GPU_CHECK_SKIP_INSTALL:-0}" = 1 ] && echo '{"skipped": true}' > "$PARTS/install.json" || {
  echo "{"
  echo "\"torch_before\": $("$PY" -c 'import json,torch;print(json.dumps({"version":torch.__version__,"cuda":torch.version.cuda,"cuda_available":torch.cuda.is_available()}))' 2>/dev/null || echo null),"
  if ! "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    # No CUDA torch yet: the CUDA build for the driver's CUDA (PyTorch's own index; needs network).
    "$PY" -m pip install -q --retries 1 --timeout 20 torch --index-url https://download.pytorch.org/whl/cu128 >&2
    echo "\"torch_install_exit\": $?,"
  fi
  if [ -d .whl ]; then  # a host without network: wheels carried beside the repo
    "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/gpu-check-site .whl/*.whl >&2
    echo "\"requirements_exit\": $?, \"requirements_from\": \"carried wheels (.whl)\","
  else
    grep -v '^torch==' requirements.txt > /tmp/gpu-check-requirements.txt
    "$PY" -m pip install -q -r /tmp/gpu-check-requirements.txt >&2
    echo "\"requirements_exit\": $?, \"requirements_from\": \"PyPI\","
  fi
  echo "\"gpu_extras\": ["
  first=1
  while read -r req; do
    case "$req" in ''|\#*) continue ;; esac
    log=$("$PY" -m pip install --retries 0 --timeout 15 --no-build-isolation $( [ -d .whl ] && echo --no-index --find-links .whl ) "$req" 2>&1)
    rc=$?
    [ $first = 1 ] || echo ","; first=0
    "$PY" -c 'import json,sys; print(json.dumps({"requirement": sys.argv[1], "exit_code": int(sys.argv[2]), "output_tail": sys.argv[3][-600:]}))' "$req" "$rc" "$log"
  done < <(grep -v '^#' requirements-gpu.txt)
  echo "]}"
} > "$PARTS/install.json"
[ -d /tmp/gpu-check-site ] && export PYTHONPATH="/tmp/gpu-check-site:${PYTHONPATH:-}"
merge
echo "== install done ($(( $(date +%s) - STARTED ))s)"

# --- 2. data ----------------------------------------------------------------------------------
DATA="${GPU_CHECK_DATA:-}"
for candidate in ../shared/data/EURUSD_H1_2014-2024.csv .gpu-data/EURUSD_H1_2014-2024.csv; do
  [ -z "$DATA" ] && [ -f "$candidate" ] && DATA=$candidate
done
"$PY" manage.py migrate --noinput -v0 || { echo "migrate failed"; exit 1; }
step import 120 "$PY" manage.py import_candles "$DATA" --symbol EURUSD --timeframe 1h --json

# --- 3. measurements, most important first ------------------------------------------------------
step hardware 120 "$PY" manage.py hardware --json
SPEEDUP_STEPS="${GPU_CHECK_SPEEDUP_STEPS:-30}"
step speedup_transformer 300 "$PY" manage.py train --symbol EURUSD --timeframe 1h --estimate_speedup --batch_size "$BATCH" --speedup_steps "$SPEEDUP_STEPS" --json
step train 420 "$PY" manage.py train --symbol EURUSD --timeframe 1h --epochs "$EPOCHS" --batch_size "$TRAIN_BATCH" --model_name gpu-eurusd-h1 --json
pkill -f "manage.py train_worker" 2>/dev/null  # a trainer child left by a timed-out step must not share the GPU
# The same run with CUDA graphs (the speedup table's fastest row), to decide the default on a full run.
step train_cuda_graphs 420 "$PY" manage.py train --symbol EURUSD --timeframe 1h --epochs "$EPOCHS" --batch_size "$TRAIN_BATCH" --compile_mode reduce-overhead --model_name gpu-eurusd-h1-graphs --json
pkill -f "manage.py train_worker" 2>/dev/null
step forecast 180 "$PY" bench/gpu_check.py forecast /dev/stdout
step attention 120 "$PY" bench/gpu_check.py attention /dev/stdout
step loader 120 "$PY" bench/gpu_check.py loader /dev/stdout
step speedup_unet 300 "$PY" manage.py train --symbol EURUSD --timeframe 1h --estimate_speedup --batch_size "$BATCH" --speedup_steps "$SPEEDUP_STEPS" --denoiser unet --json
echo "{\"total_wall_s\": $(( $(date +%s) - STARTED )), \"batch\": $BATCH, \"train_batch\": $TRAIN_BATCH, \"epochs\": $EPOCHS}" > "$PARTS/meta.json"
merge
echo "== done in $(( $(date +%s) - STARTED ))s: $OUT/results.json"
