"""The shipped themes (YAML), installed as the package ibterm.themes; see docs/themes.md."""
