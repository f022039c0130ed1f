import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from forexgpt_site.jobs import STOP_GRACE_S


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn) and the worker clusters together; Ctrl-C or SIGTERM stops them all "
        "(running jobs stop at their next progress report and can be resumed; a second Ctrl-C kills at once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--web_workers",
            "--web-workers",
            type=int,
            default=max(2, os.cpu_count() or 1),
            help="gunicorn processes (default: the cores, at least 2)",
        )
        parser.add_argument(
            "--web_threads",
            "--web-threads",
            type=int,
            default=4,
            help="threads per process (gthread): a slow page no longer holds up the quick ones behind it",
        )
        parser.add_argument(
            "--no_gpu_cluster", "--no-gpu-cluster", action="store_true", help="do not start the `gpu` training queue"
        )

    def handle(self, *args, **opts):
        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "forexgpt_site.wsgi",
                "--bind",
                f"{opts['host']}:{opts['port']}",
                "--workers",
                str(opts["web_workers"]),
                "--worker-class",
                "gthread",
                "--threads",
                str(opts["web_threads"]),
                "--timeout",
                "120",
                "--access-logfile",
                "-",
            ],
            "worker": [python, manage, "qcluster"],
        }
        if not opts["no_gpu_cluster"]:
            commands["gpu-worker"] = [python, manage, "qcluster"]
        signals = []  # before the children start: a SIGTERM meanwhile must not leave them behind
        signal.signal(signal.SIGINT, lambda signum, frame: signals.append(signum))
        signal.signal(signal.SIGTERM, lambda signum, frame: signals.append(signum))
        children = {}
        for name, cmd in commands.items():
            child_env = {**os.environ, "TQDM_DISABLE": "1"}
            if name == "gpu-worker":
                child_env["Q_CLUSTER_NAME"] = "gpu"
            # Own process group: the terminal's Ctrl-C reaches us only, we stop the children, and a
            # child that does not stop is killed with everything it started.
            children[name] = subprocess.Popen(cmd, env=child_env, start_new_session=True)
        self.stdout.write(self.style.SUCCESS(f"ForexGPT at http://{opts['host']}:{opts['port']}/  (Ctrl-C to stop)"))

        exited = None
        while not signals and exited is None:
            time.sleep(0.5)
            exited = next((n for n, p in children.items() if p.poll() is not None), None)
        if exited:
            self.stderr.write(f"{exited} exited with code {children[exited].returncode}; stopping the rest")
        else:
            self.stdout.write("stopping: running jobs stop at their next progress report and can be resumed")
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        # A cluster stops its jobs within STOP_GRACE_S, then exits. One still running after that and a
        # margin, or at a second Ctrl-C, is killed with its whole process group (sentinel, workers):
        # killing the qcluster process alone would leave its workers running on as orphans.
        deadline = time.monotonic() + STOP_GRACE_S + 15
        while len(signals) < 2 and time.monotonic() < deadline and any(p.poll() is None for p in children.values()):
            time.sleep(0.2)
        for name, proc in children.items():
            if proc.poll() is None:
                self.stderr.write(f"{name} did not stop in time; killing it and its process group")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
        self.stdout.write("stopped")
        if exited:
            sys.exit(1)
