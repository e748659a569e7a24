"""A combination order in the TUI: the confirmation lists every leg, and the blotter shows
it as one row with its legs under it while it works, one row again once it is done."""

from __future__ import annotations

from textual.widgets import Static

from ibterm.domain.combo import combo_instrument, combo_market
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.orders import ComboLeg, OrderIntent, OrderSpec, OrderType, Side
from ibterm.sim.server import SimServer
from ibterm.tui.widgets.confirm import ConfirmOrder
from ibterm.tui.widgets.orders import OrdersTable
from tests.tui.support import make_app, until
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


async def test_a_working_combination_is_one_row_over_its_legs(sim: SimServer) -> None:
    app = make_app(sim, 59, ["SPY"], confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.watchlist.quotes) == 1)
        session = app.session
        calls = []
        for strike in (590, 600):
            inst, error = await session.resolve(f"SPY 20261218 {strike} C")
            assert inst is not None, error
            session.ensure_quote(inst)
            calls.append(inst)
        await until(pilot, lambda: all((q := session.quote(i.con_id)) is not None and q.bid
                                       for i in calls))
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
