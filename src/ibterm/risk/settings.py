"""Everything the risk figures are computed with, from the risk tables (tables.py): the
Reg T rates, the stress, SPAN-like and liquidation parameters, and the futures margins
(overnight unless intraday is asked for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ibterm.config.reference import FuturesMargin, futures_margins
from ibterm.risk import tables
from ibterm.risk.liquidation import LiquidationParams
from ibterm.risk.margin import Rates
from ibterm.risk.span import SpanParams
from ibterm.risk.stress import StressParams

USER_FILE = "risk.yaml"  # beside the config file


@dataclass(frozen=True, slots=True)
class RiskSettings:
    rates: Rates = field(default_factory=Rates)
    stress: StressParams = field(default_factory=StressParams)
    span: SpanParams = field(default_factory=SpanParams)
    liquidation: LiquidationParams = field(default_factory=LiquidationParams)
    futures_margin: dict[str, tuple[float, float]] = field(
        default_factory=lambda: tables.futures_rates())
    futures_tables: dict[str, FuturesMargin] = field(default_factory=lambda: futures_margins())
    intraday: bool = False

    @classmethod
    def from_tables(cls, t: tables.RiskTablesModel, intraday: bool = False) -> RiskSettings:
        margins = tables.futures_table(t)
        return cls(Rates.from_table(t.reg_t), StressParams.from_table(t.stress),
                   SpanParams.from_table(t.span), LiquidationParams.from_table(t.liquidation),
                   {root: m.rates(intraday) for root, m in margins.items()}, margins, intraday)


def user_tables_path() -> Path:
    """The user's risk.yaml: beside the active config file."""
    from ibterm.config.settings import config_path

    return config_path().parent / USER_FILE


def load_settings(path: Path | None = None, intraday: bool = False) -> RiskSettings:
    """The shipped tables with the user's file (default: user_tables_path()) over them;
    raise yamlfile.FileProblems for a bad file."""
    return RiskSettings.from_tables(tables.load(path or user_tables_path()), intraday)
