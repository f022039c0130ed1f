"""The web tier under many page users: gunicorn's sync workers against threaded (gthread) workers, side by side.

    .venv/bin/python bench/web_load.py [--users 50] [--requests 8] [--rounds 2] [--out F]

Makes a fresh platform data folder (migrate, `bootstrap_demo`: the 5,000-bar demo series and the demo
users), then for each configuration - alternating, `--rounds` times - starts gunicorn on a free port,
logs `--users` concurrent clients in (each its own session) and has each load `--requests` pages in
turn (dashboard, data with its chart, backtests, optimizations, registry, conformal, training,
hardware). Reports per configuration the latency percentiles (p50, p95, max), throughput and errors.
The load comes from threads of this process, on the same cores as the server: both configurations
share that handicap.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.emit import emit  # noqa: E402

PAGES = [
    "/",
    "/data/?symbol=EURUSD&timeframe=1h",
    "/backtests/",
    "/optimizations/",
    "/registry/",
    "/conformal/",
    "/training/",
    "/hardware/",
]
CORES = os.cpu_count() or 1
CONFIGS = {
    "sync, 2 workers (before)": ["--workers", "2"],
    f"gthread, {CORES} workers x 4 threads (now)": [
        "--workers",
        str(CORES),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One page user: a session cookie over one keep-alive connection."""

    def __init__(self, port: int):
        self.port, self.cookies = port, {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=130)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}/login/",
            }
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # a worker closed the connection: open another
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=130)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.read().decode(errors="replace")

    def login(self, username: str, password: str) -> None:
        _, page = self.request("GET", "/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _ = self.request(
            "POST", "/login/", urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        )
        if status != 302:
            raise RuntimeError(f"login failed ({status})")


def load(port: int, users: int, requests: int, password: str) -> dict:
    clients = [Client(port) for _ in range(users)]
    for c in clients:
        c.login("demo", password)
    latencies, errors, lock = [], [], threading.Lock()
    start = threading.Barrier(users + 1)

    def user(k: int, client: Client) -> None:
        start.wait()
        for i in range(requests):
            path = PAGES[(k + i) % len(PAGES)]
            t0 = time.perf_counter()
            try:
                status, _ = client.request("GET", path)
            except Exception as exc:  # noqa: BLE001 - counted, reported
                status = type(exc).__name__
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors.append(f"{path}: {status}")

    threads = [threading.Thread(target=user, args=(k, c)) for k, c in enumerate(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:5],
        "wall_s": round(wall, 2),
        "throughput_per_s": round(len(latencies) / wall, 2),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_s": round(ordered[-1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=8, help="pages each user loads")
    parser.add_argument("--rounds", type=int, default=2, help="times each configuration is measured (alternating)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="forexgpt-load-"))
    env = {**os.environ, "FOREXGPT_DATA_DIR": str(data), "FOREXGPT_API_RATE_USER": "100000/min"}
    python, manage = sys.executable, str(ROOT / "manage.py")
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"], ["bootstrap_demo"]):
        subprocess.run([python, manage, *command], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    results = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, options in CONFIGS.items():
            port = _free_port()
            server = subprocess.Popen(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "forexgpt_site.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "120",
                    *options,
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                for _ in range(100):  # until it answers
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        break
                    except OSError:
                        time.sleep(0.1)
                results[name].append(
                    load(port, args.users, args.requests, (data / "demo-password").read_text().strip())
                )
            finally:
                server.terminate()
                server.wait(timeout=60)
    emit(
        {"cores": CORES, "users": args.users, "requests_per_user": args.requests, "pages": PAGES, "results": results},
        args.out,
    )


if __name__ == "__main__":
    main()
