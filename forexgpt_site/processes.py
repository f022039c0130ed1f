"""Child processes that never outlive the worker that started them (no Django here)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """`preexec_fn` for a child process: the kernel sends it `signum` when the process that started it
    dies - a worker killed with `kill -9` included, which no handler of its own can see. Linux only
    (elsewhere the child relies on its parent's stop, as before). Exits at once if that parent is
    already gone (the race between fork and this call)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        return  # not fatal: the child still stops on its parent's SIGTERM
    if os.getppid() != parent:
        os._exit(1)
