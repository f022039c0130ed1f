from __future__ import annotations

import json
import subprocess
import sys

from django.conf import settings
from django.core.cache import cache


def hardware_report(*, max_age_s: int = 60) -> dict:
    """Detected hardware and the optimizations it allows, from `manage.py hardware --json` run in a
    child process: the web and worker processes never initialize CUDA themselves."""
    cached = cache.get("hardware-report")
    if cached is not None:
        return cached
    out = subprocess.run([sys.executable, str(settings.BASE_DIR / "manage.py"), "hardware", "--json"], capture_output=True,
                         text=True, timeout=120, cwd=settings.BASE_DIR)
    if out.returncode != 0:
        raise RuntimeError(f"hardware detection failed: {out.stderr[-500:]}")
    report = json.loads(out.stdout)
    cache.set("hardware-report", report, max_age_s)
    return report
