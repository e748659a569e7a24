"""Translating between the domain's instruments and ib_async contracts."""

from __future__ import annotations

import math

from ib_async import Contract, ContractDetails

from ibterm.domain.instrument import Instrument, InstrumentSpec, Right, SecType
from ibterm.reference import futures_table


def spec_to_contract(spec: InstrumentSpec) -> Contract:
    """The contract to look up for a spec (front-month futures: no expiry, pick later)."""
    exchange = spec.exchange
    if spec.sec_type in (SecType.FUT, SecType.FOP) and not exchange:
        root = futures_table().get(spec.symbol)
        exchange = root.exchange if root else ""
    if spec.sec_type is SecType.CASH:
        exchange = exchange or "IDEALPRO"
    if spec.sec_type in (SecType.STK, SecType.OPT):
        exchange = exchange or "SMART"
    return Contract(
        secType=spec.sec_type.value,
        symbol=spec.symbol,
        lastTradeDateOrContractMonth=spec.expiry,
        strike=spec.strike,
        right=spec.right.value if spec.right else "",
        exchange=exchange,
        currency=spec.currency,
    )


def _float(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) and number > 0 else default


def contract_to_instrument(contract: Contract,
                           details: ContractDetails | None = None) -> Instrument:
    sec_type = SecType(contract.secType) if contract.secType in SecType.__members__ else SecType.STK
    default_mult = 100.0 if sec_type is SecType.OPT else 1.0
    right = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}.get(
        contract.right or ""
    )
    return Instrument(
        con_id=contract.conId,
        symbol=contract.symbol,
        sec_type=sec_type,
        exchange=contract.exchange or (details.contract.exchange if details and details.contract
                                       else ""),
        currency=contract.currency,
        multiplier=_float(contract.multiplier, default_mult),
        min_tick=_float(details.minTick, 0.01) if details else 0.01,
        expiry=contract.lastTradeDateOrContractMonth or "",
        strike=contract.strike or 0.0,
        right=right,
        local_symbol=contract.localSymbol,
        trading_class=contract.tradingClass,
        primary_exchange=contract.primaryExchange,
        size_increment=_float(details.sizeIncrement, 1.0) if details else 1.0,
        long_name=details.longName if details else "",
        contract_month=(details.contractMonth if details else "")
        or (contract.lastTradeDateOrContractMonth[:6] if sec_type is SecType.FUT else ""),
    )
