"""The pairing as it was before it was made fast (#15), kept as the oracle the fast one
is compared with on random books (test_pairing_oracle.py): same strategies, same legs,
same figures, in the same order. Only the pairing's walk is here; the rules it applies
(naked requirement, stock requirement, rates) and the payoff helpers are the product's.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

# The helpers the change left as they were are shared, not copied.
from ibterm.risk.margin import (
    Rates,
    _combo_name,
    _is_butterfly,
    _two_spreads_floor,
    naked_per_contract,
    stock_requirement,
)
from ibterm.risk.portfolio import Row
from ibterm.risk.strategy import Strategy

NEAREST = 6
NEAREST_PUTS = 6
_SCAN = 4 * NEAREST
NEAREST_SPREADS = 3
_EPS = 1e-9


def _otm(row: Row) -> float:
    s, k = row.underlying_price, row.strike
    return max(k - s, 0.0) if row.right == "C" else max(s - k, 0.0)


def _itm(row: Row) -> float:
    s, k = row.underlying_price, row.strike
    return max(s - k, 0.0) if row.right == "C" else max(k - s, 0.0)


class _Leg:
    """A row's part still to be placed in a strategy (`left`, absolute)."""

    __slots__ = (
        "expiry",
        "itm",
        "key",
        "left",
        "mult",
        "naked",
        "price",
        "right",
        "row",
        "strike",
    )

    def __init__(self, row: Row, rates: Rates) -> None:
        self.row = row
        self.left = abs(row.quantity)
        self.strike = row.strike
        self.expiry = row.expiry.toordinal() if row.expiry else 0
        self.right = row.right
        self.mult = row.multiplier
        self.price = row.price
        option = row.is_option
        self.naked = naked_per_contract(row, rates) if option and row.quantity < 0 else 0.0
        self.itm = _itm(row) if option else 0.0
        # A canonical order, so the result does not depend on the order of the rows.
        self.key = (row.right, row.strike, self.expiry, row.multiplier, row.price, row.line)


# Candidate kinds, in the pool as (-saving, rank, kind, short, other). At equal savings
# the rank decides: a vertical before a calendar or diagonal, as it can still be joined
# into a condor or butterfly; then the order the candidates were made in (canonical).
_COVERED, _VERTICAL, _CALENDAR, _STRADDLE = range(4)
_RANK = {_COVERED: 0, _VERTICAL: 1 << 40, _STRADDLE: 2 << 40, _CALENDAR: 3 << 40}
_ORDERS = ("by-saving", "straddles-first", "no-verticals", "no-straddles",
           "verticals-only")


def best_grouping(symbol: str, account: str, rows: list[Row],
                   rates: Rates) -> list[Strategy]:
    stocks = sorted((_Leg(r, rates) for r in rows if r.sec_type == "STK"),
                    key=lambda lg: (lg.price, lg.row.quantity, lg.row.line))
    opts = sorted((_Leg(r, rates) for r in rows if r.is_option), key=lambda lg: lg.key)
    shorts = [lg for lg in opts if lg.row.quantity < 0]
    longs = [lg for lg in opts if lg.row.quantity > 0]
    pool = _pool(shorts, longs, stocks)
    if not pool:  # nothing pairs: one pass is enough
        return [Strategy(name, symbol, account, legs, i, m) for name, legs, i, m in
                _group(pool, stocks, shorts, longs, rates, {})]
    best: list[_Found] | None = None
    best_cost = (0.0, 0.0)
    seen: set[tuple[int, ...]] = set()
    costs: dict[tuple[int, ...], float] = {}
    for order in _ORDERS:
        ordered = _ordered(pool, order)
        signature = tuple(c[1] for c in ordered)
        if signature in seen:  # the same walk as an earlier order
            continue
        seen.add(signature)
        for lg in stocks:
            lg.left = abs(lg.row.quantity)
        for lg in opts:
            lg.left = abs(lg.row.quantity)
        found = _group(ordered, stocks, shorts, longs, rates, costs)
        cost = (round(sum(f[2] for f in found), 6), round(sum(f[3] for f in found), 6))
        if best is None or cost < best_cost:
            best, best_cost = found, cost
    assert best is not None
    return [Strategy(name, symbol, account, legs, i, m) for name, legs, i, m in best]


