"""Strategy-based (Reg T) margin, IBKR-style, with legs paired to keep the total low.

Conventions (margin-rules.md): margin excludes money paid for long options, which is
`long_premium` (100% of cost, 75% past nine months); a naked short includes the option's
price; a credit spread costs its strike width. Rates: the `reg_t` section of the risk
tables (tables.py). Futures and futures options are charged by a SPAN-like scan instead
(span.py).

Pairing, within one underlying, account and (for two options) multiplier — docs/risk.md
has the full algorithm and its limits:
1. a pool of two-leg candidates, each with its saving per contract over leaving the short
   naked: a short covered by stock, a vertical with a long of the same right and expiry, a
   calendar or diagonal with a long expiring later, a short call beside a short put of the
   same expiry (straddle / strangle). Only nearby strikes are tried, which keeps the pool
   near-linear in legs. The pool is taken greedily, largest saving first, as far as
   quantities allow;
2. spreads of one expiry are joined two by two where their combined worst case at expiry
   costs less than both apart: iron condors and iron butterflies, butterflies, condors;
   then credit verticals that save nothing alone (no candidates) where joining them
   with a spread left, or with one another, does;
3. long puts protect long stock and long calls short stock (maintenance);
4. the rest is outright.
Steps 1-4 run with the pool in a few orders and the cheapest outcome is kept (a walk that
cannot beat the best so far is given up early); in a group of few long options, also for
every subset of them left out (standing alone), so that a long option added never raises
the initial margin. Every
step only ever lowers a requirement, so the result never costs more than leaving every
leg naked. Greedy is not exhaustive: a grouping that needs one leg to give up a good pair
for two better ones can be missed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from ibterm.risk import parallel, tables
from ibterm.risk.memo import PartsMemo
from ibterm.risk.portfolio import OPTION_TYPES, Row
from ibterm.risk.span import SpanParams, span_strategies
from ibterm.risk.strategy import Strategy

if TYPE_CHECKING:
    from ibterm.risk.stress import StressParams, StressResult

NEAREST = 6  # long options tried per short option (verticals, calendars, diagonals)
NEAREST_PUTS = 6  # short puts tried per short call (straddles, strangles)
_SCAN = 4 * NEAREST  # legs looked at, at most, to find them
NEAREST_SPREADS = 3  # spreads tried per credit spread when joining spreads
DEFAULT_RATE = 0.04  # the risk-free rate when none is given (pricing futures options)
_EPS = 1e-9
# The search over long options left out (docs/risk.md, Limits) is exhaustive for a group
# of at most this many long options (at most 2^10 sets of them left out, a few dozen in
# practice) ...
_LEAVE_OUT_LONGS = 10
# ... and stops, keeping the cheapest so far, after building this many pool candidates,
# counting the first pool's (a few milliseconds; random books of up to 9 legs need 500).
_LEAVE_OUT_WORK = 3_000
# Past this many objects made (and not freed) while pairing, they go straight to the
# collector's oldest generation (_collector_paused).
_PROMOTE = 50_000


def _default(name: str):  # type: ignore[no-untyped-def]
    return field(default_factory=lambda: getattr(tables.shipped().reg_t, name))


@dataclass(frozen=True, slots=True)
class Rates:
    """Reg T rates; the defaults are the shipped table's (data/risk.yaml, `reg_t`)."""

    long_stock_initial: float = _default("long_stock_initial")
    long_stock_maint: float = _default("long_stock_maint")
    short_stock_initial: float = _default("short_stock_initial")
    short_stock_maint: float = _default("short_stock_maint")
    short_stock_min_per_share: float = _default("short_stock_min_per_share")
    low_price_maint: float = _default("low_price_maint")
    low_price_min_per_share: float = _default("low_price_min_per_share")
    naked_pct: float = _default("naked_pct")
    naked_pct_broad_index: float = _default("naked_pct_broad_index")
    naked_floor: float = _default("naked_floor")
    protective_put_pct_strike: float = _default("protective_put_pct_strike")
    long_option_months_full: int = _default("long_option_months_full")
    long_option_past_pct: float = _default("long_option_past_pct")
    low_price_threshold: float = _default("low_price_threshold")
    broad_index_classes: tuple[str, ...] = _default("broad_index_classes")

    @classmethod
    def from_table(cls, m: tables.RegTModel) -> Rates:
        return cls(**m.model_dump())


@dataclass(slots=True)
class MarginResult:
    initial: float = 0.0
    maintenance: float = 0.0
    long_premium: float = 0.0
    strategies: list[Strategy] = field(default_factory=list)


_LINE = attrgetter("line")
_KEY = attrgetter("key")


def _otm(row: Row) -> float:
    s, k = row.underlying_price, row.strike
    return max(k - s, 0.0) if row.right == "C" else max(s - k, 0.0)


def _itm(row: Row) -> float:
    s, k = row.underlying_price, row.strike
    return max(s - k, 0.0) if row.right == "C" else max(k - s, 0.0)


def naked_per_contract(row: Row, rates: Rates) -> float:
    pct = rates.naked_pct_broad_index if row.index_class in rates.broad_index_classes \
        else rates.naked_pct
    s = row.underlying_price
    floor = rates.naked_floor * (s if row.right == "C" else row.strike)
    return (row.price + max(pct * s - _otm(row), floor)) * row.multiplier


def stock_requirement(price: float, shares: float, rates: Rates) -> tuple[float, float]:
    """(initial, maintenance) for `shares` (signed) at `price`."""
    value = abs(shares) * price
    if shares > 0:
        return value * rates.long_stock_initial, value * rates.long_stock_maint
    if price >= rates.low_price_threshold:
        per_share = max(rates.short_stock_maint * price, rates.short_stock_min_per_share)
    else:
        per_share = max(rates.low_price_maint * price, rates.low_price_min_per_share)
    maint = per_share * abs(shares)
    return max(value * rates.short_stock_initial, maint), maint


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day when it has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def long_premium(rows: list[Row], as_of: dt.date, rates: Rates | None = None) -> float:
    """Money to pay for long options: their cost, 75% of it past nine months."""
    rates = rates or Rates()
    cutoff = months_after(as_of, rates.long_option_months_full)
    total = 0.0
    past = rates.long_option_past_pct
    for r in rows:
        if r.quantity > 0 and r.sec_type in OPTION_TYPES:  # (Row.is_option, inlined)
            expiry = r.expiry
            share = past if expiry and expiry > cutoff else 1.0
            total += r.price * r.multiplier * r.quantity * share
    return total


