"""The risk calculator's rate tables: the shipped data/risk.yaml, and the user's risk.yaml
beside the config file, which overrides it key by key.

Every rate and parameter of the margin, stress and liquidation figures is read from here:
`Rates`, `StressParams`, `SpanParams` and `LiquidationParams` take their defaults from the
shipped table. The user's file is merged into the shipped one (mappings key by key, lists
and values replaced) and the result validated; a problem is reported at its place in the
user's file as PATH:LINE:COL (yamlfile).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import Field

from ibterm.config import yamlfile
from ibterm.config.reference import FuturesMargin, FuturesMarginModel, futures_margins

SHIPPED = "ibterm/data/risk.yaml"
IndexClass = Literal["equity", "broad_index", "small_cap_index", "narrow_index"]
Fraction = Field(ge=0, le=1)


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class RegTModel(_Model):
    long_stock_initial: float = Fraction
    long_stock_maint: float = Fraction
    short_stock_initial: float = Fraction
    short_stock_maint: float = Fraction
    short_stock_min_per_share: float = Field(ge=0)
    low_price_threshold: float = Field(ge=0)
    low_price_maint: float = Field(ge=0, le=5)
    low_price_min_per_share: float = Field(ge=0)
    naked_pct: float = Fraction
    naked_pct_broad_index: float = Fraction
    broad_index_classes: tuple[IndexClass, ...]
    naked_floor: float = Fraction
    protective_put_pct_strike: float = Fraction
    long_option_months_full: int = Field(ge=0, le=120)
    long_option_past_pct: float = Fraction


class StressModel(_Model):
    scans: dict[IndexClass, tuple[float, float]]
    points_each_side: int = Field(ge=1, le=50)
    vol_shifts: tuple[float, ...] = Field(min_length=1)
    vol_shift_mode: Literal["relative", "absolute"]
    min_per_contract: float = Field(ge=0)
    correlated_scan: IndexClass
    correlated_classes: tuple[IndexClass, ...]

    @pydantic.field_validator("scans")
    @classmethod
    def _scans(cls, scans: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        missing = {"equity", "broad_index", "small_cap_index", "narrow_index"} - set(scans)
        if missing:
            raise ValueError(f"no scan for {', '.join(sorted(missing))}")
        for name, (low, high) in scans.items():
            if not -1 < low <= 0 <= high:
                raise ValueError(f"{name}: [low, high] needs -1 < low <= 0 <= high")
        return scans

    @pydantic.model_validator(mode="after")
    def _shifts(self) -> StressModel:
        if self.vol_shift_mode == "relative" and min(self.vol_shifts) <= -1:
            raise ValueError("vol_shifts: a relative shift must be above -1 (sigma x (1 + "
                             "shift) must stay positive)")
        return self


class SpanModel(_Model):
    scan_steps: int = Field(ge=1, le=20)
    vol_scan: float = Field(ge=0, lt=1)
    extreme_multiple: float = Field(ge=0, le=10)
    extreme_fraction: float = Fraction
    short_option_minimum: float = Fraction
    spread_charge: float = Fraction
    fallback_scan: float = Field(gt=0, lt=1)
    fallback_initial_ratio: float = Field(ge=1, le=5)
    fallback_vol: float = Field(gt=0, le=5)


class LiquidationModel(_Model):
    max_down: float = Field(gt=0, lt=1)
    max_up: float = Field(gt=0, le=100)
    first_step: float = Field(gt=0, le=0.5)
    growth: float = Field(gt=1, le=4)
    tolerance: float = Field(gt=0, le=0.01)


class RiskTablesModel(_Model):
    reg_t: RegTModel
    stress: StressModel
    span: SpanModel
    liquidation: LiquidationModel
    futures: dict[str, FuturesMarginModel] = Field(default_factory=dict)


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return over


@cache
def _shipped_located() -> yamlfile.Located:
    text = resources.files("ibterm").joinpath("data/risk.yaml").read_text("utf-8")
    return yamlfile.parse(text, SHIPPED)


@cache
def shipped() -> RiskTablesModel:
    """The shipped table (the defaults of every parameter)."""
    return yamlfile.validate(RiskTablesModel, _shipped_located(), SHIPPED)


def load(path: Path | None) -> RiskTablesModel:
    """The shipped table with the file at `path` (if it exists) merged over it; raise
    yamlfile.FileProblems with the user's file's PATH:LINE:COL."""
    if path is None or not path.exists():
        return shipped()
    user = yamlfile.read(path)
    if user.data is None:
        return shipped()
    if not isinstance(user.data, dict):
        raise yamlfile.FileProblems([yamlfile.Problem(str(path), 1, 1,
                                                      "a mapping of sections is expected")])
    merged = yamlfile.Located(_merge(_shipped_located().data, user.data), user.values,
                              user.keys)
    return yamlfile.validate(RiskTablesModel, merged, str(path))


def futures_table(tables: RiskTablesModel | None = None) -> dict[str, FuturesMargin]:
    """The futures margins per root: the futures table's, with the risk table's
    `futures` entries over them."""
    margins: dict[str, FuturesMargin] = dict(futures_margins())
    for root, m in (tables or shipped()).futures.items():
        margins[root.upper()] = FuturesMargin.from_model(m)
    return margins


def futures_rates(tables: RiskTablesModel | None = None, intraday: bool = False
                  ) -> dict[str, tuple[float, float]]:
    """(initial, maintenance) per futures root; overnight unless `intraday`."""
    return {root: m.rates(intraday) for root, m in futures_table(tables).items()}
