"""A titled pane of the main screen (watchlist, positions, orders): one key zooms it."""

from __future__ import annotations

from textual.containers import Vertical


class Pane(Vertical):
    # Textual's maximize (the zoom key) takes the nearest maximizable ancestor of the
    # focused table: the pane, so its title and account line come along.
    ALLOW_MAXIMIZE = True
