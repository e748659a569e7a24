"""The order audit journal: append-only SQLite in WAL mode.

Every intent, check, override, confirmation, submission, status change, fill, cancel,
error and connection event is a row, written (and committed) before the action it
records leaves the process. WAL with synchronous=NORMAL survives a killed process;
FULL (config `journal_sync`) also survives a power cut.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibterm.files.private import create_private, private_dir, tighten

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts         TEXT NOT NULL,      -- UTC, ISO 8601 with microseconds
    profile    TEXT NOT NULL,
    kind       TEXT NOT NULL,      -- intent, check, confirm, override, rejected, queued,
                                   -- withdrawn, submitted, modify, status, fill,
                                   -- commission, cancel, connection, state, reconcile
    intent_id  TEXT NOT NULL DEFAULT '',
    order_ref  TEXT NOT NULL DEFAULT '',
    symbol     TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_ref ON events(order_ref);
CREATE TRIGGER IF NOT EXISTS events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
"""
COLUMNS = ("seq", "ts", "profile", "kind", "intent_id", "order_ref", "symbol", "data")


@dataclass(frozen=True, slots=True)
class JournalEvent:
    seq: int
    ts: str
    profile: str
    kind: str
    intent_id: str
    order_ref: str
    symbol: str
    data: dict[str, Any]


SIDECARS = ("-wal", "-shm")  # SQLite's files beside the database, part of its content
# SQLite's primary result codes that mean the bytes are not a sound database, as opposed
# to one we cannot use just now (locked, busy, no permission: OperationalError).
_CORRUPT_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


def journal_path(data_dir: Path) -> Path:
    return data_dir / "journal.sqlite3"


class JournalCorrupt(Exception):
    """The journal file is not a readable SQLite database; nothing has been changed."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: not a readable journal ({reason})")
        self.path = path
        self.reason = reason


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    return not isinstance(exc, sqlite3.OperationalError)


@contextlib.contextmanager
def _corruption_named(path: Path) -> Iterator[None]:
    """SQLite's corruption errors, as JournalCorrupt naming the file; others pass."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if _is_corruption(exc):
            raise JournalCorrupt(path, str(exc)) from None
        raise


_HEADER = b"SQLite format 3\x00"


