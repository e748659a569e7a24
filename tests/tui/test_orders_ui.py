"""Order entry by keys: the ticket, the confirmation, the blotter, the kill switch."""

from __future__ import annotations

import math

import pytest
from ib_async import IB
from textual.pilot import Pilot
from textual.widgets import Checkbox

from ibterm.broker.pipeline import OrderPipeline
from ibterm.domain.orders import TradingState
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.confirm import AskYesNo, ConfirmOrder, QuitDialog
from ibterm.tui.widgets.fields import Cycler
from ibterm.tui.widgets.orders import OrdersTable
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until


def _app(sim: SimServer, **profile: object) -> IbtermApp:
    return make_app(sim, 61, ["AAPL", "MSFT", "TSLA"], **profile)



async def _ready(pilot: Pilot[None], app: IbtermApp) -> None:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: len(watchlist.quotes) == 3)


async def _open_ticket(pilot: Pilot[None], app: IbtermApp, sim: SimServer) -> OrderTicket:
    await _ready(pilot, app)
    await pilot.press("b")  # the watchlist's row under the cursor: AAPL
    ticket = app.query_one(OrderTicket)
    await until(pilot, lambda: ticket.instrument is not None and ticket.quote is not None)
    return ticket


async def _type(pilot: Pilot[None], field: str, text: str) -> None:
    """Put text in a field at once: the ticket pre-fills an empty limit from the live
    quote, so clearing and then typing key by key would race with it."""
    app = pilot.app
    widget = app.query_one(field)
    widget.focus()
    widget.value = text  # type: ignore[attr-defined]
    widget.cursor_position = len(text)  # type: ignore[attr-defined]
    await pilot.pause()


async def test_ticket_limit_order_confirmed_and_working(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)
        assert ticket.instrument is not None and ticket.instrument.symbol == "AAPL"
        resting = round(sim.market.book(265598).bid - 1.0, 2)
        await _type(pilot, "#t-limit", f"{resting:.2f}")
        await _type(pilot, "#t-qty", "25")
        await pilot.press("up")  # one size increment: 26
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        screen = app.screen
        assert isinstance(screen, ConfirmOrder)
        assert screen.intent.legs[0].describe() == f"BUY 26 AAPL LMT limit {resting:g} DAY"
        await pilot.press("y")
        orders = app.query_one(OrdersTable)
        await until(pilot, lambda: any(o.status == "Submitted" for o in orders.orders.values()))
        [order] = orders.orders.values()
        assert (order.quantity, order.limit) == (26, resting)
        [sim_order] = sim.orders.orders.values()
        assert sim_order.req.order_ref == order.order_ref
        assert sim_order.account == "DU1234567" and sim_order.req.account == "DU1234567"
        # Cancel it from the blotter.
        orders.focus()
        await pilot.press("c")
        await until(pilot, lambda: orders.orders[order.order_ref].status == "Cancelled")


async def test_a_breach_needs_its_override_ticked(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_ticket(pilot, app, sim)
        await _type(pilot, "#t-qty", "600")  # over the 500-share limit
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        screen = app.screen
        assert isinstance(screen, ConfirmOrder) and "size" in screen.breaches
        await pilot.press("y")  # refused: the override is not ticked
        assert isinstance(app.screen, ConfirmOrder)
        for name in screen.breaches:
            screen.query_one(f"#override-{name}").value = True  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: len(sim.orders.orders) == 1)
        [sent] = sim.orders.orders.values()
        assert sent.req.quantity == 600


async def test_field_errors_name_the_field(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)
        await _type(pilot, "#t-qty", "12x")
        await pilot.press("f4")
        await pilot.pause(0.2)
        assert "quantity: not a number" in str(ticket.query_one("#t-checks").render())
        assert not isinstance(app.screen, ConfirmOrder) and not sim.orders.orders


