"""The order audit journal: append-only SQLite in WAL mode.

Every intent, check, override, confirmation, submission, status change, fill, cancel,
error and connection event is a row, written (and committed) before the action it
records leaves the process. WAL with synchronous=NORMAL survives a killed process;
FULL (config `journal_sync`) also survives a power cut.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ibterm.private import create_private, private_dir, tighten

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


def journal_path(data_dir: Path) -> Path:
    return data_dir / "journal.sqlite3"


class Journal:
    def __init__(self, path: Path, profile: str, synchronous: str = "NORMAL"):
        private_dir(path.parent)
        create_private(path)  # before SQLite: its -wal/-shm copy the database's mode
        for side in (path.with_name(path.name + s) for s in ("-wal", "-shm")):
            tighten(side)
        self.path = path
        self.profile = profile
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}")
        self._db.executescript(SCHEMA)

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
    """Read a journal (read-only); filters combine with AND."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
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
        for row in db.execute(f"SELECT {', '.join(COLUMNS)} FROM events {where} ORDER BY seq",
                              params):
            yield JournalEvent(*row[:7], data=json.loads(row[7]))
    finally:
        db.close()
