"""The positions pane by underlying, against the simulator: an account holding a SPY
iron condor, SPY shares and AAPL shares shows SPY under one header with the condor as the
pairing names it over its four legs and the shares left over, greeks per row summed per
underlying and for the account, and the SPY group folds and opens by its key; and the
pane's marks of where each figure came from (IB's model, the local pricer, both)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from textual.app import App, ComposeResult

from ibterm.domain.account import Position
from ibterm.domain.instrument import Instrument, Right, SecType
from ibterm.domain.position_groups import (
    IB,
    LOCAL,
    MIXED,
    STALE,
    Exposure,
    Grouping,
    UnitGreeks,
)
from ibterm.sim.scenario import AccountDef, PositionDef
from ibterm.sim.server import SimServer
from ibterm.tui.widgets.positions import PositionsTable
from tests.conftest import manual_scenario
from tests.tui.support import make_app, until

CONDOR = [("SPY 20261218 570 P", 1, 1.0), ("SPY 20261218 580 P", -1, 2.0),
          ("SPY 20261218 620 C", -1, 2.0), ("SPY 20261218 630 C", 1, 1.0)]


@pytest.fixture
async def condor_sim() -> AsyncIterator[SimServer]:
    positions = [PositionDef(symbol=s, quantity=q, avg_cost=c) for s, q, c in CONDOR]
    # 50 shares: too few to cover a call, so the pairing keeps the condor whole.
    positions += [PositionDef(symbol="SPY", quantity=50, avg_cost=590.0),
                  PositionDef(symbol="AAPL", quantity=10, avg_cost=200.0)]
    server = SimServer(manual_scenario(accounts=[AccountDef(id="DU1234567",
                                                            positions=positions)]), seed=0)
    await server.start()
    yield server
    await server.stop()


def _cells(table: PositionsTable, column: str) -> dict[str, str]:
    return {k: table.get_cell(k, column).plain for k in table.row_keys}


def _number(text: str) -> float:
    return float(text.replace("−", "-").replace(",", ""))


async def test_an_iron_condor_and_stock_under_their_underlying(condor_sim: SimServer) -> None:
    app = make_app(condor_sim, 61, ["SPY"])
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(PositionsTable)
        # The app hands IB's model greeks over: the simulator streams them for every leg.
        await until(pilot, lambda: "strategy:SPY:0" in table.row_keys
                    and all(table.get_cell(k, "src").plain == IB
                            for k in table.row_keys if k.endswith(":0")), timeout=10)
        symbols = _cells(table, "symbol")
        spy = [symbols[k] for k in table.row_keys if k.startswith("group:SPY")
               or k.startswith("strategy:SPY") or k.endswith(":0")]
        assert spy[:2] == ["▾ SPY", "  iron condor 20261218"]
        assert sorted(label.split(" ", 5)[-1] for label in spy[2:]) == [
            "20261218 570 P", "20261218 580 P", "20261218 620 C", "20261218 630 C"]
        assert [label.strip()[0] for label in spy[2:]] == ["├", "├", "├", "└"]
        assert "  SPY" in symbols.values()  # the shares, left over under the header
        assert symbols["total"] == "Account"
        assert {"delta", "gamma", "theta", "vega", "src"} <= set(table.visible_columns)

        delta = {k: _number(v) for k, v in _cells(table, "delta").items()}
        stock = {k for k, v in symbols.items() if v in ("  SPY", "AAPL")}
        assert sorted(delta[k] for k in stock) == [10.0, 50.0]  # shares, exactly
        condor = delta["strategy:SPY:0"]
        assert abs(condor) < 5  # a 100-share contract's condor: near flat
        assert delta["group:SPY"] == pytest.approx(condor + 50, abs=0.1)
        assert delta["total"] == pytest.approx(condor + 60, abs=0.1)
        # Short premium: the condor earns theta and is short vega; the group and the
        # account carry the same, stock having none.
        theta, vega = _cells(table, "theta"), _cells(table, "vega")
        assert _number(theta["strategy:SPY:0"]) > 0 > _number(vega["strategy:SPY:0"])
        assert theta["group:SPY"] == theta["total"] == theta["strategy:SPY:0"]
        assert _cells(table, "gamma")[next(iter(k for k in stock))] == ""

        # Folded to its header by the key, from one of its legs, and opened again.
        await pilot.press("p")
        table.move_cursor(table.row_keys.index("strategy:SPY:0") + 1)
        await pilot.press("space")
        await until(pilot, lambda: "strategy:SPY:0" not in table.row_keys)
        assert table.get_cell("group:SPY", "symbol").plain == "▸ SPY"
        assert table.row_keys[table.cursor_row] == "group:SPY"
        assert len(table.row_keys) == 3  # AAPL, the SPY header, the account
        await pilot.press("space")
        await until(pilot, lambda: "strategy:SPY:0" in table.row_keys)
        assert table.get_cell("group:SPY", "symbol").plain == "▾ SPY"


async def test_greeks_from_quotes_gone_stale_are_marked(condor_sim: SimServer) -> None:
    # The simulator steps only when told: after a second without ticks every quote is
    # stale, and the greeks made from them say so, per leg and in every sum.
    app = make_app(condor_sim, 63, ["SPY"], stale_after=1.0)
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(PositionsTable)
        await until(pilot, lambda: "strategy:SPY:0" in table.row_keys
                    and table.get_cell("total", "src").plain == STALE, timeout=10)
        marks = _cells(table, "src")
        assert {marks[k] for k in table.row_keys if k.endswith(":0")} == {STALE}
        assert marks["group:SPY"] == STALE
        assert table.get_cell("strategy:SPY:0", "delta").plain not in ("", "—")


def _opt(con_id: int, symbol: str, strike: float, right: Right) -> Instrument:
    return Instrument(con_id, symbol, SecType.OPT, "SMART", "USD", multiplier=100,
                      expiry="20261218", strike=strike, right=right)


class _Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield PositionsTable()


async def test_the_pane_says_where_each_figure_came_from() -> None:
    spy_call, spy_put = _opt(1, "SPY", 600, Right.CALL), _opt(2, "SPY", 580, Right.PUT)
    qqq_call = _opt(3, "QQQ", 500, Right.CALL)
    positions = [Position("DU1", inst, qty, 2.0, 2.0) for inst, qty in
                 ((spy_call, 1), (spy_put, -1), (qqq_call, 2))]
    units = {1: UnitGreeks(Exposure(50, 10, -5, 20), IB),
             2: UnitGreeks(Exposure(-30, 8, -4, 15), LOCAL),
             3: UnitGreeks(Exposure(40, 9, -3, 12), LOCAL, STALE)}
    app = _Pane()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(PositionsTable)
        table.apply_positions(positions)
        table.apply_grouping(Grouping(unit=units))
        await pilot.pause()
        marks = _cells(table, "src")
        assert marks == {"group:SPY": MIXED, "DU1:1": IB, "DU1:2": LOCAL, "DU1:3": STALE,
                         "total": STALE}
        assert _cells(table, "delta")["group:SPY"] == "80"  # 50 + 30, whatever the source
        stale = table.color("quote-stale")
        assert table.get_cell("DU1:3", "delta").style == stale
        assert {table.get_cell(k, "delta").style for k in ("DU1:1", "DU1:2", "group:SPY")} \
            == {""}
        # Once the QQQ call is priced afresh by IB too, the account is mixed, not stale.
        table.apply_grouping(Grouping(unit={**units, 3: UnitGreeks(units[3].greeks, IB)}))
        await pilot.pause()
        assert _cells(table, "src")["total"] == MIXED and _cells(table, "src")["DU1:3"] == IB


async def test_a_closed_option_position_gives_its_quote_back(
        condor_sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(condor_sim, 62, ["SPY"])
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(PositionsTable)
        await until(pilot, lambda: any(p.instrument.sec_type is SecType.OPT
                                       for p in table.positions)
                    and all(app.session.lines.holds(p.instrument.con_id)
                            for p in table.positions if p.instrument.sec_type is SecType.OPT),
                    timeout=10)
        leg = next(p.instrument for p in table.positions
                   if p.instrument.sec_type is SecType.OPT)
        # The account as it stands once that leg is closed.
        left = [p for p in table.positions if p.instrument.con_id != leg.con_id]
        monkeypatch.setattr(PositionsTable, "positions", property(lambda _: left))
        app._grouping_request()
        assert not app.session.lines.holds(leg.con_id)
