"""The dialogs on their own: a modification's confirmation, the quit dialog, yes/no.

They only render and dismiss with a value, so a bare host app is enough to drive them."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.orders import (
    OrderIntent,
    OrderSpec,
    OrderType,
    Side,
    TimeInForce,
)
from ibterm.tui.widgets.confirm import AskYesNo, ConfirmOrder, QuitChoice, QuitDialog

AAPL = Instrument(265598, "AAPL", SecType.STK, "SMART", "USD")


class Host(App[None]):
    """Pushes one dialog and keeps what it was dismissed with."""

    def __init__(self, dialog: ModalScreen[Any]) -> None:
        super().__init__()
        self.dialog = dialog
        self.answers: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.answers.append)


def _text(app: App[None]) -> str:
    return "\n".join(str(w.render()) for w in app.screen.query(Static))


async def test_a_modification_lists_each_changed_field() -> None:
    old = OrderSpec(AAPL, Side.BUY, 100, OrderType.LMT, limit=229.5, tif=TimeInForce.GTC)
    new = OrderSpec(AAPL, Side.BUY, 100, OrderType.TRAIL, trail_percent=1.5)
    intent = OrderIntent((new,), source="modify", replaces=old)
    app = Host(ConfirmOrder(intent, [], TradingMode.PAPER, "DU1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        changes = str(app.screen.query_one("#modify-changes").render())
        assert "MODIFY" in _text(app)
        assert "type" in changes and "LMT → TRAIL" in changes
        assert "229.50 → —" in changes and "— → 1.5%" in changes and "GTC → DAY" in changes
        assert "quantity" not in changes
        # The dialog fits an 80-column terminal.
        region = app.screen.query_one("#modify-changes").region
        assert region.right <= 80


async def test_a_modification_that_changes_nothing_says_so() -> None:
    spec = OrderSpec(AAPL, Side.SELL, 10, OrderType.LMT, limit=231.0)
    app = Host(ConfirmOrder(OrderIntent((spec,), replaces=spec), [], TradingMode.PAPER, "DU1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "no field changes" in str(app.screen.query_one("#modify-changes").render())


@pytest.mark.parametrize(("keys", "answer"), [
    (["enter"], QuitChoice.STAY),  # the default: enter never quits by accident
    (["escape"], QuitChoice.STAY),
    (["down", "enter"], QuitChoice.LEAVE_WORKING),
    (["down", "down", "enter"], QuitChoice.CANCEL_ALL),
])
async def test_quitting_with_orders_working_defaults_to_staying(
        keys: list[str], answer: QuitChoice) -> None:
    app = Host(QuitDialog(3))
    async with app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, QuitDialog) and app.focused is dialog.query_one("#stay")
        labels = [str(b.label) for b in dialog.query(Button)]
        assert labels == ["▸ Stay", "  Quit, leave 3 orders working",
                          "  Cancel all working orders and quit"]
        for button in dialog.query(Button):  # every choice readable at 60x15
            r = button.region
            assert r.x >= 0 and r.y >= 0 and r.right <= 60 and r.bottom <= 15
        await pilot.press(*keys)
        await pilot.pause()
        assert app.answers == [answer]


@pytest.mark.parametrize(("default", "answer"), [(False, False), (True, True)])
async def test_yes_no_enter_answers_the_default(default: bool, answer: bool) -> None:
    app = Host(AskYesNo("FLATTEN?", default=default) if default else AskYesNo("FLATTEN?"))
    async with app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.answers == [answer]
