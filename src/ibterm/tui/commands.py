"""The command palette (ctrl+p): the app's actions, the keymap's macros, and symbols
(open a ticket for one, add one to the watchlist). Themes come with Textual's own
"Theme" command."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Provider

from ibterm.domain.orders import Side
from ibterm.domain.symbols import SymbolError, parse_symbol
from ibterm.config.reference import futures_table

if TYPE_CHECKING:
    from ibterm.tui.app import IbtermApp


class IbtermCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: IbtermApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, Callable[[], object], str]] = []
        for b in type(app).BINDINGS:
            if isinstance(b, Binding) and b.id:
                out.append((f"{b.description or b.id} ({b.id})",
                            partial(app.run_action, b.action), f"key {b.key}"))
        for i, macro in enumerate(app.keymap.macros if app.keymap else ()):
            out.append((f"Macro: {macro.describe()}", partial(app.action_macro, i),
                        f"key {macro.key}"))
        for item in app.session.watchlist:
            name = item.instrument.display if item.instrument else item.text
            for side in (Side.BUY, Side.SELL):
                out.append((f"{side.value.title()} {name}: open the ticket",
                            partial(app.open_ticket, side, name), "symbol"))
        return out

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)
        # Anything that reads as a symbol can be added, or traded.
        try:
            spec = parse_symbol(query, futures_table().keys())
        except SymbolError:
            return
        app: IbtermApp = self.app  # type: ignore[assignment]
        name = str(spec)
        yield Hit(0.9, f"Add {name} to the watchlist", partial(app.add_to_watchlist, name),
                  help="symbol")
        for side in (Side.BUY, Side.SELL):
            yield Hit(0.8, f"{side.value.title()} {name}: open the ticket",
                      partial(app.open_ticket, side, name), help="symbol")
