"""The reconciliation pane: what the gateway and the journal disagree about."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ibterm.broker.reconcile import Difference, Discrepancy

_STYLE = {Difference.UNKNOWN_ORDER: "yellow", Difference.GONE: "red",
          Difference.MISSED_FILL: "magenta", Difference.POSITION: "cyan"}


class ReconcileScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss", "Close", id="close-reconciliation"),
    ]
    DEFAULT_CSS = """
    ReconcileScreen { align: center middle; }
    ReconcileScreen > Vertical { width: 100; max-width: 100%; height: 70%; min-height: 10;
                                 max-height: 100%; border: thick $warning;
                                 background: $surface; padding: 0 1; }
    """

    def __init__(self, found: list[Discrepancy]) -> None:
        super().__init__()
        self.found = found

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Reconciliation: the journal against the gateway", style="bold"))
            with VerticalScroll():
                if not self.found:
                    yield Static("No differences.")
                for d in self.found:
                    line = Text()
                    line.append(f"{d.kind.value:<13}", style=f"bold {_STYLE[d.kind]}")
                    line.append(f"{d.symbol:<14}{d.order_ref:<24}")
                    line.append(d.detail, style="dim")
                    yield Static(line)
            yield Static(Text("Nothing is resent or cancelled automatically. Esc closes.",
                              style="italic dim"))
