"""The strategy builder's lookups through the session: an underlying's option chain
(expiries and strikes, the chain's own lookup) and the contract a leg plan names (the
option at an expiry, strike and right, resolved as the ticket's are)."""

from __future__ import annotations

from ibterm.broker.session import BrokerSession
from ibterm.domain.greeks import OptionChain
from ibterm.domain.instrument import Instrument, InstrumentSpec, SecType
from ibterm.domain.strategy import LegPlan


async def option_chain(session: BrokerSession,
                       underlying: Instrument) -> tuple[OptionChain | None, str]:
    """The underlying's expiries and strikes as the chain lists them (the session's
    options part), or (None, why)."""
    if underlying.sec_type not in (SecType.STK, SecType.IND):
        return None, f"{underlying.display}: the builder takes a stock, ETF or index's options"
    if not session.connected:
        return None, "not connected"
    try:
        return await session.options.chain(underlying)
    except ConnectionError:
        return None, "not connected"


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
