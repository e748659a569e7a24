"""Flatten: reducing marketable limits for every position, priced again from the touch
as each leg leaves and re-priced while it works, never left working silently."""

from __future__ import annotations

import asyncio
import decimal
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from ib_async import Trade

from ibterm.broker.ledger import Ledger
from ibterm.broker.session import BrokerSession
from ibterm.broker.tracking import OrderTracker, QueuedOrder, leg_of
from ibterm.domain.numbers import plain
from ibterm.domain.orders import IntentKind, OrderIntent, OrderSpec, OrderType, Side
from ibterm.domain.quote import MarketDataType
from ibterm.domain.ticks import round_in_favour

log = logging.getLogger("ibterm.orders")


class Flattener:
    def __init__(self, session: BrokerSession, tracker: OrderTracker, ledger: Ledger,
                 sleep: Callable[[float], Awaitable[None]],
                 enqueue: Callable[[QueuedOrder], None]) -> None:
        self.session = session
        self.profile = session.profile
        self.tracker = tracker
        self.ledger = ledger
        self.sleep = sleep
        self._enqueue = enqueue
        self._watch: dict[str, asyncio.Task[None]] = {}  # order_ref -> its re-pricer

    def intent(self) -> OrderIntent | None:
        """Reducing marketable limits for every position (None when flat). Their limits
        are what the dialog shows; each leg is priced again from the touch when it is
        sent, and re-priced while it works (see watch)."""
        legs = []
        for pos in self.session.positions():
            if not pos.quantity:
                continue
            # Its quote asked for now, while the trader reads the dialog: a leg priced
            # from the position's mark is rarely marketable where the spread is wider
            # than `through_ticks` (an option's usually is), and re-pricing needs a touch.
            self.session.ensure_quote(pos.instrument)
            side = Side.SELL if pos.quantity > 0 else Side.BUY
            spec = OrderSpec(pos.instrument, side, abs(pos.quantity), OrderType.LMT,
                             account=pos.account)
            limit, _ = self._limit(spec)
            if limit is None:
                continue  # no live quote, no market price: nothing to price it from
            legs.append(replace(spec, limit=limit))
        if not legs:
            return None
        return OrderIntent(tuple(legs), kind=IntentKind.FLATTEN, source="flatten")

    def _limit(self, spec: OrderSpec) -> tuple[float | None, str]:
        """A flatten leg's limit now, and what it was priced from: `through_ticks` through
        the live touch (below the bid to sell, above the ask to buy), rounded to the tick
        in the marketable direction; the position's market price only without a usable
        live quote; the leg's own limit if there is neither."""
        inst = spec.instrument
        s = self.session
        quote = s.quote(inst.con_id)
        touch: float | None = None
        source = ""
        if (quote is not None and quote.data_type is MarketDataType.LIVE and not quote.flag
                and not quote.is_stale(s.clock(), s.profile.stale_after)):
            touch = quote.bid if spec.side is Side.SELL else quote.ask
            source = "bid" if spec.side is Side.SELL else "ask"
        if not touch:
            touch = next((p.market_price for p in s.positions()
                          if p.instrument.con_id == inst.con_id and p.market_price
                          and (not spec.account or p.account == spec.account)), None)
            source = "the position's market price (no live quote)"
        if not touch:
            return spec.limit, "the price shown when flatten was asked (no quote, no mark)"
        through = self.profile.flatten.through_ticks * inst.min_tick * spec.side.sign
        limit = round_in_favour(max(touch + through, inst.min_tick), inst.min_tick,
                                spec.side.opposite)
        return limit, source

    def price(self, item: QueuedOrder) -> str:
        """Price a flatten leg as it leaves, from the touch of this moment: a price fixed
        when F10 was pressed goes stale while the trader reads the dialog."""
        limit, source = self._limit(item.spec)
        if limit is None:
            return source
        item.order.lmtPrice = limit
        item.spec = replace(item.spec, limit=limit)
        ref = item.order.orderRef
        specs = self.tracker.specs
        if ref in specs:
            specs[ref] = (specs[ref][0], item.spec)
        if source not in ("bid", "ask"):
            self.ledger.notice("warning", f"{item.spec.describe()}: flatten priced from {source}")
        return source

    def watch(self, ref: str) -> None:
        """Start re-pricing a flatten leg just sent, once per leg."""
        if ref not in self._watch:
            self._watch[ref] = asyncio.get_running_loop().create_task(self._watched(ref))

    async def _watched(self, ref: str) -> None:
        """Every `reprice_after` seconds an unfilled flatten leg is priced again from the
        then-current touch (a modify, same orderId), at most `max_reprices` times; one
        still working after that is reported, never left silently."""
        try:
            await self._reprice(ref)
        finally:
            self._watch.pop(ref, None)

    async def _reprice(self, ref: str) -> None:
        settings = self.profile.flatten
        rounds = 0
        while True:
            await self.sleep(settings.reprice_after)
            trade = self.tracker.working(ref)
            if trade is None or ref not in self.tracker.specs:
                return
            intent, spec = self.tracker.specs[ref]
            if rounds >= settings.max_reprices:
                self._report_working(ref, trade, spec, rounds)
                return
            rounds += 1
            if self.tracker.is_queued(ref):
                continue  # the last change has not left yet
            if not self.session.connected:
                continue  # the withdrawn-queue rules apply; tried again next round
            limit, source = self._limit(spec)
            if limit is None or limit == trade.order.lmtPrice:
                continue
            self.ledger.record("reprice", intent_id=intent.id, order_ref=ref,
                               symbol=spec.instrument.display, old_limit=trade.order.lmtPrice,
                               limit=limit, priced_from=source, round=rounds)
            self._enqueue(QueuedOrder(intent, leg_of(ref), trade.contract, trade.order,
                                      replace(spec, limit=limit), modify=True))

    def _report_working(self, ref: str, trade: Trade, spec: OrderSpec, rounds: int) -> None:
        remaining = trade.orderStatus.remaining or spec.quantity
        price = _price_text(float(trade.order.lmtPrice or 0.0), spec.instrument.min_tick)
        message = (f"{spec.instrument.display} flatten {spec.side.value} {plain(remaining)} still "
                   f"working after {rounds} re-pricing{'s' if rounds != 1 else ''} at {price}")
        log.warning("%s", message)
        self.ledger.notice("warning", f"{message}: the position is not flat yet")
        intent, _ = self.tracker.specs[ref]
        self.ledger.record("flatten-working", intent_id=intent.id, order_ref=ref,
                           symbol=spec.instrument.display, remaining=remaining,
                           limit=trade.order.lmtPrice, reprices=rounds, message=message)


def _price_text(price: float, tick: float) -> str:
    """A price with the tick's decimals and thousands separators: 6,027.00 for ES."""
    exponent = decimal.Decimal(str(tick)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 2
    return f"{price:,.{decimals}f}"
