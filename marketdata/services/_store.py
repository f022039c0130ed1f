"""The one writer of bars (`candles_store`) and their deletion.

SQLite has one write lock for the whole database, and a writer that waits for it longer than its
busy timeout fails ("database is locked"). So no write of bars holds it long: a large write stages
its bars in transactions of CHUNK bars, unseen by every reader while its import is unpublished
(`Candle.objects` leaves out bars of unpublished imports), then publishes them all at once with
one short UPDATE of the import's row. A write that fails deletes the bars it staged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice, repeat

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from forexgpt_site.jobs import JobStatus
from marketdata import engine
from marketdata.engine import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY, ImportRejected
from marketdata.models import Candle, CandleImport
from marketdata.selectors import candles_frame, candles_queryset

# Bars per write transaction. 50,000 bars hold SQLite's write lock ~0.2 s (at most 0.5 s seen, under load)
# on a busy 2-core machine; a write of at most this many bars is one transaction, published with it.
CHUNK = 50_000
# SQLite's busy handler retries a waiting writer only every 100 ms once it has waited a while, so
# chunks back to back could keep a web request waiting through several; this pause lets it in.
SQLITE_PAUSE_S = 0.1
WRITE_ATTEMPTS = 3
WAIT_POLL_S = 0.5
OHLCV = ("open", "high", "low", "close", "volume")
StoreProgressFn = Callable[[float, str], object]


class _SeriesChanged(Exception):
    """Another import wrote, is writing or changed bars of this range since they were compared."""


def _noop(fraction: float, message: str) -> None:
    return None


def candles_store(
    *,
    rows: pd.DataFrame,
    candle_import: CandleImport,
    on_conflict: str = DEFAULT_CONFLICT_POLICY,
    superseded: Iterable[int] = (),
    on_progress: StoreProgressFn = _noop,
) -> dict:
    """Store bars in the import's series, each pointing at `candle_import`; all of them or none,
    and readers see them all at once: the write publishes the import.

    A bar already stored with identical values is a duplicate and left as it is. One stored with
    other values is a conflict: `refuse` raises ImportConflict (nothing written), `keep` leaves
    the stored bar, `replace` overwrites it. Differing bars written by a `superseded` import (an
    earlier result of the same recomputation) are replaced whatever the policy, as `updated`.

    Reads and compares before writing, so the write lock is held only while writing, and never
    long: a write of at most CHUNK bars is one transaction, which also publishes the import; more
    new bars are staged CHUNK at a time, each chunk its own transaction, and then published by one
    UPDATE of the import's row. Overwritten bars change in the publishing transaction, so its
    length grows with their number (~250,000 a second on SQLite). An import already published (the
    demo series, loaded again) writes in one transaction. `on_progress(fraction, message)` is
    called after each staged chunk and while waiting for another import.

    Bars another import stored or is staging in the range make the write fail; then this waits until
    that import has published or failed and compares again (up to WRITE_ATTEMPTS times), so two
    imports of the same file at once end as they would one after the other: one inserts, the other
    reports duplicates.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise ImportRejected(f"unknown conflict policy {on_conflict!r}; choose one of {', '.join(CONFLICT_POLICIES)}")
    report = {
        "inserted": 0,
        "duplicates": 0,
        "conflicts": 0,
        "kept": 0,
        "replaced": 0,
        "updated": 0,
        "conflict_examples": [],
        "on_conflict": on_conflict,
    }
    if rows.empty:
        return report
    symbol, timeframe = candle_import.symbol, candle_import.timeframe
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        around = engine.NEIGHBOUR_WINDOW  # the bars next to the file's range too: its price scale is checked
        stored = candles_frame(
            symbol=symbol,
            timeframe=timeframe,
            start=rows["ts"].iloc[0] - around,
            end=rows["ts"].iloc[-1] + around,
            with_import=True,
        )
        refusal = engine.price_scale_refusal(rows, stored, series=f"{symbol} {timeframe}", superseded=superseded)
        if refusal:  # on every attempt: another import may have written this range meanwhile
            raise refusal
        comparison = engine.compare_bars(rows, stored, superseded=superseded)
        conflicts = int(comparison.conflict.sum())
        if conflicts and on_conflict == "refuse":
            raise engine.conflict_rejection(comparison, rows=len(rows))
        overwrite = comparison.stale | (comparison.conflict if on_conflict == "replace" else False)
        # Who wrote each bar to overwrite: the UPDATE changes it only if that is still so.
        writers = stored.set_index("ts")["candle_import_id"].reindex(rows["ts"][overwrite]).to_numpy(dtype="int64")
        try:
            _write(rows[comparison.new], rows[overwrite], writers, candle_import, on_progress)
            break
        except _SeriesChanged as exc:
            # Another import wrote bars of this range between our read and our write (the same file
            # twice at once, say): once it has published them (or failed), compare again - its bars
            # are duplicates or conflicts now, as if the two had run one after the other.
            if attempt == WRITE_ATTEMPTS:
                raise ImportRejected(
                    f"{symbol} {timeframe} bars in this range kept being written by other imports; nothing was imported "
                    "- import the file again"
                ) from exc
            _wait_for_other_writers(candle_import, on_progress)
    return {
        **report,
        "inserted": int(comparison.new.sum()),
        "duplicates": int(comparison.duplicate.sum()),
        "conflicts": conflicts,
        "kept": conflicts if on_conflict == "keep" else 0,
        "replaced": conflicts if on_conflict == "replace" else 0,
        "updated": int(comparison.stale.sum()),
        "conflict_examples": comparison.examples,
    }


