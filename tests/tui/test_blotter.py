"""The blotter keeps a bracket's legs and an OCA group's members together, as a tree that
reads without colour."""

from __future__ import annotations

from ibterm.domain.orders import IntentKind, OrderIntent, OrderSpec, OrderType, Side
from ibterm.sim.server import SimServer
from ibterm.tui.widgets.orders import OrdersTable
from tests.tui.support import make_app, until


async def test_brackets_and_oca_groups_stay_together_newest_first(sim: SimServer) -> None:
    app = make_app(sim, 58, ["AAPL", "MSFT"], confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.watchlist.quotes) == 2)
        aapl, _ = await app.session.resolve("AAPL")
        msft, _ = await app.session.resolve("MSFT")
        assert aapl is not None and msft is not None
        bid = sim.market.book(aapl.con_id).bid
        entry = OrderSpec(aapl, Side.BUY, 10, OrderType.LMT, limit=round(bid - 2, 2))
        bracket = OrderIntent((entry,
                               OrderSpec(aapl, Side.SELL, 10, OrderType.LMT,
                                         limit=round(bid + 5, 2)),
                               OrderSpec(aapl, Side.SELL, 10, OrderType.STP,
                                         stop=round(bid - 6, 2))),
                              kind=IntentKind.BRACKET)
        await app.pipeline.submit(bracket)
        mbid = sim.market.book(msft.con_id).bid
        oca = OrderIntent(tuple(OrderSpec(inst, Side.BUY, 5, OrderType.LMT,
                                          limit=round(b - 3, 2))
                                for inst, b in ((msft, mbid), (aapl, bid))),
                          kind=IntentKind.OCA)
        await app.pipeline.submit(oca)
        single = OrderIntent((OrderSpec(msft, Side.BUY, 1, OrderType.LMT,
                                        limit=round(mbid - 4, 2)),))
        await app.pipeline.submit(single)
        blotter = app.query_one(OrdersTable)
        await until(pilot, lambda: blotter.row_count == 6)
        labels = [blotter.get_cell(key, "symbol").plain for key in blotter.row_keys]
        assert labels == ["MSFT",                      # the newest, alone
                          "┌◇ MSFT", "└◇ AAPL",        # one OCA group
                          "┌ AAPL", "├ TP", "└ SL"]    # entry, take profit, stop loss
        # Updates keep the tree: a cancelled child stays under its entry.
        app.pipeline.cancel(bracket.order_ref(2))
        await until(pilot, lambda: blotter.orders[bracket.order_ref(2)].done)
        assert [blotter.get_cell(k, "symbol").plain for k in blotter.row_keys][-1] == "└ SL"
