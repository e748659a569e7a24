"""A combination order in the TUI: the confirmation lists every leg, and the blotter shows
it as one row with its legs under it while it works, one row again once it is done, named
as the order names it ("SPY iron condor" from the builder, "SPY combo" without a name)."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Static

from ibterm.domain.combo import combo_instrument, combo_market
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import (
    ComboLeg,
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TimeInForce,
)
from ibterm.sim.server import SimServer
from ibterm.tui import format as fmt
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.confirm import ConfirmOrder
from ibterm.tui.widgets.orders import OrdersTable
from tests.tui.support import make_app, until
from tests.tui.test_builder import _builder, _iron_condor
from tests.tui.test_dialogs import Host


def _call(strike: float, con_id: int) -> Instrument:
    return Instrument(con_id, "SPY", SecType.OPT, "SMART", "USD", multiplier=100,
                      expiry="20261218", strike=strike, right=Right.CALL)


async def test_the_confirmation_lists_every_leg() -> None:
    legs = (ComboLeg(_call(590, 1), Side.BUY), ComboLeg(_call(600, 2), Side.SELL, ratio=2))
    spec = OrderSpec(combo_instrument(legs), Side.BUY, 3, OrderType.LMT, limit=-1.25,
                     combo=legs)
    app = Host(ConfirmOrder(OrderIntent((spec,)), [], TradingMode.PAPER, "DU1"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        shown = [str(w.render()) for w in app.screen.query(Static).filter(".combo-leg")]
        assert shown == ["  leg 1: BUY 3 SPY 20261218 590 C  (ratio 1)",
                         "  leg 2: SELL 6 SPY 20261218 600 C  (ratio 2)"]


async def _quoted(pilot: Pilot[None], app: IbtermApp, *options: str) -> list[Instrument]:
    """SPY's December options by strike and right, resolved and quoted."""
    session = app.session
    found = []
    for name in options:
        inst, error = await session.resolve(f"SPY 20261218 {name}")
        assert inst is not None, error
        session.ensure_quote(inst)
        found.append(inst)
    await until(pilot, lambda: all((q := session.quote(i.con_id)) is not None and q.bid
                                   for i in found))
    return found


async def test_a_working_combination_is_one_row_over_its_legs(sim: SimServer) -> None:
    app = make_app(sim, 59, ["SPY"], confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.watchlist.quotes) == 1)
        session = app.session
        calls = await _quoted(pilot, app, "590 C", "600 C")
        legs = (ComboLeg(calls[0], Side.BUY), ComboLeg(calls[1], Side.SELL))
        market = combo_market(legs, session.quotes())
        assert market is not None
        # At the legs' bid: no check breached, and it rests.
        spec = OrderSpec(combo_instrument(legs), Side.BUY, 2, OrderType.LMT,
                         limit=market.bid, combo=legs)
        intent = OrderIntent((spec,))
        await app.pipeline.submit(intent)
        blotter = app.query_one(OrdersTable)
        ref = intent.order_ref(0)
        await until(pilot, lambda: ref in blotter.orders
                    and blotter.orders[ref].status == "Submitted")
        rows = [(blotter.get_cell(k, "symbol").plain, blotter.get_cell(k, "side").plain,
                 blotter.get_cell(k, "qty").plain) for k in blotter.row_keys]
        assert rows == [("┌ SPY combo", "BUY", "2"), ("├ 20261218 590 C", "BUY", "2"),
                        ("└ 20261218 600 C", "SELL", "2")]
        blotter.move_cursor(2)  # a leg's row stands for its combination
        selected = blotter.selected()
        assert selected is not None and selected.order_ref == ref
        app.pipeline.cancel(ref)
        await until(pilot, lambda: blotter.orders[ref].done)
        assert [blotter.get_cell(k, "symbol").plain for k in blotter.row_keys] == ["SPY combo"]


