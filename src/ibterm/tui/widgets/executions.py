"""Executions of this session with their commissions."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ibterm.domain.orders import FillUpdate
from ibterm.tui import format as fmt
from ibterm.tui.widgets.fields import ListTable


class ExecutionLog:
    """Fills by exec id; commissions arrive after their fill."""

    def __init__(self) -> None:
        self.fills: dict[str, FillUpdate] = {}
        self._pending: dict[str, float] = {}

    def add(self, fills: list[FillUpdate], commissions: dict[str, float]) -> None:
        for f in fills:
            self.fills[f.exec_id] = f
        self._pending.update(commissions)
        for exec_id in list(self._pending):
            if exec_id in self.fills:
                self.fills[exec_id] = replace(self.fills[exec_id],
                                              commission=self._pending.pop(exec_id))


class ExecutionsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,e,q", "dismiss", "Close", id="close-executions"),
    ]
    DEFAULT_CSS = """
    ExecutionsScreen { align: center middle; }
    ExecutionsScreen > Vertical { width: 110; max-width: 100%; height: 70%; min-height: 10;
                                  max-height: 100%; border: thick $primary;
                                  background: $surface; }
    """

    def __init__(self, fills: list[FillUpdate]) -> None:
        super().__init__()
        self.rows = fills

    def compose(self) -> ComposeResult:
        with Vertical():
            total = sum(f.commission or 0.0 for f in self.rows)
            yield Static(f" Executions this session: {len(self.rows)}, commissions "
                         f"{fmt.money(total, 2)}")
            yield ListTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Time", "Symbol", "Side", "Qty", "Price", "Commission", "Exec id")
        for f in reversed(self.rows):
            dec = fmt.tick_decimals(f.instrument.min_tick)
            commission = fmt.money(f.commission, 2) if f.commission is not None else "…"
            table.add_row(f.time[11:19], f.display, f.side.value,
                          fmt.quantity(f.shares), fmt.price(f.price, dec), commission,
                          f.exec_id)
        table.focus()