def compute_margin(rows: list[Row], as_of: dt.date, rates: Rates | None = None,
                   futures_margin: dict[str, tuple[float, float]] | None = None, *,
                   span: SpanParams | None = None, rate: float = DEFAULT_RATE,
                   memo: PartsMemo[list[Strategy]] | None = None,
                   parallel_pairing: bool | None = None,
                   meanwhile: Callable[[], None] | None = None) -> MarginResult:
    """Reg T for stock and options, a SPAN-like scan (span.py) for futures and futures
    options; `futures_margin` is (initial, maintenance) per root, overnight or intraday
    as the caller chooses; `span` a span.SpanParams (default: the shipped table).
    `memo` remembers each underlying and account's strategies (memo.py): one per set of
    rates, futures margins and span parameters.
    `parallel_pairing`: pair about half of the groups in a worker process meanwhile
    (parallel.py; the same result); None: as parallel.settings says for the book's size,
    never with a memo. `meanwhile` is called while the worker finishes, when there is
    one (margin_and_stress)."""
    rates = rates or Rates()
    result = MarginResult(long_premium=long_premium(rows, as_of, rates))
    groups: dict[tuple[str, str], list[Row]] = {}
    last, in_order = -1, True
    for r in rows:
        groups.setdefault((r.symbol, r.account), []).append(r)
        # (each group is taken in line order: a book read in order needs no sort, and
        # reading the rows again at 100,000 of them costs their cache misses again)
        if r.line < last:
            in_order = False
        last = r.line
    if parallel_pairing is None:
        parallel_pairing = memo is None and parallel.wanted(len(rows), len(groups))
    with _collector_paused():
        if parallel_pairing and memo is None:
            try:
                if _add_groups_parallel(result, groups, as_of, rate, rates, futures_margin,
                                        span, in_order, meanwhile):
                    return result
            except parallel.WorkerFailed:
                pass  # (the worker is started again next time) paired here instead
        _add_groups(result, groups, as_of, rate, rates, futures_margin, span, memo,
                    in_order)
    return result


def margin_and_stress(rows: list[Row], as_of: dt.date, rates: Rates | None = None,
                      futures_margin: dict[str, tuple[float, float]] | None = None, *,
                      span: SpanParams | None = None, rate: float = DEFAULT_RATE,
                      stress_params: StressParams | None = None,
                      correlated_view: bool = True,
                      parallel_pairing: bool | None = None) -> tuple[MarginResult,
                                                                     StressResult]:
    """compute_margin() and stress(positions()) of one book, the same figures; when the
    pairing runs on two cores (parallel.py), the stress is computed while the worker
    process finishes its half of the groups."""
    from ibterm.risk.stress import positions, stress  # (the simulator's margin needs none)

    done: list[StressResult] = []

    def run_stress() -> None:
        done.append(stress(positions(rows, as_of, rate), stress_params, correlated_view))

    m = compute_margin(rows, as_of, rates, futures_margin, span=span, rate=rate,
                       parallel_pairing=parallel_pairing, meanwhile=run_stress)
    if not done:
        run_stress()
    return m, done[0]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The pairing makes hundreds of thousands of small objects and no reference cycle:
    the cyclic garbage collector, which runs every few hundred allocations and now and
    then walks every live object, would only slow it down (by a third at 100,000
    positions). Reference counting frees all of it. The collector is turned back on only
    if it was on: another thread pausing it at the same time finds it off and leaves it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > _PROMOTE:
                # What is still alive is the result, and it lives on: the first young
                # collection after this would walk every object of it only to promote it
                # (40 ms at 100,000 positions, with cache misses). freeze() then
                # unfreeze() moves every tracked object to the oldest generation at once
                # (two list splices) without walking them; cycles made meanwhile elsewhere
                # wait for the next full collection instead.
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _add_groups(result: MarginResult, groups: dict[tuple[str, str], list[Row]],
                as_of: dt.date, rate: float, rates: Rates,
                futures_margin: dict[str, tuple[float, float]] | None,
                span: SpanParams | None, memo: PartsMemo[list[Strategy]] | None,
                in_order: bool = False) -> None:
    """Each group's strategies into `result`, by underlying then account; `in_order`
    when every group's rows are in line order already."""
    # (summed in locals, in the same order: the same figures, without an attribute write
    # per strategy)
    initial, maintenance, strategies = result.initial, result.maintenance, result.strategies
    for (symbol, account), members in sorted(groups.items()):
        if not in_order:
            members = sorted(members, key=_LINE)
        group = partial(_group_strategies, symbol, account, members, as_of, rate, rates,
                        (futures_margin or {}).get(symbol), span)
        found = group() if memo is None else memo.get(members, (as_of, rate), group)
        strategies.extend(found)
        for s in found:
            initial += s.initial
            maintenance += s.maintenance
    result.initial, result.maintenance = initial, maintenance


def _add_groups_parallel(result: MarginResult, groups: dict[tuple[str, str], list[Row]],
                         as_of: dt.date, rate: float, rates: Rates,
                         futures_margin: dict[str, tuple[float, float]] | None,
                         span: SpanParams | None, in_order: bool,
                         meanwhile: Callable[[], None] | None = None) -> bool:
    """As _add_groups without a memo, about half of the groups (by rows) paired in the
    worker process while this one pairs the rest; False when the worker is busy with
    another thread's book (nothing done). Groups with futures rows stay here."""
    items = sorted(groups.items())
    if not in_order:
        items = [(key, sorted(members, key=_LINE)) for key, members in items]
    futures = ("FUT", "FOP")
    sizes = [0 if any(r.sec_type in futures for r in members) else len(members)
             for _key, members in items]
    # (with the stress to compute meanwhile, the worker takes more of the pairing)
    share = parallel.SHARE if meanwhile is None else parallel.SHARE_WITH_STRESS
    theirs = sorted(i for i in parallel.split(sizes, share) if sizes[i])
    if not theirs:
        return False
    margins = futures_margin or {}
    found_of: list[list[Strategy]] = [[] for _ in items]
    with parallel.worker(_pair_request) as w:
        if w is None:
            return False
        w.submit((as_of, rate, rates, span, [margins.get(items[i][0][0]) for i in theirs],
                  parallel.encode_groups([(*items[i][0], items[i][1]) for i in theirs])))
        skip = set(theirs)
        for i, ((symbol, account), members) in enumerate(items):
            if i not in skip:
                found_of[i] = _group_strategies(symbol, account, members, as_of, rate, rates,
                                                margins.get(symbol), span)
        if meanwhile is not None:
            meanwhile()
        answer = w.answer()
    for i, found in zip(theirs, answer, strict=True):
        found_of[i] = parallel.decode_strategies(*items[i][0], found)
    # (summed in the same order as _add_groups: the same figures)
    initial, maintenance, strategies = result.initial, result.maintenance, result.strategies
    for found in found_of:
        strategies.extend(found)
        for s in found:
            initial += s.initial
            maintenance += s.maintenance
    result.initial, result.maintenance = initial, maintenance
    return True


