"""The runs of contract fields several messages share, read and written."""

from __future__ import annotations

from ibterm.domain.instrument import Instrument, SecType
from ibterm.sim.contracts import ContractQuery
from ibterm.sim.protocol import Field


def contract_at(fields: list[str], start: int) -> ContractQuery:
    """The twelve contract fields of a request (C12), from `start` on."""
    return ContractQuery.from_fields(fields[start : start + 12])


def multiplier(inst: Instrument) -> str:
    if inst.sec_type in (SecType.STK, SecType.CASH):
        return ""
    return f"{inst.multiplier:g}"


def contract_head(inst: Instrument) -> tuple[Field, ...]:
    """conId … multiplier: the start of every contract a message carries."""
    return (inst.con_id, inst.symbol, inst.sec_type.value, inst.expiry, inst.strike,
            inst.right.value if inst.right else "", multiplier(inst))


def contract11(inst: Instrument) -> tuple[Field, ...]:
    """conId … tradingClass with the exchange, without primaryExchange."""
    return (*contract_head(inst), inst.exchange, inst.currency, inst.local_symbol,
            inst.trading_class)
