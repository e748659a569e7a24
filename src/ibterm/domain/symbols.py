"""The symbol grammar shared by the watchlist, the order ticket, macros and the palette.

    AAPL                  stock (a futures root alone means its front month)
    ES 202612             future, by contract month
    SPY 20261218 450 C    option; a futures-option when the symbol is a futures root
    EUR.USD               currency pair (both sides ISO codes)

Input is case-insensitive; tokens are separated by blanks. See docs/symbols.md.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection
from dataclasses import dataclass

from ibterm.domain.instrument import InstrumentSpec, Right, SecType
from ibterm.domain.numbers import plain

CURRENCIES = frozenset(
    "USD EUR GBP JPY CHF CAD AUD NZD HKD SEK NOK DKK SGD CNH MXN ZAR PLN CZK HUF ILS KRW".split()
)
_SYMBOL = re.compile(r"[A-Z][A-Z0-9.]{0,11}$")
# The longest valid text ("ABCDEFGHIJKL 20261218 12345.6789 CALL") is under 40 characters;
# past MAX_TEXT the input is refused before it is tokenized, and messages quote at most
# QUOTE characters of a token, so a pasted screenful is never echoed back in full.
MAX_TEXT = 64
QUOTE = 16
# Strikes: positive, finite, at least a tenth of a basis point (JPY futures options list
# strikes like 0.0067) and at most ten million; 1e-300 would show as 0.
MIN_STRIKE = 0.0001
MAX_STRIKE = 10_000_000.0
_MONTH = re.compile(r"\d{6}$")
_DAY = re.compile(r"\d{8}$")


@dataclass(frozen=True)
class SymbolError(ValueError):
    message: str
    column: int  # 1-based column in the text where the problem starts

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"


def _quote(token: str) -> str:
    """A token in a message: repr (control and bidi characters escaped), cut short."""
    return repr(token) if len(token) <= QUOTE else repr(token[:QUOTE]) + "…"


def _tokens(text: str) -> list[tuple[str, int]]:
    return [(m.group(0).upper(), m.start() + 1) for m in re.finditer(r"\S+", text)]


def _check_date(token: str, column: int, fmt: str, shown: str = "") -> None:
    try:
        dt.datetime.strptime(token, fmt)
    except ValueError:
        raise SymbolError(f"{shown or _quote(token)} is not a valid date", column) from None


def parse_symbol(text: str, futures_roots: Collection[str] = ()) -> InstrumentSpec:
    """Parse one instrument; raise SymbolError saying what is wrong and where."""
    if len(text.strip()) > MAX_TEXT:
        raise SymbolError(f"too long ({len(text.strip()):,} characters, at most {MAX_TEXT})",
                          1)
    tokens = _tokens(text)
    if not tokens:
        raise SymbolError("empty symbol", 1)
    symbol, col = tokens[0]
    rest = tokens[1:]

    cash = symbol.split(".")
    if len(cash) == 2 and cash[0] in CURRENCIES and cash[1] in CURRENCIES:
        if rest:
            raise SymbolError("a currency pair takes nothing after it", rest[0][1])
        return InstrumentSpec(cash[0], SecType.CASH, exchange="IDEALPRO", currency=cash[1])
    if not _SYMBOL.match(symbol):
        raise SymbolError(f"{_quote(symbol)} is not a symbol (letters, digits, '.')", col)

    is_future_root = symbol in futures_roots
    if not rest:
        return InstrumentSpec(symbol, SecType.FUT if is_future_root else SecType.STK)

    expiry, ecol = rest[0]
    if len(rest) == 1:
        if not _MONTH.match(expiry):
            raise SymbolError(f"expected a contract month YYYYMM, got {_quote(expiry)}", ecol)
        _check_date(expiry + "01", ecol, "%Y%m%d", _quote(expiry))
        return InstrumentSpec(symbol, SecType.FUT, expiry=expiry)

    if len(rest) != 3:
        raise SymbolError("an option is SYMBOL YYYYMMDD STRIKE C|P", rest[-1][1])
    if not _DAY.match(expiry):
        raise SymbolError(f"expected an expiry YYYYMMDD, got {_quote(expiry)}", ecol)
    _check_date(expiry, ecol, "%Y%m%d")
    strike_text, scol = rest[1]
    try:
        strike = float(strike_text)
    except ValueError:
        raise SymbolError(f"expected a strike price, got {_quote(strike_text)}", scol) from None
    if not math.isfinite(strike) or strike <= 0:
        raise SymbolError("the strike must be a positive number", scol)
    if not MIN_STRIKE <= strike <= MAX_STRIKE:
        raise SymbolError(f"the strike {_quote(strike_text)} is out of range "
                          f"({plain(MIN_STRIKE)} to {MAX_STRIKE:,.0f})", scol)
    right_text, rcol = rest[2]
    right = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}.get(right_text)
    if right is None:
        raise SymbolError(f"expected C or P, got {_quote(right_text)}", rcol)
    sec_type = SecType.FOP if is_future_root else SecType.OPT
    return InstrumentSpec(symbol, sec_type, expiry=expiry, strike=strike, right=right)
