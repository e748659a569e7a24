"""The key help, generated from the bindings that are live right now."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ibterm.tui.widgets.fields import ListTable


def live_bindings(app: object, node: object) -> BindingsMap:
    """A node's bindings with the app's keymap applied (Textual applies it per lookup)."""
    bindings = node._bindings.copy()  # type: ignore[attr-defined]
    keymap = app._keymap  # type: ignore[attr-defined]
    if keymap:
        bindings.apply_keymap(keymap)
    return bindings


def binding_rows(app: object, sources: list[object]) -> list[tuple[str, str, str]]:
    """(keys, id, description) for every binding with an id, in the keymap in force."""
    rows: dict[str, tuple[str, str, str]] = {}
    for node in sources:
        for key, bindings in live_bindings(app, node).key_to_bindings.items():
            for b in bindings:
                if not b.id:
                    continue
                display = app.get_key_display(b.with_key(key))  # type: ignore[attr-defined]
                keys, _, desc = rows.get(b.id, ("", b.id, b.description or b.action))
                if display in keys.split(", "):
                    continue  # the tables share their row keys: one line, not one a table
                keys = f"{keys}, {display}" if keys else display
                rows[b.id] = (keys, b.id, desc)
    return sorted(rows.values(), key=lambda r: r[1])


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 80; max-width: 100%; height: 80%; min-height: 10;
                            max-height: 100%; border: thick $primary; background: $surface; }
    HelpScreen Static { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="close-help"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Keys[/b]  (action ids are what keymaps remap)")
            yield ListTable(cursor_type="row", zebra_stripes=True, id="help-table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action id", "Description")
        for row in self.rows:
            table.add_row(*row)
        table.focus()