def _write(
    new: pd.DataFrame,
    overwrites: pd.DataFrame,
    writers: np.ndarray,
    candle_import: CandleImport,
    on_progress: StoreProgressFn,
) -> None:
    """Insert `new`, overwrite the stored bars at `overwrites` (each still written by its `writers`)
    and publish the import; nothing of it visible before the publishing commit."""
    if candle_import.published or len(new) + len(overwrites) <= CHUNK:
        with transaction.atomic():
            for batch in _bar_batches(new, candle_import):
                _insert_batch(batch)
            _publish(candle_import, staged=0)
            _overwrite(overwrites, writers, candle_import)
        candle_import.published = True  # only now: a rolled-back write leaves it unpublished
        return
    _discard_abandoned()
    candles_discard_staged(import_id=candle_import.pk)  # an earlier attempt's (a resumed job's)
    written = 0
    try:
        with _large_page_cache():
            for batch in _bar_batches(new, candle_import):  # each batch built before its transaction
                with transaction.atomic():
                    _insert_batch(batch)
                    # The heartbeat tells an import waiting for these bars that their writer is alive.
                    CandleImport.objects.filter(pk=candle_import.pk).update(heartbeat_at=timezone.now())
                written += len(batch)
                if connection.vendor == "sqlite" and written < len(new):
                    time.sleep(SQLITE_PAUSE_S)
                on_progress(
                    written / len(new), f"stored {written:,} of {len(new):,} new bars (unseen until all are stored)"
                )
            with transaction.atomic():  # the flag first: overwritten bars would add to its count of staged bars
                _publish(candle_import, staged=written)
                _overwrite(overwrites, writers, candle_import)
        candle_import.published = True
    except BaseException:
        candles_discard_staged(import_id=candle_import.pk)
        raise


def _bar_batches(rows: pd.DataFrame, candle_import: CandleImport) -> Iterator[list[tuple]]:
    """INSERT parameters of `rows`, CHUNK at a time."""
    symbol, timeframe, import_id = candle_import.symbol, candle_import.timeframe, candle_import.pk
    for start in range(0, len(rows), CHUNK):
        part = rows.iloc[start : start + CHUNK]
        values = [part[c].to_numpy(dtype=float).tolist() for c in OHLCV]
        yield list(zip(repeat(symbol), repeat(timeframe), _db_timestamps(part["ts"]), *values, repeat(import_id)))


def _db_timestamps(ts: pd.Series) -> list:
    """Bar starts as the database adapter stores them. On SQLite, whole seconds are formatted at
    once as Django's text form (`YYYY-MM-DD HH:MM:SS`, UTC), ~20 x faster than value by value."""
    utc = pd.DatetimeIndex(ts).tz_convert("UTC")
    if connection.vendor == "sqlite" and not (utc.microsecond.any() or utc.nanosecond.any()):
        return utc.tz_localize(None).strftime("%Y-%m-%d %H:%M:%S").tolist()
    return [connection.ops.adapt_datetimefield_value(t) for t in utc.to_pydatetime()]


_INSERT_FIELDS = ("symbol", "timeframe", "ts", *OHLCV, "candle_import")


def _insert_batch(batch: list[tuple]) -> None:
    """Plain INSERTs (COPY on PostgreSQL), without the ORM's per-value SQL compilation; a bar already
    stored at one of these times (by another import, published or not) fails the batch as _SeriesChanged."""
    quote = connection.ops.quote_name
    table = quote(Candle._meta.db_table)
    columns = ", ".join(quote(Candle._meta.get_field(name).column) for name in _INSERT_FIELDS)
    placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql" and hasattr(cursor.cursor, "copy"):
                # psycopg 3's COPY: ~2.4 x the rows/s of executemany's INSERTs, measured.
                with (
                    connection.wrap_database_errors,
                    cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                ):
                    for row in batch:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", batch)
    except IntegrityError as exc:
        raise _SeriesChanged(str(exc)) from exc


