"""Small form fields for the order ticket: a value cycler and an input that steps."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Static

from ibterm.config.keymaps import RESERVED_KEYS, normalize_key
from ibterm.domain.ticket_form import parse_number


def with_ids(prefix: str, bindings: list[BindingType]) -> list[BindingType]:
    """A built-in widget's bindings, each with an id (so keymaps can remap them) and without
    the keys terminals and multiplexers keep for themselves."""
    out: list[BindingType] = []
    for b in bindings:
        if not isinstance(b, Binding):
            continue
        keys = [k for k in b.key.split(",") if normalize_key(k) not in RESERVED_KEYS]
        if not keys:
            continue
        name = b.action.replace("(True)", "_select").replace("_", "-")
        out.append(replace(b, key=",".join(keys), id=f"{prefix}-{name}"))
    return out


class TextInput(Input, inherit_bindings=False):
    """Input with ids on every key: cursor, selection, deletion, clipboard."""

    BINDINGS: ClassVar[list[BindingType]] = with_ids("input", Input.BINDINGS)


class ToggleBox(Checkbox, inherit_bindings=False):
    """A check box that reads the same without colour: `[x]` ticked, `[ ]` not (Textual's
    `▐X▌` shows the X either way and tells them apart by colour only)."""

    BINDINGS: ClassVar[list[BindingType]] = with_ids("checkbox", Checkbox.BINDINGS)

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble("[", ("x" if self.value else " ", style), "]")


FOCUS_MARK = "▸"


class FieldLabel(Label):
    """A field's name with a slot before it for the focus mark: the focused field is found
    by a glyph, in monochrome and in a plain capture too, and the row never shifts."""

    DEFAULT_CSS = """
    FieldLabel { padding: 0 1 0 0; color: $text-muted; }
    FieldLabel.-focused { color: $text; text-style: bold; }
    """

    def __init__(self, text: str, for_id: str) -> None:
        super().__init__(f" {text}", id=f"l-{for_id}")
        self.text = text
        self.for_id = for_id

    def mark(self, focused: bool) -> None:
        self.set_class(focused, "-focused")
        self.update(f"{FOCUS_MARK if focused else ' '}{self.text}")


class ListTable(DataTable[object], inherit_bindings=False):
    """The read-only lists of dialogs (help, executions)."""

    BINDINGS: ClassVar[list[BindingType]] = with_ids("list", DataTable.BINDINGS)


class ActionButton(Button, inherit_bindings=False):
    BINDINGS: ClassVar[list[BindingType]] = with_ids("button", Button.BINDINGS)


class Cycler(Static, can_focus=True):
    """One of a few values (side, order type, TIF), changed from the keyboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,right", "cycle(1)", "Next value", show=False, id="field-next-value"),
        Binding("left", "cycle(-1)", "Previous value", show=False, id="field-previous-value"),
    ]
    DEFAULT_CSS = """
    Cycler { width: auto; min-width: 9; height: 1; padding: 0 1; background: $boost; }
    Cycler:focus { background: $primary 50%; text-style: bold; }
    """

    class Changed(Message):
        def __init__(self, cycler: Cycler, value: str) -> None:
            super().__init__()
            self.cycler = cycler
            self.value = value

    def __init__(self, values: list[str], value: str | None = None, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.values = values
        self.value = value or values[0]

    def on_mount(self) -> None:
        self._show()

    def set_value(self, value: str) -> None:
        if value in self.values and value != self.value:
            self.value = value
            self._show()
            self.post_message(self.Changed(self, value))

    def action_cycle(self, step: int) -> None:
        index = (self.values.index(self.value) + step) % len(self.values)
        self.set_value(self.values[index])

    def refresh_value(self) -> None:
        self._show()

    def _show(self) -> None:
        self.update(Text(f"‹{self.value}›"))


class StepInput(TextInput):
    """A number field; up/down step it by the instrument's tick or size increment."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "step(1)", "Step up", show=False, id="ticket-step-up"),
        Binding("down", "step(-1)", "Step down", show=False, id="ticket-step-down"),
    ]

    def __init__(self, step: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.step = step
        # A combination's net price steps through zero: a debit down into a credit.
        self.signed = False

    def number(self) -> float | None:
        # TicketError is a ValueError: the ticket reports the field.
        return parse_number(self.value, self.id or "number")

    def set_number(self, value: float) -> None:
        decimals = max(0, -math.floor(math.log10(self.step))) if self.step < 1 else 0
        self.value = f"{value:.{decimals}f}"
        self.cursor_position = len(self.value)

    def action_step(self, direction: int) -> None:
        try:
            current = self.number()
        except ValueError:
            return
        base = current if current is not None else 0.0
        steps = round(base / self.step) + direction
        self.set_number((steps if self.signed else max(steps, 0)) * self.step)
