from __future__ import annotations

from dataclasses import dataclass

from forexgpt_site.errors import DomainError

MAX_REPORTED_ERRORS = 10
MAX_QUOTED_CHARS = 40  # of a bad value quoted in a report: a 50 MB "line" is named, not echoed


def quoted(value: str) -> str:
    """repr of a bad value from a file, cut to MAX_QUOTED_CHARS with its full length said."""
    value = str(value)
    if len(value) <= MAX_QUOTED_CHARS:
        return repr(value)
    return f"{value[:MAX_QUOTED_CHARS]!r}... ({len(value):,} characters)"


@dataclass
class RowError:
    line: int  # 1-based line in the file; 0 for a summary row
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


class ImportRejected(DomainError):
    """The whole file is refused; `errors` names the first bad lines and why. A refusal of what the
    request asks (a DomainError): a 400 on the API, a clean failure of the job, never a bug's traceback."""

    def __init__(self, message: str, errors: list[RowError] | None = None, *, rows: int | None = None):
        self.errors = list(errors or [])
        self.rows = rows
        self.format: str | None = None  # the file's format, where it was read before it was refused
        detail = ""
        if self.errors:
            shown = "; ".join(str(e) for e in self.errors[:MAX_REPORTED_ERRORS])
            more = len(self.errors) - MAX_REPORTED_ERRORS
            detail = f": {shown}" + (f"; and {more} more" if more > 0 else "")
        super().__init__(message + detail)
        self.summary = message

    def as_dict(self) -> dict:
        return {
            "error": self.summary,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors[:MAX_REPORTED_ERRORS]],
            "error_count": len(self.errors),
            **({"format": self.format} if self.format else {}),
        }


class ImportConflict(ImportRejected):
    """The file is refused because bars it holds are already stored with other values.

    `report` carries the counts (`conflicts`, `duplicates`, `new`) and `conflict_examples`.
    """

    def __init__(self, message: str, *, report: dict, rows: int | None = None):
        super().__init__(message, rows=rows)
        self.report = report

    def as_dict(self) -> dict:
        return {**super().as_dict(), **self.report}