def _overwrite(rows: pd.DataFrame, writers: np.ndarray, candle_import: CandleImport) -> None:
    """Give the stored bars at `rows`' times the rows' values and `candle_import` as their writer;
    call inside a transaction. A bar no longer written by its `writers` entry (another import
    changed or deleted it since the comparison) fails the whole write as _SeriesChanged."""
    if rows.empty:
        return
    quote = connection.ops.quote_name
    table = quote(Candle._meta.db_table)
    assignments = ", ".join(f"{quote(name)} = %s" for name in OHLCV)
    sql = (
        f"UPDATE {table} SET {assignments}, {quote('candle_import_id')} = %s WHERE {quote('symbol')} = %s AND "
        f"{quote('timeframe')} = %s AND {quote('ts')} = %s AND {quote('candle_import_id')} = %s"
    )
    values = [rows[c].to_numpy(dtype=float).tolist() for c in OHLCV]
    params = zip(
        *values,
        repeat(candle_import.pk),
        repeat(candle_import.symbol),
        repeat(candle_import.timeframe),
        _db_timestamps(rows["ts"]),
        writers.tolist(),
    )
    changed = 0
    with connection.cursor() as cursor:
        while batch := list(islice(params, CHUNK)):
            cursor.executemany(sql, batch)
            changed += cursor.rowcount
    if changed != len(rows):
        raise _SeriesChanged(f"{len(rows) - changed} of the bars to overwrite changed since they were compared")


def _publish(candle_import: CandleImport, *, staged: int) -> None:
    """Make the import's bars visible when the transaction that writes its last bars commits (call
    in it). The `staged` bars written before must all still be there: an import taken for dead has
    its staged bars discarded by the next import that finds them."""
    if candle_import.published:
        return
    if staged and Candle.all_objects.filter(candle_import=candle_import).count() < staged:
        raise ImportRejected(
            f"import #{candle_import.pk} stopped reporting for {settings.FOREXGPT_JOB_STALE_MINUTES:g} "
            "minutes while writing its bars and was taken for dead; nothing was imported - import the "
            "file again"
        )
    CandleImport.objects.filter(pk=candle_import.pk).update(published=True)


@contextmanager
def _large_page_cache(kib: int = 65536):
    """A 64 MiB page cache for this SQLite connection while it stages bars (2 MiB by default):
    the unique index's pages stay in memory, and inserts run ~1.5 x faster."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (before,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _staging_imports():
    """Unpublished imports that have bars stored: being written now, or left by a write that died."""
    return CandleImport.objects.filter(published=False).filter(
        Exists(Candle.all_objects.filter(candle_import=OuterRef("pk")))
    )


def _live() -> Q:
    """An import still writing: it reports after every chunk, so a heartbeat this old means it died."""
    cutoff = timezone.now() - timedelta(minutes=settings.FOREXGPT_JOB_STALE_MINUTES)
    return Q(heartbeat_at__gte=cutoff) & ~Q(status__in=[JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SUCCEEDED])


def _discard_abandoned() -> None:
    """Delete the bars that imports which will never publish them left staged (their process died)."""
    for import_id in _staging_imports().exclude(_live()).values_list("pk", flat=True):
        candles_discard_staged(import_id=import_id)


def _wait_for_other_writers(candle_import: CandleImport, on_progress: StoreProgressFn) -> None:
    """Return once no other live import of this series has bars staged (each publishes or fails)."""
    others = (
        _staging_imports()
        .filter(symbol=candle_import.symbol, timeframe=candle_import.timeframe)
        .exclude(pk=candle_import.pk)
    )
    while True:
        _discard_abandoned()
        writing = list(others.values_list("pk", flat=True))
        if not writing:
            return
        on_progress(0.0, f"waiting for import #{writing[0]} to finish writing bars of this range")
        time.sleep(WAIT_POLL_S)


def candles_discard_staged(*, import_id: int) -> int:
    """Delete the bars an unpublished import has staged, CHUNK at a time (each a short transaction);
    returns how many. The bars of a published import are never touched."""
    staged = Candle.all_objects.filter(candle_import_id=import_id, candle_import__published=False)
    deleted = 0
    while True:
        n, _ = Candle.all_objects.filter(pk__in=staged.values("pk")[:CHUNK]).delete()
        deleted += n
        if n < CHUNK:
            return deleted


@transaction.atomic
def candles_delete(
    *, user, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None
) -> dict:
    """Delete a series, or its bars with start <= ts <= end (staff only; `user=None` is the shell
    operator). The imports that wrote them stay, as the record of what was imported."""
    if user is not None and not getattr(user, "is_staff", False):
        raise PermissionDenied("only staff may delete market data")
    try:
        bars = candles_queryset(symbol=symbol, timeframe=timeframe, start=start, end=end)
    except ValueError as exc:
        raise ImportRejected(str(exc)) from exc
    deleted, _ = bars.delete()
    return {
        "deleted": deleted,
        "symbol": engine.normalize_symbol(symbol),
        "timeframe": engine.normalize_timeframe(timeframe).code,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }


@transaction.atomic
def candles_delete_written_by(*, user, import_ids: Iterable[int]) -> int:
    """Delete the bars the given imports wrote (staff only), e.g. to undo an import; returns how many."""
    if user is not None and not getattr(user, "is_staff", False):
        raise PermissionDenied("only staff may delete market data")
    deleted, _ = Candle.objects.filter(candle_import_id__in=list(import_ids)).delete()
    return deleted
