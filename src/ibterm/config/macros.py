"""Turning a key macro into an order intent for the instrument under the cursor.

Pure: the quote, position and clock are passed in. Prices come from the macro's
expressions, evaluated on live, fresh quotes only; the intent then goes through the same
pipeline as the ticket (checks, confirmation per profile, throttle, journal).
"""

from __future__ import annotations

from ibterm.config.keymaps import BracketArgs, LimitArgs, Macro, MarketArgs
from ibterm.domain.expressions import (
    ExpressionError,
    PriceExpr,
    evaluate,
    offset_distance,
    parse_price,
)
from ibterm.domain.instrument import Instrument
from ibterm.domain.numbers import plain
from ibterm.domain.orders import IntentKind, OrderIntent, OrderSpec, OrderType, Side
from ibterm.domain.quote import MarketDataType, Quote


class MacroError(ValueError):
    """Why a macro could not build its order (shown to the trader, nothing is sent)."""


def build_intent(macro: Macro, inst: Instrument, quote: Quote | None, now: float,
                 stale_after: float, account: str = "") -> OrderIntent:
    args = macro.args
    source = f"macro:{macro.key}"
    try:
        if isinstance(args, LimitArgs):
            side = Side.BUY if macro.action.startswith("buy") else Side.SELL
            price = evaluate(parse_price(args.price), side, inst.min_tick, quote, now=now,
                             stale_after=stale_after)
            spec = OrderSpec(inst, side, args.qty, OrderType.LMT, limit=price, tif=args.tif,
                             account=account)
            return OrderIntent((spec,), source=source)
        if isinstance(args, MarketArgs):
            side = Side.BUY if macro.action.startswith("buy") else Side.SELL
            spec = OrderSpec(inst, side, args.qty, OrderType.MKT, tif=args.tif, account=account)
            return OrderIntent((spec,), source=source)
        if isinstance(args, BracketArgs):
            return _bracket(args, inst, quote, now, stale_after, account, source)
    except ExpressionError as exc:
        raise MacroError(f"{macro.action}: {exc.message}") from None
    raise MacroError(f"{macro.action} does not place an order")


def _bracket(args: BracketArgs, inst: Instrument, quote: Quote | None, now: float,
             stale_after: float, account: str, source: str) -> OrderIntent:
    side, tick = args.side, inst.min_tick
    if args.entry == "market":
        if quote is None or quote.data_type is not MarketDataType.LIVE or \
                quote.is_stale(now, stale_after):
            raise MacroError("bracket: a market entry needs a live quote to place its exits")
        touch = quote.ask if side is Side.BUY else quote.bid
        if touch is None:
            raise MacroError("bracket: the quote has no price on the entry's side")
        entry_price = touch
        entry = OrderSpec(inst, side, args.qty, OrderType.MKT, tif=args.tif, account=account)
    else:
        entry_price = evaluate(parse_price(args.entry), side, tick, quote, now=now,
                               stale_after=stale_after)
        entry = OrderSpec(inst, side, args.qty, OrderType.LMT, limit=entry_price, tif=args.tif,
                          account=account)
    exit_side = side.opposite
    take = _offset(args.take_profit, exit_side, tick, entry_price, toward_profit=True, side=side)
    stop = _offset(args.stop_loss, side, tick, entry_price, toward_profit=False, side=side)
    take_spec = OrderSpec(inst, exit_side, args.qty, OrderType.LMT, limit=take, tif=args.tif,
                          account=account)
    stop_spec = OrderSpec(inst, exit_side, args.qty, OrderType.STP, stop=stop, tif=args.tif,
                          account=account)
    return OrderIntent((entry, take_spec, stop_spec), kind=IntentKind.BRACKET, source=source)


def _offset(text: str, rounding_side: Side, tick: float, entry: float, toward_profit: bool,
            side: Side) -> float:
    """An exit at a distance from the entry: above a long's entry for profit, below it for
    the stop (mirrored for a short), whatever sign was written."""
    distance = offset_distance(parse_price(text), entry, tick)
    up = (side is Side.BUY) == toward_profit
    price = entry + distance if up else entry - distance
    if price <= 0:
        raise MacroError(f"{text!r} puts the exit at {plain(price)}")
    # Round outward: the take profit and the stop never come closer to the entry.
    return evaluate(PriceExpr(f"{price}", price, ()), rounding_side, tick)
