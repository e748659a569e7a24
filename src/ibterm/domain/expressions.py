"""Price expressions for macros: `ask + 1 tick`, `mid`, `bid - 0.05`, `last + 0.5%`, and
offsets from an entry: `+1.5%`, `-20 ticks`. No eval: a Lark grammar, evaluated here.

    expr    := [base] term*          a price; without a base, an offset from the entry
    base    := bid | ask | mid | last | entry | NUMBER
    term    := ("+" | "-") NUMBER [tick | ticks | t | %]

Every price is rounded to the instrument's tick in the trader's favour for the side it is
used on (buys down, sells up): rounding never makes an order worse than written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from lark import Lark, Token, Tree, UnexpectedInput

from ibterm.domain.numbers import plain
from ibterm.domain.orders import Side
from ibterm.domain.quote import MarketDataType, Quote
from ibterm.domain.ticks import round_in_favour

GRAMMAR = r"""
?start: expr
expr: base? term*
base: REF | NUMBER
term: SIGN NUMBER UNIT?
REF: "bid"i | "ask"i | "mid"i | "last"i | "entry"i
SIGN: "+" | "-"
UNIT: "ticks"i | "tick"i | "t"i | "%"
NUMBER: /\d+(\.\d*)?|\.\d+/
%import common.WS
%ignore WS
"""


class ExpressionError(ValueError):
    def __init__(self, message: str, column: int = 1):
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr")


@dataclass(frozen=True, slots=True)
class Term:
    sign: int
    amount: float
    unit: str  # "price", "ticks", "percent"


@dataclass(frozen=True, slots=True)
class PriceExpr:
    text: str
    base: str | float | None  # a quote field, a fixed price, or None: relative to entry
    terms: tuple[Term, ...]

    @property
    def relative(self) -> bool:
        return self.base is None or self.base == "entry"

    @property
    def fields(self) -> set[str]:
        """The quote fields it reads (bid, ask, mid, last)."""
        return {self.base} if isinstance(self.base, str) and self.base != "entry" else set()


def parse_price(text: str) -> PriceExpr:
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression is required")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", 1) or 1
        raise ExpressionError(f"cannot read {text!r} here: expected bid, ask, mid, last, a "
                              "number, or + / - an amount (ticks, %)", column) from None
    base: str | float | None = None
    terms: list[Term] = []
    assert isinstance(tree, Tree)
    for child in tree.children:
        assert isinstance(child, Tree)
        if child.data == "base":
            token = child.children[0]
            assert isinstance(token, Token)
            base = float(token) if token.type == "NUMBER" else str(token).lower()
        else:
            sign, number, *unit = child.children
            assert isinstance(number, Token)
            amount = float(number)
            suffix = str(unit[0]).lower() if unit else ""
            kind = "percent" if suffix == "%" else ("ticks" if suffix.startswith("t")
                                                    else "price")
            terms.append(Term(1 if str(sign) == "+" else -1, amount, kind))
    if base is None and not terms:
        raise ExpressionError("an expression is required")
    return PriceExpr(text, base, tuple(terms))


def offset_distance(expr: PriceExpr, entry: float, tick: float) -> float:
    """How far an offset expression (`+1.5%`, `-20 ticks`) reaches from the entry; the
    signs are the writer's, the distance is what counts."""
    return abs(_terms(expr, entry, tick))


def _terms(expr: PriceExpr, reference: float, tick: float) -> float:
    """The signed sum of an expression's terms; percents are of `reference`."""
    total = 0.0
    for term in expr.terms:
        if term.unit == "ticks":
            total += term.sign * term.amount * tick
        elif term.unit == "percent":
            total += term.sign * reference * term.amount / 100.0
        else:
            total += term.sign * term.amount
    return total


def evaluate(expr: PriceExpr, side: Side, tick: float, quote: Quote | None = None,
             entry: float | None = None, now: float = 0.0,
             stale_after: float | None = None) -> float:
    """The price, on the tick. A quote field must come from a live, fresh quote."""
    if expr.base is None or expr.base == "entry":
        if entry is None:
            raise ExpressionError(f"{expr.text!r} is relative to an entry price: it has none")
        price = entry
    elif isinstance(expr.base, float):
        price = expr.base
    else:
        if quote is None:
            raise ExpressionError(f"{expr.text!r} needs a quote, and there is none")
        if quote.flag:
            raise ExpressionError(f"{expr.text!r} would price from a flagged quote "
                                  f"({quote.flag})")
        if quote.data_type is not MarketDataType.LIVE:
            raise ExpressionError(f"{expr.text!r} would price from a {quote.data_type.label} "
                                  "quote: a macro only prices from live quotes")
        if stale_after is not None and quote.is_stale(now, stale_after):
            raise ExpressionError(f"{expr.text!r} would price from a stale quote")
        value = {"bid": quote.bid, "ask": quote.ask, "mid": quote.mid,
                 "last": quote.last}[expr.base]
        if value is None:
            raise ExpressionError(f"the quote has no {expr.base}")
        price = value
    price += _terms(expr, price, tick)
    if not price > 0:
        raise ExpressionError(f"{expr.text!r} gives {plain(price)}, not a price")
    return round_in_favour(price, tick, side)
