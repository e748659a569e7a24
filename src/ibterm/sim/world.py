"""The simulated instrument universe, built from a scenario and the simulated date."""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ibterm.config import yamlfile
from ibterm.config.reference import futures_table
from ibterm.domain.calendar import fridays_after, third_friday
from ibterm.domain.futures import FuturesRoot
from ibterm.domain.instrument import Instrument, InstrumentSpec, Right, SecType
from ibterm.domain.symbols import SymbolError, parse_symbol
from ibterm.sim.faults import BadTick
from ibterm.sim.scenario import InstrumentDef, Scenario

Loc = tuple[str | int, ...]
# A smile that bends below this somewhere on the chain is a scenario error, not a price.
MIN_SMILE_VOL = 0.01


class WorldError(ValueError):
    """A scenario that validates field by field but does not make a coherent world."""

    def __init__(self, loc: Loc, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


class PriceModel(Enum):
    WALK = "walk"  # its own seeded random walk
    BASIS = "basis"  # a fixed ratio to another instrument (back-month futures)
    OPTION = "option"  # Black-Scholes on its underlying


@dataclass(slots=True)
class SimInstrument:
    instrument: Instrument
    model: PriceModel
    start_price: float
    volatility: float
    live_data: bool = True
    underlying: int = 0  # con_id of the instrument this one is priced from
    basis: float = 1.0
    years: float = 0.0  # options: time to expiry at the simulated date
    contract_month: str = ""
    last_trade_date: str = ""
    long_name: str = ""
    lot: float = 100.0  # displayed-size unit for the random sizes


@dataclass(slots=True)
class World:
    date: dt.date
    rate: float
    instruments: dict[int, SimInstrument] = field(default_factory=dict)
    futures_roots: Mapping[str, FuturesRoot] = field(default_factory=dict)

    def add(self, sim: SimInstrument) -> None:
        con_id = sim.instrument.con_id
        if con_id in self.instruments:
            raise ValueError(f"conId {con_id} is used twice ({sim.instrument.display})")
        self.instruments[con_id] = sim

    def resolve(self, spec: InstrumentSpec) -> SimInstrument | None:
        """The instrument a symbol-grammar spec names; futures without month: front month."""
        candidates = [
            s
            for s in self.instruments.values()
            if s.instrument.symbol == spec.symbol and s.instrument.sec_type == spec.sec_type
            and (spec.sec_type is not SecType.CASH or s.instrument.currency == spec.currency)
        ]
        if spec.sec_type in (SecType.FUT,):
            if spec.expiry:
                candidates = [s for s in candidates if s.contract_month == spec.expiry]
            candidates.sort(key=lambda s: s.instrument.expiry)
            return candidates[0] if candidates else None
        if spec.sec_type in (SecType.OPT, SecType.FOP):
            candidates = [
                s
                for s in candidates
                if s.instrument.expiry == spec.expiry
                and math.isclose(s.instrument.strike, spec.strike)
                and s.instrument.right == spec.right
            ]
        return candidates[0] if len(candidates) == 1 else None


def derived_con_id(key: str) -> int:
    """Stable across runs and machines (crc32, not Python's salted hash)."""
    return 100_000_000 + zlib.crc32(key.encode()) % 800_000_000


def _occ_symbol(symbol: str, expiry: str, right: Right, strike: float) -> str:
    return f"{symbol:<6}{expiry[2:]}{right.value}{round(strike * 1000):08d}"


def _add_stock(world: World, d: InstrumentDef) -> SimInstrument:
    symbol = d.symbol.upper()
    inst = Instrument(
        con_id=d.con_id or derived_con_id(f"STK:{symbol}"),
        symbol=symbol,
        sec_type=SecType.STK,
        exchange=d.exchange or "SMART",
        currency="USD",
        multiplier=1.0,
        min_tick=d.min_tick or 0.01,
        local_symbol=symbol,
        trading_class="NMS" if d.primary_exchange == "NASDAQ" else symbol,
        primary_exchange=d.primary_exchange or "NYSE",
        long_name=d.name or symbol,
    )
    sim = SimInstrument(inst, PriceModel.WALK, d.price, d.volatility, d.live_data,
                        long_name=inst.long_name, lot=100.0)
    world.add(sim)
    return sim


def _add_cash(world: World, d: InstrumentDef, loc: Loc) -> None:
    try:
        spec = parse_symbol(d.symbol)
    except SymbolError as exc:
        raise WorldError((*loc, "symbol"), str(exc)) from None
    if spec.sec_type is not SecType.CASH:
        raise WorldError((*loc, "symbol"), "a CASH instrument is written like EUR.USD")
    inst = Instrument(
        con_id=d.con_id or derived_con_id(f"CASH:{spec.symbol}.{spec.currency}"),
        symbol=spec.symbol,
        sec_type=SecType.CASH,
        exchange=d.exchange or "IDEALPRO",
        currency=spec.currency,
        min_tick=d.min_tick or 0.00005,
        local_symbol=f"{spec.symbol}.{spec.currency}",
        trading_class=f"{spec.symbol}.{spec.currency}",
        size_increment=1.0,
        long_name=d.name or f"{spec.symbol}.{spec.currency}",
    )
    world.add(SimInstrument(inst, PriceModel.WALK, d.price, d.volatility, d.live_data,
                            long_name=inst.long_name, lot=1_000_000.0))


def _add_futures(world: World, d: InstrumentDef, loc: Loc) -> None:
    symbol = d.symbol.upper()
    root = world.futures_roots.get(symbol)
    if root is None:
        known = ", ".join(sorted(world.futures_roots))
        raise WorldError((*loc, "symbol"), f"{symbol} is not in the futures table ({known})")
    months = root.contract_months(world.date, d.contract_months)
    front_years = (months[0][1] - world.date).days / 365.0
    front: SimInstrument | None = None
    for contract_month, last_trade in months:
        expiry = last_trade.strftime("%Y%m%d")
        years = (last_trade - world.date).days / 365.0
        inst = Instrument(
            con_id=derived_con_id(f"FUT:{symbol}:{contract_month}"),
            symbol=symbol,
            sec_type=SecType.FUT,
            exchange=d.exchange or root.exchange,
            currency=root.currency,
            multiplier=root.multiplier,
            min_tick=d.min_tick or root.min_tick,
            expiry=expiry,
            local_symbol=root.local_symbol(contract_month),
            trading_class=symbol,
            long_name=d.name or root.name,
        )
        if front is None:
            sim = SimInstrument(inst, PriceModel.WALK, d.price, d.volatility, d.live_data,
                                contract_month=contract_month, last_trade_date=expiry,
                                long_name=inst.long_name, lot=1.0)
            front = sim
        else:
            # Carry: later months trade at a small premium (rate minus a 1.5% yield).
            basis = math.exp((world.rate - 0.015) * (years - front_years))
            sim = SimInstrument(inst, PriceModel.BASIS, d.price * basis, d.volatility,
                                d.live_data, underlying=front.instrument.con_id, basis=basis,
                                contract_month=contract_month, last_trade_date=expiry,
                                long_name=inst.long_name, lot=1.0)
        world.add(sim)


def option_expiries(today: dt.date, weeklies: int, monthlies: int) -> list[dt.date]:
    dates = set(fridays_after(today, weeklies))
    year, month = today.year, today.month
    found = 0
    while found < monthlies:
        day = third_friday(year, month)
        if day >= today:
            dates.add(day)
            found += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(dates)


def _add_options(world: World, under: SimInstrument, d: InstrumentDef, loc: Loc) -> None:
    chain = d.options
    assert chain is not None
    spot = under.start_price
    step = chain.strike_step
    low = math.ceil(spot * (1 - chain.strike_range) / step) * step
    high = math.floor(spot * (1 + chain.strike_range) / step) * step
    count = round((high - low) / step) + 1
    strikes = [round(low + i * step, 4) for i in range(max(count, 0))]
    smile = chain.smile
    atm = smile.atm or chain.volatility or under.volatility
    symbol = under.instrument.symbol
    vols = {}
    for strike in strikes:
        k = math.log(strike / spot)
        vols[strike] = atm + smile.skew * k + smile.curvature * k * k
        if vols[strike] < MIN_SMILE_VOL:
            raise WorldError((*loc, "options", "smile"),
                             f"the smile gives strike {strike:g} a volatility of "
                             f"{vols[strike]:.4f}; it must stay at or above {MIN_SMILE_VOL}")
    for expiry_date in option_expiries(world.date, chain.weeklies, chain.monthlies):
        expiry = expiry_date.strftime("%Y%m%d")
        # Options expiring today still trade until the close: give them half a day.
        years = max((expiry_date - world.date).days, 0.5) / 365.0
        for strike in strikes:
            for right in (Right.CALL, Right.PUT):
                local = _occ_symbol(symbol, expiry, right, strike)
                inst = Instrument(
                    con_id=derived_con_id(f"OPT:{local}"),
                    symbol=symbol,
                    sec_type=SecType.OPT,
                    exchange="SMART",
                    currency="USD",
                    multiplier=100.0,
                    min_tick=0.01,
                    expiry=expiry,
                    strike=strike,
                    right=right,
                    local_symbol=local,
                    trading_class=symbol,
                    long_name=under.long_name,
                )
                world.add(SimInstrument(inst, PriceModel.OPTION, 0.0, vols[strike],
                                        under.live_data,
                                        underlying=under.instrument.con_id, years=years,
                                        last_trade_date=expiry, long_name=under.long_name,
                                        lot=1.0))


def build_world(scenario: Scenario, today: dt.date | None = None,
                futures_roots: Mapping[str, FuturesRoot] | None = None) -> World:
    """Build the universe; raise WorldError (with the scenario path) when it is incoherent."""
    date = scenario.date or today or dt.date.today()
    world = World(date=date, rate=scenario.rate,
                  futures_roots=futures_roots if futures_roots is not None else futures_table())
    for i, d in enumerate(scenario.instruments):
        loc: Loc = ("instruments", i)
        if d.options is not None and d.sec_type is not SecType.STK:
            raise WorldError((*loc, "options"), "option chains are built on stocks only")
        try:
            if d.sec_type is SecType.STK:
                under = _add_stock(world, d)
                if d.options is not None:
                    _add_options(world, under, d, loc)
            elif d.sec_type is SecType.CASH:
                _add_cash(world, d, loc)
            else:
                _add_futures(world, d, loc)
        except ValueError as exc:
            if isinstance(exc, WorldError):
                raise
            raise WorldError(loc, str(exc)) from None
    roots = world.futures_roots.keys()
    for a, account in enumerate(scenario.accounts):
        for p, pos in enumerate(account.positions):
            loc = ("accounts", a, "positions", p, "symbol")
            try:
                spec = parse_symbol(pos.symbol, roots)
            except SymbolError as exc:
                raise WorldError(loc, str(exc)) from None
            if world.resolve(spec) is None:
                raise WorldError(loc, f"{pos.symbol!r} is not an instrument of this scenario")
    for f, fault in enumerate(scenario.faults):
        if isinstance(fault, BadTick):
            try:
                find_instrument(world, fault.symbol)
            except ValueError as exc:
                raise WorldError(("faults", f, "symbol"), str(exc)) from None
    return world


def find_instrument(world: World, symbol: str) -> SimInstrument:
    """The instrument a symbol names (symbol grammar: `AAPL`, `ES`, `SPY 20261218 600 C`)."""
    try:
        spec = parse_symbol(symbol, world.futures_roots.keys())
    except SymbolError as exc:
        raise ValueError(str(exc)) from None
    found = world.resolve(spec)
    if found is None:
        raise ValueError(f"{symbol!r} is not an instrument of this scenario")
    return found


def load_scenario(path: Path, today: dt.date | None = None) -> Scenario:
    """Load and check a scenario file; raise yamlfile.FileProblems as PATH:LINE:COL."""
    located = yamlfile.read(path)
    scenario = yamlfile.validate(Scenario, located, str(path))
    try:
        build_world(scenario, today)
    except WorldError as exc:
        line, col = located.where(exc.loc)
        raise yamlfile.FileProblems([yamlfile.Problem(str(path), line, col, exc.message)]) from None
    return scenario
