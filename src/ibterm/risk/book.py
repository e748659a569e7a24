"""The broker's positions and a ticket's orders as rows for the local risk calculator.

One conversion, used by the app's margin preview and by the simulator's own margin, so the
two compute the same thing: stocks, futures, options and futures options become `Row`s.
What the calculator has no rules for (currency pairs, indexes) or cannot price (an option
without an underlying price) is left out and named, never guessed. An option's volatility
is implied from its price, remembered per (instrument, price, underlying price); where no
volatility reproduces the price (a stale or off-model mark), DEFAULT_IV stands in.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from ibterm.domain.account import Position
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.orders import IntentKind, OrderIntent, OrderSpec
from ibterm.risk.portfolio import DEFAULT_INDEX_CLASS, Row
from ibterm.risk.pricing import carry_of, implied_vols

DEFAULT_IV = 0.30  # an option whose price no volatility reproduces
COVERED = frozenset({SecType.STK, SecType.OPT, SecType.FUT, SecType.FOP})
# Rows made from orders are numbered from here, apart from the positions' lines.
ORDER_LINES = 1_000_000


class NotCovered(ValueError):
    """An instrument the local calculator cannot take, with the reason."""


def expiry_date(text: str) -> dt.date | None:
    """YYYYMMDD (IB's lastTradeDateOrContractMonth); a bare month gives None."""
    text = text.strip()[:8]
    if len(text) != 8:
        return None
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def instrument_row(inst: Instrument, quantity: float, price: float | None,
                   underlying_price: float | None, line: int, account: str = "",
                   iv: float | None = None) -> Row:
    """The row for `quantity` (signed) of `inst` marked at `price`; NotCovered says why not."""
    if inst.sec_type not in COVERED:
        raise NotCovered(f"{inst.sec_type.value} is not in the local calculator")
    if price is None or not math.isfinite(price) or price < 0:
        raise NotCovered("no price")
    option = inst.sec_type in (SecType.OPT, SecType.FOP)
    expiry = expiry_date(inst.expiry)
    if option:
        if inst.right is None or inst.strike <= 0 or expiry is None:
            raise NotCovered("an option without right, strike or expiry")
        if underlying_price is None or not math.isfinite(underlying_price) \
                or underlying_price <= 0:
            raise NotCovered("no underlying price")
        spot = underlying_price
    else:
        if price <= 0:
            raise NotCovered("no price")
        spot = price
    return Row(line=line, symbol=inst.symbol, sec_type=inst.sec_type.value,
               right=inst.right.value if option and inst.right else "",
               strike=inst.strike if option else 0.0, expiry=expiry,
               multiplier=inst.multiplier or 1.0, quantity=quantity, price=price,
               underlying_price=spot, iv=iv, account=account, div_yield=0.0,
               index_class=DEFAULT_INDEX_CLASS.get(inst.symbol, "equity"))


@dataclass(frozen=True, slots=True)
class Book:
    rows: tuple[Row, ...]
    left_out: tuple[str, ...]  # "EUR.USD: CASH is not in the local calculator"


PriceOf = Callable[[Instrument], float | None]


def positions_book(positions: Iterable[Position], mark: Mapping[int, float],
                   underlying_price: PriceOf) -> Book:
    """Open positions as rows, each at `mark[con_id]` or else the broker's market price."""
    rows: list[Row] = []
    left_out: list[str] = []
    for p in positions:
        if not p.quantity:
            continue  # IB reports a closed position as a zero row
        inst = p.instrument
        price = mark.get(inst.con_id, p.market_price)
        under = underlying_price(inst) if inst.sec_type in (SecType.OPT, SecType.FOP) else None
        try:
            rows.append(instrument_row(inst, p.quantity, price, under, len(rows) + 2, p.account))
        except NotCovered as exc:
            left_out.append(f"{inst.display}: {exc}")
    return Book(tuple(rows), tuple(left_out))


def _fill(spec: OrderSpec, line: int, account: str, mark: Mapping[int, float],
          underlying_price: PriceOf) -> Row:
    """A leg as if filled at the mark (the limit or stop when there is no mark)."""
    inst = spec.instrument
    price = mark.get(inst.con_id)
    if price is None:
        price = spec.limit if spec.limit is not None else spec.stop
    under = underlying_price(inst) if inst.sec_type in (SecType.OPT, SecType.FOP) else None
    return instrument_row(inst, spec.signed_quantity, price, under, line, account)


def order_outcomes(intent: OrderIntent, account: str, mark: Mapping[int, float],
                   underlying_price: PriceOf) -> list[list[Row]]:
    """How the intent can end, each a list of fills (whatif.py): one order, a bracket's
    entry alone / with its take profit / with its stop, one order of an OCA group.
    NotCovered names the leg that cannot be previewed."""
    fills = []
    for i, spec in enumerate(intent.legs):
        try:
            fills.append(_fill(spec, ORDER_LINES + i, account, mark, underlying_price))
        except NotCovered as exc:
            raise NotCovered(f"{spec.instrument.display}: {exc}") from None
    if intent.kind is IntentKind.BRACKET and len(fills) == 3:
        entry, take, stop = fills
        return [[entry], [entry, take], [entry, stop]]
    if intent.kind is IntentKind.OCA:
        return [[f] for f in fills]
    return [fills]


class VolCache:
    """Implied volatilities, remembered: bisection on every preview would cost more than
    the preview itself, and a position's price moves less often than the ticket changes."""

    def __init__(self, limit: int = 20_000) -> None:
        self._vols: dict[tuple[object, ...], float] = {}
        self._limit = limit

    @staticmethod
    def _key(r: Row) -> tuple[object, ...]:
        return (r.symbol, r.sec_type, r.right, r.strike, r.expiry, round(r.price, 6),
                round(r.underlying_price, 6))

    def fill(self, rows: Iterable[Row], as_of: dt.date, rate: float) -> list[Row]:
        """The rows with every option's iv set (implied, or DEFAULT_IV)."""
        rows = list(rows)
        missing = {self._key(r): r for r in rows
                   if r.is_option and r.iv is None and self._key(r) not in self._vols}
        if missing:
            if len(self._vols) + len(missing) > self._limit:
                self._vols.clear()
            self._vols.update(_implied(list(missing.items()), as_of, rate))
        return [replace(r, iv=self._vols[self._key(r)]) if r.is_option and r.iv is None else r
                for r in rows]


def _implied(items: list[tuple[tuple[object, ...], Row]], as_of: dt.date,
             rate: float) -> dict[tuple[object, ...], float]:
    out: dict[tuple[object, ...], float] = {}
    live = []
    for key, r in items:
        years = ((r.expiry - as_of).days / 365.0) if r.expiry else 0.0
        if years <= 0 or r.price <= 0:
            out[key] = DEFAULT_IV  # at expiry the value is intrinsic: any vol will do
        else:
            live.append((key, r, years))
    if live:
        # Straight to the numpy kernel: a data frame here would load polars (some 70 ms)
        # with the simulator's first margin, on the demo's start-up path.
        n = len(live)
        rates = np.full(n, float(rate))
        vols = implied_vols(
            np.fromiter([r.underlying_price for _, r, _ in live], np.float64, n),
            np.fromiter([r.strike for _, r, _ in live], np.float64, n),
            np.fromiter([y for _, _, y in live], np.float64, n), rates,
            carry_of(rates, np.fromiter([r.div_yield for _, r, _ in live], np.float64, n),
                     np.fromiter([r.sec_type == "FOP" for _, r, _ in live], bool, n)),
            np.fromiter([r.right == "C" for _, r, _ in live], bool, n),
            np.fromiter([r.price for _, r, _ in live], np.float64, n))
        for (key, _, _), vol in zip(live, vols.tolist(), strict=True):
            out[key] = DEFAULT_IV if math.isnan(vol) else vol
    return out
