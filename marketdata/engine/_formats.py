"""Readers for the candle exports users really have, with format detection and UTC conversion.

Each reader returns the raw rows as text-parsed columns plus the 1-based line number in the
file, so that validation can point at the exact line of a bad row.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from forexgpt_site.named import NamedRegistry

from ._errors import ImportRejected, RowError, quoted

PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class ImportFormat:
    """One export format, declared once: its name and label, whether a file's first non-blank line
    (stripped) is its, its reader `read(source, tz) -> ParsedFile`, and the zone of its timestamps when
    the user names none (None: its rows carry their own offsets). Pages, the API, the command and
    detection offer what `register_format` was given."""

    name: str
    label: str
    recognises: Callable[[str], bool]
    read: Callable[..., ParsedFile]
    default_tz: str | None


_FORMATS = NamedRegistry(
    "an import format",
    reserved=("auto",),
    unknown=lambda name, names: ImportRejected(f"unknown format {name!r}; choose auto or one of {', '.join(names)}"),
)


def register_format(spec: ImportFormat) -> ImportFormat:
    return _FORMATS.register(spec)


def unregister_format(name: str) -> None:
    _FORMATS.unregister(name)


def import_format(name: str) -> ImportFormat:
    return _FORMATS.lookup(name)


def import_formats() -> tuple[str, ...]:
    """The registered formats' names, in the order they were registered (and are offered)."""
    return tuple(_FORMATS)


class _FormatNames(Sequence):
    """`FORMATS`: the registered names as a live, read-only sequence."""

    def __getitem__(self, i):
        return import_formats()[i]

    def __len__(self) -> int:
        return len(_FORMATS)

    def __repr__(self) -> str:
        return repr(import_formats())


FORMATS = _FormatNames()

_UNKNOWN_ZONE_NOTE = (
    "{fmt} timestamps are the broker's server time and the file does not say which zone; "
    "assumed UTC - give its time zone, tz (e.g. Europe/Helsinki for an EET/EEST broker)"
)


@dataclass
class ParsedFile:
    """Rows read from one file: `frame` has ts (UTC), open, high, low, close, volume, line."""

    format: str
    timezone: str
    frame: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_head(source: Path | IO) -> str:
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            raw = fh.read(4096)
    else:
        pos = source.tell()
        raw = source.read(4096)
        source.seek(pos)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8-sig", errors="replace")
    return raw.lstrip("\ufeff")


_HISTDATA_RE = re.compile(r"^\d{8} \d{6};")
_MT4_RE = re.compile(r"^\d{4}\.\d{2}\.\d{2},\d{2}:\d{2}(:\d{2})?,")
_CSV_HEADER_RE = re.compile(r"^(timestamp|datetime|date|time|ts)\s*[,;\t]", re.IGNORECASE)


def detect_format(source: Path | IO) -> str:
    """Name the export format from the first line, or raise ImportRejected saying what was seen."""
    lines = [ln for ln in _read_head(source).splitlines() if ln.strip()]
    if not lines:
        raise ImportRejected("the file is empty")
    first = lines[0].strip()
    for spec in _FORMATS.values():
        if spec.recognises(first):
            return spec.name
    raise ImportRejected(
        f"could not recognise the file format from its first line {first[:80]!r}; "
        f"name it with format (one of {', '.join(_FORMATS)})"
    )


