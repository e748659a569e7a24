"""Shipped reference data: the futures table (roots, exchanges, multipliers, ticks)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pydantic

from ibterm import yamlfile
from ibterm.domain.futures import FuturesRoot, LastTradeRule


class _RootModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str = ""
    exchange: str
    currency: str = "USD"
    multiplier: float = pydantic.Field(gt=0)
    min_tick: float = pydantic.Field(gt=0)
    months: str = pydantic.Field(pattern=r"^[FGHJKMNQUVXZ]+$")
    last_trade: LastTradeRule
    initial_margin: float = pydantic.Field(ge=0)
    maintenance_margin: float = pydantic.Field(ge=0)


class _TableModel(pydantic.RootModel[dict[str, _RootModel]]):
    pass


def load_futures_table(path: Path | None = None) -> dict[str, FuturesRoot]:
    if path is None:
        text = resources.files("ibterm").joinpath("data/futures.yaml").read_text("utf-8")
        located = yamlfile.parse(text, "ibterm/data/futures.yaml")
        table = yamlfile.validate(_TableModel, located, "ibterm/data/futures.yaml")
    else:
        table = yamlfile.load(_TableModel, path)
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
            initial_margin=m.initial_margin,
            maintenance_margin=m.maintenance_margin,
        )
        for sym, m in table.root.items()
    }


@cache
def futures_table() -> dict[str, FuturesRoot]:
    """The shipped table, loaded once."""
    return load_futures_table()
