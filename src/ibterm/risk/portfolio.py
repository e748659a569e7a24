"""Portfolio files for `ibterm risk`: CSV rows checked one by one, each bad row reported
as PATH:LINE: reason (the header is line 1); nothing is computed from a file with errors.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from ibterm.domain.futures import FuturesRoot

REQUIRED = ("symbol", "sec_type", "quantity", "price")
KNOWN = (*REQUIRED, "right", "strike", "expiry", "multiplier", "underlying_price", "iv",
         "account", "div_yield", "index_class")
SEC_TYPES = ("STK", "OPT", "FUT", "FOP")
INDEX_CLASSES = ("equity", "broad_index", "small_cap_index", "narrow_index")
DEFAULT_INDEX_CLASS = {"SPX": "broad_index", "XSP": "broad_index", "NDX": "broad_index",
                       "DJX": "broad_index", "OEX": "broad_index", "RUT": "small_cap_index"}


# Bounds no real position comes near, so that every figure the calculator derives (margin,
# 25x stress, liquidation searches: products of a few of these, squared at most) stays a
# finite float with cents to spare. A price of 1e308 is finite but its 1.15 stress move is
# not; 1e-320 is positive but divides into infinity. Documented in docs/security.md.
MAX_PRICE = 1e9  # price, strike, underlying: Berkshire A is ~7e5, index points ~1e5
MIN_PRICE = 1e-6  # a nonzero price below a millionth is a typo (or an exponent attack)
MAX_QUANTITY = 1e9  # shares or contracts in one row
MAX_MULTIPLIER = 1e8  # JPY futures carry 12,500,000
MAX_NOTIONAL = 1e15  # dollars in one row: |quantity| x multiplier x the largest price
MAX_DIV_YIELD = 1.0  # 100% a year
MAX_SYMBOL = 24  # IB's longest local symbols are ~21 characters


class PortfolioErrors(Exception):
    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


# The security types that are options (equity and index options, options on futures).
OPTION_TYPES = ("OPT", "FOP")


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    symbol: str
    sec_type: str
    right: str  # C, P or ""
    strike: float
    expiry: dt.date | None
    multiplier: float
    quantity: float
    price: float
    underlying_price: float  # the row's own price for STK / FUT
    iv: float | None
    account: str
    div_yield: float
    index_class: str

    @property
    def is_option(self) -> bool:
        return self.sec_type in OPTION_TYPES


def _short(text: str) -> str:
    """A cell in a message: a short prefix, never a 10,000-character echo."""
    return text if len(text) <= 24 else text[:24] + "…"


def _shown(text: str) -> str:
    return repr(_short(text))


def _number(text: str, name: str, positive: bool = False, *, maximum: float,
            minimum: float = 0.0) -> float:
    """A finite number with |value| <= maximum and, when nonzero, |value| >= minimum."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {_shown(text)} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    if positive and value <= 0:
        raise ValueError(f"{name} must be greater than zero")
    if abs(value) > maximum:
        raise ValueError(f"{name} {_shown(text)} is out of range (at most {maximum:g})")
    if value != 0 and abs(value) < minimum:
        raise ValueError(f"{name} {_shown(text)} is too small (at least {minimum:g} "
                         "when not zero)")
    return value


def _price(text: str, name: str, positive: bool = False) -> float:
    return _number(text, name, positive, maximum=MAX_PRICE, minimum=MIN_PRICE)


