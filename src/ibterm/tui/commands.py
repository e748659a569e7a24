"""The command palette (ctrl+p): the app's actions, the keymap's macros, and symbols
(open a ticket for one, add one to the watchlist). Themes come with Textual's own
"Theme" command.

Every command is an action string run on the app, so the palette needs only what the
app lists for it (`PaletteSource`), never the app itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Protocol, runtime_checkable

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Provider

from ibterm.config.reference import futures_table
from ibterm.domain.orders import Side
from ibterm.domain.symbols import SymbolError, parse_symbol


@runtime_checkable
class PaletteSource(Protocol):
    """What the app offers the palette besides its bindings."""

    def palette_macros(self) -> list[tuple[str, str]]:
        """Each macro of the keymap, in order: (what it does, its key)."""

    def palette_symbols(self) -> list[str]:
        """The watchlist's symbols, as the ticket takes them."""


def _ticket_action(side: Side, symbol: str) -> str:
    return f"ticket({side.value!r}, {symbol!r})"


class IbtermCommands(Provider):
    def _run(self, action: str) -> Callable[[], object]:
        return partial(self.app.run_action, action)

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        out: list[tuple[str, Callable[[], object], str]] = []
        for b in type(app).BINDINGS:
            if isinstance(b, Binding) and b.id:
                out.append((f"{b.description or b.id} ({b.id})", self._run(b.action),
                            f"key {b.key}"))
        if not isinstance(app, PaletteSource):
            return out
        for i, (description, key) in enumerate(app.palette_macros()):
            out.append((f"Macro: {description}", self._run(f"macro({i})"), f"key {key}"))
        for name in app.palette_symbols():
            for side in (Side.BUY, Side.SELL):
                out.append((f"{side.value.title()} {name}: open the ticket",
                            self._run(_ticket_action(side, name)), "symbol"))
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
        name = str(spec)
        yield Hit(0.9, f"Add {name} to the watchlist",
                  self._run(f"add_to_watchlist({name!r})"), help="symbol")
        for side in (Side.BUY, Side.SELL):
            yield Hit(0.8, f"{side.value.title()} {name}: open the ticket",
                      self._run(_ticket_action(side, name)), help="symbol")
