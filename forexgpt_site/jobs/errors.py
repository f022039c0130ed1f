"""What a job raises to stop, and what users read of a failure."""

from __future__ import annotations

_TRACEBACK = "Traceback (most recent call last):"


def message_line(exc: BaseException) -> str:
    """The first line of an exception's message; one that carries a child process's traceback (its
    log tail) gets the traceback's last line, the child's own exception, appended."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if _TRACEBACK in str(exc) and len(lines) > 1 and lines[-1] != _TRACEBACK:
        text = f"{text.rstrip(':')}: {lines[-1]}"
    return text


MESSAGE_CHARS = 255  # a run's `message` column


def clipped(text: str, limit: int = MESSAGE_CHARS) -> str:
    """`text` for a column of `limit` characters: whole, or cut at the last space that fits with "..."
    (never mid-word: "nothing was imported - imp")."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-") + "..."


def error_summary(exc: BaseException, *, max_chars: int = 1000) -> str:
    """What users see of a failure: `Type: one line of the message`, never a traceback."""
    return f"{type(exc).__name__}: {message_line(exc)}"[:max_chars]


class JobCancelled(Exception):
    """Raised inside a job when its run was asked to cancel."""


class JobSuperseded(Exception):
    """Raised inside a job whose run no longer runs under it: reaped as dead (its heartbeat went
    stale) or resumed by another attempt. The attempt stops and writes nothing more."""


class JobInterrupted(BaseException):
    """Raised inside a job when its worker process is stopping (SIGTERM). A BaseException, as
    KeyboardInterrupt is, so that no `except Exception` in a job swallows it; `job_execute` leaves
    the run failed, to be resumed from what it stored."""


INTERRUPTED_MESSAGE = "interrupted: its worker was stopped; resume it to continue from what it stored"