def _row(line: int, raw: dict[str, str], as_of: dt.date,
         futures: dict[str, FuturesRoot]) -> Row:
    get = {k: (raw.get(k) or "").strip() for k in KNOWN}
    symbol = get["symbol"].upper()
    if not symbol:
        raise ValueError("symbol is empty")
    if len(symbol) > MAX_SYMBOL:
        raise ValueError(f"symbol {_shown(symbol)} is longer than {MAX_SYMBOL} characters")
    sec_type = get["sec_type"].upper()
    if sec_type not in SEC_TYPES:
        raise ValueError(f"sec_type {_shown(get['sec_type'])} is not one of {', '.join(SEC_TYPES)}")
    quantity = _number(get["quantity"], "quantity", maximum=MAX_QUANTITY)
    if quantity == 0:
        raise ValueError("quantity is zero")
    price = _price(get["price"], "price")
    if price < 0:
        raise ValueError("price is negative")
    right, strike, expiry = "", 0.0, None
    if sec_type in OPTION_TYPES:
        right = get["right"].upper()[:1]
        if right not in ("C", "P"):
            raise ValueError(f"right {_shown(get['right'])} must be C or P for an option")
        strike = _price(get["strike"], "strike", positive=True)
    if sec_type != "STK":
        try:
            expiry = dt.datetime.strptime(get["expiry"], "%Y%m%d").date()
        except ValueError:
            raise ValueError(f"expiry {_shown(get['expiry'])} is not a date YYYYMMDD") from None
        if expiry < as_of:
            raise ValueError(f"expiry {get['expiry']} is before the as-of date {as_of:%Y%m%d}")
    if get["multiplier"]:
        multiplier = _number(get["multiplier"], "multiplier", positive=True,
                             maximum=MAX_MULTIPLIER, minimum=MIN_PRICE)
    elif sec_type == "STK":
        multiplier = 1.0
    elif sec_type == "OPT":
        multiplier = 100.0
    else:
        root = futures.get(symbol)
        if root is None:
            raise ValueError(f"{_short(symbol)} is not in the futures table: give its multiplier")
        multiplier = root.multiplier
    if sec_type in OPTION_TYPES:
        if not get["underlying_price"]:
            raise ValueError("underlying_price is required for an option")
        underlying = _price(get["underlying_price"], "underlying_price", positive=True)
    else:
        if price <= 0:
            raise ValueError("price must be greater than zero")
        underlying = price
    iv = (_number(get["iv"], "iv", positive=True, maximum=math.inf, minimum=1e-4)
          if get["iv"] else None)
    if iv is not None and iv > 5:
        raise ValueError("iv is a decimal (0.25 for 25%)")
    div_yield = (_number(get["div_yield"], "div_yield", maximum=MAX_DIV_YIELD)
                 if get["div_yield"] else 0.0)
    index_class = get["index_class"].lower() or DEFAULT_INDEX_CLASS.get(symbol, "equity")
    if index_class not in INDEX_CLASSES:
        raise ValueError(f"index_class {_shown(get['index_class'])} is not one of "
                         f"{', '.join(INDEX_CLASSES)}")
    notional = abs(quantity) * multiplier * max(price, underlying, strike)
    if notional > MAX_NOTIONAL:
        raise ValueError(f"the position is worth {notional:.3g} dollars, more than "
                         f"{MAX_NOTIONAL:g}: check quantity, multiplier and prices")
    return Row(line, symbol, sec_type, right, strike, expiry, multiplier, quantity, price,
               underlying, iv, get["account"], div_yield, index_class)


@dataclass(frozen=True, slots=True)
class Portfolio:
    rows: list[Row]
    columns: tuple[str, ...]  # the header's, normalized

    @property
    def has_accounts(self) -> bool:
        """An `account` column is there (per-account totals are reported then)."""
        return "account" in self.columns


def load_portfolio(path: Path, as_of: dt.date,
                   futures: dict[str, FuturesRoot]) -> list[Row]:
    return read_portfolio(path, as_of, futures).rows


def read_portfolio(path: Path, as_of: dt.date, futures: dict[str, FuturesRoot]) -> Portfolio:
    try:
        # utf-8-sig: Excel and Windows editors start a CSV with a byte-order mark, which
        # would otherwise become part of the first column's name.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise PortfolioErrors([f"{path}:1: the file is empty"])
            columns = [c.strip().lower() for c in header]
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise PortfolioErrors([f"{path}:1: missing column(s): {', '.join(missing)}"])
            errors = [f"{path}:1: unknown column {_shown(c)}" for c in columns if c not in KNOWN]
            rows: list[Row] = []
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(columns):
                    errors.append(f"{path}:{line}: {len(cells)} fields, the header has "
                                  f"{len(columns)}")
                    continue
                try:
                    rows.append(_row(line, dict(zip(columns, cells, strict=True)), as_of,
                                     futures))
                except ValueError as exc:
                    errors.append(f"{path}:{line}: {exc}")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PortfolioErrors([f"{path}:1: cannot read the CSV: {exc}"]) from None
    if not rows and not errors:
        errors.append(f"{path}:1: no positions")
    if errors:
        raise PortfolioErrors(errors)
    return Portfolio(rows, tuple(columns))