async def test_kill_switch_cancels_and_halts(sim: SimServer) -> None:
    app = _app(sim, confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_ticket(pilot, app, sim)
        await _type(pilot, "#t-limit", f"{sim.market.book(265598).bid - 1.0:.2f}")
        await pilot.press("f4")  # paper, confirmations off, clean checks: sent
        await until(pilot, lambda: any(o.status == "Submitted"
                                        for o in sim.orders.orders.values()))
        await pilot.press("f12")
        await until(pilot, lambda: isinstance(app.screen, AskYesNo))
        await pilot.press("enter")  # the default is yes: the protective act (app.py wiring)
        await until(pilot, lambda: all(o.done for o in sim.orders.orders.values()))
        assert app.pipeline.state is TradingState.HALTED
        await until(pilot, lambda: "HALTED" in str(app.query_one("#status").render()))


async def test_bracket_from_the_ticket_arrives_with_its_prices(sim: SimServer) -> None:
    from ibterm.tui.widgets.fields import Cycler

    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)
        entry = round(sim.market.book(265598).bid - 1.0, 2)
        await _type(pilot, "#t-limit", f"{entry:.2f}")
        ticket.query_one("#t-mode", Cycler).set_value("bracket")
        await _type(pilot, "#t-tp", "2%")
        await _type(pilot, "#t-sl", "50t")
        await until(pilot, lambda: "R:R" in str(ticket.query_one("#t-bracket").render()))
        summary = str(ticket.query_one("#t-bracket").render())
        assert "reward" in summary and "risk" in summary and "gap 2% loss" in summary
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        await pilot.press("y")
        await until(pilot, lambda: len(sim.orders.orders) == 3
                    and not any(o.held for o in sim.orders.orders.values()))
        parent, take, stop = sorted(sim.orders.orders.values(), key=lambda o: o.perm_id)
        assert parent.req.limit == entry
        # 2% above the entry, rounded away from it to the tick.
        assert take.req.limit == math.ceil(entry * 1.02 * 100 - 1e-9) / 100
        assert stop.req.aux == round(entry - 0.50, 2)
        assert take.req.parent_id == stop.req.parent_id == parent.req.order_id


async def test_oca_group_from_the_ticket(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)
        bid = sim.market.book(265598).bid
        for offset in (1.0, 2.0):
            await _type(pilot, "#t-limit", f"{bid - offset:.2f}")
            await pilot.press("f3")
        assert len(ticket.oca_legs) == 2 and ticket.mode == "oca"
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        await pilot.press("y")
        await until(pilot, lambda: len(sim.orders.orders) == 2)
        groups = {(o.req.oca_group, o.req.oca_type) for o in sim.orders.orders.values()}
        assert len(groups) == 1 and next(iter(groups))[1] == 1


async def test_modify_from_the_blotter_changes_only_the_price(sim: SimServer, ib: IB) -> None:
    app = _app(sim, confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)
        first = round(sim.market.book(265598).bid - 2.0, 2)
        await _type(pilot, "#t-limit", f"{first:.2f}")
        ticket.query_one("#t-tif", Cycler).set_value("GTC")
        ticket.query_one("#t-rth", Checkbox).value = True
        await pilot.press("f4")
        await until(pilot, lambda: any(o.status == "Submitted"
                                       for o in sim.orders.orders.values()))
        await pilot.press("escape")
        app.query_one(OrdersTable).focus()
        await pilot.press("m")
        # Qty first, as on a new ticket; Tab, Tab reaches Limit in both.
        await until(pilot, lambda: bool(ticket.modifying)
                    and app.focused is ticket.query_one("#t-qty"))
        await pilot.press("tab", "tab")
        assert app.focused is ticket.query_one("#t-limit")
        # The ticket shows the order as the gateway holds it, not a new ticket's defaults.
        assert ticket.query_one("#t-tif", Cycler).value == "GTC"
        assert ticket.query_one("#t-rth", Checkbox).value
        await pilot.press("down")  # one tick lower
        await pilot.press("f4")
        [order] = sim.orders.orders.values()
        await until(pilot, lambda: order.req.limit == round(first - 0.01, 2))
        assert len(sim.orders.orders) == 1
        # A GTC order stays GTC (and outside RTH), read back by another ib_async client.
        [seen] = [t for t in await ib.reqAllOpenOrdersAsync()
                  if t.order.orderRef == ticket_ref(app)]
        assert (seen.order.tif, seen.order.outsideRth) == ("GTC", True)
        assert seen.order.lmtPrice == round(first - 0.01, 2)


def ticket_ref(app: IbtermApp) -> str:
    [ref] = app.query_one(OrdersTable).orders
    return ref


async def test_a_modification_is_confirmed_as_one_old_to_new(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(80, 24)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)
        first = round(sim.market.book(265598).bid - 2.0, 2)
        await _type(pilot, "#t-limit", f"{first:.2f}")
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        assert "MODIFY" not in _screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: any(o.status == "Submitted"
                                       for o in sim.orders.orders.values()))
        await pilot.press("escape")
        app.query_one(OrdersTable).focus()
        await pilot.press("m")
        await until(pilot, lambda: bool(ticket.modifying))
        await _type(pilot, "#t-qty", "150")
        await _type(pilot, "#t-limit", f"{first - 0.05:.2f}")
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        text = _screen_text(app)
        assert "MODIFY" in text
        assert "100 → 150" in text and f"{first:.2f} → {first - 0.05:.2f}" in text
        changes = str(app.screen.query_one("#modify-changes").render())
        assert "quantity" in changes and "limit" in changes
        assert "TIF" not in changes and "stop" not in changes  # unchanged: not listed
        await pilot.press("y")
        [order] = sim.orders.orders.values()
        await until(pilot, lambda: order.req.quantity == 150)


