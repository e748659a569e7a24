"""The runs of contract fields several messages share, read and written."""

from __future__ import annotations

from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.numbers import plain
from ibterm.sim.combos import BAG_TRADING_CLASS, Combo
from ibterm.sim.contracts import ContractQuery
from ibterm.sim.protocol import Field


def contract_at(fields: list[str], start: int) -> ContractQuery:
    """The twelve contract fields of a request (C12), from `start` on."""
    return ContractQuery.from_fields(fields[start : start + 12])


def multiplier(inst: Instrument) -> str:
    if inst.sec_type in (SecType.STK, SecType.CASH):
        return ""
    return plain(inst.multiplier)


def contract_head(inst: Instrument) -> tuple[Field, ...]:
    """conId … multiplier: the start of every contract a message carries."""
    return (inst.con_id, inst.symbol, inst.sec_type.value, inst.expiry, inst.strike,
            inst.right.value if inst.right else "", multiplier(inst))


def contract11(inst: Instrument | Combo) -> tuple[Field, ...]:
    """conId … tradingClass with the exchange, without primaryExchange. A combo is IB's
    spread template: its conId, also as local symbol, and trading class COMB."""
    if isinstance(inst, Combo):
        return (inst.con_id, inst.symbol, "BAG", "", 0.0, "", "", inst.exchange,
                inst.currency, str(inst.con_id), BAG_TRADING_CLASS)
    return (*contract_head(inst), inst.exchange, inst.currency, inst.local_symbol,
            inst.trading_class)


def combo_fields(inst: Instrument | Combo) -> tuple[Field, ...]:
    """comboLegsDescrip, then the legs with their eight fields (conId, ratio, action,
    exchange, openClose, shortSaleSlot, designatedLocation, exemptCode): what openOrder
    and completedOrder carry of a combo; an empty description and no legs otherwise."""
    if not isinstance(inst, Combo):
        return ("", 0)
    legs: list[Field] = []
    for leg in inst.legs:
        legs += [leg.sim.instrument.con_id, leg.ratio, "BUY" if leg.buy else "SELL",
                 inst.exchange, 0, 0, "", -1]
    return (inst.descrip, len(inst.legs), *legs)
