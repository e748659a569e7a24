"""Confirmation dialogs: the order confirmation (with overrides), quitting with orders
working, and a plain yes/no whose default is the safe answer."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from ibterm.domain.connection import TradingMode
from ibterm.domain.numbers import plain
from ibterm.domain.orders import (
    CheckResult,
    CheckSeverity,
    Confirmation,
    OrderIntent,
    OrderSpec,
)
from ibterm.tui import format as fmt
from ibterm.tui.widgets.fields import ActionButton, TextInput, ToggleBox

ARROW = "→"


def _trail(spec: OrderSpec) -> str:
    if spec.trail_percent is not None:
        return f"{plain(spec.trail_percent)}%"
    if spec.trail_amount is not None:
        return plain(spec.trail_amount)
    return fmt.DASH


def modify_changes(old: OrderSpec, new: OrderSpec) -> list[tuple[str, str, str]]:
    """(field, old, new) for each field a modification changes, in the ticket's order."""
    dec = fmt.tick_decimals(new.instrument.min_tick)
    pairs = [
        ("quantity", fmt.quantity(old.quantity), fmt.quantity(new.quantity)),
        ("type", old.order_type.value, new.order_type.value),
        ("limit", fmt.price(old.limit, dec), fmt.price(new.limit, dec)),
        ("stop", fmt.price(old.stop, dec), fmt.price(new.stop, dec)),
        ("trail", _trail(old), _trail(new)),
        ("TIF", old.tif.value, new.tif.value),
        ("outside RTH", "yes" if old.outside_rth else "no", "yes" if new.outside_rth else "no"),
    ]
    return [(name, a, b) for name, a, b in pairs if a != b]


