"""Positions grouped by underlying: the strategies the margin pairing finds as
sub-groups with their legs, the legs left over as themselves, and the greeks of each
row, summed per strategy, per underlying and for the account.

Greeks are in the units professional tools show: delta in shares of the underlying
(delta x quantity x multiplier: the dollars made by a 1.00 rise), gamma as the change
of that dollar delta for a 1% rise, theta in dollars a calendar day, vega in dollars a
volatility point. An option's come from IB's model computation while it streams
live (`IB`), else from the project's pricer (`LOCAL`); both are converted here, once.
Pure: the pairing and the pricing come in as a `Grouping` (risk/grouping.py computes one
in a worker).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ibterm.domain.account import Position
from ibterm.domain.greeks import Greeks, OptionQuote
from ibterm.domain.instrument import SecType
from ibterm.domain.quote import MarketDataType, Quote

# Where a position's greeks come from, and what a group's mark says of its rows.
LOCAL = "local"  # the project's pricer, from the option's mid and the underlying's price
IB = "IB"  # IB's model computation (tickOptionComputation 13), live and fresh
MIXED = "mixed"  # a sum of rows of both sources
EXACT = ""  # stock or future: delta is the quantity, nothing to price
# Inputs that are not fresh and live: the figure is shown, and so is this.
STALE = "stale"
DELAYED = "delay"
PARTIAL = "part"  # a group whose rows are not all priced: its sums leave them out


@dataclass(frozen=True, slots=True)
class Exposure:
    """Greeks of a position or a group, in the units of the module docstring."""

    delta: float = 0.0
    gamma: float = 0.0
    theta: float = 0.0
    vega: float = 0.0

    def __add__(self, other: Exposure) -> Exposure:
        return Exposure(self.delta + other.delta, self.gamma + other.gamma,
                        self.theta + other.theta, self.vega + other.vega)

    def times(self, k: float) -> Exposure:
        return Exposure(self.delta * k, self.gamma * k, self.theta * k, self.vega * k)


def exposure(delta: float, gamma: float, theta: float, vega: float, spot: float,
             multiplier: float) -> Exposure:
    """One contract's greeks from one share's, as IB reports them (theta a calendar day,
    vega a volatility point): the one conversion both sources go through."""
    return Exposure(delta=delta * multiplier, gamma=gamma * spot * spot * multiplier / 100.0,
                    theta=theta * multiplier, vega=vega * multiplier)


def model_exposure(g: Greeks | None, multiplier: float,
                   underlying: float | None) -> Exposure | None:
    """IB's model computation for one contract; None when IB left a greek out (or no
    underlying price is known to state gamma in dollars): then none of it is used."""
    if g is None:
        return None
    spot = g.und_price or underlying
    if g.delta is None or g.gamma is None or g.theta is None or g.vega is None or not spot:
        return None
    return exposure(g.delta, g.gamma, g.theta, g.vega, spot, multiplier)


def live_model(option: OptionQuote | None, now: float, stale_after: float) -> Greeks | None:
    """IB's model greeks while they are live (live data, quote and greeks fresh, as the
    chain judges them); None when IB sent none or they are not."""
    if option is None or option.model is None or option.stale(now, stale_after):
        return None
    return option.model


@dataclass(frozen=True, slots=True)
class UnitGreeks:
    """One unit of a position's quantity (a share, a contract), multiplier included."""

    greeks: Exposure
    source: str  # IB, LOCAL or EXACT
    inputs: str = ""  # "", STALE or DELAYED: the quotes they were made from


@dataclass(frozen=True, slots=True)
class PairedStrategy:
    """A strategy of two legs or more as the pairing found it."""

    name: str  # "iron condor"
    expiry: str  # its options' expiry, "20261218"; two for a calendar: "20261218/20270115"
    legs: tuple[tuple[int, float], ...]  # (con_id, signed quantity in the strategy)

    @property
    def label(self) -> str:
        return f"{self.name} {self.expiry}".strip()


@dataclass(frozen=True, slots=True)
class Grouping:
    strategies: Mapping[str, tuple[PairedStrategy, ...]] = field(default_factory=dict)
    unit: Mapping[int, UnitGreeks] = field(default_factory=dict)  # by con_id


