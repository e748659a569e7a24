"""Translating between the domain's instruments and ib_async contracts."""

from __future__ import annotations

import math
from typing import TypeVar

from ib_async import Contract, ContractDetails

from ibterm.config.reference import futures_table
from ibterm.domain.instrument import Instrument, InstrumentSpec, Right, SecType, format_strike


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


# --- why a symbol did not resolve, in the trader's words ------------------------------
_KIND = {SecType.STK: "stock", SecType.OPT: "option", SecType.FUT: "future",
         SecType.FOP: "futures option", SecType.CASH: "currency pair", SecType.IND: "index"}
_T = TypeVar("_T", float, str)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(yyyymmdd: str, year: bool = True) -> str:
    """20261218 -> '18 Dec 2026' (or '18 Dec'); anything else as it is."""
    if len(yyyymmdd) < 8 or not yyyymmdd[:8].isdigit() or not 1 <= int(yyyymmdd[4:6]) <= 12:
        return yyyymmdd
    text = f"{int(yyyymmdd[6:8])} {_MONTHS[int(yyyymmdd[4:6]) - 1]}"
    return f"{text} {yyyymmdd[:4]}" if year else text


def _neighbours(wanted: _T, listed: list[_T]) -> list[_T]:
    """The nearest listed value below and the nearest above (one of them at an end)."""
    below = [x for x in listed if x < wanted]
    above = [x for x in listed if x > wanted]
    return ([max(below)] if below else []) + ([min(above)] if above else [])


def no_instrument(spec: InstrumentSpec) -> str:
    """Nothing at all matches: say what was looked for, as it was looked up."""
    contract = spec_to_contract(spec)
    where = ", ".join(p for p in (_KIND.get(spec.sec_type, spec.sec_type.value),
                                  contract.exchange, contract.currency) if p)
    return f"No instrument {spec} ({where})"


def no_option(spec: InstrumentSpec, expiries: list[str], strikes: list[float]) -> str:
    """An option (or futures option) that is not listed, against what is: `expiries` of the
    chain (empty: unknown), `strikes` listed for the asked expiry and right (empty: none)."""
    kind = "call" if spec.right is Right.CALL else "put"
    if strikes:
        near = ", ".join(format_strike(s) for s in _neighbours(spec.strike, sorted(strikes)))
        return (f"{spec.symbol} has no {format_strike(spec.strike)} {kind} for "
                f"{_day(spec.expiry, year=False)}; nearest strikes {near}")
    listed = sorted({e[:8] for e in expiries})
    if listed and spec.expiry not in listed:
        near = ", ".join(_day(e, year=e[:4] != spec.expiry[:4])
                         for e in _neighbours(spec.expiry, listed))
        return (f"{spec.symbol} has no options expiring {_day(spec.expiry)}; "
                f"nearest expiries {near}")
    if listed:
        return f"{spec.symbol} has no {kind}s for {_day(spec.expiry)}"
    return f"No options on {spec.symbol} ({spec.currency})"


def no_future(spec: InstrumentSpec, months: list[str]) -> str:
    """A futures contract month that is not listed, against the months that are."""
    listed = sorted({m[:6] for m in months if m})
    if not listed:
        return no_instrument(spec)
    return f"{spec.symbol} has no future for {spec.expiry}; listed {', '.join(listed[:6])}"
