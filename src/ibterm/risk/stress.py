"""TIMS-style stress: each underlying's positions revalued over a grid of price moves and
relative volatility shifts; its worst loss (at least the per-contract minimum) counts, and
the portfolio's worst loss is the sum over underlyings. Defaults: margin-rules.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from ibterm.risk.portfolio import PortfolioErrors, Row
from ibterm.risk.pricing import implied_vol, with_price


@dataclass(frozen=True, slots=True)
class StressParams:
    scans: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "equity": (-0.15, 0.15), "narrow_index": (-0.15, 0.15),
        "small_cap_index": (-0.10, 0.10), "broad_index": (-0.08, 0.06)})
    points_each_side: int = 5
    vol_shifts: tuple[float, ...] = (-0.15, 0.0, 0.15)  # relative: sigma x (1 + shift)
    min_per_contract: float = 0.375  # x multiplier, per option contract


@dataclass(slots=True)
class StressResult:
    worst_loss: float
    by_underlying: dict[str, float]
    grid: list[dict[str, object]]
    correlated_worst_loss: float


def _moves(low: float, high: float, n: int) -> list[float]:
    return sorted({round(low * i / n, 6) for i in range(1, n + 1)}
                  | {0.0} | {round(high * i / n, 6) for i in range(1, n + 1)})


def positions_frame(rows: list[Row], as_of: dt.date, rate: float) -> pl.DataFrame:
    frame = pl.DataFrame({
        "line": [r.line for r in rows],
        "underlying": [r.symbol for r in rows],
        "index_class": [r.index_class for r in rows],
        "option": [r.is_option for r in rows],
        "qty": [float(r.quantity) for r in rows],
        "mult": [float(r.multiplier) for r in rows],
        "price": [float(r.price) for r in rows],
        "spot": [float(r.underlying_price) for r in rows],
        "strike": [float(r.strike or 1.0) for r in rows],
        "years": [((r.expiry - as_of).days / 365.0) if r.expiry else 0.0 for r in rows],
        "iv": [r.iv for r in rows],
        "carry_yield": [float(r.div_yield) for r in rows],
        "is_call": [r.right == "C" for r in rows],
        "black76": [r.sec_type == "FOP" for r in rows],
    }, schema_overrides={"iv": pl.Float64}).with_columns(rate=pl.lit(float(rate)))
    need = frame.filter(pl.col("option") & pl.col("iv").is_null())
    if need.height:
        implied = implied_vol(need)
        bad = need.filter(implied.is_null())["line"].to_list()
        if bad:
            raise PortfolioErrors([f"{line}: no volatility makes this option worth its "
                                   "price: give iv" for line in bad])
        fill = dict(zip(need["line"].to_list(), implied.to_list(), strict=True))
        frame = frame.with_columns(
            iv=pl.when(pl.col("iv").is_null())
            .then(pl.col("line").replace_strict(fill, default=None, return_dtype=pl.Float64))
            .otherwise(pl.col("iv")))
    return frame.with_columns(vol=pl.col("iv").fill_null(0.0))


def _valued(frame: pl.LazyFrame, spot: str, vol: str, out: str) -> pl.LazyFrame:
    """Column `out`: an option's model value, or the price of a stock or future."""
    priced = with_price(frame, spot, vol, "_option_value")
    return priced.with_columns(
        pl.when(pl.col("option")).then(pl.col("_option_value")).otherwise(pl.col(spot))
        .alias(out)).drop("_option_value")


def stress(frame: pl.DataFrame, params: StressParams | None = None,
           correlated_view: bool = True) -> StressResult:
    params = params or StressParams()
    scenario_rows = []
    # One scan per underlying, whatever its rows say (the first row's class decides):
    # two classes for one underlying would count its positions twice.
    classes = frame.group_by("underlying", maintain_order=True).agg(pl.col("index_class").first())
    for underlying, index_class in classes.rows():
        low, high = params.scans[index_class]
        for move in _moves(low, high, params.points_each_side):
            for shift in params.vol_shifts:
                scenario_rows.append((underlying, move, shift))
    scenarios = pl.DataFrame(scenario_rows, schema=["underlying", "price_move", "vol_shift"],
                             orient="row")
    # One lazy query per grid: polars plans and fuses the pricing stages once.
    base = _valued(frame.lazy(), "spot", "vol", "base_value")
    shocked = base.join(scenarios.lazy(), on="underlying").with_columns(
        s2=pl.col("spot") * (1 + pl.col("price_move")),
        v2=pl.col("vol") * (1 + pl.col("vol_shift")))
    grid = (
        _valued(shocked, "s2", "v2", "new_value")
        .with_columns(pnl=(pl.col("new_value") - pl.col("base_value")) * pl.col("qty")
                      * pl.col("mult"))
        .group_by("underlying", "price_move", "vol_shift")
        .agg(pl.col("pnl").sum())
        .sort("underlying", "price_move", "vol_shift")
        .collect()
    )
    minimum = (frame.filter(pl.col("option"))
               .group_by("underlying")
               .agg((pl.col("qty").abs() * pl.col("mult")).sum() * params.min_per_contract))
    minimums = dict(minimum.rows())
    worst = grid.group_by("underlying").agg((-pl.col("pnl").min()).clip(0.0).alias("loss"))
    by_underlying = {u: round(max(loss, minimums.get(u, 0.0)), 2)
                     for u, loss in worst.sort("underlying").rows()}
    # The correlated view: one common move for every equity-like underlying.
    equity = frame.filter(pl.col("index_class") != "broad_index")
    correlated = 0.0
    if correlated_view and equity.height:
        low, high = params.scans["equity"]
        common = pl.DataFrame([(m, v) for m in _moves(low, high, params.points_each_side)
                               for v in params.vol_shifts],
                              schema=["price_move", "vol_shift"], orient="row")
        moved = _valued(equity.lazy(), "spot", "vol", "base_value").join(common.lazy(),
                                                                           how="cross")
        moved = moved.with_columns(s2=pl.col("spot") * (1 + pl.col("price_move")),
                                   v2=pl.col("vol") * (1 + pl.col("vol_shift")))
        totals = (_valued(moved, "s2", "v2", "new_value")
                  .with_columns(pnl=(pl.col("new_value") - pl.col("base_value"))
                                * pl.col("qty") * pl.col("mult"))
                  .group_by("price_move", "vol_shift").agg(pl.col("pnl").sum()).collect())
        correlated = max(0.0, -float(totals["pnl"].min()))  # type: ignore[arg-type]
    return StressResult(
        worst_loss=round(sum(by_underlying.values()), 2),
        by_underlying=by_underlying,
        grid=[{"underlying": u, "price_move": m, "vol_shift": v, "pnl": round(p, 2)}
              for u, m, v, p in grid.rows()],
        correlated_worst_loss=round(correlated, 2),
    )
