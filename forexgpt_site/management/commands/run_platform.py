import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and the worker clusters together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--no-gpu-cluster", action="store_true", help="do not start the `gpu` training queue")

    def handle(self, *args, **opts):
        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        commands = {
            "web": [python, "-m", "gunicorn", "forexgpt_site.wsgi", "--bind", f"{opts['host']}:{opts['port']}",
                    "--workers", str(opts["web_workers"]), "--timeout", "120", "--access-logfile", "-"],
            "worker": [python, manage, "qcluster"],
        }
        if not opts["no_gpu_cluster"]:
            commands["gpu-worker"] = [python, manage, "qcluster"]
        children = {}
        for name, cmd in commands.items():
            child_env = {**os.environ, "TQDM_DISABLE": "1"}
            if name == "gpu-worker":
                child_env["Q_CLUSTER_NAME"] = "gpu"
            # Own process group: the terminal's Ctrl-C reaches us, and we stop children in order.
            children[name] = subprocess.Popen(cmd, env=child_env, start_new_session=True)
        self.stdout.write(self.style.SUCCESS(f"ForexGPT at http://{opts['host']}:{opts['port']}/  (Ctrl-C to stop)"))

        stopping = False

        def _stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        exited = None
        while not stopping and exited is None:
            time.sleep(0.5)
            exited = next((n for n, p in children.items() if p.poll() is not None), None)
        if exited:
            self.stderr.write(f"{exited} exited with code {children[exited].returncode}; stopping the rest")
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name, proc in children.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it")
                proc.kill()
                proc.wait()
        self.stdout.write("stopped")
        if exited:
            sys.exit(1)
