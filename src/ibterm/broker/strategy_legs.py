"""The strategy builder's lookups through the session: an underlying's option chain
(expiries and strikes, from IB's security definition parameters) and the contract a leg
plan names (the option at an expiry, strike and right, resolved as the ticket's are)."""

from __future__ import annotations

from ibterm.broker.session import BrokerSession
from ibterm.domain.greeks import OptionChain
from ibterm.domain.instrument import Instrument, InstrumentSpec, SecType
from ibterm.domain.strategy import LegPlan


async def option_chain(session: BrokerSession,
                       underlying: Instrument) -> tuple[OptionChain | None, str]:
    """The underlying's options as listed (every exchange's lists merged), or (None, why)."""
    if underlying.sec_type is not SecType.STK:
        return None, f"{underlying.display}: the builder takes a stock or ETF's options"
    if not session.connected:
        return None, "not connected"
    try:
        params = await session.ib.reqSecDefOptParamsAsync(
            underlying.symbol, "", underlying.sec_type.value, underlying.con_id)
    except ConnectionError:
        return None, "not connected"
    expiries = sorted({e for p in params for e in p.expirations})
    strikes = sorted({float(s) for p in params for s in p.strikes})
    if not expiries or not strikes:
        return None, f"{underlying.display} lists no options"
    return OptionChain(underlying, tuple(expiries), tuple(strikes)), ""


async def leg_instrument(session: BrokerSession, underlying: Instrument,
                         plan: LegPlan) -> tuple[Instrument | None, str]:
    """The contract a leg plan names: the underlying itself for a stock leg."""
    if plan.right is None:
        return underlying, ""
    spec = InstrumentSpec(underlying.symbol, SecType.OPT, plan.expiry, plan.strike,
                          plan.right, currency=underlying.currency)
    try:
        return await session.resolve(str(spec))
    except ConnectionError:
        return None, "not connected"