@dataclass(frozen=True, slots=True)
class OptionInputs:
    """What an option position's greeks are priced from, copied on the app's thread."""

    price: float | None  # the option's mark: its mid, else its last, else the broker's
    underlying: float | None  # the underlying's mark
    inputs: str = ""  # "", STALE or DELAYED: the worse of the two quotes
    # IB's model computation, given only while live (`live_model`): preferred to pricing.
    model: Greeks | None = None


@dataclass(frozen=True, slots=True)
class GroupingRequest:
    positions: tuple[Position, ...]
    options: Mapping[int, OptionInputs]  # by con_id, for every option position
    as_of: dt.date
    rate: float


def input_state(quotes: Iterable[Quote | None], now: float, stale_after: float) -> str:
    """The worse of the quotes a price is made from: STALE (none, old, flagged or
    frozen), DELAYED, or "" for live and fresh ones."""
    state = ""
    for q in quotes:
        if q is None or q.flag or q.is_stale(now, stale_after) \
                or q.data_type is MarketDataType.FROZEN:
            return STALE
        if not q.data_type.is_live:
            state = DELAYED
    return state


def exact_greeks(p: Position) -> UnitGreeks | None:
    """A stock's or future's greeks: delta is its shares (units of the index for a
    future), the rest nothing. None for what must be priced."""
    inst = p.instrument
    if inst.sec_type in (SecType.STK, SecType.FUT):
        return UnitGreeks(Exposure(delta=inst.multiplier or 1.0), EXACT)
    return None


@dataclass(frozen=True, slots=True)
class TreeRow:
    key: str
    kind: str  # "underlying" | "strategy" | "leg" | "position" | "total"
    underlying: str  # the symbol the row is under ("" for the account's)
    label: str
    depth: int  # 0 an underlying or a lone position, 1 under it, 2 a strategy's leg
    quantity: float | None = None
    # The position the row shows; `whole` when the row holds all of it (its P&L is then
    # the row's), else a strategy holds only part of it.
    position: Position | None = None
    whole: bool = True
    greeks: Exposure | None = None  # None: nothing priced
    mark: str = ""  # where the greeks come from, or what is wrong with them
    collapsed: bool = False
    pnl: tuple[float | None, float | None] = (None, None)  # (unrealized, daily), summed


def _mark(parts: Iterable[UnitGreeks | None]) -> str:
    parts = list(parts)
    known = [p for p in parts if p is not None]
    if len(known) < len(parts):
        return PARTIAL
    if any(p.inputs == STALE for p in known):
        return STALE
    if any(p.inputs == DELAYED for p in known):
        return DELAYED
    sources = {p.source for p in known} - {EXACT}
    if len(sources) > 1:
        return MIXED
    return sources.pop() if sources else EXACT


def _sum(items: Iterable[tuple[UnitGreeks | None, float]]) -> Exposure | None:
    total, any_known = Exposure(), False
    for unit, qty in items:
        if unit is not None:
            total, any_known = total + unit.greeks.times(qty), True
    return total if any_known else None


