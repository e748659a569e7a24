"""Numbers as a trader reads them back: exact, never rounded to six digits or written in
exponent form (`:g` would show a 21,050.75 limit as 21050.8 and 1,000,000 shares as 1e+06)."""

from __future__ import annotations

from decimal import Decimal


def plain(value: float) -> str:
    """The shortest text that reads back as `value`, in positional notation: 21050.75,
    1000000, 0.00005, -4.2. Integral values have no decimal point."""
    if value == 0:
        return "0"  # also -0.0: a sign on nothing would only alarm
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
