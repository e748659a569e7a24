"""The order ticket on its own terms (#10): what a new ticket starts from, the field order,
reading it without colour, and every field on screen at 80 and 60 columns."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

from ibterm.domain.orders import IntentKind
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.confirm import ConfirmOrder
from ibterm.tui.widgets.fields import Cycler
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.tui.support import make_app, until

WATCH = ["AAPL", "MSFT", "ES"]


def _app(sim: SimServer, **profile: object) -> IbtermApp:
    return make_app(sim, 71, WATCH, **profile)


def _value(app: IbtermApp, field: str) -> object:
    return app.query_one(OrderTicket).query_one(field).value  # type: ignore[attr-defined]


async def _ready(pilot: Pilot[None], app: IbtermApp) -> None:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: len(watchlist.quotes) == len(WATCH))


async def _ticket_on(pilot: Pilot[None], app: IbtermApp, row: int, key: str = "b",
                     priced: bool = True) -> OrderTicket:
    """`key` on a watchlist row (the watchlist focused, as after escape)."""
    watchlist = app.query_one(WatchlistTable)
    watchlist.focus()
    watchlist.move_cursor(row=row)
    await pilot.pause()
    await pilot.press(key)
    ticket = app.query_one(OrderTicket)
    symbol = WATCH[row]
    await until(pilot, lambda: ticket.instrument is not None
                and ticket.instrument.symbol == symbol and ticket.quote is not None)
    if priced:
        await until(pilot, lambda: bool(_value(app, "#t-limit")))
    return ticket


async def _type(pilot: Pilot[None], field: str, text: str) -> None:
    widget = pilot.app.query_one(field)
    widget.focus()
    widget.value = text  # type: ignore[attr-defined]
    await pilot.pause()


def _limit(app: IbtermApp) -> float | None:
    text = _value(app, "#t-limit")
    return float(str(text)) if text else None


async def test_nothing_typed_for_one_instrument_opens_on_the_next(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        ticket = await _ticket_on(pilot, app, 1)  # MSFT
        await _type(pilot, "#t-limit", "415.00")
        await _type(pilot, "#t-qty", "30")
        await _type(pilot, "#t-trail", "1..5")  # a typo
        ticket.query_one("#t-tif", Cycler).set_value("GTC")
        await pilot.press("f3")  # into an OCA group: Mode becomes oca
        assert ticket.mode == "oca" and len(ticket.oca_legs) == 1
        await pilot.press("escape")
        ticket = await _ticket_on(pilot, app, 0)  # AAPL
        assert ticket.quote is not None
        assert _limit(app) == ticket.quote.ask  # touch: the ask to buy
        assert _value(app, "#t-qty") == "100"
        assert _value(app, "#t-trail") == "" and _value(app, "#t-stop") == ""
        assert _value(app, "#t-tif") == "DAY" and _value(app, "#t-type") == "LMT"
        # The mode is the new ticket's own; the group being built is kept and shown.
        assert ticket.mode == "single" and len(ticket.oca_legs) == 1
        assert "OCA group pending" in str(ticket.query_one("#t-oca").render())
        assert ticket.query_one("#t-oca").region.height == 1  # on screen
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ConfirmOrder))
        screen = app.screen
        assert isinstance(screen, ConfirmOrder)
        assert screen.intent.kind is IntentKind.SINGLE
        assert [leg.instrument.symbol for leg in screen.intent.legs] == ["AAPL"]


async def test_a_contract_ticket_leaves_no_quantity_or_price_behind(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        ticket = await _ticket_on(pilot, app, 2, key="s")  # ES, a future: one contract
        assert ticket.quote is not None
        assert _value(app, "#t-qty") == "1"
        assert _limit(app) == ticket.quote.bid  # touch: the bid to sell
        await pilot.press("escape")
        ticket = await _ticket_on(pilot, app, 0)  # AAPL
        assert ticket.quote is not None
        assert _value(app, "#t-qty") == "100"
        assert _limit(app) == ticket.quote.ask


async def test_typed_values_go_with_the_ticket_unless_remembered(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        await _ticket_on(pilot, app, 0)
        await _type(pilot, "#t-qty", "250")
        await pilot.press("escape")
        await _ticket_on(pilot, app, 0)  # the same instrument, remember off (the default)
        assert _value(app, "#t-qty") == "100"


async def test_remember_keeps_what_was_typed_for_that_instrument_only(
        sim: SimServer) -> None:
    # Needs app.py to pass the profile's ticket settings to OrderTicket.
    app = _app(sim, ticket={"remember": True})
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        ticket = await _ticket_on(pilot, app, 0)
        ask = _value(app, "#t-limit")
        await _type(pilot, "#t-qty", "250")
        await pilot.press("escape")
        await _ticket_on(pilot, app, 1)  # MSFT: its own defaults
        assert _value(app, "#t-qty") == "100"
        await _type(pilot, "#t-limit", "399.00")
        await pilot.press("escape")
        await _ticket_on(pilot, app, 0)  # AAPL again: the typed quantity, a fresh price
        assert _value(app, "#t-qty") == "250" and _value(app, "#t-limit") == ask
        await pilot.press("escape")
        await _ticket_on(pilot, app, 1, priced=False)
        assert _value(app, "#t-limit") == "399.00" and _value(app, "#t-qty") == "100"
        assert ticket.defaults.remember


async def test_price_from_join_and_none(sim: SimServer) -> None:
    # Needs app.py to pass the profile's ticket settings to OrderTicket.
    app = _app(sim, ticket={"price_from": "join", "quantity": {"STK": 10}})
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        ticket = await _ticket_on(pilot, app, 0)
        assert ticket.quote is not None
        assert _limit(app) == ticket.quote.bid  # join: the bid to buy
        assert _value(app, "#t-qty") == "10"
    app = _app(sim, ticket={"price_from": "none"})
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        await _ticket_on(pilot, app, 0, priced=False)
        await pilot.pause(0.3)
        assert _value(app, "#t-limit") == ""


async def test_a_bad_tick_never_prices_a_new_ticket(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        watchlist = app.query_one(WatchlistTable)
        aapl = sim.con_id_of("AAPL")
        sim.bad_tick(aapl)
        await until(pilot, lambda: watchlist.quotes["AAPL"].flag == "bad")
        ticket = await _ticket_on(pilot, app, 0, priced=False)
        await pilot.pause(0.3)
        assert _value(app, "#t-limit") == ""
        assert "BAD" in str(ticket.query_one("#t-quote").render())


def _plain(app: IbtermApp) -> str:
    """The screen as characters only: what a monochrome terminal or a plain capture shows.
    (The compositor's strips: Textual's own text of the frame, without styles.)"""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_the_focused_field_and_the_box_read_without_colour(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        ticket = await _ticket_on(pilot, app, 0)
        assert app.focused is ticket.query_one("#t-qty")
        text = _plain(app)
        assert "▸Qty" in text and text.count("▸") == 1
        assert "[ ] Outside RTH" in text
        await pilot.press("tab")  # Type
        text = _plain(app)
        assert "▸Type" in text and "▸Qty" not in text and text.count("▸") == 1
        ticket.query_one("#t-rth").focus()
        await pilot.press("space")
        await pilot.pause()
        text = _plain(app)
        assert "▸[x] Outside RTH" in text and text.count("▸") == 1


def _fields(ticket: OrderTicket) -> list[Widget]:
    return [w for w in ticket.query("Input, Cycler, Checkbox") if w.display
            and all(a.display for a in w.ancestors if isinstance(a, Widget))]


def _all_on_screen(app: IbtermApp, ticket: OrderTicket) -> None:
    width, height = app.size
    box = ticket.region
    for field in _fields(ticket):
        r = field.region
        assert r.width > 0 and r.height == 1, f"#{field.id} is not shown: {r}"
        assert 0 <= r.x and r.right <= width and 0 <= r.y and r.bottom <= height, \
            f"#{field.id} is off the {width}x{height} screen: {r}"
        assert box.contains_region(r), f"#{field.id} is outside the ticket: {r} {box}"


@pytest.mark.parametrize("size", [(80, 24), (60, 15)])
async def test_every_field_is_on_screen_on_a_small_terminal(
        sim: SimServer, size: tuple[int, int]) -> None:
    app = _app(sim)
    async with app.run_test(size=size) as pilot:
        await _ready(pilot, app)
        ticket = await _ticket_on(pilot, app, 0)
        assert len(_fields(ticket)) == 11
        _all_on_screen(app, ticket)
        # Tab, Tab from Qty is Limit, and what is typed there is seen there.
        assert app.focused is ticket.query_one("#t-qty")
        await pilot.press("tab", "tab", *"229.5")
        limit = ticket.query_one("#t-limit")
        assert app.focused is limit and _value(app, "#t-limit") == "229.5"
        assert "229.5" in _plain(app)
        # Every field Tab reaches is on screen, the bracket's too.
        ticket.query_one("#t-mode", Cycler).set_value("bracket")
        await pilot.pause()
        assert len(_fields(ticket)) == 13
        _all_on_screen(app, ticket)
        seen = set()
        for _ in range(13):
            await pilot.press("tab")
            focused = app.focused
            assert focused is not None and ticket in focused.ancestors
            seen.add(focused.id)
            _all_on_screen(app, ticket)
        assert {"t-tp", "t-sl", "t-stop", "t-mode", "t-account"} <= seen
