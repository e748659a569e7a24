"""Textual's footer, without its leak.

The footer composes its keys again whenever the active bindings change (a modal opens or
closes, the focus moves), and each key is data-bound to the footer's `compact` reactive.
Textual (8.2) forgets the watchers of removed keys only when `compact` itself changes,
which it never does here: every recomposition kept the old keys alive, and a day of
confirmations grew the app by megabytes (found by the soak). This footer drops the
watchers of keys that have left the DOM before it composes new ones.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter

# Under this width the keys sit closer together, so that the kill switch and flatten
# still show at 80 columns.
COMPACT_BELOW = 100


class Footer(TextualFooter):
    def compose(self) -> ComposeResult:
        watchers = getattr(self, "__watchers", {})
        for watching in watchers.values():
            watching[:] = [(node, callback) for node, callback in watching
                           if getattr(node, "is_attached", True)]
        yield from super().compose()

    def on_resize(self, event: events.Resize) -> None:
        compact = event.size.width < COMPACT_BELOW
        if compact != self.compact:
            self.compact = compact
