"""The local risk calculator: pricing, margin and stress (polars; no Textual, no ib_async)."""
