"""Option computations read by the real ib_async client: model, bid, ask and last greeks
on an option's quotes (delayed ones too), consistent between a call and its put, following
the underlying's walk, and a scenario's volatility smile."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ib_async import IB, Contract, Ticker

from ibterm.config.yamlfile import FileProblems
from ibterm.sim.scenario import InstrumentDef, OptionChain, Smile
from ibterm.sim.server import SimServer
from ibterm.sim.world import load_scenario
from tests.conftest import manual_scenario, running_sim

SMILE = Smile(atm=0.18, skew=-0.8, curvature=1.5)
INSTRUMENTS = [
    InstrumentDef(symbol="SPY", price=600.0, volatility=0.16, con_id=756733,
                  primary_exchange="ARCA",
                  options=OptionChain(strike_range=0.10, smile=SMILE)),
    InstrumentDef(symbol="XYZ", price=100.0, volatility=0.3, live_data=False,
                  options=OptionChain(strike_range=0.10)),
]


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """The simulator of conftest's `ib` here: the smiling world."""
    async with running_sim(manual_scenario(instruments=INSTRUMENTS)) as server:
        yield server


@pytest.fixture
def smiling(sim: SimServer) -> SimServer:
    return sim


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


def _quote(ib: IB, sim: SimServer, symbol: str) -> Ticker:
    return ib.reqMktData(Contract(conId=sim.con_id_of(symbol), exchange="SMART"))


async def test_an_option_streams_model_bid_ask_and_last_greeks(smiling: SimServer,
                                                               ib: IB) -> None:
    call = _quote(ib, smiling, "SPY 20261218 600 C")
    put = _quote(ib, smiling, "SPY 20261218 600 P")
    await _until(lambda: all(t.modelGreeks and t.bidGreeks and t.askGreeks and t.lastGreeks
                             for t in (call, put)), "greeks never came")
    for t in (call, put):
        assert t.modelGreeks is not None and t.bidGreeks is not None
        assert t.askGreeks is not None
        m, b, a = t.modelGreeks, t.bidGreeks, t.askGreeks
        # The bid's volatility is below the model's, the ask's above: the book brackets it.
        assert b.impliedVol is not None and a.impliedVol is not None
        assert m.impliedVol == pytest.approx(0.18)
        assert b.impliedVol < m.impliedVol < a.impliedVol
        assert b.optPrice == t.bid and a.optPrice == t.ask
        assert t.bid < m.optPrice < t.ask
        assert m.gamma > 0 and m.vega > 0 and m.theta < 0
        assert m.undPrice == pytest.approx(smiling.market.book(756733).mid)
    assert call.modelGreeks and put.modelGreeks
    c, p = call.modelGreeks, put.modelGreeks
    assert 0 < c.delta < 1 and -1 < p.delta < 0
    # Put-call consistency: no dividends, one volatility per strike.
    assert c.delta - p.delta == pytest.approx(1.0, abs=1e-5)
    assert c.gamma == pytest.approx(p.gamma) and c.vega == pytest.approx(p.vega)
    opt = smiling.world.instruments[smiling.con_id_of("SPY 20261218 600 C")]
    forward = c.undPrice - 600 * math.exp(-smiling.world.rate * opt.years)
    assert c.optPrice - p.optPrice == pytest.approx(forward, abs=1e-4)
    # Vega per volatility point, theta per day, as IB reports them.
    assert 0.3 < c.vega < 1.5 and -1 < c.theta < 0


async def test_greeks_follow_the_underlying(smiling: SimServer, ib: IB) -> None:
    call = _quote(ib, smiling, "SPY 20261218 600 C")
    await _until(lambda: call.modelGreeks is not None, "no model greeks")
    assert call.modelGreeks is not None
    before = call.modelGreeks.delta
    smiling.market.shift(756733, 1.03)
    smiling.step()
    mid = smiling.market.book(756733).mid
    await _until(lambda: call.modelGreeks is not None
                 and call.modelGreeks.undPrice == pytest.approx(mid), "greeks did not move")
    assert call.modelGreeks is not None and call.modelGreeks.delta > before + 0.1
    assert call.bid < call.modelGreeks.optPrice < call.ask


async def test_the_smile_makes_out_of_the_money_puts_dearer(smiling: SimServer,
                                                            ib: IB) -> None:
    strikes = (540, 600, 660)
    puts = [_quote(ib, smiling, f"SPY 20261218 {k} P") for k in strikes]
    calls = [_quote(ib, smiling, f"SPY 20261218 {k} C") for k in strikes]
    await _until(lambda: all(t.modelGreeks for t in puts + calls), "no model greeks")
    low, atm, high = (t.modelGreeks.impliedVol for t in puts)  # type: ignore[union-attr]
    assert low is not None and atm is not None and high is not None
    assert low > atm > high  # a negative skew
    assert low == pytest.approx(0.18 - 0.8 * math.log(0.9) + 1.5 * math.log(0.9) ** 2, abs=1e-6)
    # One volatility per strike, whichever the right.
    assert [t.modelGreeks.impliedVol for t in calls] == [low, atm, high]  # type: ignore[union-attr]
    # The market quotes the smile: an out-of-the-money put's bid and ask imply about it.
    assert puts[0].bidGreeks is not None and puts[0].askGreeks is not None
    assert puts[0].bidGreeks.impliedVol < low < puts[0].askGreeks.impliedVol  # type: ignore[operator]


async def test_delayed_options_get_the_delayed_computations(smiling: SimServer,
                                                            ib: IB) -> None:
    ib.reqMarketDataType(3)
    put = _quote(ib, smiling, "XYZ 20261218 95 P")
    await _until(lambda: put.modelGreeks is not None and put.bidGreeks is not None,
                 "no delayed greeks")
    assert put.modelGreeks is not None and put.modelGreeks.impliedVol == pytest.approx(0.3)
    assert -1 < put.modelGreeks.delta < 0


def _problems(tmp_path: Path, smile: str) -> list[str]:
    path = tmp_path / "smile.yaml"
    path.write_text("instruments:\n  - symbol: SPY\n    price: 600\n    options:\n"
                    f"      smile: {smile}\n", encoding="utf-8")
    with pytest.raises(FileProblems) as info:
        load_scenario(path)
    return [str(p).removeprefix(str(path)) for p in info.value.problems]


def test_a_scenario_smile_is_checked_where_it_is_written(tmp_path: Path) -> None:
    assert _problems(tmp_path, "{atm: 0.2, skw: -0.1}") == [
        ":5:25: unknown key 'skw' (did you mean 'skew'?)"]
    assert _problems(tmp_path, "{atm: 0.2, skew: -9}") == [
        ":5:31: instruments.0.options.smile.skew: Input should be greater than or equal to -5"]
    # A smile that bends below 1% somewhere on the chain is refused at the smile.
    assert _problems(tmp_path, "{atm: 0.05, skew: 0.5}") == [
        ":5:14: the smile gives strike 510 a volatility of -0.0313; it must stay at or "
        "above 0.01"]
