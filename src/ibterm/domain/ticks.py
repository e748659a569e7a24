"""Prices on an instrument's tick: the one place that rounds them."""

from __future__ import annotations

import math

from ibterm.domain.orders import Side


def decimals(tick: float) -> int:
    """Digits after the point that a price on this tick needs (0.25 -> 2, 0.00005 -> 5)."""
    text = f"{tick:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def on_tick(price: float, tick: float) -> bool:
    steps = price / tick
    return abs(steps - round(steps)) < 1e-6


def round_to_tick(price: float, tick: float) -> float:
    """The nearest price on the tick."""
    return round(round(price / tick) * tick, decimals(tick))


def round_directed(price: float, tick: float, up: bool) -> float:
    """Onto the tick, up or down (a price already on it stays)."""
    steps = price / tick
    n = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return round(n * tick, decimals(tick))


def round_in_favour(price: float, tick: float, side: Side) -> float:
    """Never worse for the trader: buys round down, sells round up."""
    return round_directed(price, tick, up=side is Side.SELL)
