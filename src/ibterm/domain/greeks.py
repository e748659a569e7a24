"""Option greeks and an option's quote with them, as the chain shows them: values plus the
provenance and age a trader needs to tell a live greek from an old one."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.domain.instrument import Instrument, Right
from ibterm.domain.quote import Quote


@dataclass(frozen=True, slots=True)
class Greeks:
    """One option computation: IV as a fraction (0.16), vega per volatility point and
    theta per calendar day, as IB sends them; None where IB sent nothing."""

    iv: float | None = None
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    und_price: float | None = None
    price: float | None = None  # the option price the computation was made at


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """An option's top of book and IB's computations at the model, bid and ask.
    `greeks_at` is when any computation last changed (monotonic seconds): greeks can stop
    while the book moves, and the other way round. `open_interest` is the contracts open at
    the last close (IB's generic tick 101), None until IB sends it."""

    quote: Quote
    model: Greeks | None = None
    bid: Greeks | None = None
    ask: Greeks | None = None
    greeks_at: float | None = None
    open_interest: float | None = None

    @property
    def greeks(self) -> Greeks | None:
        """The greeks to show: the model's; the bid's or the ask's only when IB sent no
        model computation."""
        return self.model or self.bid or self.ask

    def stale(self, now: float, stale_after: float) -> bool:
        """Not live: delayed or frozen data, or nothing new for `stale_after` seconds."""
        q = self.quote
        if not q.data_type.is_live or q.is_stale(now, stale_after):
            return True
        return self.greeks_at is not None and now - self.greeks_at > stale_after


@dataclass(frozen=True, slots=True)
class OptionChain:
    """An underlying's listed expiries (YYYYMMDD, soonest first) and strikes."""

    underlying: Instrument
    expiries: tuple[str, ...]
    strikes: tuple[float, ...]
    multiplier: float = 100.0


def in_the_money(right: Right, strike: float, under_price: float | None) -> bool:
    if under_price is None:
        return False
    return strike < under_price if right is Right.CALL else strike > under_price


def atm_index(strikes: tuple[float, ...] | list[float], under_price: float | None) -> int:
    """The strike nearest the underlying's price; the middle one when there is no price."""
    if not strikes:
        return 0
    if under_price is None:
        return len(strikes) // 2
    return min(range(len(strikes)), key=lambda i: abs(strikes[i] - under_price))
