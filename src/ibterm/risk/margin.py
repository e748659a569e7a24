"""Strategy-based (Reg T) margin, IBKR-style, with legs paired to minimize the total.

Conventions (margin-rules.md): margin excludes money paid for long options, which is
`long_premium` (100% of cost, 75% past nine months); a naked short includes the option's
price; a credit spread costs its strike width.

Pairing, within one underlying and account (docs/risk.md):
1. one pool of candidates, each with its saving per contract over leaving the short
   naked: a short covered by stock (calls by long stock, puts by short stock), a vertical
   with a long of the same right and multiplier expiring on or after it, and a short call
   beside a short put (straddle/strangle: the larger requirement plus the other's price).
   Only nearby strikes are tried (found by bisection), which keeps the pool near-linear.
   The pool is taken greedily, largest saving first, as far as quantities allow; three
   orders are tried (pairs first, straddles first, no verticals) and the cheapest kept;
2. credit call spreads and credit put spreads are joined into iron condors (the larger
   width instead of both);
3. long puts protect long stock that is still outright (maintenance rule);
4. the rest is outright: stock, naked shorts, long options.
Every step only ever lowers a requirement, so the result never costs more than leaving
every leg naked. Greedy is not exhaustive: a grouping that needs one leg to give up a
good pair for two better ones can be missed.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from ibterm.risk.portfolio import Row

NEAREST = 6  # long options tried per short option in step 1


@dataclass(frozen=True, slots=True)
class Rates:
    long_stock_initial: float = 0.50
    long_stock_maint: float = 0.25
    short_stock_initial: float = 0.50
    short_stock_maint: float = 0.30
    short_stock_min_per_share: float = 5.0  # S >= 5
    low_price_maint: float = 1.00  # S < 5: 100% …
    low_price_min_per_share: float = 2.5  # … at least $2.50 a share
    naked_pct: float = 0.20
    naked_pct_broad_index: float = 0.15
    naked_floor: float = 0.10
    protective_put_pct_strike: float = 0.10
    long_option_months_full: int = 9  # past this, 75% of the cost must be paid
    long_option_past_pct: float = 0.75


@dataclass(slots=True)
class Strategy:
    name: str
    underlying: str
    account: str
    legs: list[tuple[int, float]]  # (line, signed quantity)
    initial: float
    maintenance: float

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "underlying": self.underlying, "account": self.account,
                "legs": [{"line": line, "quantity": qty} for line, qty in self.legs],
                "initial": round(self.initial, 2), "maintenance": round(self.maintenance, 2)}


@dataclass(slots=True)
class MarginResult:
    initial: float = 0.0
    maintenance: float = 0.0
    long_premium: float = 0.0
    strategies: list[Strategy] = field(default_factory=list)


@dataclass(slots=True)
class _Leg:
    row: Row
    left: float  # unallocated quantity (absolute)

    @property
    def sign(self) -> int:
        return 1 if self.row.quantity > 0 else -1


def _otm(row: Row) -> float:
    s, k = row.underlying_price, row.strike
    return max(k - s, 0.0) if row.right == "C" else max(s - k, 0.0)


def _itm(row: Row) -> float:
    s, k = row.underlying_price, row.strike
    return max(s - k, 0.0) if row.right == "C" else max(k - s, 0.0)


def naked_per_contract(row: Row, rates: Rates) -> float:
    broad = row.index_class in ("broad_index", "small_cap_index")
    pct = rates.naked_pct_broad_index if broad else rates.naked_pct
    s = row.underlying_price
    floor = rates.naked_floor * (s if row.right == "C" else row.strike)
    return (row.price + max(pct * s - _otm(row), floor)) * row.multiplier


def stock_requirement(price: float, shares: float, rates: Rates) -> tuple[float, float]:
    """(initial, maintenance) for `shares` (signed) at `price`."""
    value = abs(shares) * price
    if shares > 0:
        return value * rates.long_stock_initial, value * rates.long_stock_maint
    if price >= 5:
        per_share = max(rates.short_stock_maint * price, rates.short_stock_min_per_share)
    else:
        per_share = max(rates.low_price_maint * price, rates.low_price_min_per_share)
    maint = per_share * abs(shares)
    return max(value * rates.short_stock_initial, maint), maint


def _months_after(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _vertical_cost(short: Row, long: Row) -> float:
    width = abs(short.strike - long.strike)
    credit = long.strike > short.strike if short.right == "C" else long.strike < short.strike
    return width * short.multiplier if credit else 0.0


def compute_margin(rows: list[Row], as_of: dt.date, rates: Rates | None = None,
                   futures_margin: dict[str, tuple[float, float]] | None = None) -> MarginResult:
    rates = rates or Rates()
    result = MarginResult()
    cutoff = _months_after(as_of, rates.long_option_months_full)
    for r in rows:
        if r.is_option and r.quantity > 0:
            share = rates.long_option_past_pct if r.expiry and r.expiry > cutoff else 1.0
            result.long_premium += r.price * r.multiplier * r.quantity * share
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.symbol, r.account), []).append(r)
    for (symbol, account), members in sorted(groups.items()):
        members = sorted(members, key=lambda r: r.line)
        # Greedy orders can miss each other's best grouping: keep the cheapest of them.
        tries = [_group(symbol, account, members, rates, futures_margin or {}, order)
                 for order in ("pairs-first", "straddles-first", "no-verticals")]
        best = min(tries, key=lambda ss: (round(sum(s.initial for s in ss), 6),
                                          round(sum(s.maintenance for s in ss), 6)))
        for s in best:
            result.strategies.append(s)
            result.initial += s.initial
            result.maintenance += s.maintenance
    return result


def _group(symbol: str, account: str, rows: list[Row], rates: Rates,
           futures_margin: dict[str, tuple[float, float]], order: str) -> list[Strategy]:
    out: list[Strategy] = []

    def add(name: str, legs: list[tuple[int, float]], initial: float, maint: float) -> None:
        out.append(Strategy(name, symbol, account, legs, initial, maint))

    stocks = [_Leg(r, abs(r.quantity)) for r in rows if r.sec_type == "STK"]
    shorts = [_Leg(r, abs(r.quantity)) for r in rows if r.is_option and r.quantity < 0]
    longs = [_Leg(r, abs(r.quantity)) for r in rows if r.is_option and r.quantity > 0]
    for r in rows:
        if r.sec_type == "FUT":
            init, maint = futures_margin.get(symbol, (0.0, 0.0))
            add("future", [(r.line, r.quantity)], init * abs(r.quantity),
                maint * abs(r.quantity))

    longs_by_right = {r: sorted((lg for lg in longs if lg.row.right == r),
                                key=lambda lg: lg.row.strike) for r in ("C", "P")}
    long_strikes = {r: [lg.row.strike for lg in legs] for r, legs in longs_by_right.items()}
    # 1. covered and vertical pairs, largest saving per contract first.
    candidates: list[tuple[float, str, _Leg, _Leg]] = []
    naked_of = {id(sh): naked_per_contract(sh.row, rates) for sh in shorts}
    for sh in shorts:
        naked = naked_of[id(sh)]
        want_stock_sign = 1 if sh.row.right == "C" else -1
        for st in stocks:
            if st.sign == want_stock_sign:
                saving = naked - _itm(sh.row) * sh.row.multiplier
                candidates.append((saving, "covered", sh, st))
        if order == "no-verticals":
            continue
        # The longs nearest in strike (a window found by bisection, so the pool stays
        # near-linear), expiring on or after the short.
        pool, strikes = longs_by_right[sh.row.right], long_strikes[sh.row.right]
        at = bisect.bisect_left(strikes, sh.row.strike)
        window = pool[max(0, at - 2 * NEAREST):at + 2 * NEAREST]
        eligible = [lg for lg in window if lg.row.expiry is not None
                    and sh.row.expiry is not None and lg.row.expiry >= sh.row.expiry]
        eligible.sort(key=lambda lg: abs(lg.row.strike - sh.row.strike))
        for lg in eligible[:NEAREST]:
            if lg.row.multiplier == sh.row.multiplier:
                candidates.append((naked - _vertical_cost(sh.row, lg.row), "vertical", sh, lg))
    # Straddles and strangles compete in the same pool: a short call can be worth more
    # beside a short put than in a thin spread.
    short_puts = sorted((sh for sh in shorts if sh.row.right == "P"),
                        key=lambda sh: sh.row.strike)
    put_strikes = [sh.row.strike for sh in short_puts]
    for c in (sh for sh in shorts if sh.row.right == "C"):
        # The puts nearest in strike only: keeps the pool near-linear in legs.
        at = bisect.bisect_left(put_strikes, c.row.strike)
        for p in short_puts[max(0, at - NEAREST):at + NEAREST]:
            if c.row.multiplier != p.row.multiplier:
                continue
            rc, rp = naked_of[id(c)], naked_of[id(p)]
            small = p if rp <= rc else c
            saving = min(rc, rp) - small.row.price * small.row.multiplier
            candidates.append((saving, "straddle", c, p))
    if order == "straddles-first":
        candidates.sort(key=lambda c: (c[1] != "straddle", -c[0]))
    else:
        candidates.sort(key=lambda c: -c[0])
    credit_spreads: list[tuple[Row, Row, float, float]] = []  # short, long, qty, cost/contract
    for saving, kind, sh, other in candidates:
        if saving <= 0 or sh.left <= 0 or other.left <= 0:
            continue
        if kind == "straddle":
            c, p = sh, other
            qty = min(c.left, p.left)
            rc, rp = naked_of[id(c)], naked_of[id(p)]
            per = rc + p.row.price * p.row.multiplier if rc >= rp else \
                rp + c.row.price * c.row.multiplier
            name = "short straddle" if c.row.strike == p.row.strike else "short strangle"
            add(name, [(c.row.line, -qty), (p.row.line, -qty)], per * qty, per * qty)
            c.left -= qty
            p.left -= qty
            continue
        if kind == "covered":
            per = sh.row.multiplier
            qty = min(sh.left, other.left // per)
            if qty <= 0:
                continue
            shares = qty * per
            s_init, s_maint = stock_requirement(other.row.price, other.sign * shares, rates)
            extra = _itm(sh.row) * sh.row.multiplier * qty
            name = "covered call" if sh.row.right == "C" else "covered put"
            add(name, [(other.row.line, other.sign * shares), (sh.row.line, -qty)],
                s_init + extra, s_maint + extra)
            other.left -= shares
        else:
            qty = min(sh.left, other.left)
            cost = _vertical_cost(sh.row, other.row)
            if cost > 0:
                credit_spreads.append((sh.row, other.row, qty, cost))
            else:
                add("debit spread", [(sh.row.line, -qty), (other.row.line, qty)], 0.0, 0.0)
            other.left -= qty
        sh.left -= qty

    # 2. iron condors from a credit call spread and a credit put spread.
    calls = [[s, lg, q, c] for s, lg, q, c in credit_spreads if s.right == "C"]
    puts = [[s, lg, q, c] for s, lg, q, c in credit_spreads if s.right == "P"]
    calls.sort(key=lambda x: -x[3])
    puts.sort(key=lambda x: -x[3])
    for call in calls:
        for put in puts:
            qty = min(call[2], put[2])
            if qty <= 0:
                continue
            cost = max(call[3], put[3]) * qty
            add("iron condor", [(put[1].line, qty), (put[0].line, -qty), (call[0].line, -qty),
                                (call[1].line, qty)], cost, cost)
            call[2] -= qty
            put[2] -= qty
            if call[2] <= 0:
                break
    for s, lg, q, c in calls + puts:
        if q > 0:
            name = "bear call spread" if s.right == "C" else "bull put spread"
            add(name, [(s.line, -q), (lg.line, q)], c * q, c * q)

    # 4. long puts protecting long stock (a maintenance rule).
    for lp in [lg for lg in longs if lg.row.right == "P" and lg.left > 0]:
        for st in [s for s in stocks if s.sign > 0 and s.left > 0]:
            per = lp.row.multiplier
            qty = min(lp.left, st.left // per)
            if qty <= 0:
                continue
            shares = qty * per
            s_init, s_maint = stock_requirement(st.row.price, shares, rates)
            maint = min(rates.protective_put_pct_strike * lp.row.strike + _otm(lp.row),
                        rates.long_stock_maint * st.row.price) * shares
            add("protective put", [(st.row.line, shares), (lp.row.line, qty)], s_init,
                min(maint, s_maint))
            st.left -= shares
            lp.left -= qty

    # 5. outright.
    for st in stocks:
        if st.left > 0:
            init, maint = stock_requirement(st.row.price, st.sign * st.left, rates)
            add("long stock" if st.sign > 0 else "short stock", [(st.row.line,
                                                                  st.sign * st.left)],
                init, maint)
    for sh in shorts:
        if sh.left > 0:
            req = naked_per_contract(sh.row, rates) * sh.left
            name = "naked call" if sh.row.right == "C" else "naked put"
            add(name, [(sh.row.line, -sh.left)], req, req)
    for lg in longs:
        if lg.left > 0:
            name = "long call" if lg.row.right == "C" else "long put"
            add(name, [(lg.row.line, lg.left)], 0.0, 0.0)
    return out