def _pair_request(request: Any) -> list[Any]:
    """In the worker process: the strategies of the groups sent by _add_groups_parallel."""
    as_of, rate, rates, span, margins, encoded = request
    return [parallel.encode_strategies(_group_strategies(symbol, account, rows, as_of, rate,
                                                         rates, fm, span))
            for (symbol, account, rows), fm in zip(parallel.decode_groups(encoded), margins,
                                                   strict=True)]


def _group_strategies(symbol: str, account: str, members: list[Row], as_of: dt.date,
                      rate: float, rates: Rates, futures_margin: tuple[float, float] | None,
                      span: SpanParams | None) -> list[Strategy]:
    """One underlying and account: Reg T pairing, and the scan for its futures rows."""
    futures = [r for r in members if r.sec_type in ("FUT", "FOP")]
    regt = [r for r in members if r.sec_type not in ("FUT", "FOP")]
    found: list[Strategy] = []
    if regt:
        found.extend(_best_grouping(symbol, account, regt, rates))
    if futures:
        found.extend(span_strategies(symbol, account, futures, as_of, rate, futures_margin,
                                     span))
    return found


# The pairing ------------------------------------------------------------------------------

class _Leg:
    """A row's part still to be placed in a strategy (`left`, absolute)."""

    __slots__ = (
        "expiry",
        "itm",
        "key",
        "left",
        "line",
        "mult",
        "naked",
        "order",
        "price",
        "qty",
        "right",
        "row",
        "size",
        "strike",
    )

    def __init__(self, row: Row, rates: Rates) -> None:
        self.row = row
        self.line = row.line
        self.qty = row.quantity
        self.size = self.left = abs(row.quantity)
        self.strike = row.strike
        self.expiry = row.expiry.toordinal() if row.expiry else 0
        self.right = row.right
        self.mult = row.multiplier
        self.price = row.price
        short_option = row.quantity < 0 and row.sec_type in OPTION_TYPES
        # Only a short option's requirement and in-the-money amount are ever read.
        self.naked = naked_per_contract(row, rates) if short_option else 0.0
        self.itm = _itm(row) if short_option else 0.0
        # A canonical order, so the result does not depend on the order of the rows; `order`
        # is the leg's place in it among the group's options.
        self.key = (row.right, row.strike, self.expiry, row.multiplier, row.price, row.line)
        self.order = 0


# Candidate kinds, in the pool as (-saving, rank, kind, short, other, cost per contract of a
# vertical, calendar or diagonal). At equal savings
# the rank decides: a vertical before a calendar or diagonal, as it can still be joined
# into a condor or butterfly; then the order the candidates were made in (canonical).
# The rank is unique: it also names the candidate.
_COVERED, _VERTICAL, _CALENDAR, _STRADDLE = range(4)
_RANK = {_COVERED: 0, _VERTICAL: 1 << 40, _STRADDLE: 2 << 40, _CALENDAR: 3 << 40}
_KINDS = frozenset(_RANK)
# The walks: the candidate kinds each keeps (None: all), and whether straddles go first.
_ORDERS: tuple[tuple[frozenset[int] | None, bool], ...] = (
    (None, False),  # by-saving
    (None, True),  # straddles-first
    (frozenset({_COVERED, _STRADDLE}), False),  # no-verticals
    (frozenset({_COVERED, _VERTICAL, _CALENDAR}), False),  # no-straddles
    (frozenset({_COVERED, _VERTICAL}), False),  # verticals-only
)
_Candidate = tuple[float, int, int, _Leg, _Leg, float]  # ..., the spread's cost
_NEG = itemgetter(0)
# The kinds in the order of their ranks: candidates of one saving come in this order.
_RANK_ORDER = sorted(_RANK, key=_RANK.__getitem__)


class _Pool(list[_Candidate]):
    """The candidates, largest saving first (then by rank), and `by_kind`: each kind's own
    candidates (indexed by kind) in the same order, from which a walk that keeps only some
    kinds takes its order without sifting the whole pool."""

    __slots__ = ("by_kind",)

    def __init__(self, by_kind: tuple[list[_Candidate], ...]) -> None:
        # Each kind's list is made in rank order, so a stable sort by saving alone is the
        # order by (saving, rank): floats compare faster than tuples, and the lists joined
        # in rank order of their kinds are merged, not sorted again.
        for run in by_kind:
            run.sort(key=_NEG)
        super().__init__(chain.from_iterable(by_kind[kind] for kind in _RANK_ORDER))
        self.sort(key=_NEG)
        self.by_kind = by_kind

    def only(self, kinds: frozenset[int]) -> list[_Candidate]:
        """The candidates of these kinds, in pool order."""
        runs = [self.by_kind[kind] for kind in _RANK_ORDER if kind in kinds and self.by_kind[kind]]
        if len(runs) == 1:
            return runs[0]
        return sorted(chain.from_iterable(runs), key=_NEG)
# A credit vertical whose width is no less than the short's naked requirement: it saves
# nothing alone, so it is no candidate, but it can still be joined (_join_idle): (short,
# long, cost per contract).
_Idle = tuple[_Leg, _Leg, float]

# A walk's strategies are kept as (initial, maintenance, shape, a, b, part) and named only
# for the walk that wins: the shapes beside the candidate kinds above.
_COMBO, _SPREAD, _PROTECTIVE, _STOCK, _NAKED, _LONG = range(4, 10)
_Found = tuple[float, float, int, Any, Any, Any]