def _pnl_sum(positions: Iterable[Position]) -> tuple[float | None, float | None]:
    ps = list(positions)

    def total(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else sum(v or 0.0 for v in values)

    return total([p.unrealized_pnl for p in ps]), total([p.daily_pnl for p in ps])


def position_key(p: Position) -> str:
    return f"{p.account}:{p.instrument.con_id}"


def group_key(symbol: str) -> str:
    return f"group:{symbol}"


def leg_name(p: Position) -> str:
    """A leg under its underlying's header: the contract without the underlying's
    symbol (`20261218 580 P`); the stock or future as itself."""
    inst = p.instrument
    name = inst.display.removeprefix(inst.symbol).strip()
    return name if inst.sec_type in (SecType.OPT, SecType.FOP) and name else inst.display


def tree(positions: Iterable[Position], grouping: Grouping,
         collapsed: frozenset[str] = frozenset()) -> list[TreeRow]:
    """The rows in order: each underlying of more than one position (or with a strategy)
    under a header with its sums, its strategies (each over its legs), then the legs left
    over; an underlying of one position is that position's row alone. With options held,
    a last row sums the account's greeks. `collapsed` holds underlyings shown as their
    header only."""
    live = [p for p in positions if p.quantity != 0]
    by_symbol: dict[str, list[Position]] = {}
    for p in live:
        by_symbol.setdefault(p.instrument.symbol, []).append(p)
    unit = dict(grouping.unit)
    for p in live:
        exact = exact_greeks(p)
        if exact is not None:
            unit.setdefault(p.instrument.con_id, exact)
    rows: list[TreeRow] = []
    account: list[tuple[UnitGreeks | None, float]] = []
    for symbol, members in by_symbol.items():
        weights = [(unit.get(p.instrument.con_id), p.quantity) for p in members]
        account += weights
        strategies = _fitting(grouping.strategies.get(symbol, ()), members)
        if len(members) == 1 and not strategies:
            p = members[0]
            u = unit.get(p.instrument.con_id)
            rows.append(TreeRow(position_key(p), "position", symbol, p.instrument.display, 0,
                                p.quantity, p, True, _sum([(u, p.quantity)]), _mark([u]),
                                pnl=(p.unrealized_pnl, p.daily_pnl)))
            continue
        folded = symbol in collapsed
        rows.append(TreeRow(group_key(symbol), "underlying", symbol, symbol, 0, None, None, True,
                            _sum(weights), _mark(u for u, _ in weights), folded,
                            _pnl_sum(members)))
        if not folded:
            rows += _members(symbol, members, strategies, unit)
    if any(p.instrument.sec_type in (SecType.OPT, SecType.FOP) for p in live):
        rows.append(TreeRow("total", "total", "", "Account", 0, None, None, True,
                            _sum(account), _mark(u for u, _ in account), pnl=_pnl_sum(live)))
    return rows


def _fitting(strategies: Iterable[PairedStrategy],
             members: list[Position]) -> list[PairedStrategy]:
    """The strategies the positions still hold: a pairing made before the positions
    changed is left out until the new one comes."""
    left = {p.instrument.con_id: p.quantity for p in members}
    out = []
    for s in strategies:
        fits = len(s.legs) > 1
        for con_id, qty in s.legs:
            held = left.get(con_id, 0.0)
            fits = fits and held * qty > 0 and abs(qty) <= abs(held) + 1e-9
            left[con_id] = held - qty
        if fits:
            out.append(s)
        else:
            for con_id, qty in s.legs:
                left[con_id] += qty
    return out


def _members(symbol: str, members: list[Position], strategies: list[PairedStrategy],
             unit: Mapping[int, UnitGreeks]) -> list[TreeRow]:
    by_con = {p.instrument.con_id: p for p in members}
    left = {p.instrument.con_id: p.quantity for p in members}
    rows: list[TreeRow] = []
    for i, s in enumerate(strategies):
        legs = [(by_con[c], q) for c, q in s.legs]
        whole = all(abs(q - p.quantity) < 1e-9 for p, q in legs)
        weights = [(unit.get(p.instrument.con_id), q) for p, q in legs]
        rows.append(TreeRow(f"strategy:{symbol}:{i}", "strategy", symbol, s.label, 1, None, None,
                            whole, _sum(weights), _mark(u for u, _ in weights),
                            pnl=_pnl_sum(p for p, _ in legs) if whole else (None, None)))
        for j, (p, q) in enumerate(legs):
            left[p.instrument.con_id] -= q
            u = unit.get(p.instrument.con_id)
            branch = "└" if j == len(legs) - 1 else "├"
            leg_whole = abs(q - p.quantity) < 1e-9
            rows.append(TreeRow(f"{position_key(p)}:{i}", "leg", symbol,
                                f"{branch} {leg_name(p)}", 2, q, p, leg_whole,
                                _sum([(u, q)]), _mark([u]),
                                pnl=(p.unrealized_pnl, p.daily_pnl) if leg_whole
                                else (None, None)))
    for p in members:
        q = left[p.instrument.con_id]
        if abs(q) < 1e-9:
            continue
        u = unit.get(p.instrument.con_id)
        whole = abs(q - p.quantity) < 1e-9
        rows.append(TreeRow(position_key(p), "position", symbol, leg_name(p), 1, q, p, whole,
                            _sum([(u, q)]), _mark([u]),
                            pnl=(p.unrealized_pnl, p.daily_pnl) if whole else (None, None)))
    return rows