def _screen_text(app: IbtermApp) -> str:
    """What the screen's texts say, without colour."""
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in app.screen.query(Static))


async def test_executions_show_fills_with_commissions(sim: SimServer) -> None:
    from ibterm.tui.widgets.executions import ExecutionsScreen

    app = _app(sim, confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_ticket(pilot, app, sim)
        await _type(pilot, "#t-limit", f"{sim.market.book(265598).ask + 0.5:.2f}")
        await _type(pilot, "#t-qty", "300")
        await pilot.press("f4")
        await until(pilot, lambda: any(f.commission is not None
                                       for f in app.executions.fills.values()))
        await pilot.press("escape")
        await pilot.press("e")
        assert isinstance(app.screen, ExecutionsScreen)
        [fill] = app.screen.rows
        assert fill.shares == 300 and fill.commission == 1.5  # 0.005 x 300


async def _one_working(pilot: Pilot[None], app: IbtermApp, sim: SimServer) -> None:
    await _open_ticket(pilot, app, sim)
    await _type(pilot, "#t-limit", f"{sim.market.book(265598).bid - 1.0:.2f}")
    await pilot.press("f4")
    await until(pilot, lambda: any(o.status == "Submitted"
                                   for o in sim.orders.orders.values()))
    await pilot.press("escape")


# The three quit tests need app.py's action_quit_app to use QuitDialog (see #10).
async def test_ctrl_q_asks_while_orders_are_working(sim: SimServer) -> None:
    app = _app(sim, confirm_orders=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _one_working(pilot, app, sim)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("enter")  # the default is to stay
        await until(pilot, lambda: not isinstance(app.screen, QuitDialog))
        assert app.is_running


async def test_quit_leaving_the_orders_working(sim: SimServer) -> None:
    app = _app(sim, confirm_orders=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _one_working(pilot, app, sim)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("down", "enter")
        await until(pilot, lambda: not app.is_running)
    [order] = sim.orders.orders.values()
    assert not order.done


@pytest.mark.skipif(not hasattr(OrderPipeline, "cancel_all"),
                    reason="the pipeline's global cancel without halting is not in yet")
async def test_quit_cancelling_every_working_order(sim: SimServer) -> None:
    app = _app(sim, confirm_orders=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _one_working(pilot, app, sim)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitDialog))
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: not app.is_running)
    assert all(o.done for o in sim.orders.orders.values())


async def test_a_failing_worker_is_reported_and_the_app_goes_on(
        sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = await _open_ticket(pilot, app, sim)

        async def broken(text: str) -> object:
            raise RuntimeError("resolver exploded")

        monkeypatch.setattr(app.session, "resolve", broken)
        ticket.post_message(OrderTicket.SymbolEntered("MSFT"))
        await until(pilot, lambda: any("resolver exploded" in str(n.message)
                                       for n in app._notifications))
        assert app.is_running and ticket.instrument is not None
        assert ticket.instrument.symbol == "AAPL"  # the last good state is kept


async def test_the_blotter_keeps_the_newest_finished_orders(sim: SimServer) -> None:
    from ibterm.domain.instrument import Instrument, SecType
    from ibterm.domain.orders import OrderType, OrderUpdate, Side

    app = _app(sim, blotter_finished=10)
    aapl = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")

    def update(i: int, status: str) -> OrderUpdate:
        return OrderUpdate(f"ibterm-{i}-0", str(i), aapl, Side.BUY, 1, OrderType.LMT, 200.0,
                           None, status, 0.0, 1.0, 0.0)

    async with app.run_test(size=(120, 40)):
        table = app.query_one(OrdersTable)
        table.apply([update(0, "Submitted")])  # the oldest, still working
        table.apply([update(i, "Cancelled") for i in range(1, 16)])
        table.apply([update(16, "NotReceived")])
        assert table.row_count == 11 and "ibterm-0-0" in table.orders
        finished = [k for k in table.row_keys if table.orders[k].done]
        assert finished == [f"ibterm-{i}-0" for i in range(16, 6, -1)]  # newest first