def _best_grouping(symbol: str, account: str, rows: list[Row],
                   rates: Rates) -> list[Strategy]:
    stocks = sorted((_Leg(r, rates) for r in rows if r.sec_type == "STK"),
                    key=lambda lg: (lg.price, lg.qty, lg.line))
    opts = sorted([_Leg(r, rates) for r in rows if r.sec_type in OPTION_TYPES], key=_KEY)
    for i, lg in enumerate(opts):
        lg.order = i
    shorts = [lg for lg in opts if lg.qty < 0]
    longs = [lg for lg in opts if lg.qty > 0]
    pool, idle = _pool(shorts, longs, stocks)
    joins = _Joins()
    if not shorts:  # nothing pairs: one pass is enough
        found, _taken = _group(pool, idle, stocks, shorts, longs, rates, joins)
        assert found is not None
        return _strategies(symbol, account, found)
    legs = stocks + opts
    if len(longs) > _LEAVE_OUT_LONGS:
        best, _cost = _cheapest(pool, idle, legs, stocks, shorts, longs, rates, joins)
        assert best is not None
        return _strategies(symbol, account, best)
    placed: set[_Leg] = set()
    best, best_cost = _cheapest(pool, idle, legs, stocks, shorts, longs, rates, joins, placed)
    assert best is not None
    return _strategies(symbol, account, _leave_out(best, best_cost, placed, len(pool), legs,
                                                   stocks, shorts, longs, rates))


def _leave_out(best: list[_Found], best_cost: tuple[float, float], placed: set[_Leg],
               work: int, legs: list[_Leg], stocks: list[_Leg],
               shorts: list[_Leg], longs: list[_Leg], rates: Rates) -> list[_Found]:
    """The cheapest walk over every subset of the long options left out, as a search from
    the whole group (docs/risk.md, Limits): each set is reached by leaving out one more
    of the longs that matter to the walks without the set, smallest sets first, each set
    once. A long matters when a walk placed it beside a short, or it takes a place in a
    short's full window of nearest longs or in a full window of idle verticals' partners
    (_join_idle): leaving out longs that do not matter gives the same walks. A walk given
    up (_group) after its first step could not have beaten the best with them left out
    either: that step, and what it fixes, are the same. The longs left out stand alone
    or protect stock, which leaves the initial margin as it is."""
    crowded: set[_Leg] = set()
    _pool(shorts, longs, stocks, crowded)
    seen: set[frozenset[_Leg]] = {frozenset()}
    queue: deque[tuple[frozenset[_Leg], set[_Leg]]] = deque([(frozenset(), placed | crowded)])
    while queue:
        out, matter = queue.popleft()
        for lg in sorted(matter - out, key=lambda lg: lg.order):
            trial = out | {lg}
            if trial in seen:
                continue
            seen.add(trial)
            kept = [x for x in longs if x not in trial]
            crowded = set()
            sub, idle = _pool(shorts, kept, stocks, crowded)
            work += len(sub)
            if work > _LEAVE_OUT_WORK:
                return best
            now: set[_Leg] = set()
            # Walks that cannot beat the best so far are given up (their long options
            # placed are known from their first step all the same).
            found, cost = _cheapest(sub, idle, legs, stocks, shorts, longs, rates, _Joins(),
                                    now, best_cost[0])
            if found is not None and cost < best_cost:
                best, best_cost = found, cost
            queue.append((trial, now | crowded))
    return best


def _cheapest(pool: _Pool, idle: list[_Idle], legs: list[_Leg],
              stocks: list[_Leg], shorts: list[_Leg], longs: list[_Leg], rates: Rates,
              joins: _Joins, placed: set[_Leg] | None = None, bound: float | None = None
              ) -> tuple[list[_Found] | None, tuple[float, float]]:
    """The walks (_ORDERS) over this pool: the cheapest outcome and its (initial,
    maintenance); None when none costs less than `bound` (initial). A walk is given up
    once it shows it cannot cost less than the best so far (_group). With `placed`, the
    long options any walk placed beside a short are added to it (_leave_out)."""
    best: list[_Found] | None = None
    best_cost = (0.0, 0.0)
    present = {kind for kind, run in enumerate(pool.by_kind) if run}
    # Straddles first is the pool itself when no other candidate comes before a straddle:
    # when the last straddle is where it would be then.
    straddles = pool.by_kind[_STRADDLE]
    reorders = bool(straddles) and pool[len(straddles) - 1] is not straddles[-1]
    seen: set[tuple[frozenset[int], bool]] = set()
    walked: list[tuple[frozenset[int], frozenset[int]]] = []  # in pool order: kept, taken
    joinable = {sh for sh, _lg, _cost in idle}
    for keep, first in _ORDERS:
        kept = frozenset(present if keep is None else present & keep)
        signature = (kept, first and reorders)
        if signature in seen:  # the same walk as an earlier order
            continue
        seen.add(signature)
        # Leaving out candidates that an earlier walk in the same order never took (both
        # legs used up when it came to them) walks the same way again.
        if not signature[1] and any(kept <= k and not taken & (k - kept)
                                    for k, taken in walked):
            continue
        ordered: Iterable[_Candidate]
        if signature[1]:
            # (lazily: such a walk is most often given up among its straddles)
            ordered = chain(straddles, (c for c in pool if c[2] != _STRADDLE))
        elif kept == present:
            ordered = pool
        else:
            ordered = pool.only(kept)
        for lg in legs:
            lg.left = lg.size
        limit = bound if best is None else best_cost[0] if bound is None else \
            min(bound, best_cost[0])
        found, taken = _group(ordered, idle, stocks, shorts, longs, rates, joins, limit,
                              joinable, placed)
        if not signature[1]:
            walked.append((kept, taken))
        if found is None:
            continue
        cost = (round(sum([f[0] for f in found]), 6), round(sum([f[1] for f in found]), 6))
        if best is None or cost < best_cost:
            best, best_cost = found, cost
    return best, best_cost


