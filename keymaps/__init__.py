"""The shipped keymaps (YAML), installed as the package ibterm.keymaps; see docs/keymaps.md."""