class ConfirmOrder(ModalScreen[Confirmation]):
    """The order in plain words and every check; each breach needs its own tick."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel", id="confirm-cancel"),
        Binding("y", "send", "Send", id="confirm-send"),
    ]
    DEFAULT_CSS = """
    ConfirmOrder { align: center middle; }
    ConfirmOrder > Vertical { width: 90; max-width: 100%; height: auto; max-height: 100%;
                              border: thick $primary; background: $surface; padding: 1 2;
                              overflow-y: auto; }
    ConfirmOrder.live > Vertical { border: thick $error; }
    ConfirmOrder #live-banner { background: $error; color: $text; text-style: bold;
                                width: 100%; content-align: center middle; }
    ConfirmOrder .check { height: auto; }
    ConfirmOrder Horizontal { height: auto; margin-top: 1; }
    ConfirmOrder Button { margin-right: 2; }
    """

    def __init__(self, intent: OrderIntent, checks: list[CheckResult], mode: TradingMode,
                 account: str) -> None:
        super().__init__()
        self.intent = intent
        self.checks = checks
        self.mode = mode
        self.account = account
        self.breaches = sorted({c.check for c in checks if c.severity is CheckSeverity.BREACH})

    def compose(self) -> ComposeResult:
        if self.mode is TradingMode.LIVE:
            self.add_class("live")
        if self.intent.is_modify:
            self.add_class("modify")
        with Vertical():
            if self.mode is TradingMode.LIVE:
                yield Static(f"LIVE ORDER — account {self.account} — real money",
                             id="live-banner")
            yield Static(Text(f"{self.mode.value.upper()} · {self.account}", style="dim"))
            old = self.intent.replaces
            if old is not None:
                # A modification says so, and shows what it changes: the trader confirms
                # a difference, not a whole new order to compare from memory.
                yield Static(Text("MODIFY working order", style="bold reverse"),
                             id="modify-title")
                yield Static(Text(f"was: {old.describe()}", style="dim"))
            for leg in self.intent.legs:
                yield Static(Text(leg.describe(), style="bold"))
                # A combination is one order over several contracts: each is listed with
                # what this order does with it, so none is sent unread.
                for i, part in enumerate(leg.combo):
                    yield Static(Text(f"  leg {i + 1}: {leg.leg_side(part).value} "
                                      f"{plain(leg.leg_quantity(part))} {part.instrument.display}"
                                      f"  (ratio {part.ratio})"), classes="combo-leg")
            if old is not None:
                changes = modify_changes(old, self.intent.legs[0])
                lines = Text()
                for name, before, after in changes:
                    lines.append(f"  {name:<12}", style="dim")
                    lines.append(f"{before} {ARROW} ")
                    lines.append(f"{after}\n", style="bold")
                if not changes:
                    lines.append("  no field changes\n", style="yellow")
                lines.rstrip()
                yield Static(lines, id="modify-changes")
            if len(self.intent.legs) > 1:
                yield Static(Text(self.intent.describe(), style="italic"))
            if all(c.severity is CheckSeverity.OK for c in self.checks):
                yield Static(Text("✔ all checks passed", style="green"), classes="check")
            legs = len(self.intent.legs)
            for c in self.checks:
                if c.severity is CheckSeverity.OK:
                    continue
                where = f"leg {c.leg + 1}: " if legs > 1 else ""
                mark, style = {CheckSeverity.OK: ("✔", "green"),
                               CheckSeverity.BREACH: ("⚠", "yellow"),
                               CheckSeverity.BLOCK: ("✖", "red")}[c.severity]
                yield Static(Text(f"{mark} {where}{c.message}", style=style), classes="check")
            for name in self.breaches:
                yield ToggleBox(f"override: {name}", id=f"override-{name}")
            with Horizontal():
                yield ActionButton("Send (y)", variant="error" if self.mode is TradingMode.LIVE
                             else "success", id="send")
                yield ActionButton("Cancel (n)", id="cancel")

    def on_mount(self) -> None:
        self._update_send()
        first = self.query(Checkbox).first() if self.breaches else self.query_one("#send")
        first.focus()

    def _overrides(self) -> frozenset[str]:
        return frozenset(n for n in self.breaches if self.query_one(f"#override-{n}",
                                                                     Checkbox).value)

    def _update_send(self) -> None:
        self.query_one("#send", Button).disabled = self._overrides() != set(self.breaches)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._update_send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_send()
        else:
            self.action_cancel()

    def action_send(self) -> None:
        if self.query_one("#send", Button).disabled:
            self.notify("Tick every override first", severity="warning")
            return
        self.dismiss(Confirmation(True, self._overrides()))

    def action_cancel(self) -> None:
        self.dismiss(Confirmation(False))


class AskYesNo(ModalScreen[bool]):
    """A yes/no question. Enter answers whatever has focus, so focus starts on No unless
    the caller says yes is the safe answer (`default=True`: the kill switch, where
    cancelling is the protective act). `y` and `n`/escape answer from anywhere."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="ask-yes"),
        Binding("escape,n", "answer(False)", "No", id="ask-no"),
    ]
    DEFAULT_CSS = """
    AskYesNo { align: center middle; }
    AskYesNo > Vertical { width: 70; max-width: 100%; height: auto; max-height: 100%;
                          border: thick $error; background: $surface; padding: 1 2; }
    AskYesNo Horizontal { height: auto; margin-top: 1; }
    AskYesNo Button { margin-right: 2; }
    """

    def __init__(self, question: str, detail: str = "", default: bool = False) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question, style="bold"))
            if self.detail:
                yield Static(self.detail)
            with Horizontal():
                yield ActionButton("Yes (y)", variant="error", id="yes")
                yield ActionButton("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.default else "#no").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class QuitChoice(StrEnum):
    STAY = "stay"
    LEAVE_WORKING = "leave-working"  # quit; the orders keep working at the gateway
    CANCEL_ALL = "cancel-all"  # a global cancel (trading not halted), then quit


class QuitDialog(ModalScreen[QuitChoice]):
    """Quitting while orders work: three choices, one per line, Stay focused. Enter on
    the default and escape both stay; leaving or cancelling takes a deliberate move."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stay", "Stay", id="quit-stay"),
        Binding("up", "app.focus_previous", "Previous choice", show=False, id="quit-previous"),
        Binding("down", "app.focus_next", "Next choice", show=False, id="quit-next"),
    ]
    DEFAULT_CSS = """
    QuitDialog { align: center middle; }
    QuitDialog > Vertical { width: 70; max-width: 100%; height: auto; max-height: 100%;
                            border: thick $warning; background: $surface; padding: 1 2; }
    QuitDialog #stay { margin-top: 1; }
    QuitDialog Button { width: 100%; content-align: left middle; }
    """
    # One line per choice (compact) so all three fit a 60x15 terminal; the focused one is
    # marked with a glyph, readable without colour.
    CHOICES: ClassVar[dict[str, QuitChoice]] = {
        "stay": QuitChoice.STAY, "leave": QuitChoice.LEAVE_WORKING,
        "cancel-all": QuitChoice.CANCEL_ALL}

    def __init__(self, working: int) -> None:
        super().__init__()
        self.working = working

    def compose(self) -> ComposeResult:
        n = self.working
        orders = "order" if n == 1 else "orders"
        with Vertical():
            yield Static(Text(f"{n} {orders} working at the gateway.", style="bold"))
            yield Static("Orders keep working after ibterm exits, until filled or "
                         "cancelled.")
            self._texts = {"stay": "Stay", "leave": f"Quit, leave {n} {orders} working",
                           "cancel-all": "Cancel all working orders and quit"}
            for key, text in self._texts.items():
                yield ActionButton(f"  {text}", id=key, compact=True,
                                   variant="error" if key == "cancel-all" else "default")

    def on_mount(self) -> None:
        self.query_one("#stay").focus()

    def on_descendant_focus(self) -> None:
        for button in self.query(Button):
            mark = "▸ " if button.has_focus else "  "
            button.label = mark + self._texts[button.id or "stay"]

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.CHOICES[event.button.id or "stay"])

    def action_stay(self) -> None:
        self.dismiss(QuitChoice.STAY)


class AskText(ModalScreen[str | None]):
    """One line of input (a symbol to add): enter answers, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="ask-text-cancel"),
    ]
    DEFAULT_CSS = """
    AskText { align: center middle; }
    AskText > Vertical { width: 70; height: auto; border: thick $primary; background: $surface;
                         padding: 1 2; }
    """

    def __init__(self, question: str, placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.question, style="bold"))
            yield TextInput(placeholder=self.placeholder)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
