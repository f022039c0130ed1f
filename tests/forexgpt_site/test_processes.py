"""A job's child process dies with its worker, even when the worker is killed outright (kill -9)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARENT = """
import subprocess, sys, time
from forexgpt_site.processes import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True,
                         preexec_fn=die_with_parent if sys.argv[1] == "yes" else None)
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie waiting for init to reap it is dead
        return fh.read().split()[2] != "Z"


def _orphan_after_kill(die_with_parent: str) -> tuple[int, bool]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, die_with_parent], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    return child, _alive(child)


def test_a_child_dies_when_its_worker_is_killed_outright():
    child, alive = _orphan_after_kill("yes")
    assert not alive
    child, alive = _orphan_after_kill("no")  # without it, the orphan computes on
    try:
        assert alive
    finally:
        os.kill(child, signal.SIGKILL)