def _read_table(source, *, sep: str, names: list[str] | None, header: int | None) -> pd.DataFrame:
    if not isinstance(source, (str, Path)):
        source.seek(0)
    try:
        frame = pd.read_csv(
            source,
            sep=sep,
            names=names,
            header=header,
            dtype=str,
            skip_blank_lines=False,
            keep_default_na=False,
            encoding="utf-8-sig",
            engine="c",
        )
    except pd.errors.ParserError as exc:
        # pandas names the line: "Expected 7 fields in line 12, saw 8"
        raise ImportRejected(f"malformed file: {exc}".strip()) from exc
    except UnicodeDecodeError as exc:
        raise ImportRejected(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if frame.empty:
        raise ImportRejected("the file has no data rows")
    # 1-based line numbers in the file, counting the header line.
    frame["line"] = np.arange(len(frame)) + 1 + (0 if header is None else header + 1)
    blank = frame.drop(columns="line").apply(lambda col: col.str.strip() == "").all(axis=1)
    return frame[~blank].reset_index(drop=True)


def _numbers(frame: pd.DataFrame, columns: dict[str, str], errors: list[RowError]) -> pd.DataFrame:
    """Parse price/volume text columns; unparseable or missing values become row errors."""
    out = pd.DataFrame(index=frame.index)
    for target, source in columns.items():
        text = frame[source].str.strip() if source in frame else pd.Series("", index=frame.index)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() | ~np.isfinite(values)
        if target == "volume":
            # Volume is optional information: missing means unknown (0), garbage is still an error.
            bad &= text != ""
            values = values.fillna(0.0)
        for idx in np.flatnonzero(bad.to_numpy()):
            shown = text.iloc[idx]
            reason = f"{target} is missing" if shown == "" else f"{target} {quoted(shown)} is not a number"
            errors.append(RowError(int(frame["line"].iloc[idx]), reason))
        out[target] = values.astype(float)
    return out


def _parse_times(text: pd.Series, fmt: str, lines: pd.Series, errors: list[RowError], *, utc=False):
    parsed = pd.to_datetime(text.str.strip(), format=fmt, errors="coerce", utc=utc)
    for idx in np.flatnonzero(parsed.isna().to_numpy()):
        errors.append(RowError(int(lines.iloc[idx]), f"timestamp {quoted(text.iloc[idx])} is not a valid date/time"))
    return parsed


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long for a file name
        raise ImportRejected(f"unknown time zone {quoted(name)}; use an IANA name such as Europe/Helsinki") from exc


def localize(local: pd.Series, tz: str, lines: pd.Series, errors: list[RowError]) -> tuple[pd.Series, list[str]]:
    """Wall-clock times in `tz` -> UTC, correct across DST changes.

    A repeated hour at the autumn change is resolved by order (first = summer time); a time that
    does not exist (skipped by the spring change) is an error naming its line.
    """
    notes: list[str] = []
    zone(tz)
    index = pd.DatetimeIndex(local)
    try:
        aware = index.tz_localize(tz, ambiguous="infer", nonexistent="NaT")
    except ValueError:  # pandas cannot infer: decide by order of appearance
        second = pd.Series(index).duplicated(keep="first").to_numpy()
        aware = index.tz_localize(tz, ambiguous=~second, nonexistent="NaT")
        notes.append(f"repeated wall-clock times at a DST change in {tz} were resolved by their order")
    missing = np.flatnonzero(aware.isna() & ~index.isna())
    for idx in missing:
        errors.append(RowError(int(lines.iloc[idx]), f"{index[idx]} does not exist in {tz} (skipped by a DST change)"))
    return pd.Series(aware.tz_convert("UTC"), index=local.index), notes


def read_candles(source: Path | str | IO, *, format: str = "auto", tz: str | None = None) -> ParsedFile:
    """Read an export into UTC rows. Parsing problems are collected in `errors`, not raised."""
    source = Path(source) if isinstance(source, str) else source
    fmt = detect_format(source) if format in (None, "", "auto") else format
    return import_format(fmt).read(source, tz)


def _finish(fmt: str, raw: pd.DataFrame, ts: pd.Series, tz_label: str, errors, notes, columns) -> ParsedFile:
    numbers = _numbers(raw, columns, errors)
    frame = pd.concat([pd.DataFrame({"ts": ts}), numbers, raw[["line"]]], axis=1)
    return ParsedFile(format=fmt, timezone=tz_label, frame=frame, errors=errors, notes=notes)


def _local_to_utc(fmt, raw, local, tz, errors) -> tuple[pd.Series, str, list[str]]:
    notes = []
    zone_name = tz or import_format(fmt).default_tz
    if not tz and fmt in ("mt4", "mt5"):
        notes.append(_UNKNOWN_ZONE_NOTE.format(fmt=fmt.upper()))
    ts, more = localize(local, zone_name, raw["line"], errors)
    return ts, zone_name, notes + more


def _histdata(source, tz):
    names = ["stamp", "open", "high", "low", "close", "volume"]
    raw = _read_table(source, sep=";", names=names, header=None)
    errors: list[RowError] = []
    local = _parse_times(raw["stamp"], "%Y%m%d %H%M%S", raw["line"], errors)
    ts, zone_name, notes = _local_to_utc("histdata", raw, local, tz, errors)
    return _finish("histdata", raw, ts, zone_name, errors, notes, {c: c for c in names[1:]})


def _mt4(source, tz):
    names = ["date", "time", "open", "high", "low", "close", "volume"]
    raw = _read_table(source, sep=",", names=names, header=None)
    errors: list[RowError] = []
    stamp = raw["date"].str.strip() + " " + raw["time"].str.strip().str.slice(0, 5)
    local = _parse_times(stamp, "%Y.%m.%d %H:%M", raw["line"], errors)
    ts, zone_name, notes = _local_to_utc("mt4", raw, local, tz, errors)
    return _finish("mt4", raw, ts, zone_name, errors, notes, {c: c for c in names[2:]})


def _mt5(source, tz):
    raw = _read_table(source, sep="\t", names=None, header=0)
    raw.columns = [str(c).strip().strip("<>").lower() for c in raw.columns]
    missing = {"date", "open", "high", "low", "close"} - set(raw.columns)
    if missing:
        raise ImportRejected(f"MT5 export lacks the column(s) {', '.join(sorted(missing))}")
    errors: list[RowError] = []
    time = raw["time"].str.strip() if "time" in raw else pd.Series("00:00:00", index=raw.index)
    time = time.where(time.str.len() != 5, time + ":00")
    local = _parse_times(raw["date"].str.strip() + " " + time, "%Y.%m.%d %H:%M:%S", raw["line"], errors)
    ts, zone_name, notes = _local_to_utc("mt5", raw, local, tz, errors)
    volume = "tickvol" if "tickvol" in raw else "vol"
    return _finish("mt5", raw, ts, zone_name, errors, notes, {**{c: c for c in PRICE_COLUMNS}, "volume": volume})


_DUKAS_RE = re.compile(r"^(\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2})(?:\.\d+)?(?: GMT([+-]\d{4}))?$")


# Said by the request when the format is named, by the reader when it is detected.
DUKASCOPY_TZ_REFUSAL = "Dukascopy rows carry their own UTC offset (e.g. GMT+0100); a time zone (tz) does not apply"


def _dukascopy(source, tz):
    if tz:
        raise ImportRejected(DUKASCOPY_TZ_REFUSAL)
    raw = _read_table(source, sep=",", names=None, header=0)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    time_col = "local time" if "local time" in raw else "gmt time"
    parts = raw[time_col].str.strip().str.extract(_DUKAS_RE)
    offset = parts[1].fillna("+0000")
    errors: list[RowError] = []
    text = parts[0].fillna("") + " " + offset
    ts = _parse_times(text, "%d.%m.%Y %H:%M:%S %z", raw["line"], errors, utc=True)
    # Report the original text for unparseable rows rather than the rebuilt one.
    for err in errors:
        row = raw.index[raw["line"] == err.line]
        if len(row):
            err.reason = f"timestamp {quoted(raw[time_col].iloc[row[0]])} is not a valid date/time"
    return _finish("dukascopy", raw, ts, "per-row GMT offsets", errors, [], {c: c for c in (*PRICE_COLUMNS, "volume")})


def _csv(source, tz):
    if not isinstance(source, (str, Path)):
        source.seek(0)
    head = _read_head(source).splitlines()[0]
    sep = ";" if head.count(";") > head.count(",") else ("\t" if "\t" in head else ",")
    raw = _read_table(source, sep=sep, names=None, header=0)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = {"open", "high", "low", "close"} - set(raw.columns)
    if missing:
        raise ImportRejected(
            f"CSV lacks the column(s) {', '.join(sorted(missing))}; expected timestamp,open,high,low,close[,volume]"
        )
    errors: list[RowError] = []
    if "date" in raw and "time" in raw:  # split date and time columns
        text = raw["date"].str.strip() + " " + raw["time"].str.strip()
    else:
        time_col = next((c for c in ("timestamp", "datetime", "date", "time", "ts") if c in raw), None)
        if time_col is None:
            raise ImportRejected("CSV has no timestamp column (timestamp, datetime, date[+time] or ts)")
        text = raw[time_col].str.strip()
    has_offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    # Which convention a row follows is read from the rows that are dates at all: a garbled one is a
    # bad timestamp (reported as such below), not a local time among offsets.
    dated = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).notna().to_numpy()
    convention = has_offset[dated]
    notes: list[str] = []
    if convention.nunique() > 1:
        first = int(raw["line"][dated][convention != convention.iloc[0]].iloc[0])
        raise ImportRejected(f"timestamps mix UTC offsets and local times (line {first}); use one convention")
    if has_offset.all() or (len(convention) and convention.iloc[0]):
        if tz:
            raise ImportRejected("the timestamps carry their own UTC offset; a time zone (tz) does not apply")
        ts = _parse_times(text, "ISO8601", raw["line"], errors, utc=True)
        zone_name = "offsets in the file"
    else:
        local = _parse_times(text, "ISO8601", raw["line"], errors)
        zone_name = tz or import_format("csv").default_tz
        ts, notes = localize(local, zone_name, raw["line"], errors)
    return _finish("csv", raw, ts, zone_name, errors, notes, {c: c for c in (*PRICE_COLUMNS, "volume")})


def read_text(text: str, **kwargs) -> ParsedFile:
    """Convenience for tests and notebooks: parse an in-memory export."""
    return read_candles(io.BytesIO(text.encode()), **kwargs)


# The formats users have, in the order pages offer them. HistData writes New York local time *with*
# DST (its docs say fixed EST; the data says otherwise); MetaTrader the broker's server time, which the
# file does not name (UTC assumed, and said); Dukascopy rows carry their own GMT offset.
register_format(
    ImportFormat(
        "histdata", "HistData ASCII", lambda first: bool(_HISTDATA_RE.match(first)), _histdata, "America/New_York"
    )
)
register_format(ImportFormat("mt4", "MetaTrader 4", lambda first: bool(_MT4_RE.match(first)), _mt4, "UTC"))
register_format(ImportFormat("mt5", "MetaTrader 5", lambda first: first.upper().startswith("<DATE>"), _mt5, "UTC"))
register_format(
    ImportFormat(
        "dukascopy", "Dukascopy", lambda first: first.lower().startswith(("local time", "gmt time")), _dukascopy, None
    )
)
register_format(ImportFormat("csv", "CSV with a header", lambda first: bool(_CSV_HEADER_RE.match(first)), _csv, "UTC"))
