"""The margin preview pane beside the ticket: local figures that follow the ticket, the
buffer warning, and IB's what-if beside them, flagged when the two disagree."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ibterm.risk.payoff import Payoff
from ibterm.risk.preview import MarginPreview
from ibterm.sim.server import SimServer
from ibterm.tui.app import IbtermApp
from ibterm.tui.widgets.preview import MarginPreviewPane
from ibterm.tui.widgets.ticket import OrderTicket
from ibterm.tui.widgets.watchlist import WatchlistTable
from tests.conftest import manual_scenario
from tests.tui.support import make_app, until

AAPL = 265598


def _app(sim: SimServer, **profile: object) -> IbtermApp:
    return make_app(sim, 71, ["AAPL", "MSFT"], **profile)


def _text(app: IbtermApp) -> str:
    return str(app.query_one("#p-figures", Static).render())


async def _open(pilot: Pilot[None], app: IbtermApp) -> MarginPreviewPane:
    watchlist = app.query_one(WatchlistTable)
    await until(pilot, lambda: len(watchlist.quotes) == 2)
    await pilot.press("b")  # the row under the cursor: AAPL
    ticket = app.query_one(OrderTicket)
    await until(pilot, lambda: ticket.instrument is not None and ticket.quote is not None)
    pane = app.query_one(MarginPreviewPane)
    assert pane.has_class("open")
    return pane


async def _qty(pilot: Pilot[None], qty: str) -> None:
    field = pilot.app.query_one("#t-qty")
    field.focus()
    field.value = qty  # type: ignore[attr-defined]
    await pilot.pause()


def _previewing(pane: MarginPreviewPane, qty: int) -> bool:
    p = pane.preview
    return p is not None and p.result is not None and p.order.startswith(f"BUY {qty} AAPL")


async def test_editing_the_quantity_updates_the_preview(sim: SimServer) -> None:
    app = _app(sim)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(pilot, app)
        await until(pilot, lambda: _previewing(pane, 100))
        assert pane.preview is not None and pane.preview.result is not None
        mark = sim.market.mark(AAPL)
        # Long stock: 50% initial, 25% maintenance of its value at the mark.
        assert pane.preview.result.initial_change == pytest.approx(0.5 * 100 * mark, rel=1e-6)
        first = _text(app)
        assert "BUY 100 AAPL" in first and "Initial" in first and "Cushion" in first
        await _qty(pilot, "300")
        await until(pilot, lambda: _previewing(pane, 300))
        result = pane.preview.result
        assert result.initial_change == pytest.approx(0.5 * 300 * mark, rel=1e-6)
        assert result.maintenance_change == pytest.approx(0.25 * 300 * mark, rel=1e-6)
        assert result.after.worst_loss > result.before.worst_loss
        assert pane.preview.payoff is not None and pane.preview.payoff.underlying == "AAPL"
        # The simulator's what-if is the same calculator: IB agrees, nothing flagged.
        await until(pilot, lambda: "IB agrees" in _text(app))
        assert not pane.flags
        assert "buffer" not in _text(app)
        # Escape closes the ticket and the pane with it.
        await pilot.press("escape")
        await until(pilot, lambda: not pane.has_class("open"))


async def test_the_warning_shows_when_the_buffer_is_breached(sim: SimServer) -> None:
    app = _app(sim, margin_buffer=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(pilot, app)
        await until(pilot, lambda: _previewing(pane, 100))
        assert "buffer" not in _text(app)
        result = pane.preview.result  # type: ignore[union-attr]
        # Enough shares for the cushion after the order to fall under 50%.
        mark = sim.market.mark(AAPL)
        excess = result.excess(result.before)
        qty = int((excess - 0.45 * result.equity) / (0.25 * mark)) + 1
        await _qty(pilot, str(qty))
        await until(pilot, lambda: _previewing(pane, qty))
        await until(pilot, lambda: "under the 50% buffer" in _text(app))
        cushion = pane.preview.result.cushion(pane.preview.result.after)  # type: ignore[union-attr]
        assert cushion is not None and cushion < 0.5
        assert any(a.level == "warning" for a in pane.preview.alerts)  # type: ignore[union-attr]


@pytest.fixture
async def surcharged() -> AsyncIterator[SimServer]:
    server = SimServer(manual_scenario(house_margin_surcharge=0.5), seed=0)
    await server.start()
    yield server
    await server.stop()


async def test_a_house_surcharge_is_flagged_not_hidden(surcharged: SimServer) -> None:
    app = _app(surcharged)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await _open(pilot, app)
        await until(pilot, lambda: _previewing(pane, 100) and bool(pane.flags))
        text = _text(app)
        assert "IB and local differ" in text and "over 25%" in text
        [initial, maintenance] = pane.flags
        # The gateway charges its surcharge on top: 1.5 times the local change.
        assert initial.ib == pytest.approx(initial.local * 1.5, rel=0.01)
        assert initial.relative == pytest.approx(1 / 3, rel=0.01)
        assert maintenance.figure == "maintenance"


class _Host(App[None]):
    """The pane alone, open: the chart needs no gateway, only a payoff to draw."""

    def __init__(self, theme: str) -> None:
        super().__init__()
        self.start_theme = theme

    def compose(self) -> ComposeResult:
        yield MarginPreviewPane(0.25, classes="open")

    def on_mount(self) -> None:
        self.theme = self.start_theme


def _payoff() -> Payoff:
    # A short call bought back: four curves, each different, crossing near the spot.
    prices = [500 + 5 * i for i in range(41)]
    return Payoff("SPY", 600.0, prices,
                  today_before=[-(p - 600) * 8.0 for p in prices],
                  today_after=[(p - 600) * 3.0 for p in prices],
                  expiry=dt.date(2026, 12, 18),
                  expiry_before=[-max(p - 600, 0) * 10.0 + 400 for p in prices],
                  expiry_after=[max(p - 600, 0) * 5.0 - 300 for p in prices])


@pytest.mark.parametrize("theme", ["textual-dark", "ansi-dark"])
async def test_every_curve_has_its_own_marker_shown_in_the_legend(theme: str) -> None:
    # Colour alone told ━now ━after ━after 18 Dec apart: nothing at all in the ANSI
    # theme, on a monochrome terminal or in plain text.
    app = _Host(theme)
    async with app.run_test(size=(60, 30)) as pilot:
        pane = app.query_one(MarginPreviewPane)
        pane.show_local(MarginPreview(order="BUY 1 SPY 20261218 600 C", payoff=_payoff()))
        await pilot.pause()
        legend = str(app.query_one("#p-legend", Static).render())
        plot = str(app.query_one(PlotextPlot).render())  # the plain text, no colour
    # "P&L SPY · now  • after  x now 18 Dec  + after 18 Dec": a glyph before each label.
    entries = re.findall(r"(\S) (now|after)( 18 Dec)?", legend)
    assert [label + day for _, label, day in entries] == [
        "now", "after", "now 18 Dec", "after 18 Dec"]
    glyphs = [glyph for glyph, _, _ in entries]
    assert len(set(glyphs)) == 4, legend
    for glyph in glyphs:
        assert glyph in plot, f"{glyph!r} of the legend is not drawn in the chart"
