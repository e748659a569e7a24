"""Numbers as a trader reads them back: never rounded to six digits or written in
exponent form (`:g` showed a 21,050.75 limit as 21050.8 and 1,000,000 shares as 1e+06),
and without the binary noise of a computed price (230.01000000000002 is 230.01)."""

from __future__ import annotations

from decimal import Decimal

# More than any price, quantity or limit carries (a 1e8 price to 1e-4), fewer than the
# 15-17 where a float's binary expansion starts to show.
SIGNIFICANT = 12


def plain(value: float) -> str:
    """`value` to 12 significant digits, in positional notation, trailing zeros dropped:
    21050.75, 1000000, 0.00005, -4.2. Integral values have no decimal point."""
    if value == 0:
        return "0"  # also -0.0: a sign on nothing would only alarm
    text = format(Decimal(f"{value:.{SIGNIFICANT}g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
