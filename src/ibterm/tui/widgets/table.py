"""DataTable with binding ids, so every key in it can be remapped by a keymap."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable


class PaneTable(DataTable[object]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Row up", show=False, id="row-up"),
        Binding("down", "cursor_down", "Row down", show=False, id="row-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="page-down"),
        Binding("home", "scroll_top", "First row", show=False, id="first-row"),
        Binding("end", "scroll_bottom", "Last row", show=False, id="last-row"),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]

    def color(self, name: str) -> str:
        return self.app.theme_variables.get(name, "white")
