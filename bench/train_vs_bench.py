"""A real training run through the platform against `bench/train_throughput.py`, side by side, on an
otherwise idle machine and again while an optimization runs on the default cluster (issue #11, item 3).

    OMP_NUM_THREADS=1 TQDM_DISABLE=1 timeout 3600 .venv/bin/python bench/train_vs_bench.py [--batch 64] \
        [--start 2014-01-01] [--end ...] [--bench-steps 100] [--data-dir /tmp/tvb-data] [--keep]

What it does, all in one run:
  * a private data folder (FOREXGPT_DATA_DIR; default a fresh temporary one, removed at the end unless
    --keep): `manage.py migrate`, then `manage.py import_candles` of ../shared/data/EURUSD_H1_2014-2024.csv;
  * per phase (idle, then loaded): `bench/train_throughput.py --batch B --steps N` as a subprocess with
    the training children's thread count (FOREXGPT_TORCH_THREADS, default 1, passed as OMP_NUM_THREADS),
    then `manage.py train --epochs 1 --batch_size B --json` (the real child process, `train_worker`),
    then the bench again; the real figure is the run's TrainingRun.samples_per_s (what the platform
    measures and shows), the bench figure the mean of the two bench runs around it;
  * the loaded phase first starts `manage.py qcluster` (the default cluster) and queues a hybrid
    optimization of the forecast strategy on the same bars through the service (evaluator inprocess, so
    one worker, one core), waits until it is evaluating, measures, then cancels it and stops the cluster.
    The cluster's CPU seconds and the evaluations done during the measurement are recorded as proof.

Prints a JSON document and writes it to bench/results/train-vs-bench-cpu.json (--out).
FOREXGPT_EVAL_WINDOWS (test windows scored after training, default 64 here) only shortens the scoring
after training; it does not enter the samples/s figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "EURUSD_H1_2014-2024.csv"
PY = sys.executable


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def manage(env: dict, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    log("manage.py " + " ".join(args))
    res = subprocess.run(
        [PY, str(ROOT / "manage.py"), *args, "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-4000:] + res.stderr[-4000:])
        raise SystemExit(f"manage.py {args[0]} failed ({res.returncode})")
    return res


def json_of(stdout: str) -> dict:
    """The JSON object in a command's stdout (anything logged before it is skipped)."""
    return json.loads(stdout[stdout.index("{") :])


