"""The broker session: one ib_async connection, turned into plain domain objects.

The session holds the connection (connect, the reconnect backoff, IB's connection
codes) and the watchlist; its parts hold the rest: quotes and the bad-tick book
(`quotes`), instrument resolution (`instruments`), the account (`portfolio`), IB's
what-if (`what_if`), the order side (`order_gateway`), the chart's bars (`history`) and
the option chain (`options`).
Every ib_async subscription is made by the session or one of these parts, and every
quote takes one of the login's market-data lines (`lines`) first. A quote is subscribed
once per contract, whoever asks for it (the watchlist, the ticket, positions, the chain):
`quotes` counts its holders and ends it when the last lets go.

Incoming data is not pushed to the UI tick by tick. The session remembers *what* changed
(con_ids of quotes, a flag for positions and the account) and the UI drains a
`SessionUpdate` a few times a second, so a burst of ticks costs the UI one table update
per instrument, and the per-tick work here is a dict store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ib_async import IB, StartupFetch

from ibterm.broker.depth import DepthFeed
from ibterm.broker.history import BarHistory
from ibterm.broker.instruments import InstrumentBook
from ibterm.broker.lines import MarketDataLines
from ibterm.broker.options import OptionChains
from ibterm.broker.order_gateway import OrderGateway
from ibterm.broker.order_sync import follow_open_orders
from ibterm.broker.portfolio import Portfolio
from ibterm.broker.quotes import CHAIN, KEPT, TICKET, WATCHLIST, QuoteBook
from ibterm.broker.tape import TapeFeed
from ibterm.broker.what_if import WhatIfAsker
from ibterm.config.reference import futures_table
from ibterm.config.settings import Profile
from ibterm.domain.account import AccountSummary, Position
from ibterm.domain.bars import BarSeries, BarSize
from ibterm.domain.connection import ConnectionState, ConnectionStatus, TradingMode
from ibterm.domain.greeks import OptionQuote
from ibterm.domain.instrument import Instrument, SecType
from ibterm.domain.notice import Notice
from ibterm.domain.orders import OrderSpec
from ibterm.domain.position_groups import OptionInputs, input_state, live_model
from ibterm.domain.quote import Quote, quote_mark
from ibterm.domain.symbols import parse_symbol
from ibterm.domain.watchlist import WatchItem
from ibterm.domain.what_if import IbWhatIf

log = logging.getLogger("ibterm.broker")

# What ib_async loads on every connect. Not the day's completed orders and executions:
# both lists grow all day, ib_async would keep a copy of each, and the reconciliation
# that follows every connect asks for what it needs.
STARTUP_FETCH = (StartupFetch.POSITIONS | StartupFetch.ORDERS_OPEN
                 | StartupFetch.ACCOUNT_UPDATES | StartupFetch.SUB_ACCOUNT_UPDATES)
# Reconnect backoff: 1 s doubling to 30 s, each delay jittered by ±50%.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 30.0

# Codes that are about the connection, not a request.
_LOST, _RESTORED_DATA_LOST, _RESTORED_DATA_KEPT = 1100, 1101, 1102
_NOTICE_CODES_IGNORED = frozenset({2104, 2106, 2107, 2108, 2158, 10167})


@dataclass(slots=True)
class SessionUpdate:
    status: ConnectionStatus | None = None
    watchlist: list[WatchItem] | None = None
    quotes: list[Quote] = field(default_factory=list)
    positions: list[Position] | None = None
    account: AccountSummary | None = None
    notices: list[Notice] = field(default_factory=list)


class BrokerSession:
    def __init__(self, profile: Profile, name: str, mode: TradingMode,
                 clock: Callable[[], float] = time.monotonic):
        self.profile = profile
        self.name = name
        self.mode = mode
        self.clock = clock
        self.ib = IB()
        follow_open_orders(self.ib)  # a TIF changed in TWS is the one a modify re-sends
        self.account = profile.account
        self.status = ConnectionStatus(ConnectionState.DISCONNECTED, since=clock())
        self._status_dirty = True
        self.status_listeners: list[Callable[[ConnectionStatus], None]] = []
        self.watchlist: list[WatchItem] = [WatchItem(text) for text in profile.watchlist]
        self._watch_dirty = True
        self.lines = MarketDataLines(profile.market_data_lines)
        self._quotes = QuoteBook(self.ib, profile, self.lines, clock)
        self._instruments = InstrumentBook(self.ib)
        self._portfolio = Portfolio(self.ib, self._instruments)
        self._what_if = WhatIfAsker(self.ib, profile)
        self.orders = OrderGateway(self.ib)
        self._told_no_line: set[int] = set()
        self._history = BarHistory(self.ib, clock)
        self.depth = DepthFeed(self.ib, self.lines, clock)  # the ladder's book and tape
        self.tape = TapeFeed(self.ib, self.lines, clock)
        # The option chain's expiries, strikes and the quotes of the options on screen.
        self.options = OptionChains(self.ib, self._quotes, self._instruments, clock)
        self._notices: list[Notice] = []
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._last_error: tuple[int, str] | None = None
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.errorEvent += self._on_error

    # --- lifecycle -------------------------------------------------------------------
    def _set_status(self, state: ConnectionState, detail: str = "", attempt: int = 0) -> None:
        if self.status.state is not state or self.status.detail != detail:
            log.info("connection %s %s", state.value, detail)
            self.status = ConnectionStatus(state, detail, self.clock(), attempt)
            self._status_dirty = True
            for listener in list(self.status_listeners):
                listener(self.status)

    async def start(self) -> bool:
        """Connect and subscribe; on failure keep retrying in the background."""
        self._closing = False
        if await self._connect(ConnectionState.CONNECTING):
            return True
        self._schedule_reconnect()
        return False

    async def _connect(self, state: ConnectionState, attempt: int = 0) -> bool:
        p = self.profile
        self._set_status(state, f"{p.host}:{p.port} clientId {p.client_id}", attempt)
        self._last_error = None
        try:
            await self.ib.connectAsync(p.host, p.port, clientId=p.client_id,
                                       timeout=p.connect_timeout, readonly=p.read_only,
                                       account=p.account, fetchFields=STARTUP_FETCH)
        except ConnectionRefusedError:
            self._fail(f"connection refused at {p.host}:{p.port}: is TWS / IB Gateway running "
                       "with the API enabled on this port?")
            return False
        except TimeoutError:
            self._fail(self._explain_timeout())
            return False
        except (OSError, ConnectionError) as exc:
            self._fail(f"cannot connect to {p.host}:{p.port}: {exc}")
            return False
        accounts = self.ib.managedAccounts()
        if p.account and p.account not in accounts:
            self._fail(f"account {p.account} is not managed by this login "
                       f"({', '.join(accounts)})")
            self.ib.disconnect()
            return False
        self.account = p.account or accounts[0]
        if not p.account and len(accounts) > 1:
            # ib_async subscribes to portfolio updates only for a single or named account.
            await asyncio.wait_for(self.ib.reqAccountUpdatesAsync(self.account),
                                   p.connect_timeout)
        self._set_status(ConnectionState.CONNECTED, f"{p.host}:{p.port}")
        await self._subscribe()
        return True

    def _explain_timeout(self) -> str:
        p = self.profile
        if self._last_error and self._last_error[0] == 326:
            return f"clientId {p.client_id} is already in use: choose another in the profile"
        return (f"no API handshake from {p.host}:{p.port} within {p.connect_timeout:g}s: "
                "check that the API is enabled and this host is trusted")

    def _fail(self, message: str) -> None:
        log.warning("connect failed: %s", message)
        state = (ConnectionState.DISCONNECTED if self.status.state is ConnectionState.CONNECTING
                 else ConnectionState.RECONNECTING)
        self._set_status(state, message, self.status.attempt)
        self._notices.append(Notice("error", message))

    async def close(self) -> None:
        self._closing = True
        self._history.close()
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
        self.ib.disconnect()
        self._set_status(ConnectionState.DISCONNECTED, "closed")

    def _on_disconnected(self) -> None:
        # ib_async can report one disconnect twice: act on the first only.
        if self._closing or self.status.state in (ConnectionState.LOST,
                                                  ConnectionState.RECONNECTING,
                                                  ConnectionState.DISCONNECTED):
            return
        self._set_status(ConnectionState.LOST, "the gateway closed the connection")
        self._notices.append(Notice("error", "Connection to the gateway lost; reconnecting"))
        self._clear_subscriptions()
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._closing or (self._reconnect_task and not self._reconnect_task.done()):
            return
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        attempt = 0
        while not self._closing:
            attempt += 1
            delay = min(RECONNECT_MAX, RECONNECT_FIRST * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.5)
            self._set_status(ConnectionState.RECONNECTING,
                             f"attempt {attempt} in {delay:.1f}s: {self.status.detail}", attempt)
            await asyncio.sleep(delay)
            if self._closing:
                return
            if await self._connect(ConnectionState.RECONNECTING, attempt):
                self._notices.append(Notice("info", "Reconnected to the gateway"))
                return

    # --- subscriptions ---------------------------------------------------------------
    def _clear_subscriptions(self) -> None:
        self._quotes.clear()
        self.lines.clear()
        self._told_no_line.clear()
        self._portfolio.clear()
        self._history.link_lost()

    async def _subscribe(self) -> None:
        self.ib.reqMarketDataType(self.profile.market_data.ib_type.value)
        await self._resolve_watchlist()
        for inst in self._watched():
            self._quotes.hold(inst, WATCHLIST)
        # Each quote held once: the watchlist's first, then the others asked for (the
        # ticket's, positions', underlyings'), the chain's last, each only with a line free.
        self._quotes_started(self._quotes.start(self._watched()))
        self._portfolio.subscribe(self.account)
        self._history.resume()

    def _quotes_started(self, refused: dict[int, str]) -> None:
        """Every quote subscribed anew: the watchlist's rows with no line say why, a part's
        quote refused is said once, the chain marks its own."""
        watched = set()
        for i, item in enumerate(self.watchlist):
            inst = item.instrument
            if inst is None:  # not resolved: its error is the lookup's
                continue
            watched.add(inst.con_id)
            why = refused.get(inst.con_id, "")
            if why != item.error:
                self.watchlist[i] = WatchItem(item.text, inst, why)
                self._watch_dirty = True
        for con_id, why in refused.items():
            if con_id not in watched and self._quotes.holders(con_id) != {CHAIN}:
                self._note_refusal(con_id, why)
        self.options.resumed()

    def _note_refusal(self, con_id: int, why: str) -> None:
        """A quote's refusal as a notice, once per instrument until it ends or the lines
        are counted anew."""
        if con_id not in self._told_no_line:
            self._told_no_line.add(con_id)
            self._notices.append(Notice("warning", why))

    def _watched(self) -> list[Instrument]:
        return [item.instrument for item in self.watchlist if item.instrument is not None]

    async def _resolve_watchlist(self) -> None:
        resolved = await asyncio.gather(*(self.resolve(item.text) for item in self.watchlist))
        self.watchlist = [
            WatchItem(item.text, inst, err)
            for item, (inst, err) in zip(self.watchlist, resolved, strict=True)
        ]
        self._watch_dirty = True

    # --- the watchlist ---------------------------------------------------------------
    async def add_watch(self, text: str) -> WatchItem:
        """Resolve and append a watchlist entry; an unresolvable one is kept, with its error."""
        # SymbolError: bad input, nothing changes. Stored as the grammar writes it back.
        text = str(parse_symbol(text, futures_table().keys()))
        if any(item.text == text for item in self.watchlist):
            raise ValueError(f"{text} is already in the watchlist")
        inst, error = await self.resolve(text) if self.connected else (None, "not connected")
        if inst is not None:
            error = self._quotes.hold(inst, WATCHLIST)
        item = WatchItem(text, inst, error)
        self.watchlist.append(item)
        self._watch_dirty = True
        return item

    def remove_watch(self, text: str) -> None:
        """Remove a watchlist entry; its quote stays held (`unwatch` ends it)."""
        self.watchlist = [item for item in self.watchlist if item.text != text]
        self._watch_dirty = True

    def unwatch(self, text: str) -> None:
        """Remove a watchlist entry and end its quote, unless something else holds it."""
        item = next((i for i in self.watchlist if i.text == text), None)
        self.remove_watch(text)
        if item is not None and item.instrument is not None:
            con_id = item.instrument.con_id
            if all(inst.con_id != con_id for inst in self._watched()):
                self._let_go(con_id, WATCHLIST)

    def move_watch(self, text: str, step: int) -> None:
        items = self.watchlist
        index = next((i for i, item in enumerate(items) if item.text == text), None)
        if index is None:
            return
        target = max(0, min(len(items) - 1, index + step))
        items.insert(target, items.pop(index))
        self._watch_dirty = True

    # --- quotes ----------------------------------------------------------------------
    def ensure_quote(self, inst: Instrument, holder: str = KEPT) -> None:
        """Subscribe to an instrument's quote (a position's, a part's) unless it is
        already, whoever asked for it; `holder` holds it until it lets go
        (`release_quote`). With no line free it is refused, said once."""
        self._instruments.instruments.setdefault(inst.con_id, inst)
        why = self._quotes.hold(inst, holder)
        if why:
            self._note_refusal(inst.con_id, why)

    def ticket_quotes(self, instruments: Iterable[Instrument]) -> None:
        """The order ticket quotes exactly these now (its instrument, or a combination's
        legs; none once it closes)."""
        self.quotes_for(TICKET, instruments)

    def quotes_for(self, holder: str, instruments: Iterable[Instrument]) -> None:
        """`holder` quotes exactly these now (none: it is done): the quotes it no longer
        shows are given back, and end unless another part holds them."""
        instruments = list(instruments)
        for con_id in self._quotes.held_by(holder):
            if all(inst.con_id != con_id for inst in instruments):
                self._let_go(con_id, holder)
        for inst in instruments:
            self.ensure_quote(inst, holder)

    def release_quote(self, con_id: int, holder: str) -> None:
        """`holder` is done with the quote: it ends, and its market-data line is free,
        once no one else holds it (the watchlist, another part, the chain)."""
        self._let_go(con_id, holder)

    def _let_go(self, con_id: int, holder: str) -> None:
        if self._quotes.let_go(con_id, holder):
            self._told_no_line.discard(con_id)

    def option_quote(self, con_id: int) -> OptionQuote | None:
        """An option's quote with IB's model greeks (`greeks_at` when they last changed,
        judged as it is read: read per redraw, never per tick)."""
        return self._quotes.option_quote(con_id)

    def option_inputs(self, inst: Instrument) -> OptionInputs:
        """What an option position's greeks are made from now: its mark and its
        underlying's, how fresh those are, and IB's model greeks while they are live."""
        under = self.underlying_of(inst)
        now, stale_after = self.clock(), self.profile.stale_after
        quotes = [self.quote(inst.con_id), self.quote(under.con_id) if under else None]
        return OptionInputs(self.mark(inst.con_id), self.mark(under.con_id) if under else None,
                            input_state(quotes, now, stale_after),
                            live_model(self.option_quote(inst.con_id), now, stale_after))

    def quote(self, con_id: int) -> Quote | None:
        """The instrument's quote now, flagged as it was judged when it arrived: reading
        never changes what the next quote is judged against."""
        return self._quotes.quote(con_id)

    def quotes(self) -> dict[int, Quote]:
        return self._quotes.quotes()

    def mark(self, con_id: int) -> float | None:
        """The price to value an instrument at now: its quote's mid, else its last trade;
        else the broker's mark of a position in it. A flagged quote never counts."""
        q = self.quote(con_id)
        price = quote_mark(q) if q is not None else None
        if price is not None:
            return price
        return self._portfolio.market_price(self.account, con_id)

    # --- the chart's bars --------------------------------------------------------------
    def show_chart(self, inst: Instrument, size: BarSize) -> None:
        """Chart this instrument's bars at this interval, the forming bar kept up to date
        (a broker task; the subscription before is cancelled)."""
        self._history.show(inst, size, self.connected)

    def close_chart(self) -> None:
        self._history.stop()

    def chart(self) -> tuple[bool, BarSeries | None]:
        """(changed since the last call, the chart's bars now; None: no chart)."""
        return self._history.take_changed()

    # --- instruments -----------------------------------------------------------------
    @property
    def instruments(self) -> dict[int, Instrument]:
        """Instruments resolved through contract details (min tick, contract month…)."""
        return self._instruments.instruments

    async def resolve(self, text: str) -> tuple[Instrument | None, str]:
        """Resolve symbol-grammar text to an instrument: (instrument, "") or (None, why),
        why in the trader's words (`SPY has no 605 call for 18 Dec; nearest strikes 600,
        610`). IB's own refusal of the lookup is not also forwarded as a notice."""
        return await self._instruments.resolve(text)

    def underlying_of(self, inst: Instrument) -> Instrument | None:
        """An option's underlying among the instruments known: the stock of an equity
        option, the nearest future expiring on or after a futures option."""
        return self._instruments.underlying_of(inst)

    def underlying_price(self, inst: Instrument) -> float | None:
        under = self.underlying_of(inst)
        return self.mark(under.con_id) if under is not None else None

    async def ensure_underlying(self, inst: Instrument, holder: str = KEPT) -> None:
        """Resolve an option's underlying and subscribe to its quote, once, held by
        `holder`. A connection lost meanwhile leaves it unresolved: the preview says it
        has no underlying price."""
        if inst.sec_type not in (SecType.OPT, SecType.FOP) or not self.connected:
            return
        try:
            under = await self._instruments.find_underlying(inst)
        except ConnectionError:
            return
        if under is not None:
            self.ensure_quote(under, holder)

    # --- the account and what-if -----------------------------------------------------
    async def what_if(self, spec: OrderSpec) -> IbWhatIf:
        """IB's what-if for one order (IB answers one at a time and ignores bracket links),
        waiting at most the profile's `whatif_timeout`: ib_async's own call never gives up
        when the gateway sends figures it cannot read."""
        if not self.connected:
            return IbWhatIf(error="not connected")
        return await self._what_if.ask(spec, self.account)

    def position_map(self, account: str = "") -> dict[int, float]:
        return self._portfolio.position_map(account or self.account)

    def managed_accounts(self) -> list[str]:
        return list(self.ib.managedAccounts()) if self.connected else []

    def reachable_accounts(self) -> tuple[str, ...]:
        """Every account an order could reach: the login's managed accounts, and the
        session's own (which a profile can name)."""
        found = self.managed_accounts()
        if self.account and self.account not in found:
            found.append(self.account)
        return tuple(found)

    def daily_pnl(self) -> float | None:
        return self._portfolio.daily_pnl()

    def positions(self) -> list[Position]:
        return self._portfolio.positions(self.account)

    def account_summary(self) -> AccountSummary:
        return self._portfolio.summary(self.account)

    @property
    def connected(self) -> bool:
        return self.status.state is ConnectionState.CONNECTED

    # --- IB's errors -----------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, message: str, contract: object) -> None:
        if (self._what_if.claims_error(req_id, code, message)
                or self._instruments.claims_error(req_id, code, message)
                or self._history.claims_error(req_id, code, message)
                or self.depth.claims_error(req_id, code, message)
                or self.tape.claims_error(req_id, code, message)):
            return
        refused = self._quotes.claims_error(req_id, code, message)
        if refused is not None:
            log.info("quote %d (%d): IB %d: %s", req_id, refused, code, message)
            self.options.refused_by_ib(refused)
            if self._quotes.holders(refused) == {CHAIN}:
                return  # the chain shows it, with IB's words
            self._told_no_line.add(refused)
        self._last_error = (code, message)
        if code == _LOST:
            self._set_status(ConnectionState.LOST, "TWS has lost its connection to IB (1100)")
            self._notices.append(Notice("error", message))
        elif code in (_RESTORED_DATA_LOST, _RESTORED_DATA_KEPT):
            self._set_status(ConnectionState.CONNECTED, f"restored ({code})")
            self._notices.append(Notice("info", message))
            if code == _RESTORED_DATA_LOST:
                self._quotes_started(self._quotes.resubscribe(self._watched()))
                self._history.resume()
        elif code in _NOTICE_CODES_IGNORED or 2100 <= code < 2200:
            log.info("IB %d: %s", code, message)
        else:
            where = f" ({contract})" if contract else ""
            self._notices.append(Notice("warning", f"IB {code}: {message}{where}"))

    # --- the UI's view ---------------------------------------------------------------
    def drain(self) -> SessionUpdate:
        """Everything that changed since the last drain, as domain objects."""
        update = SessionUpdate()
        if self._status_dirty:
            update.status = self.status
            self._status_dirty = False
        if self._watch_dirty:
            update.watchlist = list(self.watchlist)
            self._watch_dirty = False
        update.quotes = self._quotes.take_changed()
        portfolio = self._portfolio
        if portfolio.positions_dirty:
            portfolio.positions_dirty = False
            portfolio.sync_pnl_single(self.account)
            update.positions = self.positions()
        if portfolio.account_dirty:
            portfolio.account_dirty = False
            update.account = self.account_summary()
        if self._notices:
            update.notices, self._notices = self._notices, []
        return update