def _nearest(k: float, mult: float, expiry: int, strikes: list[float], mults: list[float],
             expiries: list[int], count: int, same_expiry: bool,
             crowded: list[int] | None = None) -> list[int]:
    """Up to `count` indices of legs (given as their strikes in order, multipliers and
    expiries) nearest to strike `k` with multiplier `mult` and expiry `expiry` (or,
    unless same_expiry, a later one), walking outward from `k`; at most _SCAN legs are
    looked at, which bounds the work per leg. When legs are left unseen, the indices
    looked at are added to `crowded` (given): without one of them, another could come
    in."""
    found: list[int] = []
    n = len(strikes)
    hi = bisect.bisect_left(strikes, k)
    lo = hi - 1
    for _ in range(_SCAN):
        if hi < n:
            if lo >= 0 and k - strikes[lo] <= strikes[hi] - k:
                i = lo
                lo -= 1
            else:
                i = hi
                hi += 1
        elif lo >= 0:
            i = lo
            lo -= 1
        else:
            break
        if mults[i] == mult and (expiries[i] == expiry if same_expiry else expiries[i] >= expiry):
            found.append(i)
            if len(found) == count:
                break
    if crowded is not None and (lo >= 0 or hi < n):
        crowded.extend(range(lo + 1, hi))
    return found


def _side(legs: list[_Leg]) -> tuple[list[_Leg], list[float], list[float], list[int]]:
    """Legs in strike order as what _nearest reads: strikes, multipliers, expiries."""
    return (legs, [lg.strike for lg in legs], [lg.mult for lg in legs],
            [lg.expiry for lg in legs])


def _pool(shorts: list[_Leg], longs: list[_Leg], stocks: list[_Leg],
          crowded: set[_Leg] | None = None) -> tuple[_Pool, list[_Idle]]:
    """The candidates, and the credit verticals that save nothing on their own (_Idle);
    `crowded`, when given, gets the longs that take a place in some short's full window
    (_nearest): without one of them, the candidates could change (_leave_out)."""
    by_kind: tuple[list[_Candidate], ...] = ([], [], [], [])  # indexed by kind
    idle: list[_Idle] = []
    looked: list[int] | None = None if crowded is None else []
    add_covered, add_vertical, add_calendar, add_straddle = (
        by_kind[k].append for k in (_COVERED, _VERTICAL, _CALENDAR, _STRADDLE))
    seq = 0
    # (longs are already in strike order)
    side = {r: _side([lg for lg in longs if lg.right == r]) for r in "CP"}
    covered, vertical, calendar = _RANK[_COVERED], _RANK[_VERTICAL], _RANK[_CALENDAR]
    # A candidate without a saving is never taken: leaving it out keeps every walk short.
    # (Its number is used all the same, so the ranks do not depend on which are left out.)
    for sh in shorts:
        naked = sh.naked
        call = sh.right == "C"
        for st in stocks:
            if (st.qty > 0) == call:
                neg = -(naked - sh.itm * sh.mult)
                if neg < -_EPS:
                    add_covered((neg, covered + seq, _COVERED, sh, st, 0.0))
                seq += 1
        # The longs nearest in strike, of the same multiplier, expiring with the short or
        # later: a few per short keeps the pool near-linear in legs.
        legs, strikes, mults, expiries = side[sh.right]
        for i in _nearest(sh.strike, sh.mult, sh.expiry, strikes, mults, expiries, NEAREST,
                          False, looked):
            lg = legs[i]
            # The spread's cost per contract: the strike width when the long is on the
            # wrong side of the short (a credit spread's risk), else nothing.
            width = lg.strike - sh.strike if call else sh.strike - lg.strike
            cost = 0.0 if 0.0 > width else width * sh.mult
            neg = -(naked - cost)
            if neg < -_EPS:
                if lg.expiry == sh.expiry:
                    add_vertical((neg, vertical + seq, _VERTICAL, sh, lg, cost))
                else:
                    add_calendar((neg, calendar + seq, _CALENDAR, sh, lg, cost))
            elif lg.expiry == sh.expiry:
                idle.append((sh, lg, cost))
            seq += 1
        if looked:
            assert crowded is not None
            crowded.update(legs[i] for i in looked)
            looked.clear()
    puts, strikes, mults, expiries = _side([sh for sh in shorts if sh.right == "P"])
    straddle = _RANK[_STRADDLE]
    for c in shorts:
        if c.right != "C":
            continue
        for i in _nearest(c.strike, c.mult, c.expiry, strikes, mults, expiries, NEAREST_PUTS,
                          True):
            p = puts[i]
            small = p if p.naked <= c.naked else c
            neg = -(small.naked - small.price * small.mult)
            if neg < -_EPS:
                add_straddle((neg, straddle + seq, _STRADDLE, c, p, 0.0))
            seq += 1
    return _Pool(by_kind), idle


@dataclass(slots=True)
class _Spread:
    short: _Leg
    long: _Leg
    qty: float
    cost: float  # per contract
    rank: int = 0  # the pool candidate it was made from (it names the spread: _Joins)
    idle: bool = False  # an idle vertical (_join_idle): its legs' quantities are its own

    @property
    def credit(self) -> bool:
        return self.cost > 0


