"""Market scanners: which instruments a scan lists, ranked from the market as IB ranks
them: % change from the prior close (gainers, losers) or the day's volume (most active).

Each scan ranks the walking instruments of one kind (stocks; futures, front months) at a
location, best first; IB lists at most 50 rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ibterm.domain.instrument import SecType
from ibterm.sim.market import Book, Market
from ibterm.sim.world import PriceModel, SimInstrument, World

MAX_ROWS = 50  # IB's cap, and what it sends when numberOfRows is unset (-1)


def change(book: Book) -> float:
    """The % change of the last price from the prior close."""
    return (book.last / book.close - 1.0) * 100.0 if book.close else 0.0


@dataclass(frozen=True, slots=True)
class ScanType:
    code: str
    name: str  # its displayName in the scanner parameters
    # What ranks an instrument (higher first); None leaves it out of the list.
    score: Callable[[Book], float | None]


def _gain(book: Book) -> float | None:
    return change(book) if change(book) > 0 else None


def _loss(book: Book) -> float | None:
    return -change(book) if change(book) < 0 else None


def _volume(book: Book) -> float | None:
    return book.volume if book.volume > 0 else None


SCAN_TYPES = {t.code: t for t in (
    ScanType("TOP_PERC_GAIN", "Top % Gainers", _gain),
    ScanType("TOP_PERC_LOSE", "Top % Losers", _loss),
    ScanType("MOST_ACTIVE", "Most Active", _volume),
)}


@dataclass(frozen=True, slots=True)
class ScanInstrument:
    code: str  # as a scanner subscription names it
    name: str
    sec_type: SecType


INSTRUMENTS = {i.code: i for i in (
    ScanInstrument("STK", "US Stocks", SecType.STK),
    ScanInstrument("FUT.US", "US Futures", SecType.FUT),
)}


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    name: str
    instrument: str
    exchange: str | None  # a stock's primary or a future's exchange; None: all


LOCATIONS = {loc.code: loc for loc in (
    Location("STK.US", "US Stocks", "STK", None),
    Location("STK.US.MAJOR", "Listed/NASDAQ", "STK", None),
    Location("STK.NASDAQ", "NASDAQ", "STK", "NASDAQ"),
    Location("STK.NYSE", "NYSE", "STK", "NYSE"),
    Location("STK.ARCA", "NYSE Arca", "STK", "ARCA"),
    Location("FUT.US", "US Futures", "FUT.US", None),
    Location("FUT.CME", "CME", "FUT.US", "CME"),
    Location("FUT.NYMEX", "NYMEX", "FUT.US", "NYMEX"),
)}


@dataclass(frozen=True, slots=True)
class Limits:
    """A subscription's own bounds; None: unbounded."""

    above_price: float | None = None
    below_price: float | None = None
    above_volume: float | None = None

    def admit(self, book: Book) -> bool:
        return ((self.above_price is None or book.last > self.above_price)
                and (self.below_price is None or book.last < self.below_price)
                and (self.above_volume is None or book.volume > self.above_volume))


def scan(world: World, market: Market, scan_type: ScanType, instrument: str, location: str,
         limits: Limits, rows: int) -> list[SimInstrument]:
    """The instruments the scan lists now, best first: at most `rows` (≤ 0: IB's 50)."""
    kind = INSTRUMENTS.get(instrument)
    where = LOCATIONS.get(location)
    if kind is None or where is None or where.instrument != kind.code:
        return []
    ranked: list[tuple[float, int, SimInstrument]] = []
    for sim in world.instruments.values():
        inst = sim.instrument
        if sim.model is not PriceModel.WALK or inst.sec_type is not kind.sec_type:
            continue
        listed = inst.primary_exchange if inst.sec_type is SecType.STK else inst.exchange
        if where.exchange is not None and listed != where.exchange:
            continue
        book = market.book(inst.con_id)
        score = scan_type.score(book)
        if score is not None and limits.admit(book):
            ranked.append((-score, inst.con_id, sim))
    ranked.sort(key=lambda r: r[:2])
    cap = MAX_ROWS if rows <= 0 else min(rows, MAX_ROWS)
    return [sim for _, _, sim in ranked[:cap]]
