"""Every key binding of the app, by id: the registry keymaps are checked against.

A scope is a set of bindings active at the same time from one place (the app, a table,
the ticket, a dialog); a key bound twice in one scope is a clash.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from textual.binding import Binding

from ibterm.config.keymaps import ActionInfo


@cache
def action_registry() -> dict[str, ActionInfo]:
    from ibterm.tui.app import IbtermApp
    from ibterm.tui.widgets.builder import StrategyBuilder, TemplateChooser
    from ibterm.tui.widgets.chain import ChainScreen
    from ibterm.tui.widgets.confirm import AskYesNo, ConfirmOrder, QuitDialog
    from ibterm.tui.widgets.depth_screen import DepthScreen
    from ibterm.tui.widgets.executions import ExecutionsScreen
    from ibterm.tui.widgets.fields import (
        ActionButton,
        Cycler,
        ListTable,
        StepInput,
        TextInput,
        ToggleBox,
    )
    from ibterm.tui.widgets.grid import Grid
    from ibterm.tui.widgets.help import HelpScreen
    from ibterm.tui.widgets.orders import OrdersTable
    from ibterm.tui.widgets.positions import PositionsTable
    from ibterm.tui.widgets.reconcile import ReconcileScreen
    from ibterm.tui.widgets.ticket import OrderTicket
    from ibterm.tui.widgets.watchlist import WatchlistTable

    scopes: list[tuple[str, list[type]]] = [
        ("app", [IbtermApp]),
        ("table", [Grid]),
        ("watchlist", [WatchlistTable]),
        ("orders", [OrdersTable]),
        ("positions", [PositionsTable]),
        ("ticket", [OrderTicket]),
        ("cycler", [Cycler]),
        ("step", [StepInput]),
        ("input", [TextInput]),
        ("checkbox", [ToggleBox]),
        ("button", [ActionButton]),
        ("list", [ListTable]),
        ("confirm", [ConfirmOrder]),
        ("dialog", [AskYesNo]),
        ("quit", [QuitDialog]),
        ("help", [HelpScreen]),
        ("reconciliation", [ReconcileScreen]),
        ("executions", [ExecutionsScreen]),
        ("ladder", [DepthScreen]),
        ("chain", [ChainScreen]),
        ("builder", [StrategyBuilder]),
        ("templates", [TemplateChooser]),
    ]
    # The row keys of the table scope are active in each table as well.
    active_in = {"table": ("watchlist", "orders", "positions"), "input": ("input", "step")}
    registry: dict[str, ActionInfo] = {}
    for scope, classes in scopes:
        for cls in classes:
            for b in cls.__dict__.get("BINDINGS", []):
                if isinstance(b, Binding) and b.id and b.id not in registry:
                    registry[b.id] = ActionInfo(b.id, scope, b.key, b.description or b.action,
                                                active_in.get(scope, ()))
    return registry


_MODIFIERS = frozenset({"ctrl", "shift", "alt", "super", "meta"})


def key_exists(key: str) -> bool:
    """A key Textual can report: a character, one of its key names, or a character's
    Unicode name (question_mark); with modifiers. `pgdown` is not one."""
    from textual.keys import Keys

    key = key.strip()
    if len(key) == 1:
        return True  # any character, "+" included
    *modifiers, base = key.split("+")
    if any(m not in _MODIFIERS for m in modifiers) or not base:
        return False
    if len(base) == 1 or base in {k.value for k in Keys}:
        return True
    try:
        unicodedata.lookup(base.replace("_", " "))
    except KeyError:
        return False
    return True