def bench(env: dict, batch: int, steps: int) -> dict:
    log(f"bench/train_throughput.py --batch {batch} --steps {steps}")
    started = time.monotonic()
    res = subprocess.run(
        [PY, str(ROOT / "bench" / "train_throughput.py"), "--batch", str(batch), "--steps", str(steps)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        raise SystemExit("bench/train_throughput.py failed")
    row = json_of(res.stdout)["rows"][0]
    log(f"  bench: {row['samples_per_s']:.1f} samples/s ({row['step_ms']:.1f} ms a step)")
    return {"samples_per_s": row["samples_per_s"], "step_ms": row["step_ms"], "wall_s": time.monotonic() - started}


def real_training(env: dict, args) -> dict:
    from training.models import TrainingRun

    cmd = [
        "train",
        "--symbol",
        "EURUSD",
        "--timeframe",
        "1h",
        "--epochs",
        "1",
        "--batch_size",
        str(args.batch),
        "--json",
    ]
    if args.start:
        cmd += ["--start", args.start]
    if args.end:
        cmd += ["--end", args.end]
    started = time.monotonic()
    out = json_of(manage(env, *cmd).stdout)
    wall = time.monotonic() - started
    run = TrainingRun.objects.get(pk=out["id"])
    log(f"  real: run {run.pk} {run.status}, {run.samples_per_s:.1f} samples/s over {run.step} steps")
    return {
        "samples_per_s": run.samples_per_s,
        "run_id": run.pk,
        "status": run.status,
        "steps": run.step,
        "epochs": run.request["epochs"],
        "history": run.history,
        "run_duration_s": run.duration_s,
        "command_wall_s": wall,
    }


def measure(env: dict, args) -> dict:
    before = bench(env, args.batch, args.bench_steps)
    real = real_training(env, args)
    after = bench(env, args.batch, args.bench_steps)
    mean = statistics.mean([before["samples_per_s"], after["samples_per_s"]])
    return {
        "bench_samples_per_s": mean,
        "real_samples_per_s": real["samples_per_s"],
        "ratio_real_over_bench": real["samples_per_s"] / mean,
        "bench_runs": [before, after],
        "real_run": real,
    }


def session_cpu_s(sid: int) -> float:
    """CPU seconds (user + system) of every live process in session `sid` (the cluster we started)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:  # field 6 of stat: session id
            total += int(fields[11]) + int(fields[12])
    return total / tick


def start_optimization(env: dict, args, logfile: Path):
    from backtesting_app.models import OptimizationRun
    from backtesting_app.request import OptimizationRequest
    from backtesting_app.services import optimization_run_start

    log("manage.py qcluster (default cluster)")
    cluster = subprocess.Popen(
        [PY, str(ROOT / "manage.py"), "qcluster", "--skip-checks"],
        cwd=ROOT,
        env=env,
        stdout=logfile.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    run = optimization_run_start(
        user=None,
        request=OptimizationRequest.from_dict(
            dict(
                symbol="EURUSD",
                timeframe="1h",
                strategy="forecast",
                budget=args.opt_budget,
                method="hybrid",
                evaluator="inprocess",
                workers=1,
                forecasts_source="baseline",
                name="train_vs_bench load",
            )
        ),
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = OptimizationRun.objects.filter(pk=run.pk).values_list("status", flat=True).first()
        if cluster.poll() is not None:
            raise SystemExit(f"qcluster exited ({cluster.returncode}); see {logfile}")
        if state == "running" and run.results.exists():
            break
        if state not in ("queued", "running"):
            raise SystemExit(f"optimization {run.pk} is {state}; see {logfile}")
        time.sleep(1)
    else:
        raise SystemExit(f"optimization {run.pk} did not start evaluating within 3 minutes; see {logfile}")
    time.sleep(5)  # let it settle into its evaluation loop
    log(f"  optimization {run.pk} is evaluating ({run.results.count()} results so far)")
    return cluster, run


def stop_optimization(cluster: subprocess.Popen, run) -> dict:
    from backtesting_app.models import OptimizationRun
    from forexgpt_site.jobs import job_cancel

    job_cancel(run=run)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not OptimizationRun.objects.get(pk=run.pk).is_finished:
        time.sleep(1)
    final = OptimizationRun.objects.get(pk=run.pk)
    os.killpg(cluster.pid, signal.SIGTERM)  # the process group we started (start_new_session)
    try:
        cluster.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
    return {"status_after_cancel": final.status, "message": final.message}


def cpu_info() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "model": model,
        "logical_cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--bench-steps", type=int, default=100, help="timed steps of each bench run (its own default is 30)")
    p.add_argument("--start", default=None, help="first bar of the training range (default: all the file)")
    p.add_argument("--end", default=None)
    p.add_argument(
        "--opt-budget",
        type=int,
        default=1_000_000,
        help="evaluations (the most the service takes): enough to outlast the measurement",
    )
    p.add_argument("--data-dir", default=None, help="private FOREXGPT_DATA_DIR (default: a fresh temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the data folder")
    p.add_argument("--skip-loaded", action="store_true", help="the idle phase only")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "train-vs-bench-cpu.json"))
    args = p.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent: the benchmark needs ../shared/data")
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="tvb-data-")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    threads = max(1, int(os.environ.get("FOREXGPT_TORCH_THREADS", "1")))  # as forexgpt_site/env.py reads it
    env = {
        **os.environ,
        "FOREXGPT_DATA_DIR": str(data_dir),
        "FOREXGPT_TORCH_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TQDM_DISABLE": "1",
        "DJANGO_SETTINGS_MODULE": "forexgpt_site.settings",
    }
    env.setdefault("SECRET_KEY", "train-vs-bench")
    env.setdefault("FOREXGPT_EVAL_WINDOWS", "64")
    env.pop("Q_CLUSTER_NAME", None)  # the default cluster
    os.environ.update(
        {
            k: env[k]
            for k in (
                "FOREXGPT_DATA_DIR",
                "SECRET_KEY",
                "DJANGO_SETTINGS_MODULE",
                "OMP_NUM_THREADS",
                "TQDM_DISABLE",
                "FOREXGPT_TORCH_THREADS",
            )
        }
    )
    wall_started = time.monotonic()
    log(f"data folder {data_dir}")
    manage(env, "migrate", "-v0")
    manage(env, "import_candles", str(DATA), "--symbol", "EURUSD", "--timeframe", "1h", "--json")

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import torch

    result = {
        "batch": args.batch,
        "threads": threads,
        "bench_steps": args.bench_steps,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_info(),
        "data": DATA.name,
        "train_range": {"start": args.start, "end": args.end},
        "eval_windows": int(env["FOREXGPT_EVAL_WINDOWS"]),
    }
    log("phase idle")
    result["idle"] = measure(env, args)
    if not args.skip_loaded:
        log("phase loaded")
        cluster_log = data_dir / "qcluster.log"
        cluster, run = start_optimization(env, args, cluster_log)
        try:
            cpu0, evals0, t0 = session_cpu_s(cluster.pid), run.results.count(), time.monotonic()
            loaded = measure(env, args)
            cpu1, evals1, t1 = session_cpu_s(cluster.pid), run.results.count(), time.monotonic()
        finally:
            stopped = stop_optimization(cluster, run)
        loaded["optimization"] = {
            "run_id": run.pk,
            "method": "hybrid",
            "budget": args.opt_budget,
            "evaluator": "inprocess",
            "evaluations_during_measurement": evals1 - evals0,
            "cluster_cpu_s_during_measurement": round(cpu1 - cpu0, 1),
            "cluster_cores_busy": round((cpu1 - cpu0) / (t1 - t0), 2),
            **stopped,
        }
        result["loaded"] = loaded
    result["wall_s"] = round(time.monotonic() - wall_started, 1)
    text = json.dumps(result, indent=2, default=str)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    log(f"wrote {out}")
    if not args.keep and not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
