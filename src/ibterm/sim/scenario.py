"""Scenario files: the simulated world (date, accounts, instruments, prices, pace).

A scenario replaces the defaults below; every field is optional. Schema and examples:
docs/simulator.md.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import pydantic
from pydantic import Field

from ibterm.domain.instrument import SecType
from ibterm.sim.faults import Scheduled


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class MarketSession(StrEnum):
    OPEN = "open"  # quotes walk; live data streams
    CLOSED = "closed"  # nothing moves: one snapshot per request, frozen if asked for


class Smile(_Model):
    """An underlying's volatility by strike: atm + skew·k + curvature·k², k = ln(strike /
    start price). Fixed by strike when the world is built (sticky strike)."""

    atm: float | None = Field(None, gt=0, le=5, description="default: the chain's volatility")
    skew: float = Field(0.0, ge=-5, le=5, description="slope in log-moneyness; < 0: puts dearer")
    curvature: float = Field(0.0, ge=0, le=50, description="the smile's bend; 0: a straight skew")


class OptionChain(_Model):
    strike_step: float = Field(5.0, gt=0)
    strike_range: float = Field(0.15, gt=0, le=1,
                                description="strikes within ±this fraction of spot")
    weeklies: int = Field(4, ge=0, le=12, description="weekly expiries (Fridays)")
    monthlies: int = Field(3, ge=0, le=12, description="monthly expiries (third Fridays)")
    volatility: float | None = Field(None, gt=0, le=5, description="default: the underlying's")
    smile: Smile = Smile()


class InstrumentDef(_Model):
    symbol: Annotated[str, Field(min_length=1, max_length=12, pattern=r"^[A-Za-z][A-Za-z0-9.]*$")]
    sec_type: SecType = SecType.STK
    price: float = Field(gt=0, description="start price (futures: the front month)")
    volatility: float = Field(0.25, gt=0, le=5, description="annualized, for the random walk")
    name: str = ""
    con_id: int | None = Field(None, gt=0, description="default: derived from the symbol")
    exchange: str | None = None
    primary_exchange: str = ""
    min_tick: float | None = Field(None, gt=0)
    live_data: bool = Field(True, description="false: only delayed data (error 354 for live)")
    contract_months: int = Field(2, ge=1, le=8, description="futures: months listed")
    options: OptionChain | None = None

    @pydantic.field_validator("sec_type")
    @classmethod
    def _supported(cls, value: SecType) -> SecType:
        if value not in (SecType.STK, SecType.FUT, SecType.CASH):
            raise ValueError("instruments are STK, FUT or CASH; options come from `options:`")
        return value


class PositionDef(_Model):
    symbol: str = Field(min_length=1, description="symbol grammar, e.g. 'SPY 20261218 600 C'")
    quantity: float
    avg_cost: float = Field(gt=0, description="per share / per unit of price")

    @pydantic.field_validator("quantity")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("a position's quantity cannot be zero")
        return value


class AccountDef(_Model):
    id: Annotated[str, Field(pattern=r"^D?U\d{4,10}$", description="DU… for paper")]
    currency: str = "USD"
    cash: float = 1_000_000.0
    positions: list[PositionDef] = []


DEFAULT_INSTRUMENTS: tuple[InstrumentDef, ...] = (
    InstrumentDef(symbol="AAPL", price=230.0, volatility=0.28, con_id=265598,
                  primary_exchange="NASDAQ", name="APPLE INC", options=OptionChain()),
    InstrumentDef(symbol="MSFT", price=420.0, volatility=0.26, con_id=272093,
                  primary_exchange="NASDAQ", name="MICROSOFT CORP"),
    InstrumentDef(symbol="IBM", price=240.0, volatility=0.24, con_id=8314,
                  primary_exchange="NYSE", name="INTL BUSINESS MACHINES CORP"),
    InstrumentDef(symbol="TSLA", price=340.0, volatility=0.60, con_id=76792991,
                  primary_exchange="NASDAQ", name="TESLA INC", live_data=False),
    InstrumentDef(symbol="SPY", price=600.0, volatility=0.16, con_id=756733,
                  primary_exchange="ARCA", name="SPDR S&P 500 ETF TRUST",
                  options=OptionChain(strike_step=5.0, strike_range=0.10)),
    InstrumentDef(symbol="QQQ", price=520.0, volatility=0.20, con_id=320227571,
                  primary_exchange="NASDAQ", name="INVESCO QQQ TRUST SERIES 1"),
    InstrumentDef(symbol="ES", sec_type=SecType.FUT, price=6010.0, volatility=0.16),
    InstrumentDef(symbol="NQ", sec_type=SecType.FUT, price=21050.0, volatility=0.20),
    InstrumentDef(symbol="CL", sec_type=SecType.FUT, price=70.0, volatility=0.35),
    InstrumentDef(symbol="EUR.USD", sec_type=SecType.CASH, price=1.08, volatility=0.07,
                  con_id=12087792, name="European Monetary Union Euro"),
)

DEFAULT_ACCOUNTS: tuple[AccountDef, ...] = (
    AccountDef(
        id="DU1234567",
        cash=1_000_000.0,
        positions=[
            PositionDef(symbol="AAPL", quantity=300, avg_cost=212.35),
            PositionDef(symbol="MSFT", quantity=100, avg_cost=401.10),
            PositionDef(symbol="SPY", quantity=-50, avg_cost=604.20),
            PositionDef(symbol="ES", quantity=1, avg_cost=5985.25),
        ],
    ),
)


class Scenario(_Model):
    date: dt.date | None = Field(None, description="simulated trading date; default today")
    seed: int | None = Field(None, description="random seed; `ibterm sim --seed` overrides")
    tick_interval: float = Field(0.25, ge=0, le=60, description="seconds per step; 0 = manual")
    session: MarketSession = MarketSession.OPEN
    delay_steps: int = Field(20, ge=1, le=10_000, description="how far delayed data lags")
    account_update_interval: float = Field(1.0, gt=0, le=600)
    rate: float = Field(0.04, ge=-0.05, le=0.5, description="risk-free rate for option quotes")
    pacing_limit: int = Field(50, ge=0, le=10_000, description="messages a second a client "
                                                               "may send before error 100; 0: off")
    market_data_lines: int = Field(
        100, ge=0, le=10_000, description="market data subscriptions open at once, over all "
                                          "clients, before error 101 (IB's default 100); 0: off")
    house_margin_surcharge: float = Field(
        0.0, ge=0, le=5, description="added to the gateway's margin, in what-if answers and "
                                     "in its buying-power check (0.25 = +25%)")
    accounts: list[AccountDef] = Field(default_factory=lambda: list(DEFAULT_ACCOUNTS), min_length=1)
    instruments: list[InstrumentDef] = Field(
        default_factory=lambda: list(DEFAULT_INSTRUMENTS), min_length=1
    )
    faults: list[Scheduled] = Field(default_factory=list,
                                    description="fault schedule, times from the start")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _own_world(cls, data: object) -> object:
        # A scenario with its own instruments gets the default account without the default
        # positions, which name instruments it may not have.
        if isinstance(data, dict) and "instruments" in data and "accounts" not in data:
            data = {**data, "accounts": [{"id": DEFAULT_ACCOUNTS[0].id}]}
        return data

    @pydantic.model_validator(mode="after")
    def _unique(self) -> Scenario:
        seen: set[str] = set()
        for inst in self.instruments:
            key = inst.symbol.upper()
            if key in seen:
                raise ValueError(f"instrument {key} is defined twice")
            seen.add(key)
        ids = [a.id for a in self.accounts]
        if len(set(ids)) != len(ids):
            raise ValueError("account ids must be unique")
        return self
