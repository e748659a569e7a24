"""The order ticket's fields as typed, and the order they describe.

The widget collects the text of its fields into a `TicketForm`; everything that can be
wrong with that text is found here, reported as a `TicketError` naming the field, so the
same rules hold for every way an order is typed and can be fuzzed without a terminal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from ibterm.domain.instrument import Instrument
from ibterm.domain.numbers import plain
from ibterm.domain.orders import ComboLeg, OrderSpec, OrderType, Side, TimeInForce

# Far beyond any real order, but it keeps every product (quantity x price x multiplier)
# a finite float the checks can compare: an absurd size is a size-limit breach, not an
# overflow.
MAX_NUMBER = 1e12
# Past these no order is real on any product IB trades (BRK.A is under 1e6 a share, a
# billion units is past any FX ticket): a slipped key, refused here rather than offered
# to the trader as an overridable size breach.
MAX_QUANTITY = 1e9
MAX_PRICE = 1e8
# IB takes a trailing percent to two decimals; anything finer is a typo (1e-300%).
MIN_TRAIL_PERCENT = 0.01


# Plain decimals (230.05, .5, 1e3) or thousands grouped by commas (1,500.25).
_NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+(\.\d*)?|\d+\.?\d*([eE][+-]?\d+)?"
                     r"|\.\d+([eE][+-]?\d+)?|inf|nan)", re.IGNORECASE | re.ASCII)


class TicketError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class TicketForm:
    side: str
    order_type: str
    tif: str
    quantity: str
    limit: str = ""
    stop: str = ""
    trail: str = ""
    outside_rth: bool = False
    account: str = ""


def parse_number(text: str, field: str) -> float | None:
    """A number as a trader types it (`1,500`, ` 230.5 `); None when empty."""
    cleaned = text.strip()
    if not cleaned:
        return None
    if not _NUMBER.fullmatch(cleaned):
        # Commas only as thousands separators: "1,5" is not read as 15, nor "2,50" as 250.
        raise TicketError(field, "not a number")
    value = float(cleaned.replace(",", ""))
    if not math.isfinite(value):
        raise TicketError(field, "not a finite number")
    if abs(value) > MAX_NUMBER:
        raise TicketError(field, f"too large (at most {MAX_NUMBER:,.0f})")
    # "-0" is zero: never a signed zero that prints as "-0" or slips past a sign test.
    return value + 0.0


def _positive(text: str, field: str, required: str, at_least: float = 0.0,
              at_most: float = MAX_NUMBER, floor_text: str = "") -> float:
    """A number > 0, not below `at_least` (one tick, one size increment) nor above
    `at_most`; a value that underflows to zero (1e-400) is refused as zero."""
    value = parse_number(text, field)
    if value is None:
        raise TicketError(field, required)
    if value <= 0:
        raise TicketError(field, "must be greater than zero")
    if value < at_least:
        raise TicketError(field, f"below {floor_text or f'{plain(at_least)}'}")
    if value > at_most:
        raise TicketError(field, f"too large (at most {at_most:,.0f})")
    return value


E = TypeVar("E", bound=Enum)


def _choice(kind: type[E], text: str, field: str) -> E:
    try:
        return kind(text)
    except ValueError:
        raise TicketError(field, f"{text!r} is not a choice here") from None


def build_spec(form: TicketForm, instrument: Instrument | None,
               combo: tuple[ComboLeg, ...] = ()) -> OrderSpec:
    """The order the fields describe; TicketError names the first field that is wrong.
    With `combo` legs, a combination order on `instrument`, its stand-in."""
    if instrument is None:
        raise TicketError("symbol", "enter a symbol and press enter")
    if combo:
        return _combo_spec(form, instrument, combo)
    side = _choice(Side, form.side, "side")
    order_type = _choice(OrderType, form.order_type, "type")
    tif = _choice(TimeInForce, form.tif, "tif")
    # Nothing smaller than the instrument can trade: a size under one increment, a price
    # or trail under one tick (1e-300) is a typo, not an order.
    quantity = _positive(form.quantity, "quantity", "a positive number is required",
                         instrument.size_increment, MAX_QUANTITY,
                         f"one size increment ({plain(instrument.size_increment)})")
    tick = instrument.min_tick
    one_tick = f"one tick ({plain(tick)})"
    limit = (_positive(form.limit, "limit", "a limit price is required", tick, MAX_PRICE,
                       one_tick) if order_type.needs_limit else None)
    stop = (_positive(form.stop, "stop", "a stop price is required", tick, MAX_PRICE,
                      one_tick) if order_type.needs_stop else None)
    trail_amount = trail_percent = None
    if order_type is OrderType.TRAIL:
        text = form.trail.strip()
        required = "an amount (1.25) or a percent (1%)"
        if text.endswith("%"):
            trail_percent = _positive(text[:-1], "trail", required, MIN_TRAIL_PERCENT,
                                      floor_text=f"{plain(MIN_TRAIL_PERCENT)}%")
            if trail_percent >= 100:
                raise TicketError("trail", "a percent under 100%")
        else:
            trail_amount = _positive(text, "trail", required, tick, MAX_PRICE, one_tick)
    return OrderSpec(instrument, side, quantity, order_type, limit=limit, stop=stop,
                     trail_amount=trail_amount, trail_percent=trail_percent, tif=tif,
                     outside_rth=form.outside_rth, account=form.account)


def _combo_spec(form: TicketForm, instrument: Instrument,
                legs: tuple[ComboLeg, ...]) -> OrderSpec:
    """A combination order: LMT or MKT, a whole number of combinations, and a limit that is
    the net price of one, positive a debit and negative a credit (so never zero)."""
    side = _choice(Side, form.side, "side")
    order_type = _choice(OrderType, form.order_type, "type")
    if order_type not in (OrderType.LMT, OrderType.MKT):
        raise TicketError("type", "a combination is LMT or MKT")
    tif = _choice(TimeInForce, form.tif, "tif")
    quantity = _positive(form.quantity, "quantity", "a positive number is required", 1.0,
                         MAX_QUANTITY, "one combination")
    if quantity != int(quantity):
        raise TicketError("quantity", "a whole number of combinations")
    limit = None
    if order_type is OrderType.LMT:
        limit = parse_number(form.limit, "limit")
        tick = instrument.min_tick
        if limit is None:
            raise TicketError("limit", "a limit price is required")
        if limit == 0:
            raise TicketError("limit", "not zero: a debit is positive, a credit negative")
        if abs(limit) < tick:
            raise TicketError("limit", f"below one tick ({plain(tick)})")
        if abs(limit) > MAX_PRICE:
            raise TicketError("limit", f"too large (at most {MAX_PRICE:,.0f})")
    return OrderSpec(instrument, side, quantity, order_type, limit=limit, tif=tif,
                     outside_rth=form.outside_rth, account=form.account, combo=legs)
