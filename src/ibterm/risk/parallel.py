"""The Reg T pairing of a large book on a second core (docs/risk.md, Performance).

The pairing is independent per (underlying, account) group: margin.compute_margin sends
about half of a large book's groups to a persistent worker process and pairs the other
half meanwhile, then puts the worker's strategies in their place. The result is the same
as the serial one, strategy for strategy and to the last bit (a test compares them).

The worker is forked once, on the first book that qualifies, and kept for the life of the
process (a long-running app, or `ibterm risk` on one large book); it dies with it. What
crosses the pipe is compact: the rows as plain tuples (their expiries as indices into
the group's dates: pickling 50,000 date objects alone costs 45 ms), the strategies back
as (name, legs, initial, maintenance). The worker rebuilds rows as `_Row` named tuples:
the pairing reads only their attributes, and a frozen dataclass's own constructor would
cost 1.4 µs a row.

Settings: `configure(enabled=..., min_rows=...)`, or IBTERM_RISK_PARALLEL=0 in the
environment to keep everything serial. Books under `min_rows` rows, memoised previews and
machines with one core stay serial: the process's overhead would dominate.
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

from ibterm.risk.portfolio import OPTION_TYPES, Row
from ibterm.risk.strategy import Strategy

MIN_ROWS = 5_000  # a book of fewer rows is paired serially
SHARE = 0.5  # of the book's rows, the worker's (the main process also rebuilds its result)
SHARE_WITH_STRESS = 0.55  # the same, when this process computes the stress meanwhile


@dataclass(slots=True)
class ParallelSettings:
    enabled: bool = True
    min_rows: int = MIN_ROWS


def _from_environment() -> ParallelSettings:
    value = os.environ.get("IBTERM_RISK_PARALLEL", "").strip().lower()
    return ParallelSettings(enabled=value not in ("0", "off", "false", "no"))


settings = _from_environment()


def configure(*, enabled: bool | None = None, min_rows: int | None = None) -> None:
    """Turn the parallel pairing on or off, or set the size from which it is used."""
    if enabled is not None:
        settings.enabled = enabled
    if min_rows is not None:
        settings.min_rows = min_rows


def wanted(rows: int, groups: int) -> bool:
    """Whether a book of `rows` rows in `groups` groups is paired on two cores."""
    # (multiprocessing is imported with the first worker, not with the margin: 13 ms)
    return (settings.enabled and rows >= settings.min_rows and groups >= 2
            and (os.cpu_count() or 1) >= 2 and hasattr(os, "fork"))


# The rows across ------------------------------------------------------------------------

_FIELDS = tuple(f.name for f in fields(Row))
_EXPIRY = _FIELDS.index("expiry")
_OTHERS = attrgetter(*(name for i, name in enumerate(_FIELDS) if i != _EXPIRY))
_EXPIRY_OF = attrgetter("expiry")


class _Row(NamedTuple):
    """A Row as the worker holds it: the same attributes, built at C speed."""

    line: int
    symbol: str
    sec_type: str
    right: str
    strike: float
    expiry: dt.date | None
    multiplier: float
    quantity: float
    price: float
    underlying_price: float
    iv: float | None
    account: str
    div_yield: float
    index_class: str

    @property
    def is_option(self) -> bool:
        return self.sec_type in OPTION_TYPES


assert _Row._fields == _FIELDS, "_Row must follow Row's fields"

Group = tuple[str, str, list[Row]]  # symbol, account, rows
_Encoded = tuple[str, str, list[dt.date | None], list[int], list[tuple[Any, ...]]]


def encode_groups(groups: list[Group]) -> list[_Encoded]:
    out = []
    for symbol, account, rows in groups:
        dates: dict[dt.date | None, int] = {}
        codes = [dates.setdefault(d, len(dates)) for d in map(_EXPIRY_OF, rows)]
        out.append((symbol, account, list(dates), codes, list(map(_OTHERS, rows))))
    return out


def decode_groups(encoded: list[_Encoded]) -> list[Group]:
    make = _Row._make
    cut = _EXPIRY
    out = []
    for symbol, account, dates, codes, values in encoded:
        rows = [make((*v[:cut], dates[c], *v[cut:])) for c, v in zip(codes, values, strict=True)]
        out.append((symbol, account, cast(list[Row], rows)))
    return out


_Found = list[tuple[str, list[tuple[int, float]], float, float]]


def encode_strategies(found: list[Strategy]) -> _Found:
    return [(s.name, s.legs, s.initial, s.maintenance) for s in found]


def decode_strategies(symbol: str, account: str, found: _Found) -> list[Strategy]:
    return [Strategy(name, symbol, account, legs, initial, maintenance)
            for name, legs, initial, maintenance in found]


# The worker ------------------------------------------------------------------------------

Handler = Callable[[Any], Any]


def _serve(conn: Connection, handler: Handler) -> None:
    """The worker's loop: a request in, its answer out, until the pipe closes. It holds
    nothing between requests. Forked: what it inherited is never collected (frozen), and
    the collector is off while it works (the pairing makes no cycles)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.freeze()
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        gc.disable()
        try:
            answer: tuple[bool, Any] = (True, handler(pickle.loads(data)))
        except Exception as e:  # sent back: the parent raises it, or pairs serially
            answer = (False, repr(e))
        try:
            conn.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        except (EOFError, OSError):
            return
        del answer
        gc.enable()


class WorkerFailed(Exception):
    pass


class Worker:
    """A forked process answering requests with `handler`, one at a time."""

    def __init__(self, handler: Handler) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, handler), daemon=True,
                                    name="ibterm-risk")
        self._process.start()
        child.close()
        self._waiting = False

    def submit(self, request: object) -> None:
        """Send a request; its answer is read by `answer()`. Meanwhile the caller works."""
        try:
            self._conn.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        except (EOFError, OSError) as e:
            raise WorkerFailed(repr(e)) from e
        self._waiting = True

    def answer(self) -> Any:
        try:
            ok, value = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError) as e:
            raise WorkerFailed(repr(e)) from e
        finally:
            self._waiting = False
        if not ok:
            raise WorkerFailed(value)
        return value

    def alive(self) -> bool:
        return self._process.is_alive() and not self._waiting

    def close(self) -> None:
        self._conn.close()
        self._process.join(timeout=1.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


_lock = threading.Lock()
_workers: dict[Handler, Worker] = {}


@contextmanager
def worker(handler: Handler) -> Iterator[Worker | None]:
    """The worker running `handler`, started on first use; None when another thread is
    using it (the caller then works alone). A worker that failed is dropped (and
    started again the next time)."""
    if not _lock.acquire(blocking=False):
        yield None
        return
    try:
        w = _workers.get(handler)
        if w is not None and not w.alive():
            w.close()
            w = None
        if w is None:
            w = _workers[handler] = Worker(handler)
        try:
            yield w
        except WorkerFailed:
            _workers.pop(handler, None)
            w.close()
            raise
    finally:
        _lock.release()


def shutdown() -> None:
    """Stop the workers (they also stop with the process)."""
    with _lock:
        for w in _workers.values():
            w.close()
        _workers.clear()


atexit.register(shutdown)


def split(sizes: list[int], share: float) -> set[int]:
    """The groups (indices into `sizes`, rows per group) for the worker: the largest first
    while they fit in `share` of the rows, so that both sides get about their part."""
    target = share * sum(sizes)
    mine: set[int] = set()
    taken = 0
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        if taken + sizes[i] <= target:
            mine.add(i)
            taken += sizes[i]
    return mine
