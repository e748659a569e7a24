"""The depth ladder and time & sales in the running app against the simulator: rows that
are the book and the quote, orders placed, moved and cancelled at a row through the
pipeline (journal, simulator, confirmation), prints with their side, honest titles when
IB refuses depth, the sizes it works at, and escape ending both subscriptions."""

from __future__ import annotations

import itertools
from dataclasses import replace

from textual.pilot import Pilot

from ibterm.broker.journal import read_events
from ibterm.domain.depth import FeedState
from ibterm.domain.ladder import LadderRow
from ibterm.domain.orders import OrderIntent, Side, TimeInForce
from ibterm.domain.tape import Aggressor
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.confirm import AskText, ConfirmOrder
from ibterm.tui.widgets.depth_screen import DepthScreen, intent_at
from ibterm.tui.widgets.help import HelpScreen
from ibterm.tui.widgets.ladder import WIDTH, LadderView
from ibterm.tui.widgets.tape import TapeView
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until

AAPL = 265598
TICK = 0.01


def _screen(app: IbtermApp) -> DepthScreen:
    screen = app.screen
    assert isinstance(screen, DepthScreen)
    return screen


def _title(app: IbtermApp, pane: str) -> str:
    return str(app.screen.query_one(f"#{pane}").border_title)


def _subscriptions(sim: SimServer) -> tuple[int, int]:
    return (sum(len(c.depth) for c in sim.connections),
            sum(len(c.tick_by_tick) for c in sim.connections))


async def _open(pilot: Pilot[None], app: IbtermApp, row: int = 0) -> DepthScreen:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: bool(watchlist.items)
                and len(watchlist.quotes) == len(watchlist.items), timeout=10)
    watchlist.move_cursor(row=row)
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, DepthScreen))
    return _screen(app)


def _row(screen: DepthScreen, price: float) -> LadderRow:
    return next(r for r in screen.rows if abs(r.price - price) < TICK / 2)


def _consistent(screen: DepthScreen, sim: SimServer) -> bool:
    book = sim.market.book(AAPL)
    try:
        bid, ask = _row(screen, book.bid), _row(screen, book.ask)
    except StopIteration:
        return False
    return (screen.book is not None and screen.book.state is FeedState.LIVE
            and (bid.bid_size, bid.ask_size) == (book.bid_size, None)
            and (ask.ask_size, ask.bid_size) == (book.ask_size, None))


