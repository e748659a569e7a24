"""Themes: YAML files (shipped and the user's) mapped onto Textual's Theme, plus the
app's own colour variables (trading colours, badges, stale and delayed quotes).

A theme that fails to load is reported (file, line, reason) and skipped; the app falls
back to the default instead of crashing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pydantic
from pydantic import Field
from textual.color import Color, ColorParseError
from textual.theme import Theme

from ibterm.config import yamlfile

DEFAULT_THEME = "ibterm-dark"
# Fallbacks for every app variable, so any Textual theme still has trading colours.
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


def _colour(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError:
        message = f"{value!r} is not a colour (#rrggbb, rgb(…), a name, ansi_red…)"
        raise ValueError(message) from None
    return value




class ThemeFile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    dark: bool = True
    ansi: bool = False
    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)

    @pydantic.field_validator("primary", "secondary", "accent", "warning", "error", "success",
                              "foreground", "background", "surface", "panel", "boost")
    @classmethod
    def _colours(cls, value: str | None) -> str | None:
        return None if value is None else _colour(value)

    @pydantic.field_validator("variables")
    @classmethod
    def _variable_colours(cls, values: dict[str, str]) -> dict[str, str]:
        for key, value in values.items():
            if not key.replace("-", "").isalnum() or key != key.lower():
                raise ValueError(f"variable {key!r}: names are kebab-case")
            if key in APP_VARIABLE_DEFAULTS:
                try:
                    _colour(value)
                except ValueError as exc:
                    raise ValueError(f"variable {key!r}: {exc}") from None
        return values

    def to_theme(self) -> Theme:
        fields = self.model_dump(exclude={"variables"})
        return Theme(**fields, variables={**APP_VARIABLE_DEFAULTS, **self.variables})


@dataclass(frozen=True, slots=True)
class LoadedThemes:
    themes: dict[str, Theme]
    failures: list[yamlfile.Problem]


def _sources(user_dir: Path | None) -> Iterable[tuple[str, str]]:
    folder = resources.files("ibterm.themes")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            yield f"ibterm/themes/{entry.name}", entry.read_text("utf-8")
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.yaml")):
            try:
                yield str(path), path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                yield str(path), f"\0{exc}"


def check_theme_text(text: str, path: str) -> ThemeFile:
    if text.startswith("\0"):
        raise yamlfile.FileProblems([yamlfile.Problem(path, 1, 1, f"cannot read: {text[1:]}")])
    return yamlfile.validate(ThemeFile, yamlfile.parse(text, path), path)


def load_themes(user_dir: Path | None) -> LoadedThemes:
    """Shipped themes, then the user's (a user theme may replace a shipped one)."""
    themes: dict[str, Theme] = {}
    failures: list[yamlfile.Problem] = []
    for path, text in _sources(user_dir):
        try:
            model = check_theme_text(text, path)
        except yamlfile.FileProblems as exc:
            failures.extend(exc.problems)
            continue
        themes[model.name] = model.to_theme()
    return LoadedThemes(themes, failures)


def rich_colour(value: str) -> str:
    """A theme colour as Rich understands it (ANSI colours by number, others as hex)."""
    try:
        colour = Color.parse(value)
    except ColorParseError:
        return "default"
    if colour.ansi is not None:
        return "default" if colour.ansi < 0 else f"color({colour.ansi})"
    if colour.a == 0:
        return "default"
    return colour.hex6  # Rich has no alpha: drop it rather than fail to draw


def textual_theme_names() -> list[str]:
    """Textual's own themes: the app accepts them by name as well."""
    from textual.theme import BUILTIN_THEMES

    return list(BUILTIN_THEMES)
