"""Connection state and trading mode, shown by the UI and used by the order pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    RECONNECTING = "reconnecting"


class TradingMode(StrEnum):
    DEMO = "demo"
    PAPER = "paper"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    state: ConnectionState
    detail: str = ""
    since: float = 0.0  # monotonic seconds when the state began
    attempt: int = 0  # reconnect attempt number while RECONNECTING
