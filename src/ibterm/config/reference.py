"""Shipped reference data: the futures table (roots, exchanges, multipliers, ticks, and
exchange margins per contract with their effective date, overnight and intraday)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import pydantic

from ibterm.config import yamlfile
from ibterm.domain.futures import FuturesRoot, LastTradeRule


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class MarginPairModel(_Model):
    initial: float = pydantic.Field(ge=0)
    maintenance: float = pydantic.Field(ge=0)

    @pydantic.model_validator(mode="after")
    def _initial_covers_maintenance(self) -> MarginPairModel:
        if self.initial < self.maintenance:
            raise ValueError(f"initial ({self.initial:g}) is below maintenance "
                             f"({self.maintenance:g})")
        return self


class FuturesMarginModel(_Model):
    effective: dt.date
    overnight: MarginPairModel
    intraday: MarginPairModel


class _RootModel(_Model):
    name: str = ""
    exchange: str
    currency: str = "USD"
    multiplier: float = pydantic.Field(gt=0)
    min_tick: float = pydantic.Field(gt=0)
    months: str = pydantic.Field(pattern=r"^[FGHJKMNQUVXZ]+$")
    last_trade: LastTradeRule
    margin: FuturesMarginModel


class _TableModel(pydantic.RootModel[dict[str, _RootModel]]):
    pass


@dataclass(frozen=True, slots=True)
class FuturesMargin:
    """One root's exchange margins per contract."""

    effective: dt.date
    overnight: tuple[float, float]  # (initial, maintenance)
    intraday: tuple[float, float]

    def rates(self, intraday: bool = False) -> tuple[float, float]:
        return self.intraday if intraday else self.overnight

    @classmethod
    def from_model(cls, m: FuturesMarginModel) -> FuturesMargin:
        return cls(m.effective, (m.overnight.initial, m.overnight.maintenance),
                   (m.intraday.initial, m.intraday.maintenance))


def _load(path: Path | None) -> _TableModel:
    if path is None:
        text = resources.files("ibterm").joinpath("data/futures.yaml").read_text("utf-8")
        located = yamlfile.parse(text, "ibterm/data/futures.yaml")
        return yamlfile.validate(_TableModel, located, "ibterm/data/futures.yaml")
    return yamlfile.load(_TableModel, path)


def load_futures_table(path: Path | None = None) -> dict[str, FuturesRoot]:
    return {
        sym.upper(): FuturesRoot(
            symbol=sym.upper(),
            exchange=m.exchange,
            currency=m.currency,
            multiplier=m.multiplier,
            min_tick=m.min_tick,
            months=m.months,
            last_trade=m.last_trade,
            name=m.name,
            initial_margin=m.margin.overnight.initial,
            maintenance_margin=m.margin.overnight.maintenance,
        )
        for sym, m in _load(path).root.items()
    }


def load_futures_margins(path: Path | None = None) -> dict[str, FuturesMargin]:
    return {sym.upper(): FuturesMargin.from_model(m.margin) for sym, m in _load(path).root.items()}


@cache
def futures_table() -> dict[str, FuturesRoot]:
    """The shipped table, loaded once."""
    return load_futures_table()


@cache
def futures_margins() -> dict[str, FuturesMargin]:
    """The shipped table's margins per root, loaded once."""
    return load_futures_margins()