def _ordered(pool: list[tuple], order: str) -> list[tuple]:  # type: ignore[type-arg]
    if order == "straddles-first":
        return [c for c in pool if c[2] == _STRADDLE] + [c for c in pool if c[2] != _STRADDLE]
    if order == "no-verticals":
        return [c for c in pool if c[2] not in (_VERTICAL, _CALENDAR)]
    if order == "no-straddles":
        return [c for c in pool if c[2] != _STRADDLE]
    if order == "verticals-only":
        return [c for c in pool if c[2] not in (_STRADDLE, _CALENDAR)]
    return pool


def _nearest(short: _Leg, legs: list[_Leg], strikes: list[float], count: int,
             same_expiry: bool) -> list[_Leg]:
    """Up to `count` of `legs` (in strike order) nearest to the short's strike with its
    multiplier and its expiry (or, unless same_expiry, a later one), walking outward from
    the short's strike; at most _SCAN legs are looked at, which bounds the work per leg."""
    found: list[_Leg] = []
    hi = bisect.bisect_left(strikes, short.strike)
    lo = hi - 1
    k, exp, mult = short.strike, short.expiry, short.mult
    for _ in range(_SCAN):
        if lo < 0 and hi >= len(legs):
            break
        if hi >= len(legs) or (lo >= 0 and k - strikes[lo] <= strikes[hi] - k):
            lg = legs[lo]
            lo -= 1
        else:
            lg = legs[hi]
            hi += 1
        if lg.mult == mult and (lg.expiry == exp if same_expiry else lg.expiry >= exp):
            found.append(lg)
            if len(found) == count:
                break
    return found


def _spread_cost(short: _Leg, long: _Leg) -> float:
    """Per contract: the strike width when the long is on the wrong side of the short
    (a credit spread's risk), else nothing."""
    if short.right == "C":
        return max(long.strike - short.strike, 0.0) * short.mult
    return max(short.strike - long.strike, 0.0) * short.mult


def _pool(shorts: list[_Leg], longs: list[_Leg], stocks: list[_Leg]) -> list[tuple]:  # type: ignore[type-arg]
    pool: list[tuple] = []  # type: ignore[type-arg]
    seq = 0
    by_right: dict[str, list[_Leg]] = {"C": [], "P": []}
    for lg in longs:
        by_right[lg.right].append(lg)  # already in strike order
    strikes = {r: [lg.strike for lg in legs] for r, legs in by_right.items()}
    for sh in shorts:
        naked = sh.naked
        cover_sign = 1 if sh.right == "C" else -1
        for st in stocks:
            if (st.row.quantity > 0) == (cover_sign > 0):
                pool.append((-(naked - sh.itm * sh.mult), _RANK[_COVERED] + seq, _COVERED, sh, st))
                seq += 1
        # The longs nearest in strike, of the same multiplier, expiring with the short or
        # later: a few per short keeps the pool near-linear in legs.
        for lg in _nearest(sh, by_right[sh.right], strikes[sh.right], NEAREST,
                           same_expiry=False):
            kind = _VERTICAL if lg.expiry == sh.expiry else _CALENDAR
            pool.append((-(naked - _spread_cost(sh, lg)), _RANK[kind] + seq, kind, sh, lg))
            seq += 1
    puts = [sh for sh in shorts if sh.right == "P"]
    put_strikes = [p.strike for p in puts]
    for c in shorts:
        if c.right != "C":
            continue
        for p in _nearest(c, puts, put_strikes, NEAREST_PUTS, same_expiry=True):
            small = p if p.naked <= c.naked else c
            pool.append((-(small.naked - small.price * small.mult), _RANK[_STRADDLE] + seq,
                         _STRADDLE, c, p))
            seq += 1
    # A candidate without a saving is never taken: leaving it out keeps every walk short.
    pool = [c for c in pool if c[0] < -_EPS]
    pool.sort()
    return pool


