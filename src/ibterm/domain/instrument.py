"""Instruments: what a trader asks for (a spec) and what the broker resolved it to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SecType(StrEnum):
    STK = "STK"
    OPT = "OPT"
    FUT = "FUT"
    FOP = "FOP"
    CASH = "CASH"
    IND = "IND"


class Right(StrEnum):
    CALL = "C"
    PUT = "P"


DERIVATIVES = frozenset({SecType.OPT, SecType.FUT, SecType.FOP})


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """An instrument as written by a person; `expiry` empty means the front month."""

    symbol: str
    sec_type: SecType
    expiry: str = ""
    strike: float = 0.0
    right: Right | None = None
    exchange: str = ""
    currency: str = "USD"

    def __str__(self) -> str:
        if self.sec_type is SecType.CASH:
            return f"{self.symbol}.{self.currency}"
        parts = [self.symbol]
        if self.expiry:
            parts.append(self.expiry)
        if self.right is not None:
            parts.append(format_strike(self.strike))
            parts.append(self.right.value)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A resolved, tradable contract (from the broker's contract details)."""

    con_id: int
    symbol: str
    sec_type: SecType
    exchange: str
    currency: str
    multiplier: float = 1.0
    min_tick: float = 0.01
    expiry: str = ""
    strike: float = 0.0
    right: Right | None = None
    local_symbol: str = ""
    trading_class: str = ""
    primary_exchange: str = ""
    size_increment: float = 1.0
    long_name: str = ""
    contract_month: str = ""  # futures: YYYYMM

    @property
    def display(self) -> str:
        """The name a trader reads, and can type back into the symbol grammar."""
        return str(self.spec)

    @property
    def spec(self) -> InstrumentSpec:
        expiry = self.expiry
        if self.sec_type is SecType.FUT:
            expiry = self.contract_month or self.expiry[:6]
        return InstrumentSpec(
            symbol=self.symbol,
            sec_type=self.sec_type,
            expiry=expiry,
            strike=self.strike,
            right=self.right,
            exchange=self.exchange,
            currency=self.currency,
        )


def format_strike(strike: float) -> str:
    text = f"{strike:.6f}".rstrip("0").rstrip(".")
    return text or "0"