async def test_a_working_iron_condor_is_modified_from_the_blotter(sim: SimServer) -> None:
    app = make_app(sim, 60, ["SPY"])  # confirmations on: the change is confirmed old → new
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.watchlist.quotes) == 1)
        session = app.session
        options = await _quoted(pilot, app, "580 P", "590 P", "610 C", "620 C")
        wing_put, short_put, short_call, wing_call = options
        legs = (ComboLeg(wing_put, Side.BUY), ComboLeg(short_put, Side.SELL),
                ComboLeg(short_call, Side.SELL), ComboLeg(wing_call, Side.BUY))
        market = combo_market(legs, session.quotes())
        assert market is not None and market.bid < 0  # a credit
        condor = combo_instrument(legs)
        # GTC, at the legs' natural bid: it rests, a credit.
        spec = OrderSpec(condor, Side.BUY, 1, OrderType.LMT, limit=market.bid,
                         tif=TimeInForce.GTC, combo=legs, strategy="iron condor")
        intent = OrderIntent((spec,))
        app.submit(intent)  # as the builder sends one: the app's worker, its confirmation
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        await pilot.press("y")
        await until(pilot, lambda: len(sim.orders.orders) == 1)
        [sent] = sim.orders.orders.values()
        await until(pilot, lambda: not sent.done and sent.status == "Submitted")
        blotter = app.query_one(OrdersTable)
        blotter.focus()
        await until(pilot, lambda: intent.order_ref(0) in blotter.orders)
        blotter.move_cursor(3)  # on a leg's row: it stands for the combination
        await pilot.press("m")
        ticket = app.ticket
        await until(pilot, lambda: bool(ticket.modifying) and ticket.combo_market is not None)
        legs_text = str(ticket.query_one("#t-legs", Static).render())
        for line in ("leg 1: BUY 1 SPY 20261218 580 P", "leg 2: SELL 1 SPY 20261218 590 P",
                     "leg 3: SELL 1 SPY 20261218 610 C", "leg 4: BUY 1 SPY 20261218 620 C"):
            assert line in legs_text
        tick = condor.min_tick
        dec = fmt.tick_decimals(tick)
        quote_text = str(ticket.query_one("#t-quote", Static).render())
        assert quote_text.startswith("SPY iron condor")
        assert f"net natural {fmt.price(market.ask, dec)}" in quote_text
        assert f"mid {fmt.price(market.mid, dec)}" in quote_text
        assert ticket.query_one("#t-symbol").disabled and ticket.query_one("#t-side").disabled
        ticket.query_one("#t-limit").focus()
        await pilot.press("up")  # one tick more: a smaller credit, still inside the market
        new = round(market.bid + tick, 10)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        changes = str(app.screen.query_one("#modify-changes").render())
        assert f"{fmt.price(market.bid, dec)} → {fmt.price(new, dec)}" in changes
        assert "TIF" not in changes
        await pilot.press("y")
        await until(pilot, lambda: abs(sent.req.limit - new) < 1e-9)
        assert sent.req.tif == "GTC" and len(sim.orders.orders) == 1 and not sent.done
        # Modified, it is still the iron condor it was sent as.
        assert blotter.orders[intent.order_ref(0)].display == "SPY iron condor"
        assert not [n.message for n in app._notifications if n.title == "Internal error"]


async def test_a_condor_sent_from_the_builder_is_named_in_the_blotter(sim: SimServer) -> None:
    app = make_app(sim, 61, ["SPY"], confirm_orders=False)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _builder(pilot, app)
        await _iron_condor(pilot, app, screen)
        await pilot.press("f4")  # at the mid: it rests, its legs under it
        blotter = app.query_one(OrdersTable)
        await until(pilot, lambda: len(blotter.orders) == 1
                    and next(iter(blotter.orders.values())).status == "Submitted", timeout=10)
        [(ref, order)] = blotter.orders.items()
        assert order.display == "SPY iron condor"
        symbols = [blotter.get_cell(k, "symbol").plain for k in blotter.row_keys]
        assert symbols[0] == "┌ SPY iron condor" and len(symbols) == 5
        # The column holds the longest strategy's name whole, with its tree mark.
        [symbol] = [p for p in blotter._layout if p.column.key == "symbol"]
        assert symbol.width >= len("┌ AAPL iron butterfly")
        app.pipeline.cancel(ref)
        await until(pilot, lambda: blotter.orders[ref].done)
        assert [blotter.get_cell(k, "symbol").plain for k in blotter.row_keys] == [
            "SPY iron condor"]
