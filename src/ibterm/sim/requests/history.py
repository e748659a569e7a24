"""Historical bars, head time stamps and real-time bars, all read from the market's bar
series (sim/bars.py): so a chart, its keepUpToDate stream and a real-time bar of the same
five seconds agree with one another and with the live quotes.

IB's rules, from its "Historical Data Limitations" page: small bars (30 secs or less) are
paced (identical requests within 15 s, six for one contract and type within 2 s, more
than 60 in ten minutes; BID_ASK counts twice) and limited in duration (its step-size
table); the errors are IB's 162 and 321 texts as gateways send them.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibterm.domain.instrument import SecType
from ibterm.sim.bars import BAR_SIZES, LEGAL_BAR_SIZES, Bar, BarSeries, BarSize
from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.requests.lookup import one_instrument
from ibterm.sim.sessions import ZONE, ZONE_NAME, local, sessions_back
from ibterm.sim.wire.history import (
    CANCEL_HEAD_TIMESTAMP,
    CANCEL_HISTORICAL_DATA,
    CANCEL_REAL_TIME_BARS,
    HEAD_TIMESTAMP,
    HISTORICAL_DATA,
    HISTORICAL_DATA_UPDATE,
    REALTIME_BAR,
    REQ_HEAD_TIMESTAMP,
    REQ_HISTORICAL_DATA,
    REQ_REAL_TIME_BARS,
    BarFields,
    HistoryRequest,
)
from ibterm.sim.world import SimInstrument

HMDS = "Historical Market Data Service error message:"
PACING = HMDS + "Historical data request pacing violation"
TOO_LONG = HMDS + "Time length exceed max."
VALIDATING = "Error validating request.-'bS' : cause - "
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK")
REAL_TIME_WHAT = ("TRADES", "MIDPOINT", "BID", "ASK")
# IB's step sizes: the longest duration each small bar size may be asked for.
SMALL_BAR_MAX_SECONDS = {1: 1800, 5: 3600, 10: 14400, 15: 14400, 30: 28800}
# A series is generated bar by bar, about 1.7 s and 85 MB per 100,000 bars: a bound on
# what requests may make one hold.
MAX_BARS = 100_000
_DURATION = re.compile(r"^(\d+) ([SDWMY])$")
_END = re.compile(r"^(\d{8})[ -](\d\d:\d\d:\d\d)(?: (\S+))?$")


@dataclass(slots=True)
class Stream:
    """A keepUpToDate request or a real-time bar subscription on one series."""

    series: BarSeries
    what: str
    format_date: int
    sent: BarFields | None = None
    since: int = 0  # real-time bars: only bars that start from here on


@dataclass(slots=True)
class Pacing:
    """One connection's small-bar requests of the last ten minutes: (time, what it was,
    its contract and type)."""

    log: list[tuple[float, tuple[object, ...], tuple[object, ...]]] = field(default_factory=list)

    def violated(self, now: float, request: tuple[object, ...], kind: tuple[object, ...],
                 weight: int) -> bool:
        self.log = [entry for entry in self.log if now - entry[0] < 600]
        if (any(now - t < 15 and r == request for t, r, _ in self.log)
                or sum(1 for t, _, k in self.log if now - t < 2 and k == kind) + weight > 5
                or len(self.log) + weight > 60):
            return True
        self.log.extend([(now, request, kind)] * weight)
        return False


def bar_fields(bar: Bar, what: str, format_date: int) -> BarFields:
    date = _bar_date(bar, format_date)
    if what == "TRADES":
        t = bar.trades
        return (date, t.open, t.high, t.low, t.close, bar.volume, bar.wap, bar.count)
    if what == "BID_ASK":
        # IB's BID_ASK bar: time-average bid, max ask, min bid, time-average ask.
        return (date, round((bar.bid.open + bar.bid.close) / 2, 10), bar.ask.high,
                bar.bid.low, round((bar.ask.open + bar.ask.close) / 2, 10), -1, -1, -1)
    p = {"MIDPOINT": bar.mid, "BID": bar.bid, "ASK": bar.ask}[what]
    return (date, p.open, p.high, p.low, p.close, -1, -1, -1)


def _bar_date(bar: Bar, format_date: int) -> str:
    if bar.slot.day is not None:
        return f"{bar.slot.day:%Y%m%d}"
    return _time_text(bar.slot.start, format_date)


def _time_text(t: int, format_date: int) -> str:
    if format_date == 2:
        return str(t)
    return f"{local(t):%Y%m%d %H:%M:%S} {ZONE_NAME}"


def parse_end(text: str, now: int) -> int | None:
    """IB's endDateTime: empty for now, `YYYYMMDD hh:mm:ss` in the exchange's zone, or with
    a time zone after a space, or `YYYYMMDD-hh:mm:ss` in UTC; None if none of those. A
    time after now is now."""
    text = text.strip()
    if not text:
        return now
    m = _END.match(text)
    if m is None:
        return None
    day, clock, zone_name = m.groups()
    try:
        naive = dt.datetime.strptime(day + clock, "%Y%m%d%H:%M:%S")
        zone = _zone(zone_name) if zone_name else (dt.UTC if "-" in text else ZONE)
    except ValueError:
        return None
    return min(now, int(naive.replace(tzinfo=zone).timestamp()))


def _zone(name: str) -> dt.tzinfo:
    if name in ("UTC", "GMT"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


def duration_start(duration: str, end: int, series: BarSeries) -> int | None:
    m = _DURATION.match(duration)
    if m is None or int(m.group(1)) <= 0:
        return None
    n, unit = int(m.group(1)), m.group(2)
    if unit == "S":
        return end - n
    if unit == "D":
        # Days are sessions: "1 D" on a Sunday is Friday's.
        sessions = sessions_back(series.hours, end)
        start = end
        for _ in range(n):
            start = next(sessions).start
        return start
    if unit == "W":
        return end - n * 7 * 86400
    at = local(end)
    months = n if unit == "M" else 12 * n
    year, month = divmod(at.month - 1 - months, 12)
    back = at.replace(year=at.year + year, month=month + 1, day=min(at.day, 28))
    return int(back.timestamp())


def _seconds(duration: str) -> int:
    n, unit = duration.split()
    return int(n) * {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}[unit]


class HistoryDesk(Desk):
    def __init__(self) -> None:
        super().__init__()
        self.history_streams: dict[int, Stream] = {}
        self.real_time_bars: dict[int, Stream] = {}
        self._pacing = Pacing()
        self.pacing_clock: Callable[[], float] = time.monotonic

    @serves(REQ_HISTORICAL_DATA)
    def _req_historical_data(self, fields: list[str]) -> None:
        req = REQ_HISTORICAL_DATA.read(self.version, fields)
        req_id = req.req_id
        size = BAR_SIZES.get(req.bar_size)
        if size is None:
            self.error(req_id, 321, VALIDATING + "Historical data bar size setting is "
                                    f"invalid. Legal ones are: {LEGAL_BAR_SIZES}")
            return
        if _DURATION.match(req.duration) is None or req.duration.startswith("0"):
            self.error(req_id, 321, VALIDATING + "invalid duration")
            return
        if req.what not in WHAT_TO_SHOW:
            self.error(req_id, 321, VALIDATING + "invalid what to show")
            return
        if req.duration.endswith(" M") and int(req.duration.split()[0]) > 12:
            self.error(req_id, 321, VALIDATING + "Historical data request for durations "
                                    "longer than 12 months must be made in years")
            return
        if req.keep_up_to_date and req.end.strip():
            self.error(req_id, 321, VALIDATING + "End date not supported with live updates")
            return
        market = self.server.market
        now = market.now()
        end = parse_end(req.end, now)
        if end is None:
            self.error(req_id, 321, VALIDATING + f"Historical data query end date/time "
                                    f"string [{req.end}] is invalid.  Format is "
                                    "'YYYYMMDD{SPACE}hh:mm:ss[{SPACE}TMZ]'.")
            return
        sim = one_instrument(self, req_id, req.contract, live=False)
        if sim is None or not self._historical_data_ok(req_id, sim, req, size):
            return
        series = market.bar_series(sim.instrument.con_id, size, req.rth)
        start = duration_start(req.duration, end, series)
        assert start is not None  # the duration matched above
        if not series.reach(start, MAX_BARS):
            self.error(req_id, 162, TOO_LONG)
            return
        bars = series.window(start, end + 1 if end == now else end)
        fmt = req.format_date
        rows = [bar_fields(bar, req.what, fmt) for bar in bars]
        self.send(self.layout(HISTORICAL_DATA)(req_id, _time_text(start, fmt),
                                               _time_text(end, fmt), rows))
        if req.keep_up_to_date:
            self.history_streams[req_id] = Stream(series, req.what, fmt,
                                                  rows[-1] if rows else None)
            market.listen(self._push_bars)

    def _historical_data_ok(self, req_id: int, sim: SimInstrument, req: HistoryRequest,
                            size: BarSize) -> bool:
        inst = sim.instrument
        if not sim.live_data:
            self.error(req_id, 162, HMDS + f"No market data permissions for "
                                    f"{inst.primary_exchange or inst.exchange} "
                                    f"{inst.sec_type.value}")
            return False
        if req.what == "TRADES" and inst.sec_type is SecType.CASH:
            self.error(req_id, 162, HMDS + f"HMDS query returned no data: "
                                    f"{inst.local_symbol}@{inst.exchange} Trades")
            return False
        if not size.intraday or size.seconds > 30:
            return True
        if _seconds(req.duration) > SMALL_BAR_MAX_SECONDS[size.seconds]:
            self.error(req_id, 162, TOO_LONG)
            return False
        request = (inst.con_id, req.end, req.bar_size, req.duration, req.rth, req.what,
                   req.format_date)
        weight = 2 if req.what == "BID_ASK" else 1
        if self._pacing.violated(self.pacing_clock(), request, (inst.con_id, req.what),
                                 weight):
            self.error(req_id, 162, PACING)
            return False
        return True

    @serves(CANCEL_HISTORICAL_DATA)
    def _cancel_historical_data(self, fields: list[str]) -> None:
        req_id = CANCEL_HISTORICAL_DATA.read(self.version, fields)
        if self.history_streams.pop(req_id, None) is None:
            self.error(req_id, 366, f"No historical data query found for ticker id:{req_id}")

    @serves(REQ_HEAD_TIMESTAMP)
    def _req_head_timestamp(self, fields: list[str]) -> None:
        req = REQ_HEAD_TIMESTAMP.read(self.version, fields)
        if req.what not in WHAT_TO_SHOW:
            self.error(req.req_id, 321, VALIDATING + "invalid what to show")
            return
        sim = one_instrument(self, req.req_id, req.contract, live=False)
        if sim is None:
            return
        head = self.server.market.head_timestamp(sim.instrument.con_id, req.rth)
        stamp = str(head) if req.format_date == 2 else \
            f"{dt.datetime.fromtimestamp(head, dt.UTC):%Y%m%d-%H:%M:%S}"
        self.send(self.layout(HEAD_TIMESTAMP)(req.req_id, stamp))

    @serves(CANCEL_HEAD_TIMESTAMP)
    def _cancel_head_timestamp(self, fields: list[str]) -> None:
        # ib_async sends it after every head time stamp it receives: nothing is running.
        CANCEL_HEAD_TIMESTAMP.read(self.version, fields)

    @serves(REQ_REAL_TIME_BARS)
    def _req_real_time_bars(self, fields: list[str]) -> None:
        req = REQ_REAL_TIME_BARS.read(self.version, fields)
        if req.bar_size != 5:
            self.error(req.req_id, 321, VALIDATING + "Invalid bar size: real-time bars "
                                        "are 5 seconds")
            return
        if req.what not in REAL_TIME_WHAT:
            self.error(req.req_id, 321, VALIDATING + "invalid what to show")
            return
        sim = one_instrument(self, req.req_id, req.contract)
        if sim is None:
            return
        market = self.server.market
        series = market.bar_series(sim.instrument.con_id, BAR_SIZES["5 secs"], req.rth)
        self.real_time_bars[req.req_id] = Stream(series, req.what, 2, since=market.now())
        market.listen(self._push_bars)

    @serves(CANCEL_REAL_TIME_BARS)
    def _cancel_real_time_bars(self, fields: list[str]) -> None:
        self.real_time_bars.pop(CANCEL_REAL_TIME_BARS.read(self.version, fields), None)

    def _push_bars(self) -> bool:
        """After a market step: the forming bar to keepUpToDate requests, each finished
        five seconds to real-time bar subscribers. False once nothing is left to feed."""
        if self._closed or not (self.history_streams or self.real_time_bars):
            return False
        out: list[bytes] = []
        update = self.layout(HISTORICAL_DATA_UPDATE)
        for req_id, stream in self.history_streams.items():
            row = bar_fields(stream.series.bars[-1], stream.what, stream.format_date)
            if row != stream.sent:
                out.append(update(req_id, row))
                stream.sent = row
        realtime = self.layout(REALTIME_BAR)
        for req_id, stream in self.real_time_bars.items():
            for bar in stream.series.bars[-2:-1]:
                if bar.slot.start >= stream.since:
                    out.append(realtime(req_id, bar.slot.start,
                                        bar_fields(bar, stream.what, 2)))
                    stream.since = bar.slot.end
        if out:
            self.send(b"".join(out))
        return True
