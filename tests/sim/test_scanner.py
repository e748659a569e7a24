"""Market scanners and news providers through the real ib_async client: the parameters,
the three scans ranked from the market, a subscription that follows it, IB's errors."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

from ib_async import IB, ScannerSubscription, TagValue

from ibterm.sim.scans import change
from ibterm.sim.server import SimServer

STOCKS = {"AAPL", "MSFT", "IBM", "TSLA", "SPY", "QQQ"}


def _sub(code: str, location: str = "STK.US.MAJOR", **kwargs: object) -> ScannerSubscription:
    return ScannerSubscription(instrument="STK", locationCode=location, scanCode=code,
                               **kwargs)  # type: ignore[arg-type]


def _changes(sim: SimServer) -> dict[str, float]:
    return {s.instrument.symbol: change(sim.market.book(s.instrument.con_id))
            for s in sim.world.instruments.values() if s.instrument.symbol in STOCKS
            and s.instrument.sec_type.value == "STK"}


async def _scan(ib: IB, sub: ScannerSubscription, filters: list[TagValue] | None = None
                ) -> list[str]:
    rows = await asyncio.wait_for(ib.reqScannerDataAsync(sub, [], filters or []), 3)
    assert [r.rank for r in rows] == list(range(len(rows)))
    return [r.contractDetails.contract.symbol for r in rows]


async def test_scanner_parameters_are_xml_naming_the_scans(ib: IB) -> None:
    xml = await asyncio.wait_for(ib.reqScannerParametersAsync(), 3)
    codes = {e.text for e in ET.fromstring(xml.split("?>", 1)[1]).iter("scanCode")}
    assert codes == {"TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE"}


async def test_gainers_and_losers_are_ranked_by_change_from_the_close(sim: SimServer,
                                                                       ib: IB) -> None:
    sim.step(30)
    changes = _changes(sim)
    gainers = sorted((s for s, c in changes.items() if c > 0), key=lambda s: -changes[s])
    losers = sorted((s for s, c in changes.items() if c < 0), key=lambda s: changes[s])
    assert gainers and losers
    assert await _scan(ib, _sub("TOP_PERC_GAIN")) == gainers
    assert await _scan(ib, _sub("TOP_PERC_LOSE")) == losers


async def test_most_active_by_volume_within_the_rows_and_location_asked(sim: SimServer,
                                                                         ib: IB) -> None:
    volume = {s.instrument.symbol: sim.market.book(s.instrument.con_id).volume
              for s in sim.world.instruments.values()
              if s.instrument.symbol in STOCKS and s.instrument.primary_exchange == "NASDAQ"}
    by_volume = sorted(volume, key=lambda s: -volume[s])
    assert await _scan(ib, _sub("MOST_ACTIVE", "STK.NASDAQ")) == by_volume
    assert await _scan(ib, _sub("MOST_ACTIVE", "STK.NASDAQ", numberOfRows=2)) == by_volume[:2]
    cheap = await _scan(ib, _sub("MOST_ACTIVE"), [TagValue("priceBelow", "300")])
    assert set(cheap) == {"AAPL", "IBM"}


async def test_a_subscription_sends_its_list_again_when_the_ranking_moves(
        sim: SimServer, ib: IB) -> None:
    rows = ib.reqScannerSubscription(_sub("TOP_PERC_GAIN"))
    await ib.reqCurrentTimeAsync()
    updates: list[list[str]] = []
    rows.updateEvent += lambda data: updates.append(
        [r.contractDetails.contract.symbol for r in data])
    for _ in range(200):
        sim.step()
        await asyncio.sleep(0)
        if updates:
            break
    await ib.reqCurrentTimeAsync()
    changes = _changes(sim)
    assert updates[-1] == sorted((s for s, c in changes.items() if c > 0),
                                 key=lambda s: -changes[s])
    ib.cancelScannerSubscription(rows)
    await ib.reqCurrentTimeAsync()
    assert not sim.client(11).scans  # type: ignore[union-attr]


async def test_an_unknown_scan_code_or_filter_ends_the_request_with_ibs_162(ib: IB) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    assert await _scan(ib, _sub("HOT_BY_OPT_VOLUME")) == []
    assert await _scan(ib, _sub("MOST_ACTIVE"), [TagValue("marketCapAbove1e6", "1")]) == []
    prefix = "Historical Market Data Service error message:"
    assert errors[0] == (162, f"{prefix}Scanner type with code HOT_BY_OPT_VOLUME is disabled.")
    assert (162, f"{prefix}Scanner filter marketCapAbove1e6 is disabled.") in errors


async def test_cancelling_an_unknown_scanner_id_gets_365(ib: IB) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    ib.client.cancelScannerSubscription(77)
    await ib.reqCurrentTimeAsync()
    assert errors == [(77, 365)]


async def test_news_providers_are_answered(ib: IB) -> None:
    providers = await asyncio.wait_for(ib.reqNewsProvidersAsync(), 3)
    assert [p.code for p in providers] == ["BRFG", "BRFUPDN", "DJNL"]
