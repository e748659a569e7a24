"""Plain dataclasses shared by every layer: no I/O, no Textual, no ib_async."""
