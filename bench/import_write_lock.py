"""How long a large import holds the database's write lock, and how long another writer waits.

    .venv/bin/python bench/import_write_lock.py [--copies 8] [--database-url URL]

Builds an M1 file from `EURUSD_M1_2017-01_2017-06.csv` (186,348 bars) repeated `--copies` times,
each copy 26 weeks after the last (8 copies: 1,490,784 bars), and imports it into a fresh scratch
database (a temp SQLite file unless --database-url is given) with the service `import_candles` uses.
Every write transaction of the importing connection is timed from BEGIN to COMMIT (and every write
statement it runs outside one); meanwhile another process writes one row every 50 ms on its own
connection and records how long each write waited.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("FOREXGPT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def probe(target: str) -> None:
    """The other writer (run as a child process): a tiny write every 50 ms until stdin closes."""
    if target.startswith("postgres"):
        import psycopg

        con = psycopg.connect(target, autocommit=True)
        con.execute("CREATE TABLE IF NOT EXISTS bench_probe (id serial PRIMARY KEY, at double precision)")

        def write():
            with con.transaction():
                con.execute("INSERT INTO bench_probe (at) VALUES (%s)", (time.time(),))
    else:
        import sqlite3

        con = sqlite3.connect(target, isolation_level=None, timeout=60)
        con.execute("CREATE TABLE IF NOT EXISTS bench_probe (id integer PRIMARY KEY, at real)")

        def write():
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO bench_probe (at) VALUES (?)", (time.time(),))
            con.execute("COMMIT")

    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    waits = []
    while not stop.is_set():
        started = time.perf_counter()
        write()
        waits.append(time.perf_counter() - started)
        time.sleep(0.05)
    print(json.dumps({"writes": len(waits), "longest_wait_s": round(max(waits), 3)}))


def build_file(copies: int, folder: str) -> Path:
    import pandas as pd

    source = pd.read_csv(DATA / "EURUSD_M1_2017-01_2017-06.csv")
    start = pd.to_datetime(source.pop("timestamp"), utc=True)
    frame = pd.concat([source.assign(ts=start + pd.Timedelta(weeks=26 * k)) for k in range(copies)], ignore_index=True)
    frame.insert(0, "timestamp", pd.DatetimeIndex(frame.pop("ts")).strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = Path(folder) / "EURUSD_M1_bench.csv"
    frame.to_csv(path, index=False, float_format="%.5f")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return probe(args.probe)
    if not (DATA / "EURUSD_M1_2017-01_2017-06.csv").exists():
        sys.exit(f"{DATA} lacks EURUSD_M1_2017-01_2017-06.csv: the benchmark needs ../shared/data")

    scratch = tempfile.mkdtemp(prefix="forexgpt-bench-")
    path = build_file(args.copies, scratch)
    from scratch_django import scratch_django

    scratch_django(args.database_url, scratch)
    from django.db import connection, connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    from marketdata.models import Candle
    from marketdata.request import ImportRequest
    from marketdata.services import candles_import_file

    Candle._base_manager.filter(symbol="EURUSD", timeframe="1m").delete()

    # Time each write transaction of this thread's connection: BEGIN (IMMEDIATE on SQLite, which takes
    # the write lock) to COMMIT / ROLLBACK; on PostgreSQL from the transaction's first statement.
    holds, began = [], {"at": None}
    importer = threading.get_ident()
    wrapper = type(connections["default"])
    begin = getattr(wrapper, "_start_transaction_under_autocommit", None)

    def timed_begin(self):
        if threading.get_ident() == importer:
            began["at"] = time.perf_counter()
        return begin(self)

    def timed_end(end):
        def wrapped(self):
            try:
                return end(self)
            finally:
                if threading.get_ident() == importer and began["at"] is not None:
                    holds.append(time.perf_counter() - began["at"])
                    began["at"] = None

        return wrapped

    if connection.vendor == "sqlite":
        wrapper._start_transaction_under_autocommit = timed_begin
    wrapper._commit, wrapper._rollback = (
        timed_end(BaseDatabaseWrapper._commit),
        timed_end(BaseDatabaseWrapper._rollback),
    )

    def time_statements(execute, sql, params, many, context):
        if connection.in_atomic_block:
            if began["at"] is None:
                began["at"] = time.perf_counter()
            return execute(sql, params, many, context)
        if not sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            return execute(sql, params, many, context)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            holds.append(time.perf_counter() - started)

    db = connection.settings_dict
    target = (
        str(db["NAME"])
        if connection.vendor == "sqlite"
        else args.database_url.replace("postgres://", "postgresql://", 1)
    )
    other = subprocess.Popen(
        [sys.executable, __file__, "--probe", target], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert other.stdout.readline().strip() == "ready"
    with connection.execute_wrapper(time_statements):
        started = time.perf_counter()
        report = candles_import_file(source=path, request=ImportRequest(symbol="EURUSD", timeframe="1m"))
        import_s = time.perf_counter() - started
    waits = json.loads(other.communicate("")[0])
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "bars": report["inserted"],
                "import_s": round(import_s, 2),
                "import_bars_per_s": round(report["inserted"] / import_s),
                "write_transactions": len(holds),
                "longest_write_lock_hold_s": round(max(holds), 3),
                "all_holds_s": round(sum(holds), 2),
                "other_writer_writes": waits["writes"],
                "other_writer_longest_wait_s": waits["longest_wait_s"],
                "visible_bars": Candle.objects.filter(symbol="EURUSD", timeframe="1m").count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
