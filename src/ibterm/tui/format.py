"""Number formatting for the tables: fixed widths, signs that survive without colour."""

from __future__ import annotations

import math

from ibterm.domain.ticks import decimals

DASH = "—"
MINUS = "−"  # U+2212: the same width as '+', unlike a hyphen


def tick_decimals(tick: float) -> int:
    """Digits to show for prices on this tick: the tick's own, at least two."""
    if tick <= 0 or not math.isfinite(tick):
        return 2
    return max(2, decimals(tick))


def price(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return DASH
    return f"{value:,.{decimals}f}".replace("-", MINUS)


def signed(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return DASH
    if value > 0:
        return f"▲{value:,.{decimals}f}"
    if value < 0:
        return f"▼{-value:,.{decimals}f}"
    return f" {0:.{decimals}f}"


def percent(value: float | None) -> str:
    if value is None:
        return DASH
    sign = "+" if value > 0 else (MINUS if value < 0 else " ")
    return f"{sign}{abs(value):.2f}%"


def money(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return DASH
    sign = MINUS if value < 0 else ""
    return f"{sign}{abs(value):,.{decimals}f}"


def signed_money(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return DASH
    sign = "+" if value > 0 else (MINUS if value < 0 else " ")
    return f"{sign}{abs(value):,.{decimals}f}"


def compact(value: float | None) -> str:
    """Sizes and volumes: 950, 12.3K, 4.56M, 1.2B."""
    if value is None:
        return DASH
    v = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= limit:
            scaled = value / limit
            return f"{scaled:.3g}{suffix}" if abs(scaled) < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}"


def quantity(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}".replace("-", MINUS)
    return f"{value:,.4g}".replace("-", MINUS)


def age(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"
