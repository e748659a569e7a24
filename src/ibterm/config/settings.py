"""Configuration: where files live, connection profiles, validated with located errors.

The config file is YAML (`$IBTERM_CONFIG`, else `$XDG_CONFIG_HOME/ibterm/config.yaml`);
data (logs, journal) live in `$IBTERM_DATA_DIR`, else `$XDG_DATA_HOME/ibterm`.
See docs/config.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pydantic
from pydantic import Field

from ibterm.config import yamlfile
from ibterm.config.reference import futures_table
from ibterm.domain.connection import TradingMode
from ibterm.domain.instrument import SecType
from ibterm.domain.quote import MarketDataType
from ibterm.domain.symbols import SymbolError, parse_symbol

# The most market-data lines a profile may count (IB sells packs of 100 lines).
MAX_MARKET_DATA_LINES = 10_000
DEFAULT_WATCHLIST = ("AAPL", "MSFT", "IBM", "TSLA", "SPY", "QQQ", "ES", "NQ", "CL", "EUR.USD")


class MarketDataChoice(StrEnum):
    """What the app asks IB for. IB sends live data wherever the account is subscribed;
    the delayed choices fill the gaps with delayed quotes, which the app marks."""

    LIVE = "live"
    FROZEN = "frozen"
    DELAYED = "delayed"
    DELAYED_FROZEN = "delayed-frozen"

    @property
    def ib_type(self) -> MarketDataType:
        return {
            MarketDataChoice.LIVE: MarketDataType.LIVE,
            MarketDataChoice.FROZEN: MarketDataType.FROZEN,
            MarketDataChoice.DELAYED: MarketDataType.DELAYED,
            MarketDataChoice.DELAYED_FROZEN: MarketDataType.DELAYED_FROZEN,
        }[self]


class _Model(pydantic.BaseModel):
    # No inf or nan anywhere: `max_order_value: .inf` would switch its check off unseen.
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OrderLimits(_Model):
    """Per-sec-type overrides of the order-level limits; unset fields inherit."""

    max_order_size: float | None = Field(None, gt=0)
    max_order_value: float | None = Field(None, gt=0)
    max_price_deviation: float | None = Field(None, gt=0, le=1)
    max_ticks_away: int | None = Field(None, gt=0)


@dataclass(frozen=True, slots=True)
class EffectiveLimits:
    max_order_size: float
    max_order_value: float
    max_price_deviation: float
    max_ticks_away: int


def _derivative_sizes() -> dict[SecType, OrderLimits]:
    # 50 contracts; futures' value is notional (one ES contract is ~300,000), so their
    # value limit is set on that scale.
    return {
        SecType.OPT: OrderLimits(max_order_size=50),
        SecType.FUT: OrderLimits(max_order_size=50, max_order_value=5_000_000),
        SecType.FOP: OrderLimits(max_order_size=50),
    }


class ComboLimits(_Model):
    """A combination (BAG) order's limits as a whole; a field left unset takes the
    strictest of its legs' security types. Each leg's quantity (ratio x combinations)
    is also held to its own security type's max_order_size."""

    max_order_size: float | None = Field(None, gt=0, description="combinations per order")
    max_order_value: float | None = Field(
        None, gt=0, description="|net price| × multiplier × quantity")
    max_price_deviation: float | None = Field(
        None, gt=0, le=1, description="from the mid of the legs' quotes, as a fraction of "
                                      "it; a limit within the legs' own market never breaches")


@dataclass(frozen=True, slots=True)
class EffectiveComboLimits:
    max_order_size: float
    max_order_value: float
    max_price_deviation: float


class Limits(_Model):
    """Precautionary checks, TWS-style. A breach needs an explicit override to send."""

    max_order_size: float = Field(500, gt=0, description="shares (or units) per order")
    max_order_value: float = Field(100_000, gt=0, description="USD per order")
    max_price_deviation: float = Field(
        0.03, gt=0, le=1, description="from the relevant side of the NBBO (0.03 = 3%)")
    max_ticks_away: int = Field(1000, gt=0, description="ticks from the relevant NBBO side")
    max_position: float | None = Field(None, gt=0, description="per instrument, after the order")
    daily_loss_limit: float | None = Field(
        None, gt=0, description="USD; a daily P&L below minus this switches to REDUCING")
    by_sec_type: dict[SecType, OrderLimits] = Field(default_factory=_derivative_sizes)
    combo: ComboLimits = Field(default_factory=ComboLimits)

    @pydantic.field_validator("by_sec_type")
    @classmethod
    def _keep_defaults(cls, value: dict[SecType, OrderLimits]) -> dict[SecType, OrderLimits]:
        """A user's entries refine the defaults per field instead of replacing them all."""
        merged = _derivative_sizes()
        for sec_type, limits in value.items():
            base = merged.get(sec_type, OrderLimits())
            merged[sec_type] = base.model_copy(update=limits.model_dump(exclude_none=True))
        return merged

    def for_sec_type(self, sec_type: SecType) -> EffectiveLimits:
        o = self.by_sec_type.get(sec_type, OrderLimits())
        return EffectiveLimits(
            max_order_size=o.max_order_size or self.max_order_size,
            max_order_value=o.max_order_value or self.max_order_value,
            max_price_deviation=o.max_price_deviation or self.max_price_deviation,
            max_ticks_away=o.max_ticks_away or self.max_ticks_away,
        )

    def for_combo(self, sec_types: Iterable[SecType]) -> EffectiveComboLimits:
        legs = [self.for_sec_type(t) for t in set(sec_types)]
        c = self.combo
        return EffectiveComboLimits(
            max_order_size=c.max_order_size or min(x.max_order_size for x in legs),
            max_order_value=c.max_order_value or min(x.max_order_value for x in legs),
            max_price_deviation=c.max_price_deviation
            or min(x.max_price_deviation for x in legs),
        )


