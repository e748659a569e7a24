"""Matching a request's contract fields against the simulated universe, as IB does."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ibterm.domain.instrument import SecType
from ibterm.sim.world import SimInstrument, World


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The twelve contract fields of a request (C12 in docs/simulator.md)."""

    con_id: int
    symbol: str
    sec_type: str
    expiry: str
    strike: float
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def from_fields(cls, f: Sequence[str]) -> ContractQuery:
        if len(f) < 12:
            raise ValueError("a contract needs 12 fields")
        return cls(
            con_id=int(f[0] or 0),
            symbol=f[1].upper(),
            sec_type=f[2].upper(),
            expiry=f[3],
            strike=float(f[4] or 0),
            right=f[5].upper()[:1],
            multiplier=f[6],
            exchange=f[7].upper(),
            primary_exchange=f[8].upper(),
            currency=f[9].upper(),
            local_symbol=f[10].upper(),
            trading_class=f[11].upper(),
        )


@dataclass(frozen=True, slots=True)
class LegQuery:
    """One combo leg as a request writes it (reqMktData, placeOrder): its conId, ratio,
    action and exchange."""

    con_id: int
    ratio: int
    action: str
    exchange: str


def _exchange_ok(query: str, sim: SimInstrument) -> bool:
    inst = sim.instrument
    if not query or query == inst.exchange:
        return True
    # Stocks and options route through SMART but are also listed on their primary.
    return inst.exchange == "SMART" and query == inst.primary_exchange


def _multiplier_ok(query: str, sim: SimInstrument) -> bool:
    if not query:
        return True
    try:
        return math.isclose(float(query), sim.instrument.multiplier)
    except ValueError:
        return False


def match(world: World, q: ContractQuery) -> list[SimInstrument]:
    if q.con_id:
        sim = world.instruments.get(q.con_id)
        return [sim] if sim is not None else []
    if not q.symbol and not q.local_symbol:
        return []
    found = []
    for sim in world.instruments.values():
        inst = sim.instrument
        if q.symbol and inst.symbol != q.symbol:
            continue
        if q.sec_type and inst.sec_type.value != q.sec_type:
            continue
        if q.local_symbol and inst.local_symbol.upper() != q.local_symbol:
            continue
        if q.expiry and q.expiry not in (inst.expiry, sim.contract_month):
            if not (len(q.expiry) == 6 and inst.expiry.startswith(q.expiry)
                    and inst.sec_type is not SecType.FUT):
                continue
        if q.strike and not math.isclose(inst.strike, q.strike):
            continue
        if q.right and (inst.right is None or inst.right.value != q.right):
            continue
        if q.currency and inst.currency != q.currency:
            continue
        if q.trading_class and inst.trading_class.upper() != q.trading_class:
            continue
        if not _exchange_ok(q.exchange, sim) or not _multiplier_ok(q.multiplier, sim):
            continue
        found.append(sim)
    found.sort(key=lambda s: (s.instrument.expiry, s.instrument.strike,
                              s.instrument.right or "", s.instrument.con_id))
    return found
