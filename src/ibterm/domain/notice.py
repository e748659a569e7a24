"""A message for the trader from the broker layer, with how much it matters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Notice:
    level: str  # "info" | "warning" | "error"
    message: str