async def test_the_ladder_is_the_book_around_the_quote_and_follows_it(sim: SimServer) -> None:
    app = make_app(sim, 131, ["AAPL", "ES"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        assert "Depth AAPL · ● live" in _title(app, "ladder-pane")
        prices = [r.price for r in screen.rows]
        assert all(round(a - b, 6) == TICK for a, b in itertools.pairwise(prices))
        assert len(screen.rows) == screen.query_one(LadderView).size.height - 1
        quote = app.session.quote(AAPL)
        assert quote is not None and quote.bid == sim.market.book(AAPL).bid
        # Ten levels a side below and above the touch, as the book has them.
        assert sum(1 for r in screen.rows if r.bid_size) == 10
        assert sum(1 for r in screen.rows if r.ask_size) == 10
        # The cursor starts at the touch, the mode is on screen.
        assert screen.cursor is not None and screen.rows[0].price > quote.bid
        drawn = str(screen.query_one(LadderView).render())
        assert "Bid" in drawn and "Ask" in drawn and "›" in drawn
        assert "DEMO" in str(screen.query_one("StatusBar").render())
        for _ in range(10):
            sim.step()
            await until(pilot, lambda: _consistent(screen, sim))
        await pilot.press("question_mark")  # the ladder's own keys, with their ids
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        ids = {row[1] for row in help_screen.rows}
        assert {"ladder-buy", "ladder-order-up", "ladder-cancel", "ladder-close"} <= ids


async def test_buy_at_a_row_moved_a_tick_up_and_cancelled_through_the_pipeline(
        sim: SimServer) -> None:
    app = make_app(sim, 132, ["AAPL"], confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        for _ in range(5):
            await pilot.press("down")
        price = screen.rows[[r.index for r in screen.rows].index(screen.cursor)].price
        assert price < sim.market.book(AAPL).bid  # a resting buy
        await pilot.press("b")
        await until(pilot, lambda: any(not o.done for o in sim.orders.orders.values()))
        [sent] = sim.orders.orders.values()
        assert (sent.req.action, sent.req.limit, sent.req.quantity) == ("BUY", price, 100)
        await until(pilot, lambda: _row(screen, price).buys == 100)
        assert "100" in str(screen.query_one(LadderView).render())
        ref = sent.req.order_ref
        journal = list(read_events(app.journal.path))
        [intent] = [e for e in journal if e.kind == "intent"]
        assert intent.data["source"] == "ladder"
        assert any(e.kind == "submitted" and e.order_ref == ref for e in journal)
        # A tick up: the same order re-placed (the modify path), the cursor goes with it.
        await pilot.press("shift+up")
        up = round(price + TICK, 2)
        await until(pilot, lambda: sent.req.limit == up and _row(screen, up).buys == 100)
        assert len(sim.orders.orders) == 1 and _row(screen, price).buys == 0
        assert any(e.kind == "modify" and e.order_ref == ref
                   for e in read_events(app.journal.path))
        # Cancelled at its row.
        await pilot.press("c")
        await until(pilot, lambda: sent.done)
        await until(pilot, lambda: _row(screen, up).buys == 0)
        await pilot.press("escape")
        await until(pilot, lambda: _subscriptions(sim) == (0, 0))
        assert not isinstance(app.screen, DepthScreen)


async def test_a_ladder_order_takes_the_confirmation_like_any_other(sim: SimServer) -> None:
    app = make_app(sim, 133, ["AAPL"])  # paper-like demo profile: confirmations on
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        await pilot.press("down", "down", "down", "s")  # a sell under the bid: marketable
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        confirm = app.screen
        assert isinstance(confirm, ConfirmOrder)
        assert confirm.intent.legs[0].side.value == "SELL"
        await pilot.press("escape")  # not approved: nothing sent, back on the ladder
        await until(pilot, lambda: isinstance(app.screen, DepthScreen))
        assert not sim.orders.orders
        # No working order at the row: nothing to move.
        await pilot.press("shift+up")
        await pilot.pause(0.2)
        assert not sim.orders.orders


async def test_an_order_from_the_ticket_moves_on_the_ladder_and_stays_gtc(
        sim: SimServer) -> None:
    app = make_app(sim, 140, ["AAPL"], confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        assert screen.cursor is not None
        price = round((screen.cursor - 5) * TICK, 2)
        # Placed from the ticket, not the ladder: GTC, outside RTH. The move starts from
        # the order as the gateway holds it, so only its price changes.
        [spec] = intent_at(screen.instrument, Side.BUY, 10, price, app.session.account).legs
        await app.pipeline.submit(OrderIntent((replace(spec, tif=TimeInForce.GTC,
                                                       outside_rth=True),)))
        await until(pilot, lambda: _row(screen, price).buys == 10)
        await pilot.press(*["down"] * 5, "shift+up")
        [sent] = sim.orders.orders.values()
        up = round(price + TICK, 2)
        await until(pilot, lambda: sent.req.limit == up and _row(screen, up).buys == 10)
        assert (sent.req.tif, sent.req.outside_rth, sent.req.quantity) == ("GTC", True, 10)
        await pilot.press("c")  # a cancel needs nothing but the order
        await until(pilot, lambda: sent.done)


async def test_time_and_sales_shows_prints_with_their_side(sim: SimServer) -> None:
    app = make_app(sim, 134, ["AAPL"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: "Time & sales · ● live" in _title(app, "tape-pane"))
        for _ in range(40):
            sim.step()
        await until(pilot, lambda: screen.tape is not None and len(screen.tape.prints) >= 5)
        tape = screen.tape
        assert tape is not None
        assert {p.side for p in tape.prints} == {Aggressor.BUY, Aggressor.SELL}
        drawn = str(screen.query_one(TapeView).render())
        assert "▲ buy" in drawn and "▼ sell" in drawn
        first = drawn.splitlines()[0]
        newest = tape.prints[0]
        assert f"{newest.price:,.2f}" in first and newest.time.astimezone().strftime(
            "%H:%M:%S") in first


async def test_refused_depth_says_so_and_keeps_the_quote_row(sim: SimServer) -> None:
    app = make_app(sim, 135, ["AAPL", "TSLA"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app, row=1)
        await until(pilot, lambda: "✖ depth refused" in _title(app, "ladder-pane"))
        title = _title(app, "ladder-pane")
        assert "quote DELAYED" in title  # TSLA: delayed data only
        assert screen.book is not None and screen.book.detail.startswith("IB 354")
        await until(pilot, lambda: "refused" in _title(app, "tape-pane"))


async def test_usable_at_80_by_24(sim: SimServer) -> None:
    app = make_app(sim, 136, ["AAPL"])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        ladder, tape = screen.query_one(LadderView), screen.query_one(TapeView)
        assert ladder.size.width >= WIDTH and tape.size.width >= 20
        assert ladder.region.right <= tape.region.x and tape.region.right <= 80
        assert len(screen.rows) >= 15
        for _ in range(20):
            sim.step()
        await until(pilot, lambda: bool(screen.tape and screen.tape.prints))
        line = str(tape.render()).splitlines()[0]
        assert len(line) <= tape.size.width and line.rstrip()[-1] in "▲▼·"


async def test_the_quantity_key_sets_what_the_next_order_is_for(sim: SimServer) -> None:
    app = make_app(sim, 137, ["AAPL", "ES"], confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app, row=1)  # ES: the ticket's default is 1 contract
        assert screen.quantity == 1
        await until(pilot, lambda: screen.cursor is not None)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press(*"2x", "enter")  # not a number: nothing changes
        await until(pilot, lambda: isinstance(app.screen, DepthScreen))
        assert screen.quantity == 1
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, AskText))
        await pilot.press("3", "enter")
        await until(pilot, lambda: screen.quantity == 3)
        assert "qty 3" in str(screen.query_one("#ladder-head").render())
        for _ in range(4):
            await pilot.press("down")
        await pilot.press("b")
        await until(pilot, lambda: len(sim.orders.orders) == 1)
        [sent] = sim.orders.orders.values()
        assert sent.req.quantity == 3


async def test_the_cursor_keeps_its_price_and_space_recentres(sim: SimServer) -> None:
    app = make_app(sim, 138, ["AAPL"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        touch = screen.cursor
        assert touch is not None
        for _ in range(30):  # past the bottom row: the ladder scrolls
            await pilot.press("down")
        assert screen.cursor == touch - 30
        top = screen.top
        sim.step(40)  # the market moves on; the ladder being worked stays still
        await pilot.pause(0.3)
        assert screen.cursor == touch - 30 and screen.top == top
        assert screen.rows[-1].index == screen.cursor
        assert "at " in str(screen.query_one("#ladder-head").render())
        await pilot.press("space")
        assert screen.cursor is not None and abs(screen.cursor - touch) <= 3


async def test_a_dropped_link_marks_the_ladder_not_live_and_it_comes_back(
        sim: SimServer) -> None:
    app = make_app(sim, 139, ["AAPL"])
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(pilot, app)
        await until(pilot, lambda: _consistent(screen, sim))
        sim.drop(139)
        await until(pilot, lambda: "✖ not live: connection lost" in _title(app, "ladder-pane"))
        assert "not live" in _title(app, "tape-pane")
        # No sizes from a book that no longer streams: its last rows are not the market.
        assert not any(r.bid_size or r.ask_size for r in screen.rows)
        await until(pilot, lambda: "● live" in _title(app, "ladder-pane"), timeout=10)
        await until(pilot, lambda: _consistent(screen, sim))
        assert _subscriptions(sim) == (1, 2)