@dataclass(slots=True)
class _Spread:
    short: _Leg
    long: _Leg
    qty: float
    cost: float  # per contract

    @property
    def credit(self) -> bool:
        return self.cost > 0


_Found = tuple[str, list[tuple[int, float]], float, float]  # name, legs, initial, maint


def _group(pool: list[tuple], stocks: list[_Leg], shorts: list[_Leg],  # type: ignore[type-arg]
           longs: list[_Leg], rates: Rates,
           costs: dict[tuple[int, ...], float]) -> list[_Found]:
    """One pass of the pairing with the pool in the given order (steps 1-4)."""
    out: list[_Found] = []

    def add(name: str, legs: list[tuple[int, float]], initial: float, maint: float) -> None:
        out.append((name, legs, initial, maint))

    # 1. the pool, largest saving first.
    spreads: list[_Spread] = []
    for _neg, _rank, kind, sh, other in pool:
        if sh.left <= 0 or other.left <= 0:
            continue
        if kind == _STRADDLE:
            c, p = sh, other
            qty = min(c.left, p.left)
            per = c.naked + p.price * p.mult if c.naked >= p.naked else \
                p.naked + c.price * c.mult
            name = "short straddle" if c.strike == p.strike else "short strangle"
            add(name, [(c.row.line, -qty), (p.row.line, -qty)], per * qty, per * qty)
            c.left -= qty
            p.left -= qty
        elif kind == _COVERED:
            per = sh.mult
            qty = min(sh.left, other.left // per)
            if qty <= 0:
                continue
            shares = qty * per
            sign = 1 if other.row.quantity > 0 else -1
            s_init, s_maint = stock_requirement(other.price, sign * shares, rates)
            extra = sh.itm * sh.mult * qty
            add("covered call" if sh.right == "C" else "covered put",
                [(other.row.line, sign * shares), (sh.row.line, -qty)],
                s_init + extra, s_maint + extra)
            other.left -= shares
            sh.left -= qty
        else:
            qty = min(sh.left, other.left)
            cost = _spread_cost(sh, other)
            if kind == _VERTICAL:
                spreads.append(_Spread(sh, other, qty, cost))
            else:
                name = "calendar spread" if sh.strike == other.strike else "diagonal spread"
                add(name, [(sh.row.line, -qty), (other.row.line, qty)], cost * qty, cost * qty)
            sh.left -= qty
            other.left -= qty

    # 2. spreads of one expiry joined where their combined worst case costs less.
    _join_spreads(spreads, add, costs)

    # 3. long puts protecting long stock, long calls protecting short stock (maintenance).
    for lg in longs:
        for st in stocks:
            if lg.left <= 0:
                break
            long_stock = st.row.quantity > 0
            if st.left <= 0 or long_stock != (lg.right == "P"):
                continue
            qty = min(lg.left, st.left // lg.mult)
            if qty <= 0:
                continue
            shares = qty * lg.mult
            sign = 1 if long_stock else -1
            s_init, s_maint = stock_requirement(st.price, sign * shares, rates)
            per_share = rates.protective_put_pct_strike * lg.strike + _otm(lg.row)
            add("protective put" if long_stock else "protective call",
                [(st.row.line, sign * shares), (lg.row.line, qty)], s_init,
                min(per_share * shares, s_maint))
            st.left -= shares
            lg.left -= qty

    # 4. outright.
    for st in stocks:
        if st.left > 0:
            sign = 1 if st.row.quantity > 0 else -1
            init, maint = stock_requirement(st.price, sign * st.left, rates)
            add("long stock" if sign > 0 else "short stock", [(st.row.line, sign * st.left)],
                init, maint)
    for sh in shorts:
        if sh.left > 0:
            req = sh.naked * sh.left
            add("naked call" if sh.right == "C" else "naked put", [(sh.row.line, -sh.left)],
                req, req)
    for lg in longs:
        if lg.left > 0:
            add("long call" if lg.right == "C" else "long put", [(lg.row.line, lg.left)],
                0.0, 0.0)
    return out


def _join_spreads(spreads: list[_Spread], add,  # type: ignore[no-untyped-def]
                  costs: dict[tuple[int, ...], float]) -> None:
    """Two spreads of one expiry and multiplier become one strategy at their combined
    worst case when that is less than both apart: a credit call spread with a credit put
    spread (iron condor / iron butterfly), a credit spread with a debit spread of the same
    right (butterfly, condor). Greedy, largest saving first; nearest strikes only. `costs`
    remembers combined costs from one pass of the pairing to the next."""
    by_kind: dict[tuple[int, float, str, bool], list[_Spread]] = {}
    for sp in spreads:
        by_kind.setdefault((sp.short.expiry, sp.short.mult, sp.short.right, sp.credit),
                           []).append(sp)
    for legs in by_kind.values():
        legs.sort(key=lambda sp: (sp.short.key, sp.long.key))
    short_strikes = {kind: [sp.short.strike for sp in legs] for kind, legs in by_kind.items()}
    index = {id(sp): i for i, sp in enumerate(
        sp for _k, legs in sorted(by_kind.items(), key=lambda kv: kv[0]) for sp in legs)}
    pairs: list[tuple[float, int, _Spread, _Spread, float]] = []
    tried: set[tuple[int, int]] = set()
    seq = 0
    for (expiry, mult, right, credit), group in sorted(by_kind.items(),
                                                       key=lambda kv: kv[0]):
        if not credit:
            continue
        other_right = "P" if right == "C" else "C"
        partners = [(by_kind[kind], short_strikes[kind])
                    for kind in ((expiry, mult, other_right, True), (expiry, mult, right, False))
                    if kind in by_kind]
        for sp in group:
            for others, ks in partners:
                at = bisect.bisect_left(ks, sp.short.strike)
                near = others[max(0, at - NEAREST_SPREADS):at + NEAREST_SPREADS]
                mine = index[id(sp)]
                for o in near:
                    theirs = index[id(o)]
                    pair = (mine, theirs) if mine < theirs else (theirs, mine)
                    if pair in tried:  # a condor is found from both of its spreads
                        continue
                    tried.add(pair)
                    key = (id(sp.short), id(sp.long), id(o.short), id(o.long))
                    cost = costs.get(key)
                    if cost is None:
                        cost = costs[key] = max(0.0, -_two_spreads_floor(sp, o)) * mult
                    saving = sp.cost + o.cost - cost
                    # A butterfly costs no more than its two spreads: joined all the same,
                    # for its name, after every join that saves.
                    if saving > _EPS or (saving > -_EPS and _is_butterfly(sp, o)):
                        pairs.append((-saving, seq, sp, o, cost))
                        seq += 1
    pairs.sort(key=lambda p: (p[0], p[1]))  # largest saving first
    for _neg, _seq, a, b, cost in pairs:
        qty = min(a.qty, b.qty)
        if qty <= 0:
            continue
        merged: dict[int, float] = {}
        shape: dict[tuple[str, float], float] = {}
        for sp in (a, b):
            for leg, sign in ((sp.short, -1.0), (sp.long, 1.0)):
                merged[leg.row.line] = merged.get(leg.row.line, 0.0) + sign * qty
                shape[(leg.right, leg.strike)] = shape.get((leg.right, leg.strike), 0.0) + sign
        legs = sorted(merged.items(), key=lambda kv: kv[0])
        name = _combo_name([(r, k, q) for (r, k), q in shape.items() if abs(q) > _EPS])
        add(name, [(line, q) for line, q in legs if abs(q) > _EPS], cost * qty, cost * qty)
        a.qty -= qty
        b.qty -= qty
    for sp in spreads:
        if sp.qty > 0:
            if sp.credit:
                name = "bear call spread" if sp.short.right == "C" else "bull put spread"
            else:
                name = "bull call spread" if sp.short.right == "C" else "bear put spread"
            add(name, [(sp.short.row.line, -sp.qty), (sp.long.row.line, sp.qty)],
                sp.cost * sp.qty, sp.cost * sp.qty)