class PriceFrom(StrEnum):
    """Where a new ticket's limit starts, from a live, fresh quote only."""

    TOUCH = "touch"  # the side it trades against: ask to buy, bid to sell
    JOIN = "join"    # the side it rests on: bid to buy, ask to sell
    MID = "mid"
    LAST = "last"
    NONE = "none"    # left empty: the trader types every price


def _ticket_quantities() -> dict[SecType, float]:
    # 100 shares is a habit; 100 contracts is a fat finger.
    return {SecType.STK: 100, SecType.OPT: 1, SecType.FUT: 1, SecType.FOP: 1,
            SecType.CASH: 20_000, SecType.IND: 1}


class TicketDefaults(_Model):
    """What a new order ticket starts from. Nothing carries over from another instrument."""

    quantity: dict[SecType, float] = Field(
        default_factory=_ticket_quantities, description="per sec type; unset types keep "
                                                        "their defaults")
    price_from: PriceFrom = Field(PriceFrom.TOUCH, description="touch, join, mid, last or "
                                                               "none")
    remember: bool = Field(False, description="reopening a ticket on the same instrument "
                                              "keeps what was typed there (never across "
                                              "instruments)")

    @pydantic.field_validator("quantity")
    @classmethod
    def _keep_defaults(cls, value: dict[SecType, float]) -> dict[SecType, float]:
        for sec_type, qty in value.items():
            if not math.isfinite(qty) or qty <= 0:
                raise ValueError(f"{sec_type}: the quantity must be a positive number")
        return {**_ticket_quantities(), **value}


class FlattenSettings(_Model):
    """Flatten (F10): reducing limit orders priced from the touch when they are sent."""

    through_ticks: int = Field(10, ge=0, le=1000, description="ticks through the touch, so "
                                                              "the order is marketable")
    reprice_after: float = Field(5.0, gt=0, le=300, description="seconds before an unfilled "
                                                                "leg is priced again")
    max_reprices: int = Field(3, ge=0, le=100, description="then the leg is reported as "
                                                           "left working")


def _bad_tick_bands() -> dict[SecType, float]:
    # An option moves many times its underlying's percentage: a stock's 10% would flag a
    # quiet morning's quotes.
    return {SecType.OPT: 0.60, SecType.FOP: 0.60, SecType.FUT: 0.05, SecType.CASH: 0.03}


