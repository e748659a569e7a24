"""The built-in theme and the app's own colour variables (trading colours, badges)."""

from __future__ import annotations

from textual.theme import Theme

# Fallbacks for every app variable, so any Textual theme (including ansi-dark over SSH)
# still renders the trading colours.
APP_VARIABLE_DEFAULTS: dict[str, str] = {
    "trade-up": "#3fb950",
    "trade-down": "#f85149",
    "quote-bid": "#58a6ff",
    "quote-ask": "#ff7b72",
    "badge-paper": "#d29922",
    "badge-live": "#f85149",
    "badge-demo": "#8957e5",
    "quote-stale": "#6e7681",
    "quote-delayed": "#a371f7",
}

IBTERM_DARK = Theme(
    name="ibterm-dark",
    dark=True,
    primary="#4fa3ff",
    secondary="#8957e5",
    accent="#d29922",
    warning="#d29922",
    error="#f85149",
    success="#3fb950",
    foreground="#e6edf3",
    background="#0d1117",
    surface="#161b22",
    panel="#1f2630",
    variables=dict(APP_VARIABLE_DEFAULTS),
)
