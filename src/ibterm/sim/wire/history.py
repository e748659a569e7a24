"""Historical and real-time bars: reqHistoricalData (20), cancelHistoricalData (25),
reqHeadTimeStamp (87), cancelHeadTimeStamp (90), reqRealTimeBars (50) and
cancelRealTimeBars (51); the historicalData (17), historicalDataUpdate (90), headTimestamp
(88) and realtimeBar (50) answers. Field by field as ib_async 2.1.0 (at v178) and
ib_insync 0.9.86 (at v176) write and read them, alike at both (client.py
reqHistoricalData, decoder.py historicalData / historicalDataUpdate)."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.sim.contracts import ContractQuery
from ibterm.sim.protocol import Field, encode
from ibterm.sim.wire.contract_fields import contract_at
from ibterm.sim.wire.fields import int_field
from ibterm.sim.wire.layouts import Incoming, Layouts


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    req_id: int
    contract: ContractQuery | None  # None: a combo (BAG)
    end: str  # "" is now
    bar_size: str
    duration: str
    rth: bool
    what: str
    format_date: int
    keep_up_to_date: bool


def _read_historical_data(fields: list[str]) -> HistoryRequest:
    # No version field; the bar size comes before the duration and useRTH before
    # whatToShow. A combo's legs (4 fields each, after their count) sit before
    # keepUpToDate.
    req_id = int(fields[1])
    at = 21
    combo = fields[4].upper() == "BAG"
    if combo:
        at += 1 + 4 * int(fields[21])
    return HistoryRequest(req_id, None if combo else contract_at(fields, 2), fields[15],
                          fields[16].strip(), fields[17].strip(), fields[18] == "1",
                          fields[19].upper(), int(fields[20] or 1), fields[at] == "1")


@dataclass(frozen=True, slots=True)
class HeadTimestampRequest:
    req_id: int
    contract: ContractQuery
    rth: bool
    what: str
    format_date: int


def _read_head_timestamp(fields: list[str]) -> HeadTimestampRequest:
    return HeadTimestampRequest(int(fields[1]), contract_at(fields, 2), fields[15] == "1",
                                fields[16].upper(), int(fields[17] or 1))


@dataclass(frozen=True, slots=True)
class RealTimeBarsRequest:
    req_id: int
    contract: ContractQuery
    bar_size: int
    what: str
    rth: bool


def _read_real_time_bars(fields: list[str]) -> RealTimeBarsRequest:
    return RealTimeBarsRequest(int(fields[2]), contract_at(fields, 3), int(fields[15] or 5),
                               fields[16].upper(), fields[17] == "1")


REQ_HISTORICAL_DATA = Incoming(20, "reqHistoricalData", {176: _read_historical_data})
CANCEL_HISTORICAL_DATA = Incoming(25, "cancelHistoricalData", {176: int_field(2)})
REQ_HEAD_TIMESTAMP = Incoming(87, "reqHeadTimeStamp", {176: _read_head_timestamp})
CANCEL_HEAD_TIMESTAMP = Incoming(90, "cancelHeadTimeStamp", {176: int_field(1)})
REQ_REAL_TIME_BARS = Incoming(50, "reqRealTimeBars", {176: _read_real_time_bars})
CANCEL_REAL_TIME_BARS = Incoming(51, "cancelRealTimeBars", {176: int_field(2)})

# One bar as the answers carry it: date, open, high, low, close, volume, WAP, count.
BarFields = tuple[str, float, float, float, float, float, float, int]


def historical_data(req_id: int, start: str, end: str, bars: list[BarFields]) -> bytes:
    """All the bars and their end in one message: there is no separate end message."""
    flat: list[Field] = [field for bar in bars for field in bar]
    return encode(17, req_id, start, end, len(bars), *flat)


def historical_data_update(req_id: int, bar: BarFields) -> bytes:
    # barCount first, and open, close, high, low: not the order of message 17.
    date, o, h, low, c, volume, wap, count = bar
    return encode(90, req_id, count, date, o, c, h, low, wap, volume)


def head_timestamp(req_id: int, stamp: str) -> bytes:
    return encode(88, req_id, stamp)


def realtime_bar(req_id: int, time: int, bar: BarFields) -> bytes:
    _, o, h, low, c, volume, wap, count = bar
    return encode(50, 3, req_id, time, o, h, low, c, volume, wap, count)


HISTORICAL_DATA = Layouts("historicalData", {176: historical_data})
HISTORICAL_DATA_UPDATE = Layouts("historicalDataUpdate", {176: historical_data_update})
HEAD_TIMESTAMP = Layouts("headTimestamp", {176: head_timestamp})
REALTIME_BAR = Layouts("realtimeBar", {176: realtime_bar})