class Profile(_Model):
    host: str = Field("127.0.0.1", description="TWS / IB Gateway host")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        7497, description="7497 TWS paper, 7496 TWS live, 4002 Gateway paper, 4001 Gateway live"
    )
    client_id: Annotated[int, Field(ge=0, le=2**31 - 1)] = 1
    account: str = Field("", description="account id; empty: the first managed account")
    mode: TradingMode = Field(TradingMode.PAPER, description="paper or live")
    read_only: bool = Field(False, description="never send orders from this profile")
    market_data: MarketDataChoice = MarketDataChoice.DELAYED_FROZEN
    market_data_lines: int = Field(
        100, ge=1, le=MAX_MARKET_DATA_LINES,
        description="the login's concurrent market-data lines (IB's allowance, 100 to start "
                    "with): the app subscribes to no more quotes than this")
    watchlist: list[str] = Field(default_factory=lambda: list(DEFAULT_WATCHLIST))
    stale_after: float = Field(10.0, gt=0, le=3600, description="seconds without an update")
    bad_tick_band: float = Field(0.10, gt=0, le=1, description="a quote further than this "
                                 "fraction from the recent good price is flagged as bad")
    bad_tick_bands: dict[SecType, float] = Field(
        default_factory=_bad_tick_bands, description="per sec type, replacing bad_tick_band")
    bad_tick_reanchor: int = Field(3, ge=2, le=100, description="consecutive consistent "
                                   "quotes outside the band that are taken as a real move")
    ticket: TicketDefaults = Field(default_factory=TicketDefaults)
    flatten: FlattenSettings = Field(default_factory=FlattenSettings)
    connect_timeout: float = Field(10.0, gt=0, le=120)
    theme: str = Field("ibterm-dark", description="a shipped theme or one in themes/ beside "
                                                   "the config (`ibterm themes list`)")
    keymap: str = Field("default", description="default, vim, tws, or one in keymaps/ beside "
                                               "the config")
    limits: Limits = Field(default_factory=Limits)
    confirm_orders: bool = Field(
        True, description="paper/demo only: false skips the confirmation unless a check "
                          "needs an override; live profiles always confirm")
    allowed_sec_types: list[SecType] = Field(
        default_factory=lambda: list(SecType), description="what this profile may trade")
    allowed_accounts: list[str] = Field(
        default_factory=list, description="accounts it may trade; empty: any managed one")
    order_rate: float = Field(40, gt=0, le=50, description="order messages per second")
    blotter_finished: int = Field(500, ge=10, le=100_000,
                                  description="finished orders the blotter keeps (the newest); "
                                              "working ones always stay, the journal keeps all")
    stop_gap: float = Field(0.02, ge=0, le=1, description="bracket builder: the loss shown "
                                                          "if a stop fills this fraction "
                                                          "beyond its price")
    flood_intents: int = Field(200, gt=0, description="intents within flood_window: HALTED")
    flood_window: float = Field(10.0, gt=0)
    margin_buffer: float = Field(0.10, ge=0, le=1, description="margin preview: warn when the "
                                                                "cushion after the order is "
                                                                "under this")
    whatif_disagreement: float = Field(
        0.25, gt=0, le=1, description="margin preview: flag IB's what-if when its margin "
                                      "change differs from the local one by more than this "
                                      "fraction of the larger")
    whatif_timeout: float = Field(5.0, gt=0, le=60, description="seconds to wait for IB's "
                                                                "what-if")
    risk_rate: float = Field(0.04, ge=-0.05, le=0.5, description="risk-free rate for option "
                                                                 "values in the margin preview")

    @pydantic.field_validator("bad_tick_bands")
    @classmethod
    def _bands(cls, value: dict[SecType, float]) -> dict[SecType, float]:
        for sec_type, band in value.items():
            if not 0 < band <= 5:
                raise ValueError(f"{sec_type}: a band is a fraction above 0 and at most 5")
        return {**_bad_tick_bands(), **value}

    def tick_band(self, sec_type: SecType) -> float:
        return self.bad_tick_bands.get(sec_type, self.bad_tick_band)

    @pydantic.field_validator("watchlist")
    @classmethod
    def _symbols(cls, entries: list[str]) -> list[str]:
        roots = futures_table().keys()
        for entry in entries:
            try:
                parse_symbol(entry, roots)
            except SymbolError as exc:
                raise ValueError(f"watchlist entry {entry!r}: {exc}") from None
        return entries

    @pydantic.field_validator("mode")
    @classmethod
    def _mode(cls, mode: TradingMode) -> TradingMode:
        if mode is TradingMode.DEMO:
            raise ValueError("mode is paper or live (demo is `ibterm demo`)")
        return mode


class Config(_Model):
    # profiles before default_profile: the latter's check needs the former.
    profiles: dict[str, Profile] = Field(default_factory=dict)
    default_profile: str = "paper"
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    journal_sync: str = Field(
        "NORMAL", pattern=r"^(NORMAL|FULL)$",
        description="SQLite synchronous: NORMAL survives a killed process, FULL a power cut")

    @pydantic.field_validator("default_profile")
    @classmethod
    def _default_exists(cls, name: str, info: pydantic.ValidationInfo) -> str:
        profiles = info.data.get("profiles")
        if profiles and name not in profiles:
            names = ", ".join(sorted(profiles))
            raise ValueError(f"{name!r} is not one of the profiles ({names})")
        return name


def config_path() -> Path:
    explicit = os.environ.get("IBTERM_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ibterm" / "config.yaml"


def user_dir(kind: str) -> Path:
    """User themes/ and keymaps/ live beside the active config file."""
    return config_path().parent / kind


def data_dir() -> Path:
    explicit = os.environ.get("IBTERM_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ibterm"


def load_config(path: Path | None = None) -> Config:
    """Load and validate; raise yamlfile.FileProblems (PATH:LINE:COL: message)."""
    return yamlfile.load(Config, path or config_path())


def select_profile(config: Config, name: str | None) -> tuple[str, Profile]:
    chosen = name or config.default_profile
    if chosen not in config.profiles:
        names = ", ".join(sorted(config.profiles)) or "none"
        raise KeyError(f"no profile named {chosen!r} (profiles: {names})")
    return chosen, config.profiles[chosen]


def demo_profile(port: int, watchlist: list[str] | None = None,
                 market_data_lines: int | None = None) -> Profile:
    """The demo's profile: paper, on the embedded simulator's port, watching what its
    world lists, with the lines its scenario gives the login (the profile's default
    otherwise), so a large world can open the chain beside its watchlist."""
    extra: dict[str, object] = {}
    if watchlist is not None:
        extra["watchlist"] = watchlist
    if market_data_lines is not None:
        extra["market_data_lines"] = market_data_lines
    return Profile(host="127.0.0.1", port=port, client_id=1, mode=TradingMode.PAPER,
                   **extra)
