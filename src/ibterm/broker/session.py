"""The broker session: one ib_async connection, turned into plain domain objects.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ib_async import IB, Contract, ContractDetails, OrderState, PnL, PnLSingle, StartupFetch, Ticker

from ibterm.broker.contracts import (
    contract_to_instrument,
    no_future,
    no_instrument,
    no_option,
    spec_to_contract,
)
from ibterm.config.settings import Profile
from ibterm.domain.account import AccountSummary, Position
from ibterm.domain.connection import ConnectionState, ConnectionStatus, TradingMode
from ibterm.domain.instrument import Instrument, InstrumentSpec, SecType
from ibterm.domain.orders import OrderSpec
from ibterm.domain.quote import MarketDataType, Quote, TickCheck, clean_price, quote_mark
from ibterm.domain.symbols import SymbolError, parse_symbol
from ibterm.domain.what_if import IbWhatIf
from ibterm.config.reference import futures_table

log = logging.getLogger("ibterm.broker")
_R = TypeVar("_R")

# What ib_async loads on every connect. Not the day's completed orders and executions:
# both lists grow all day, ib_async would keep a copy of each, and the reconciliation
# that follows every connect asks for what it needs.
STARTUP_FETCH = (StartupFetch.POSITIONS | StartupFetch.ORDERS_OPEN
                 | StartupFetch.ACCOUNT_UPDATES | StartupFetch.SUB_ACCOUNT_UPDATES)
# Reconnect backoff: 1 s doubling to 30 s, each delay jittered by ±50%.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 30.0

_ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "TotalCashValue": "total_cash",
    "BuyingPower": "buying_power",
    "AvailableFunds": "available_funds",
    "ExcessLiquidity": "excess_liquidity",
    "InitMarginReq": "init_margin",
    "MaintMarginReq": "maint_margin",
    "GrossPositionValue": "gross_position_value",
    "UnrealizedPnL": "unrealized_pnl",
    "RealizedPnL": "realized_pnl",
}
# Codes that are about the connection, not a request.
_LOST, _RESTORED_DATA_LOST, _RESTORED_DATA_KEPT = 1100, 1101, 1102
_NO_SUCH_CONTRACT = 200
_NOTICE_CODES_IGNORED = frozenset({2104, 2106, 2107, 2108, 2158, 10167})


@dataclass(frozen=True, slots=True)
class WatchItem:
    text: str  # as the user wrote it
    instrument: Instrument | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    level: str  # "info" | "warning" | "error"
    message: str


@dataclass(slots=True)
class SessionUpdate:
    status: ConnectionStatus | None = None
    watchlist: list[WatchItem] | None = None
    quotes: list[Quote] = field(default_factory=list)
    positions: list[Position] | None = None
    account: AccountSummary | None = None
    notices: list[Notice] = field(default_factory=list)


def _state_number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if abs(number) < 1e300 else None  # IB's "unset" is the largest double


class BrokerSession:
    def __init__(self, profile: Profile, name: str, mode: TradingMode,
                 clock: Callable[[], float] = time.monotonic):
        self.profile = profile
        self.name = name
        self.mode = mode
        self.clock = clock
        self.ib = IB()
        self.account = profile.account
        self.status = ConnectionStatus(ConnectionState.DISCONNECTED, since=clock())
        self._status_dirty = True
        self.watchlist: list[WatchItem] = [WatchItem(text) for text in profile.watchlist]
        self._watch_dirty = True
        self._tickers: dict[int, Ticker] = {}
        self._quote_at: dict[int, float] = {}  # con_id -> when its quote last changed
        # con_id -> its bad-tick judge: each quote is classified once, as it arrives, and
        # kept across reconnects (the last good price is still the best reference).
        self._checks: dict[int, TickCheck] = {}
        self._extra_quotes: dict[int, Instrument] = {}
        self.status_listeners: list[Callable[[ConnectionStatus], None]] = []
        # Instruments resolved through contract details (min tick, contract month…).
        self.instruments: dict[int, Instrument] = {}
        self._resolving: set[int] = set()
        self._quote_changed: dict[int, float] = {}
        self._positions_dirty = False
        self._account_dirty = False
        self._pnl: PnL | None = None
        self._pnl_single: dict[int, PnLSingle] = {}
        self._notices: list[Notice] = []
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._last_error: tuple[int, str] | None = None
        self._what_if_errors: dict[int, str] = {}  # what-if request id -> IB's refusal
        # The session's own contract lookups, request id -> IB's refusal (other than 200):
        # the session explains a failed lookup itself, so IB's text is not a notice too.
        self._lookups: dict[int, str] = {}
        self.ib.pendingTickersEvent += self._on_tickers
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.errorEvent += self._on_error
        self.ib.updatePortfolioEvent += self._on_portfolio
        self.ib.accountValueEvent += self._on_account_value
        self.ib.pnlEvent += self._on_pnl
        self.ib.pnlSingleEvent += self._on_pnl_single

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
        self._tickers.clear()
        self._quote_at.clear()
        self._pnl = None
        self._pnl_single.clear()

    async def _subscribe(self) -> None:
        self.ib.reqMarketDataType(self.profile.market_data.ib_type.value)
        await self._resolve_watchlist()
        for item in self.watchlist:
            if item.instrument is not None:
                self._request_quote(item.instrument)
        for inst in self._extra_quotes.values():
            self._request_quote(inst)
        self._pnl = self.ib.reqPnL(self.account)
        self._sync_pnl_single()
        self._positions_dirty = self._account_dirty = True

    async def _resolve_watchlist(self) -> None:
        resolved = await asyncio.gather(*(self.resolve(item.text) for item in self.watchlist))
        self.watchlist = [
            WatchItem(item.text, inst, err)
            for item, (inst, err) in zip(self.watchlist, resolved, strict=True)
        ]
        self._watch_dirty = True

    async def resolve(self, text: str) -> tuple[Instrument | None, str]:
        """Resolve symbol-grammar text to an instrument: (instrument, "") or (None, why),
        why in the trader's words (`SPY has no 605 call for 18 Dec; nearest strikes 600,
        610`). IB's own refusal of the lookup is not also forwarded as a notice."""
        try:
            spec = parse_symbol(text, futures_table().keys())
        except SymbolError as exc:
            return None, str(exc)
        details, refusal = await self._details(spec_to_contract(spec))
        if spec.sec_type is SecType.FUT and not spec.expiry and details:
            details = sorted(details, key=lambda d: d.contract.lastTradeDateOrContractMonth
                             if d.contract else "")[:1]
        if refusal:
            return None, f"{spec} could not be looked up: {refusal}"
        if not details:
            return None, await self._why_missing(spec)
        if len(details) > 1:
            return None, f"{text!r} is ambiguous ({len(details)} contracts match)"
        d = details[0]
        assert d.contract is not None
        inst = contract_to_instrument(d.contract, d)
        self.instruments[inst.con_id] = inst
        return inst, ""

    async def _details(self, contract: Contract) -> tuple[list[ContractDetails], str]:
        """Contract details, and IB's refusal other than "no such contract" (error 200,
        which is the answer, not a failure)."""
        return await self._lookup(lambda: self.ib.reqContractDetailsAsync(contract))

    async def _lookup(self, call: Callable[[], Awaitable[_R]]) -> tuple[_R, str]:
        """One request whose errors are the caller's to explain: `_on_error` keeps them out
        of the notices and records any but 200 as the refusal returned."""
        # The id the request takes next (ib_async 2.1.0 is pinned), as in what_if: nothing
        # runs between reading it and `call` taking it.
        req_id = self.ib.client._reqIdSeq
        self._lookups[req_id] = ""
        try:
            result = await call()
        finally:
            refusal = self._lookups.pop(req_id, "")
        return result, refusal

    async def _why_missing(self, spec: InstrumentSpec) -> str:
        """What is listed near what was asked for, to say why nothing matched."""
        try:
            if spec.sec_type in (SecType.OPT, SecType.FOP):
                # The asked expiry's strikes, for this right; else the chain's expiries.
                same_day = replace(spec, strike=0.0)
                listed, _ = await self._details(spec_to_contract(same_day))
                strikes = [d.contract.strike for d in listed if d.contract is not None]
                if strikes:
                    return no_option(spec, [], strikes)
                if spec.sec_type is SecType.FOP:
                    return no_instrument(spec)
                under, _ = await self._details(spec_to_contract(
                    replace(spec, sec_type=SecType.STK, expiry="", strike=0.0, right=None)))
                if len(under) != 1 or under[0].contract is None:
                    return no_instrument(replace(spec, sec_type=SecType.STK, expiry="",
                                                 strike=0.0, right=None))
                con_id = under[0].contract.conId
                chains, _ = await self._lookup(lambda: self.ib.reqSecDefOptParamsAsync(
                    spec.symbol, "", "STK", con_id))
                return no_option(spec, [e for c in chains for e in c.expirations], [])
            if spec.sec_type is SecType.FUT and spec.expiry:
                listed, _ = await self._details(spec_to_contract(replace(spec, expiry="")))
                return no_future(spec, [d.contractMonth or (
                    d.contract.lastTradeDateOrContractMonth if d.contract else "")
                    for d in listed])
        except ConnectionError:
            pass
        return no_instrument(spec)

    async def _resolve_con_id(self, con_id: int) -> None:
        try:
            details, _ = await self._details(Contract(conId=con_id))
        except ConnectionError:
            return
        finally:
            self._resolving.discard(con_id)
        if len(details) == 1 and details[0].contract is not None:
            self.instruments[con_id] = contract_to_instrument(details[0].contract, details[0])
            self._positions_dirty = True

    async def add_watch(self, text: str) -> WatchItem:
        """Resolve and append a watchlist entry; an unresolvable one is kept, with its error."""
        # SymbolError: bad input, nothing changes. Stored as the grammar writes it back.
        text = str(parse_symbol(text, futures_table().keys()))
        if any(item.text == text for item in self.watchlist):
            raise ValueError(f"{text} is already in the watchlist")
        inst, error = await self.resolve(text) if self.connected else (None, "not connected")
        item = WatchItem(text, inst, error)
        self.watchlist.append(item)
        self._watch_dirty = True
        if inst is not None:
            self._request_quote(inst)
        return item

    def remove_watch(self, text: str) -> None:
        self.watchlist = [item for item in self.watchlist if item.text != text]
        self._watch_dirty = True

    def move_watch(self, text: str, step: int) -> None:
        items = self.watchlist
        index = next((i for i, item in enumerate(items) if item.text == text), None)
        if index is None:
            return
        target = max(0, min(len(items) - 1, index + step))
        items.insert(target, items.pop(index))
        self._watch_dirty = True

    def ensure_quote(self, inst: Instrument) -> None:
        """Subscribe to an instrument's quote (the ticket's, a position's) if not yet."""
        self.instruments.setdefault(inst.con_id, inst)
        self._extra_quotes[inst.con_id] = inst
        if self.status.state is ConnectionState.CONNECTED:
            self._request_quote(inst)

    def quote(self, con_id: int) -> Quote | None:
        """The instrument's quote now, flagged as it was judged when it arrived: reading
        never changes what the next quote is judged against."""
        ticker = self._tickers.get(con_id)
        if ticker is None or con_id not in self._quote_at:
            return None
        return self._quote(con_id, ticker, self._quote_at[con_id])

    def _quote(self, con_id: int, ticker: Ticker, at: float) -> Quote:
        quote = quote_from_ticker(con_id, ticker, at)
        check = self._checks.get(con_id)
        return replace(quote, flag=check.flag) if check is not None and check.flag else quote

    def quotes(self) -> dict[int, Quote]:
        return {c: q for c in self._tickers if (q := self.quote(c)) is not None}

    def mark(self, con_id: int) -> float | None:
        """The price to value an instrument at now: its quote's mid, else its last trade;
        else the broker's mark of a position in it. A flagged quote never counts."""
        q = self.quote(con_id)
        price = quote_mark(q) if q is not None else None
        if price is not None:
            return price
        if self.account:
            for item in self.ib.portfolio(self.account):
                if item.contract.conId == con_id:
                    return clean_price(item.marketPrice)
        return None

    def underlying_of(self, inst: Instrument) -> Instrument | None:
        """An option's underlying among the instruments known: the stock of an equity
        option, the nearest future expiring on or after a futures option."""
        if inst.sec_type is SecType.OPT:
            return next((i for i in self.instruments.values() if i.symbol == inst.symbol
                         and i.sec_type is SecType.STK and i.currency == inst.currency), None)
        if inst.sec_type is SecType.FOP:
            futures = sorted((i for i in self.instruments.values() if i.symbol == inst.symbol
                              and i.sec_type is SecType.FUT and i.expiry[:8] >= inst.expiry[:8]),
                             key=lambda i: i.expiry)
            return futures[0] if futures else None
        return None

    def underlying_price(self, inst: Instrument) -> float | None:
        under = self.underlying_of(inst)
        return self.mark(under.con_id) if under is not None else None

    async def ensure_underlying(self, inst: Instrument) -> None:
        """Resolve an option's underlying and subscribe to its quote, once. A connection
        lost meanwhile leaves it unresolved: the preview says it has no underlying price."""
        if inst.sec_type not in (SecType.OPT, SecType.FOP) or not self.connected:
            return
        under = self.underlying_of(inst)
        try:
            if under is None and inst.sec_type is SecType.OPT:
                under, _ = await self.resolve(inst.symbol)
            elif under is None:
                contract = Contract(secType="FUT", symbol=inst.symbol, currency=inst.currency,
                                    exchange=inst.exchange)
                for d in (await self._details(contract))[0]:
                    if d.contract is not None:
                        found = contract_to_instrument(d.contract, d)
                        self.instruments[found.con_id] = found
                under = self.underlying_of(inst)
        except ConnectionError:
            return
        if under is not None:
            self.ensure_quote(under)

    async def what_if(self, spec: OrderSpec) -> IbWhatIf:
        """IB's what-if for one order (IB answers one at a time and ignores bracket links),
        waiting at most the profile's `whatif_timeout`: ib_async's own call never gives up
        when the gateway sends figures it cannot read."""
        if not self.connected:
            return IbWhatIf(error="not connected")
        # The pipeline builds IB orders and imports this module: import it here.
        from ibterm.broker.pipeline import to_ib_order

        order = to_ib_order(spec, "ibterm-what-if")
        order.account = spec.account or self.account
        contract = Contract(conId=spec.instrument.con_id, exchange=spec.instrument.exchange)
        # The id whatIfOrderAsync takes next (ib_async 2.1.0 is pinned): a refusal arrives as
        # an error for it, shown in the preview rather than as a notification.
        req_id = self.ib.client._reqIdSeq
        self._what_if_errors[req_id] = ""
        timeout = self.profile.whatif_timeout
        try:
            state = await asyncio.wait_for(self.ib.whatIfOrderAsync(contract, order), timeout)
        except TimeoutError:
            return IbWhatIf(error=f"no answer within {timeout:g}s")
        except ConnectionError:
            return IbWhatIf(error="not connected")
        finally:
            refusal = self._what_if_errors.pop(req_id, "")
        if not isinstance(state, OrderState):
            return IbWhatIf(error=f"refused: {refusal}" if refusal else "no figures")
        result = IbWhatIf(
            init_change=_state_number(state.initMarginChange),
            maint_change=_state_number(state.maintMarginChange),
            init_after=_state_number(state.initMarginAfter),
            maint_after=_state_number(state.maintMarginAfter),
            equity_after=_state_number(state.equityWithLoanAfter),
            commission=_state_number(state.commission))
        if result.init_change is None:
            return replace(result, error="no margin figures")
        return result

    def position_map(self, account: str = "") -> dict[int, float]:
        acct = account or self.account
        return {p.contract.conId: p.position for p in self.ib.positions(acct)} if acct else {}

    def managed_accounts(self) -> list[str]:
        return list(self.ib.managedAccounts()) if self.connected else []

    def daily_pnl(self) -> float | None:
        return _finite(self._pnl.dailyPnL) if self._pnl is not None else None

    @property
    def connected(self) -> bool:
        return self.status.state is ConnectionState.CONNECTED

    def _request_quote(self, inst: Instrument) -> None:
        if inst.con_id in self._tickers:
            return
        if inst.con_id not in self._checks:
            self._checks[inst.con_id] = TickCheck(self.profile.tick_band(inst.sec_type),
                                                  self.profile.bad_tick_reanchor,
                                                  inst.min_tick)
        contract = Contract(conId=inst.con_id, exchange=inst.exchange)
        self._tickers[inst.con_id] = self.ib.reqMktData(contract, "", False, False)

    def _sync_pnl_single(self) -> None:
        if not self.account:
            return
        for item in self.ib.portfolio(self.account):
            con_id = item.contract.conId
            if con_id not in self._pnl_single:
                self._pnl_single[con_id] = self.ib.reqPnLSingle(self.account, "", con_id)
            if con_id not in self.instruments and con_id not in self._resolving:
                self._resolving.add(con_id)
                asyncio.get_running_loop().create_task(self._resolve_con_id(con_id))

    # --- event handlers: remember what changed, nothing more -------------------------
    def _on_tickers(self, tickers: set[Ticker]) -> None:
        now = self.clock()
        changed = self._quote_changed
        at = self._quote_at
        checks = self._checks
        for ticker in tickers:
            con_id = ticker.contract.conId  # type: ignore[union-attr]
            changed[con_id] = now
            at[con_id] = now
            # Judged here, once per arrival: a burst between two drains is judged quote by
            # quote, as the reference would have moved through it.
            check = checks.get(con_id)
            if check is not None:
                check.observe(ticker.bid, ticker.ask, ticker.last, ticker.close,
                              ticker.bidSize, ticker.askSize)

    def _on_portfolio(self, _item: object) -> None:
        self._positions_dirty = True

    def _on_account_value(self, _value: object) -> None:
        self._account_dirty = True

    def _on_pnl(self, _pnl: object) -> None:
        self._account_dirty = True

    def _on_pnl_single(self, _pnl: object) -> None:
        self._positions_dirty = True

    def _on_error(self, req_id: int, code: int, message: str, contract: object) -> None:
        if req_id in self._what_if_errors:
            self._what_if_errors[req_id] = f"IB {code}: {message}"
            return
        if req_id in self._lookups:
            log.info("lookup %d: IB %d: %s", req_id, code, message)
            if code != _NO_SUCH_CONTRACT:
                self._lookups[req_id] = f"IB {code}: {message}"
            return
        self._last_error = (code, message)
        if code == _LOST:
            self._set_status(ConnectionState.LOST, "TWS has lost its connection to IB (1100)")
            self._notices.append(Notice("error", message))
        elif code in (_RESTORED_DATA_LOST, _RESTORED_DATA_KEPT):
            self._set_status(ConnectionState.CONNECTED, f"restored ({code})")
            self._notices.append(Notice("info", message))
            if code == _RESTORED_DATA_LOST:
                self._resubscribe_quotes()
        elif code in _NOTICE_CODES_IGNORED or 2100 <= code < 2200:
            log.info("IB %d: %s", code, message)
        else:
            where = f" ({contract})" if contract else ""
            self._notices.append(Notice("warning", f"IB {code}: {message}{where}"))

    def _resubscribe_quotes(self) -> None:
        """After 1101 (data lost) every quote is asked for again: the watchlist's and
        those the ticket, positions and option underlyings asked for."""
        for con_id, ticker in list(self._tickers.items()):
            self.ib.cancelMktData(ticker.contract)  # type: ignore[arg-type]
            del self._tickers[con_id]
        for item in self.watchlist:
            if item.instrument is not None:
                self._request_quote(item.instrument)
        for inst in self._extra_quotes.values():
            self._request_quote(inst)

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
        if self._quote_changed:
            changed, self._quote_changed = self._quote_changed, {}
            for con_id, at in changed.items():
                ticker = self._tickers.get(con_id)
                if ticker is not None:
                    update.quotes.append(self._quote(con_id, ticker, at))
        if self._positions_dirty:
            self._positions_dirty = False
            self._sync_pnl_single()
            update.positions = self.positions()
        if self._account_dirty:
            self._account_dirty = False
            update.account = self.account_summary()
        if self._notices:
            update.notices, self._notices = self._notices, []
        return update

    def positions(self) -> list[Position]:
        if not self.account:
            return []
        out = []
        for item in self.ib.portfolio(self.account):
            pnl = self._pnl_single.get(item.contract.conId)
            inst = self.instruments.get(item.contract.conId) or contract_to_instrument(
                item.contract)
            mult = inst.multiplier or 1.0
            out.append(Position(
                account=item.account,
                instrument=inst,
                quantity=item.position,
                avg_cost=item.averageCost / mult,
                market_price=clean_price(item.marketPrice),
                market_value=item.marketValue,
                unrealized_pnl=item.unrealizedPNL,
                realized_pnl=item.realizedPNL,
                daily_pnl=_finite(pnl.dailyPnL) if pnl is not None else None,
            ))
        return out

    def account_summary(self) -> AccountSummary:
        values: dict[str, float] = {}
        currency = "USD"
        for v in self.ib.accountValues(self.account):
            attr = _ACCOUNT_TAGS.get(v.tag)
            if attr is None:
                continue
            try:
                values[attr] = float(v.value)
            except ValueError:
                continue
            if v.currency and v.currency != "BASE":
                currency = v.currency
        daily = _finite(self._pnl.dailyPnL) if self._pnl is not None else None
        return AccountSummary(account=self.account, currency=currency, daily_pnl=daily, **values)


def _finite(value: float | None) -> float | None:
    return clean_price(value) if value is not None and abs(value) < 1e300 else None


def quote_from_ticker(con_id: int, t: Ticker, at: float) -> Quote:
    try:
        data_type = MarketDataType(t.marketDataType)
    except ValueError:
        data_type = MarketDataType.LIVE
    return Quote(
        con_id=con_id,
        data_type=data_type,
        updated_at=at,
        bid=clean_price(t.bid),
        ask=clean_price(t.ask),
        last=clean_price(t.last),
        bid_size=clean_price(t.bidSize),
        ask_size=clean_price(t.askSize),
        last_size=clean_price(t.lastSize),
        volume=clean_price(t.volume),
        open=clean_price(t.open),
        high=clean_price(t.high),
        low=clean_price(t.low),
        close=clean_price(t.close),
    )