def _check_header(path: Path) -> None:
    """Raise JournalCorrupt when an existing, non-empty `path` does not start as an SQLite
    database. Checked in Python, before SQLite sees the file: SQLite opening a "file is
    not a database" read-write deletes its -wal and -shm on close, and the WAL may hold
    the last orders of the day."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_HEADER))
    except FileNotFoundError:
        return
    if head and head != _HEADER:
        raise JournalCorrupt(path, "file is not a database")


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in SIDECARS]


def set_aside(path: Path, now: dt.datetime | None = None) -> Path:
    """Rename a bad journal and its -wal/-shm to journal.sqlite3.corrupt-YYYYmmdd-HHMMSS
    (+ -wal/-shm, so SQLite tools open the pair together for a recovery); return the new
    database path. Renames only: nothing is deleted or overwritten."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        target = path.with_name(f"{path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
        if not any(p.exists() for p in [target, *_sidecars(target)]):
            break
    else:
        raise FileExistsError(f"{path}: too many set-aside journals for {stamp}")
    # The sidecars first: a crash between renames leaves the main file where SQLite
    # would look, never a WAL applied to the wrong database.
    for side, new in zip(_sidecars(path), _sidecars(target), strict=True):
        if side.exists():
            os.rename(side, new)
    os.rename(path, target)
    return target


def check_readable(path: Path) -> None:
    """Raise JournalCorrupt if the existing file at `path` is not a journal SQLite can
    read (without writing to it)."""
    _check_header(path)
    with _corruption_named(path):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            db.close()


class Journal:
    def __init__(self, path: Path, profile: str, synchronous: str = "NORMAL"):
        """Open (or create) the journal; raise JournalCorrupt, changing nothing, when the
        file is not a database (the caller decides whether to set it aside)."""
        private_dir(path.parent)
        _check_header(path)
        create_private(path)  # before SQLite: its -wal/-shm copy the database's mode
        for side in _sidecars(path):
            tighten(side)
        self.path = path
        self.profile = profile
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            with _corruption_named(path):
                # The first statements that read the file: a bad header fails here.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
                self._db.executescript(SCHEMA)
        except (sqlite3.DatabaseError, JournalCorrupt):
            self._db.close()
            raise

    def record(self, kind: str, *, intent_id: str = "", order_ref: str = "", symbol: str = "",
               **data: Any) -> None:
        ts = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        payload = json.dumps(data, default=str, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO events (ts, profile, kind, intent_id, order_ref, symbol, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ts, self.profile, kind, intent_id, order_ref, symbol, payload),
            )

    def order_states(self) -> dict[str, tuple[str, str]]:
        """For every order this profile submitted: order_ref -> (last status, symbol).
        'Submitted-unacknowledged' when it was sent but no status ever came back."""
        with self._lock:
            rows = self._db.execute(
                "SELECT order_ref, kind, symbol, data FROM events WHERE profile = ? AND "
                "order_ref != '' AND kind IN ('submitted', 'status', 'withdrawn') ORDER BY seq",
                (self.profile,)).fetchall()
        states: dict[str, tuple[str, str]] = {}
        for ref, kind, symbol, data in rows:
            if kind == "submitted":
                states[ref] = ("Submitted-unacknowledged", symbol)
            elif kind == "withdrawn":
                if not json.loads(data).get("modify"):  # a withdrawn change: still working
                    states[ref] = ("NotSent", symbol)
            else:
                status = json.loads(data).get("status", "")
                if status == "PendingSubmit":  # ib_async's own, before any answer
                    status = "Submitted-unacknowledged"
                states[ref] = (status, symbol)
        return states

    def open_orders(self, final: Collection[str]) -> dict[str, tuple[str, str]]:
        """The orders whose last state in the journal is not one of `final`: order_ref ->
        (status, symbol), as order_states() says it. SQLite picks each order's last
        event, so a reconciliation costs the same late in a busy day as at its start."""
        marks = ", ".join("?" * len(final))
        with self._lock:
            rows = self._db.execute(
                "SELECT e.order_ref, e.kind, e.symbol, json_extract(e.data, '$.status') "
                "FROM events e JOIN (SELECT order_ref, MAX(seq) AS seq FROM events "
                "  WHERE profile = ? AND order_ref != '' "
                "  AND kind IN ('submitted', 'status', 'withdrawn') "
                "  AND NOT (kind = 'withdrawn' AND coalesce(json_extract(data, '$.modify'), 0))"
                "  GROUP BY order_ref) last ON e.seq = last.seq "
                f"WHERE e.kind != 'withdrawn' AND NOT (e.kind = 'status' AND "
                f"coalesce(json_extract(e.data, '$.status'), '') IN ({marks}))",
                (self.profile, *final)).fetchall()
        out: dict[str, tuple[str, str]] = {}
        for ref, kind, symbol, status in rows:
            if kind == "submitted" or status == "PendingSubmit":
                status = "Submitted-unacknowledged"
            out[ref] = (status or "", symbol)
        return out

    def knows(self, order_ref: str) -> bool:
        """Whether this profile ever journaled the order."""
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM events WHERE order_ref = ? AND profile = ? LIMIT 1",
                (order_ref, self.profile)).fetchone() is not None

    def known_execs(self, exec_ids: Collection[str]) -> set[str]:
        """Those of `exec_ids` journaled as fills."""
        if not exec_ids:
            return set()
        marks = ", ".join("?" * len(exec_ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT json_extract(data, '$.exec_id') FROM events WHERE profile = ? AND "
                f"kind = 'fill' AND json_extract(data, '$.exec_id') IN ({marks})",
                (self.profile, *exec_ids)).fetchall()
        return {r for (r,) in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def read_events(path: Path, since: dt.date | None = None, symbol: str | None = None,
                profile: str | None = None) -> Iterator[JournalEvent]:
    """Read a journal (read-only); filters combine with AND. Raise JournalCorrupt when
    the file is not a readable database (also part way through: a damaged page)."""
    _check_header(path)
    clauses, params = [], []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(since.isoformat())
    if symbol:
        clauses.append("symbol = ?")
        params.append(symbol.upper())
    if profile:
        clauses.append("profile = ?")
        params.append(profile)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with _corruption_named(path):
            for row in db.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM events {where} ORDER BY seq", params):
                seq, ts, profile_name, kind, intent_id, order_ref, symbol, data = row
                yield JournalEvent(seq, ts, profile_name, kind, intent_id, order_ref, symbol,
                                   json.loads(data))
    finally:
        db.close()
