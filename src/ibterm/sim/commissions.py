"""An IBKR-like fixed commission schedule (USD), per execution.

    stocks   0.005 per share, at least 1.00, at most 1% of the trade value
    options  0.65 per contract, at least 1.00
    futures  0.85 per contract (exchange fees included in the rate)
    forex    0.2 basis points of the trade value, at least 2.00
"""

from __future__ import annotations

from ibterm.domain.instrument import Instrument, SecType


def commission(inst: Instrument, shares: float, price: float) -> float:
    qty = abs(shares)
    value = qty * price * inst.multiplier
    if inst.sec_type is SecType.STK:
        return round(min(max(0.005 * qty, 1.00), 0.01 * value), 2)
    if inst.sec_type in (SecType.OPT, SecType.FOP):
        return round(max(0.65 * qty, 1.00), 2)
    if inst.sec_type is SecType.FUT:
        return round(0.85 * qty, 2)
    if inst.sec_type is SecType.CASH:
        return round(max(0.00002 * value, 2.00), 2)
    return 0.0