def _group(pool: Iterable[_Candidate], idle: list[_Idle], stocks: list[_Leg],
           shorts: list[_Leg], longs: list[_Leg], rates: Rates, joins: _Joins,
           bound: float | None = None, joinable: frozenset[_Leg] | set[_Leg] = frozenset(),
           placed: set[_Leg] | None = None) -> tuple[list[_Found] | None, frozenset[int]]:
    """One pass of the pairing with the pool in the given order (steps 1-4): its
    strategies, and the kinds of candidate it took. None for the strategies when, after
    step 1, the initial margin already fixed is above `bound`: what step 1 made, the
    stock left, and the shorts left naked that no idle vertical in `joinable`'s could
    take; the steps after only ever lower the rest, never these."""
    out: list[_Found] = []
    add = out.append

    # 1. the pool, largest saving first.
    spreads: list[_Spread] = []
    # Straddles are most of what a losing walk fixes early: given up once they pass it
    # (not when the longs it places are asked for: they are known only at the end).
    limit = None if bound is None else bound + 1e-6 * (1.0 + abs(bound))
    early = None if placed is not None else limit
    fixed = 0.0
    for _neg, rank, kind, sh, other, cost in pool:
        if sh.left <= 0 or other.left <= 0:
            continue
        if kind == _STRADDLE:
            c, p = sh, other
            qty = min(c.left, p.left)
            per = c.naked + p.price * p.mult if c.naked >= p.naked else \
                p.naked + c.price * c.mult
            add((per * qty, per * qty, _STRADDLE, c, p, qty))
            c.left -= qty
            p.left -= qty
            if early is not None:
                fixed += per * qty
                if fixed > early:
                    return None, _KINDS  # not all it would take: skip no walk for it
        elif kind == _COVERED:
            per = sh.mult
            qty = min(sh.left, other.left // per)
            if qty <= 0:
                continue
            shares = qty * per
            sign = 1 if other.qty > 0 else -1
            s_init, s_maint = stock_requirement(other.price, sign * shares, rates)
            extra = sh.itm * sh.mult * qty
            add((s_init + extra, s_maint + extra, _COVERED, sh, other, (qty, sign * shares)))
            other.left -= shares
            sh.left -= qty
        else:
            qty = min(sh.left, other.left)
            if kind == _VERTICAL:
                spreads.append(_Spread(sh, other, qty, cost, rank))
            else:
                add((cost * qty, cost * qty, _CALENDAR, sh, other, qty))
            sh.left -= qty
            other.left -= qty

    taken = frozenset({f[2] for f in out} | ({_VERTICAL} if spreads else set()))
    if placed is not None:  # (the joins after place no long option of their own)
        placed.update(sp.long for sp in spreads)
        placed.update(f[4] for f in out if f[2] == _CALENDAR)
    if limit is not None:
        fixed = sum([f[0] for f in out])
        for st in stocks:
            if st.left > 0:
                fixed += stock_requirement(st.price, st.left if st.qty > 0 else -st.left,
                                           rates)[0]
        for sh in shorts:
            if sh.left > 0 and sh not in joinable:
                fixed += sh.naked * sh.left
        if fixed > limit:
            return None, taken

    # 2. spreads of one expiry joined where their combined worst case costs less; then
    # the verticals that save nothing alone, where joining them does.
    if spreads or idle:
        joins.join(spreads, add, idle, placed)

    # 3. long puts protecting long stock, long calls protecting short stock (maintenance).
    if stocks:
        for lg in longs:
            for st in stocks:
                if lg.left <= 0:
                    break
                long_stock = st.qty > 0
                if st.left <= 0 or long_stock != (lg.right == "P"):
                    continue
                qty = min(lg.left, st.left // lg.mult)
                if qty <= 0:
                    continue
                shares = qty * lg.mult
                sign = 1 if long_stock else -1
                s_init, s_maint = stock_requirement(st.price, sign * shares, rates)
                per_share = rates.protective_put_pct_strike * lg.strike + _otm(lg.row)
                add((s_init, min(per_share * shares, s_maint), _PROTECTIVE, lg, st,
                     (sign * shares, qty)))
                st.left -= shares
                lg.left -= qty

    # 4. outright.
    for st in stocks:
        if st.left > 0:
            sign = 1 if st.qty > 0 else -1
            init, maint = stock_requirement(st.price, sign * st.left, rates)
            add((init, maint, _STOCK, st, None, sign * st.left))
    for sh in shorts:
        if sh.left > 0:
            req = sh.naked * sh.left
            add((req, req, _NAKED, sh, None, sh.left))
    for lg in longs:
        if lg.left > 0:
            add((0.0, 0.0, _LONG, lg, None, lg.left))
    return out, taken


def _strategies(symbol: str, account: str, found: list[_Found]) -> list[Strategy]:
    out = []
    for initial, maint, shape, a, b, part in found:
        name, legs = _named(shape, a, b, part)
        out.append(Strategy(name, symbol, account, legs, initial, maint))
    return out


def _named(shape: int, a: Any, b: Any, part: Any) -> tuple[str, list[tuple[int, float]]]:
    """A walk's strategy as its name and legs (line, signed quantity): `a` and `b` are
    legs or spreads and `part` the quantities, as the shape has them."""
    if shape == _COMBO:
        return _combo(a, b, part)
    if shape == _SPREAD:
        if a.credit:
            name = "bear call spread" if a.short.right == "C" else "bull put spread"
        else:
            name = "bull call spread" if a.short.right == "C" else "bear put spread"
        return name, [(a.short.line, -part), (a.long.line, part)]
    if shape == _STRADDLE:
        return ("short straddle" if a.strike == b.strike else "short strangle",
                [(a.line, -part), (b.line, -part)])
    if shape == _COVERED:
        qty, shares = part
        return ("covered call" if a.right == "C" else "covered put",
                [(b.line, shares), (a.line, -qty)])
    if shape == _CALENDAR:
        return ("calendar spread" if a.strike == b.strike else "diagonal spread",
                [(a.line, -part), (b.line, part)])
    if shape == _PROTECTIVE:
        shares, qty = part
        return ("protective put" if b.qty > 0 else "protective call",
                [(b.line, shares), (a.line, qty)])
    if shape == _STOCK:
        return "long stock" if part > 0 else "short stock", [(a.line, part)]
    if shape == _NAKED:
        return "naked call" if a.right == "C" else "naked put", [(a.line, -part)]
    return "long call" if a.right == "C" else "long put", [(a.line, part)]


def _combo(a: _Spread, b: _Spread, qty: float) -> tuple[str, list[tuple[int, float]]]:
    """Two joined spreads as one strategy: its name and its legs, netted per row."""
    merged: dict[int, float] = {}
    shape: dict[tuple[str, float], float] = {}
    for sp in (a, b):
        for leg, sign in ((sp.short, -1.0), (sp.long, 1.0)):
            merged[leg.line] = merged.get(leg.line, 0.0) + sign * qty
            shape[(leg.right, leg.strike)] = shape.get((leg.right, leg.strike), 0.0) + sign
    name = _combo_name([(r, k, q) for (r, k), q in shape.items() if abs(q) > _EPS])
    return name, [(line, q) for line, q in sorted(merged.items()) if abs(q) > _EPS]


def payoff_floor(legs: list[tuple[str, float, float]]) -> float | None:
    """The lowest value at expiry of option legs (right, strike, signed quantity) of one
    expiry, per unit of the multiplier; None when it has no floor (more short calls than
    long ones)."""
    if sum(q for r, _k, q in legs if r == "C") < -_EPS:
        return None

    def value(s: float) -> float:
        return sum(q * (max(s - k, 0.0) if r == "C" else max(k - s, 0.0)) for r, k, q in legs)

    return min(value(s) for s in {0.0, *(k for _r, k, _q in legs)})


def _combo_name(legs: list[tuple[str, float, float]]) -> str:
    rights = {r for r, _k, _q in legs}
    short_k = sorted(k for _r, k, q in legs if q < 0)
    long_k = sorted(k for _r, k, q in legs if q > 0)
    if len(rights) == 2:
        return "iron butterfly" if len(set(short_k)) == 1 else "iron condor"
    kind = "call" if rights == {"C"} else "put"
    strikes = sorted({k for _r, k, _q in legs})
    if len(strikes) == 3:
        body_short = len(set(short_k)) == 1
        balanced = strikes[1] - strikes[0] == strikes[2] - strikes[1]
        name = f"{'long' if body_short else 'short'} {kind} butterfly"
        return name if balanced else f"broken-wing {name}"
    if len(strikes) == 4:
        outer_long = long_k[0] == strikes[0] or long_k[-1] == strikes[-1]
        return f"{'long' if outer_long else 'short'} {kind} condor"
    return f"{kind} spread combination"


def _two_spreads_floor(a: _Spread, b: _Spread) -> float:
    """payoff_floor of two verticals of one expiry (always bounded), per unit of the
    multiplier: their value at expiry is lowest at zero or at one of their strikes. Written
    out, since it runs for every pair of spreads tried."""
    a_call, ak, al = a.short.right == "C", a.short.strike, a.long.strike
    b_call, bk, bl = b.short.right == "C", b.short.strike, b.long.strike
    low = 0.0
    first = True
    for s in (0.0, ak, al, bk, bl):
        if a_call:
            x, y = s - al, s - ak
        else:
            x, y = al - s, ak - s
        v = (x if x > 0 else 0.0) - (y if y > 0 else 0.0)
        if b_call:
            x, y = s - bl, s - bk
        else:
            x, y = bl - s, bk - s
        v += (x if x > 0 else 0.0) - (y if y > 0 else 0.0)
        if first or v < low:
            low, first = v, False
    return low


def _is_butterfly(a: _Spread, b: _Spread) -> bool:
    """Same right, a strike both spreads share, equal wings: 1 x 2 x 1."""
    if a.short.right != b.short.right:
        return False
    ka, kb = {a.short.strike, a.long.strike}, {b.short.strike, b.long.strike}
    shared = ka & kb
    if len(shared) != 1:
        return False
    body = shared.pop()
    wings = sorted((ka | kb) - {body})
    return len(wings) == 2 and wings[0] < body < wings[1] and \
        body - wings[0] == wings[1] - body


_Kind = tuple[int, float, str, bool]  # expiry, multiplier, right, credit


class _Joins:
    """Step 2, joining spreads: two spreads of one expiry and multiplier become one
    strategy at their combined worst case when that is less than both apart: a credit
    call spread with a credit put spread (iron condor / iron butterfly), a credit spread
    with a debit spread of the same right (butterfly, condor). Greedy, largest saving
    first; nearest strikes only.

    One per group, for all its walks: a spread can only be made from a vertical of the
    pool, so each is named by its candidate's rank, the same in every walk; each pair's
    combined cost and saving is found once, and the pairs of a set of spreads once."""

    def __init__(self) -> None:
        # (only the walks' spreads are put in order, not every vertical of the pool: a
        # third of them in a large group)
        self.joined: dict[tuple[int, int], tuple[float, float] | None] = {}
        self.pairs_of: dict[tuple[int, ...], list[tuple[float, int, int, int, float]]] = {}

    def join(self, spreads: list[_Spread], add: Callable[[_Found], None],
             idle: list[_Idle], placed: set[_Leg] | None) -> None:
        if spreads:
            self._join(spreads, add)
        if idle:
            _join_idle([sp for sp in spreads if sp.qty > 0], idle, add, placed)
        for sp in spreads:
            if sp.qty > 0:
                add((sp.cost * sp.qty, sp.cost * sp.qty, _SPREAD, sp, None, sp.qty))

    def _join(self, spreads: list[_Spread], add: Callable[[_Found], None]) -> None:
        # The canonical order: kind (expiry, multiplier, right, credit), then short and long
        # leg; a walk takes a vertical once, so the legs tell any two spreads apart.
        ordered = sorted([(sp.short.expiry, sp.short.mult, sp.short.right, sp.cost > 0,
                           sp.short.order, sp.long.order, sp) for sp in spreads])
        signature = tuple([k[-1].rank for k in ordered])
        pairs = self.pairs_of.get(signature)
        if pairs is None:
            pairs = self.pairs_of[signature] = self._pairs(ordered)
        if pairs:
            at = {sp.rank: sp for sp in spreads}
            for _neg, _seq, ra, rb, cost in pairs:
                a, b = at[ra], at[rb]
                qty = min(a.qty, b.qty)
                if qty <= 0:
                    continue
                add((cost * qty, cost * qty, _COMBO, a, b, qty))
                a.qty -= qty
                b.qty -= qty

    def _pairs(self, ordered: list[tuple[int, float, str, bool, int, int, _Spread]]
               ) -> list[tuple[float, int, int, int, float]]:
        """The pairs worth joining among these spreads (keyed in canonical order), as
        (-saving, sequence, rank, rank, combined cost per contract), best first. Each
        credit spread is tried with the NEAREST_SPREADS spreads of each partner kind
        nearest by short strike on each side."""
        by_kind: dict[_Kind, tuple[list[_Spread], list[float]]] = {}
        for expiry, mult, right, credit, _so, _lo, sp in ordered:  # kinds in sorted order
            kind = (expiry, mult, right, credit)
            run = by_kind.get(kind)
            if run is None:
                run = by_kind[kind] = ([], [])
            run[0].append(sp)
            run[1].append(sp.short.strike)
        joined = self.joined
        tried_pairs: list[tuple[int, int, _Spread, _Spread, float]] = []
        tried: set[tuple[int, int]] = set()
        for (expiry, mult, right, credit), (group, _ks) in by_kind.items():
            if not credit:
                continue
            other_right = "P" if right == "C" else "C"
            partners = [by_kind[kind] for kind in ((expiry, mult, other_right, True),
                                                   (expiry, mult, right, False))
                        if kind in by_kind]
            for sp in group:
                mine = sp.rank
                strike = sp.short.strike
                for others, ks in partners:
                    at = bisect.bisect_left(ks, strike)
                    for o in others[max(0, at - NEAREST_SPREADS):at + NEAREST_SPREADS]:
                        theirs = o.rank
                        pair = (mine, theirs) if mine < theirs else (theirs, mine)
                        if pair in tried:  # a condor is found from both of its spreads
                            continue
                        tried.add(pair)
                        tried_pairs.append((mine, theirs, sp, o, mult))
        new = [t for t in tried_pairs if (t[0], t[1]) not in joined]
        for (mine, theirs, _a, _b, _m), found in zip(new, _joined_all(new), strict=True):
            joined[(mine, theirs)] = found
        pairs: list[tuple[float, int, int, int, float]] = []
        for mine, theirs, _a, _b, _m in tried_pairs:
            found = joined[(mine, theirs)]
            if found is not None:
                pairs.append((found[0], len(pairs), mine, theirs, found[1]))
        pairs.sort()  # largest saving first (the sequence breaks ties: never further)
        return pairs


def _join_idle(left: list[_Spread], idle: list[_Idle], add: Callable[[_Found], None],
               placed: set[_Leg] | None) -> None:
    """The verticals that save nothing alone (their short's naked requirement is no more
    than their width: a short call far out of the money after a fall, at the 10% floor)
    joined, where both legs are still there, with a spread left unjoined or with one
    another: an iron condor's call side once the call vertical saves nothing, or a
    butterfly's. Each against the short naked, the long alone and the spread as it is;
    largest saving first, each idle vertical tried with the NEAREST_SPREADS nearest by
    short strike on each side of each partner kind. What is not joined stays as it was:
    naked short, long option. `placed`, when given, gets the long options joined, and
    every idle vertical's long when one of them had more partners than it tried
    (_leave_out: without one of them, another could be tried)."""
    units = [_Spread(sh, lg, 0.0, cost, idle=True) for sh, lg, cost in idle
             if sh.left > 0 and lg.left > 0]
    if not units:
        return
    by_kind: dict[_Kind, tuple[list[_Spread], list[float]]] = {}
    for sp in left + units:  # leftover spreads first: at equal savings they join first
        kind = (sp.short.expiry, sp.short.mult, sp.short.right, sp.cost > 0)
        run = by_kind.setdefault(kind, ([], []))
        run[0].append(sp)
    for run in by_kind.values():
        run[0].sort(key=lambda sp: sp.short.strike)  # stable: the order above on ties
        run[1].extend(sp.short.strike for sp in run[0])
    pairs: list[tuple[float, int, _Spread, _Spread, float]] = []
    tried: set[tuple[int, int]] = set()
    for u in units:
        expiry, mult, right = u.short.expiry, u.short.mult, u.short.right
        other = "P" if right == "C" else "C"
        for kind in ((expiry, mult, other, True), (expiry, mult, right, False)):
            partners = by_kind.get(kind)
            if partners is None:
                continue
            others, strikes = partners
            at = bisect.bisect_left(strikes, u.short.strike)
            if placed is not None and len(others) > 2 * NEAREST_SPREADS:
                placed.update(v.long for v in units)
            for o in others[max(0, at - NEAREST_SPREADS):at + NEAREST_SPREADS]:
                key = (id(u), id(o)) if id(u) < id(o) else (id(o), id(u))
                if key in tried:
                    continue
                tried.add(key)
                alone = u.short.naked + (o.short.naked if o.idle else o.cost)
                cost = max(0.0, -_two_spreads_floor(u, o)) * mult
                if alone - cost > _EPS:
                    pairs.append((cost - alone, len(pairs), u, o, cost))
    pairs.sort(key=lambda p: (p[0], p[1]))
    for _neg, _seq, u, o, cost in pairs:
        qty = min(u.short.left, u.long.left)
        qty = min(qty, o.short.left, o.long.left) if o.idle else min(qty, o.qty)
        if qty <= 0:
            continue
        add((cost * qty, cost * qty, _COMBO, u, o, qty))
        if placed is not None:
            placed.add(u.long)
            placed.add(o.long)
        u.short.left -= qty
        u.long.left -= qty
        if o.idle:
            o.short.left -= qty
            o.long.left -= qty
        else:
            o.qty -= qty


_VECTOR_PAIRS = 24  # from this many pairs on, their floors in one numpy pass


def _joined_all(tried: list[tuple[int, int, _Spread, _Spread, float]]
                ) -> list[tuple[float, float] | None]:
    """_joined of each (place, place, spread, spread, multiplier); many at a time with
    numpy, the same operations in the same order, so the same figures to the last bit."""
    if len(tried) < _VECTOR_PAIRS:
        return [_joined(a, b, mult) for _pa, _pb, a, b, mult in tried]
    columns = list(zip(*[(a.short.right == "C", a.short.strike, a.long.strike,
                          b.short.right == "C", b.short.strike, b.long.strike)
                         for _pa, _pb, a, b, _m in tried], strict=True))
    a_call, ak, al, b_call, bk, bl = (np.array(c) for c in columns)
    points = np.stack([np.zeros_like(ak), ak, al, bk, bl], axis=1)

    def value(call: np.ndarray, short: np.ndarray, long: np.ndarray) -> np.ndarray:
        sign = np.where(call, 1.0, -1.0)[:, None]
        x = (points - long[:, None]) * sign
        y = (points - short[:, None]) * sign
        return np.maximum(x, 0.0) - np.maximum(y, 0.0)  # type: ignore[no-any-return]

    low = (value(a_call, ak, al) + value(b_call, bk, bl)).min(axis=1)
    out: list[tuple[float, float] | None] = []
    for (_pa, _pb, a, b, mult), floor in zip(tried, low.tolist(), strict=True):
        cost = max(0.0, -floor) * mult
        saving = a.cost + b.cost - cost
        if saving > _EPS or (saving > -_EPS and _is_butterfly(a, b)):
            out.append((-saving, cost))
        else:
            out.append(None)
    return out


def _joined(a: _Spread, b: _Spread, mult: float) -> tuple[float, float] | None:
    """(-saving, combined cost per contract) of joining two spreads, or None when it
    saves nothing. A butterfly costs no more than its two spreads: joined all the same,
    for its name, after every join that saves."""
    cost = max(0.0, -_two_spreads_floor(a, b)) * mult
    saving = a.cost + b.cost - cost
    if saving > _EPS or (saving > -_EPS and _is_butterfly(a, b)):
        return -saving, cost
    return None
