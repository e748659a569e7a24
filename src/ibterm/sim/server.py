"""The simulator's asyncio server: handshake, request dispatch, streaming.

One `SimServer` holds the world, the market and the accounts; each socket is a
`ClientConnection`. Everything runs on one event loop, so state needs no locks. Tests drive
it in-process (`await server.start()`, `server.step()`); `ibterm sim` runs it in the
foreground and `ibterm demo` in a background thread (`ibterm.sim.runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ibterm.sim import control
from ibterm.sim import messages as m
from ibterm.sim.accounts import ACCOUNT_KEYS, SimAccount
from ibterm.sim.contracts import ContractQuery, match
from ibterm.sim.market import Book, Market
from ibterm.sim.order_wire import (
    UnsupportedOrder,
    commission_report,
    completed_order,
    exec_details,
    open_order,
    order_status,
    parse_place_order,
)
from ibterm.sim.orders import Fill, OrderEngine, OrderEvents, Rejection, SimOrder
from ibterm.sim.protocol import (
    API_PREFIX,
    MAX_CLIENT_FRAME,
    FrameDecoder,
    FrameError,
    encode,
    negotiate,
    parse_version_range,
)
from ibterm.sim.scenario import MarketSession, Scenario
from ibterm.sim.world import SimInstrument, build_world, find_instrument

log = logging.getLogger("ibterm.sim")

# A client that stops reading must not make the simulator buffer without bound.
MAX_WRITE_BUFFER = 32 * 1024 * 1024
# ib_async sends its version range and startApi within milliseconds of connecting; a
# connection still mid-handshake after this long is a port scan or an attack, and would
# otherwise hold a socket and a buffer forever. Above ib_async's own 4 s connect timeout.
HANDSHAKE_TIMEOUT = 5.0
LIVE, FROZEN, DELAYED, DELAYED_FROZEN = 1, 2, 3, 4

# Where the request id sits in messages the simulator does not serve, so the error
# reaches the request that waits for it (ib_async keys futures by request id).
_UNSUPPORTED_REQ_ID_INDEX = {
    10: 2, 20: 1, 21: 2, 22: 2, 50: 2, 52: 2, 54: 2, 55: 2, 74: 2, 81: 1, 83: 1,
    84: 1, 86: 1, 87: 1, 88: 1, 96: 1, 97: 1, 100: 1, 102: 1, 104: 1,
}
_UNSUPPORTED_NAMES = {
    10: "market depth", 20: "historical data", 21: "option exercise", 22: "scanner",
    50: "real-time bars", 52: "fundamental data", 54: "implied volatility calculation",
    55: "option price calculation", 74: "positions by model", 81: "symbol search",
    83: "SMART components", 84: "news articles", 86: "historical news",
    87: "head timestamps", 88: "histogram data", 96: "historical ticks",
    97: "tick-by-tick data", 100: "WSH metadata", 102: "WSH event data", 104: "user info",
}


def exec_filter_time(text: str) -> dt.datetime | None:
    """An execution filter's time: `yyyymmdd-hh:mm:ss` (UTC) or `yyyymmdd hh:mm:ss`
    (the simulator's zone is UTC), optionally followed by ` UTC`; None when empty."""
    text = text.strip().removesuffix(" UTC").removesuffix(" GMT")
    if not text:
        return None
    return dt.datetime.strptime(text.replace("-", " ", 1), "%Y%m%d %H:%M:%S").replace(
        tzinfo=dt.UTC)


def check_loopback(host: str) -> str:
    """Return `host` if it is a loopback IP address; raise ValueError otherwise."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"--host must be a loopback IP address, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to listen on {host}: only loopback addresses are allowed")
    return host


@dataclass(slots=True)
class Subscription:
    con_id: int
    delayed: bool
    streaming: bool
    sent: dict[int, float] = field(default_factory=dict)


class SimServer:
    def __init__(self, scenario: Scenario | None = None, seed: int | None = None,
                 host: str = "127.0.0.1", port: int = 0, today: dt.date | None = None,
                 control_token: str | None = None,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT):
        self.scenario = scenario or Scenario()
        self.host = check_loopback(host)
        # When set, every control request must carry it (docs/simulator.md#control-token).
        self.control_token = (control.check_token(control_token)
                              if control_token is not None else None)
        # How long a new connection has to finish the API handshake (or its one control
        # request) before it is closed. Past the handshake nobody is timed out.
        self.handshake_timeout = handshake_timeout
        self.requested_port = port
        self.seed = seed if seed is not None else (self.scenario.seed or 0)
        self.world = build_world(self.scenario, today)
        step_seconds = self.scenario.tick_interval or 0.25
        self.market = Market(self.world, self.seed, step_seconds, self.scenario.delay_steps)
        self.accounts = {a.id: SimAccount.from_def(a, self.world) for a in self.scenario.accounts}
        self.orders = OrderEngine(self.world, self.market, self.accounts,
                                  surcharge=self.scenario.house_margin_surcharge)
        self.connections: list[ClientConnection] = []
        self.next_order_id = 1
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0
        # Hook for tests and benchmarks: called with each connection once it is ready.
        self.on_client_ready: Callable[[ClientConnection], None] | None = None
        # Faults (drop, stall, delay, bad_tick, reject_next_order …): output held until, a
        # delay on every reply, the next order's refusal.
        self.hold_until = 0.0
        self.reply_delay = 0.0
        self.next_order_rejection: tuple[int, str] | None = None

    @property
    def market_open(self) -> bool:
        return self.scenario.session is MarketSession.OPEN

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._accept, self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.scenario.tick_interval > 0 and self.market_open:
            self._tasks.append(asyncio.create_task(self._market_loop()))
        self._tasks.append(asyncio.create_task(self._account_loop()))
        if self.scenario.faults:
            self._tasks.append(asyncio.create_task(self._fault_loop()))
        log.info("simulator listening on %s:%d (seed %d, date %s)", self.host, self.port,
                 self.seed, self.world.date)
        return self.host, self.port

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping:
            # Accepted from the backlog after stop() began: refuse it.
            writer.close()
            return
        deadline = asyncio.get_running_loop().time() + self.handshake_timeout
        try:
            first = await asyncio.wait_for(reader.readexactly(len(API_PREFIX)),
                                           self.handshake_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        if first in control.HTTP_METHODS:
            await control.serve(self, reader, writer, first, deadline)
            return
        conn = ClientConnection(self, reader, writer)
        self.connections.append(conn)
        try:
            await conn.run(first, deadline)
        finally:
            if conn in self.connections:
                self.connections.remove(conn)

    async def _market_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.scenario.tick_interval
        next_at = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += interval
            self.step()

    async def _account_loop(self) -> None:
        while True:
            await asyncio.sleep(self.scenario.account_update_interval)
            self.push_account_updates()

    async def _fault_loop(self) -> None:
        """The scenario's fault schedule, timed from start()."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        fired = [0] * len(self.scenario.faults)
        while True:
            due: list[tuple[float, int]] = []
            for i, entry in enumerate(self.scenario.faults):
                if entry.count is not None and fired[i] >= entry.count:
                    continue
                if entry.every is None and fired[i]:
                    continue
                due.append((entry.at + fired[i] * (entry.every or 0.0), i))
            if not due:
                return
            at, i = min(due)
            await asyncio.sleep(max(0.0, started + at - loop.time()))
            fired[i] += 1
            entry = self.scenario.faults[i]
            log.info("scheduled fault at %.1f s: %s", at, entry.fault)
            try:
                entry.apply(self)
            except Exception:  # one bad fault must not end the schedule
                log.exception("scheduled fault %s failed", entry.fault)

    # --- Python API for in-process tests ---------------------------------------------
    def step(self, count: int = 1) -> None:
        """Advance the market `count` steps and stream the changes to every client."""
        for _ in range(count):
            self.market.step()
            for conn in list(self.connections):
                conn.push_quotes()
            self.publish(self.orders.on_step())

    def publish(self, events: OrderEvents) -> None:
        """Tell each client about its orders' changes and fills, and everyone about the
        positions and account values they moved."""
        if not events.changed and not events.fills:
            return
        for conn in list(self.connections):
            conn.push_order_events(events)
        if events.fills:
            for conn in list(self.connections):
                conn.push_positions({f.order.sim.instrument.con_id for f in events.fills})
                conn.push_account()

    def push_account_updates(self) -> None:
        for conn in list(self.connections):
            conn.push_account()

    # --- fault injection: the Python API (docs/simulator.md) ---------------------------
    def drop(self, client_id: int | None = None) -> int:
        """Close one client's connection (or every one's); returns how many."""
        victims = [c for c in self.connections if client_id is None or c.client_id == client_id]
        for conn in victims:
            conn.close()
        return len(victims)

    def restart(self) -> int:
        """Like a nightly gateway restart: every client dropped; orders and accounts kept."""
        return self.drop()

    def connectivity(self, code: int) -> None:
        """IB's connectivity messages: 1100 lost, 1101 restored (data lost), 1102 restored
        (data kept)."""
        texts = {1100: "Connectivity between IB and Trader Workstation has been lost.",
                 1101: "Connectivity between IB and TWS has been restored- data lost.",
                 1102: "Connectivity between IB and TWS has been restored- data maintained."}
        if code not in texts:
            raise ValueError(f"connectivity code {code} is not 1100, 1101 or 1102")
        for conn in list(self.connections):
            if conn.ready:  # mid-handshake it would be read as the handshake's answer
                conn.send(m.error(-1, code, texts[code]))

    def stall(self, seconds: float) -> None:
        """Answer nothing for `seconds`; what was due then arrives at once. A new stall
        replaces the one in force: `stall(0)` ends it now."""
        self.hold_until = asyncio.get_running_loop().time() + seconds
        for conn in list(self.connections):
            conn.reschedule()

    def delay(self, seconds: float) -> None:
        """Every reply from now on arrives `seconds` late (0 ends it)."""
        self.reply_delay = max(0.0, seconds)

    def bad_tick(self, con_id: int, factor: float = 10.0, crossed: bool = False) -> None:
        """One erroneous quote to every subscriber: a price `factor` times off the market,
        or a crossed book (bid above ask). The next step sends the real book again."""
        book = self.market.book(con_id)
        for conn in list(self.connections):
            conn.push_bad_tick(con_id, book, factor, crossed)

    def reject_next_order(self, code: int = 201,
                          message: str = "Order rejected - reason:simulated rejection") -> None:
        """Refuse the next new order (not a modification, not a what-if) with `code`."""
        self.next_order_rejection = (code, message)

    def con_id_of(self, symbol: str) -> int:
        """The conId of an instrument named in the symbol grammar; ValueError if none."""
        return find_instrument(self.world, symbol).instrument.con_id

    def client(self, client_id: int) -> ClientConnection | None:
        for conn in self.connections:
            if conn.client_id == client_id:
                return conn
        return None

    def account_values(self, account: str) -> dict[str, float]:
        return self.accounts[account].values(self.world, self.market)


class ClientConnection:
    def __init__(self, server: SimServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        self.server = server
        self.reader = reader
        self.writer = writer
        # A frame over MAX_CLIENT_FRAME closes the connection at its header, so this
        # buffer never holds more than one partial frame below that size.
        self.decoder = FrameDecoder(MAX_CLIENT_FRAME)
        self.peer = writer.get_extra_info("peername")
        self.version = 0
        self.client_id: int | None = None
        self.ready = False
        self.data_type = LIVE
        self.quotes: dict[int, Subscription] = {}
        self.account_subs: dict[str, dict[str, str]] = {}
        self.multi_subs: dict[int, list[tuple[str, dict[str, str]]]] = {}
        self.summary_subs: dict[int, tuple[set[str], dict[tuple[str, str], str]]] = {}
        self.pnl_subs: dict[int, str] = {}
        self.pnl_single_subs: dict[int, tuple[str, int]] = {}
        self.positions_sub = False
        self._closed = False
        self._held: deque[tuple[float, bytes]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._pace: list[float] = []  # arrival times of the last second's messages
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._partial_timer: asyncio.TimerHandle | None = None
        self._handlers: dict[int, Callable[[list[str]], None]] = {
            m.REQ_MKT_DATA: self._req_mkt_data,
            m.CANCEL_MKT_DATA: self._cancel_mkt_data,
            m.PLACE_ORDER: self._place_order,
            m.CANCEL_ORDER: self._cancel_order,
            m.REQ_OPEN_ORDERS: lambda f: self._req_open_orders(all_clients=False),
            m.REQ_ALL_OPEN_ORDERS: lambda f: self._req_open_orders(all_clients=True),
            m.REQ_AUTO_OPEN_ORDERS: lambda f: None,
            m.REQ_GLOBAL_CANCEL: self._req_global_cancel,
            m.REQ_COMPLETED_ORDERS: self._req_completed_orders,
            m.REQ_EXECUTIONS: self._req_executions,
            m.REQ_ACCOUNT_UPDATES: self._req_account_updates,
            m.REQ_ACCOUNT_UPDATES_MULTI: self._req_account_updates_multi,
            m.CANCEL_ACCOUNT_UPDATES_MULTI: lambda f: self.multi_subs.pop(int(f[2]), None),
            m.REQ_ACCOUNT_SUMMARY: self._req_account_summary,
            m.CANCEL_ACCOUNT_SUMMARY: lambda f: self.summary_subs.pop(int(f[2]), None),
            m.REQ_POSITIONS: self._req_positions,
            m.CANCEL_POSITIONS: self._cancel_positions,
            m.REQ_IDS: lambda f: self.send(m.next_valid_id(self.server.next_order_id)),
            m.REQ_CONTRACT_DETAILS: self._req_contract_details,
            m.REQ_MANAGED_ACCTS: lambda f: self.send(m.managed_accounts(self._account_ids())),
            m.REQ_CURRENT_TIME: lambda f: self.send(m.current_time(int(time.time()))),
            m.REQ_MARKET_DATA_TYPE: self._req_market_data_type,
            m.REQ_SEC_DEF_OPT_PARAMS: self._req_sec_def_opt_params,
            m.REQ_PNL: self._req_pnl,
            m.CANCEL_PNL: lambda f: self.pnl_subs.pop(int(f[1]), None),
            m.REQ_PNL_SINGLE: self._req_pnl_single,
            m.CANCEL_PNL_SINGLE: lambda f: self.pnl_single_subs.pop(int(f[1]), None),
        }

    # --- transport -------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = now + self.server.reply_delay
        if due <= now and not self._held and self.server.hold_until <= now:
            self._write(data)
            return
        # Stalled or delayed: it goes out later, never before what was due before it. The
        # stall is applied when draining, so that a new stall() can shorten it.
        self._held.append((due, data))
        if self._pump is None or self._pump.done():
            self._pump = loop.create_task(self._drain_held())

    def reschedule(self) -> None:
        """The stall changed: wake the pump so it waits for the new time."""
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
        if self._held and not self._closed:
            self._pump = asyncio.get_running_loop().create_task(self._drain_held())

    async def _drain_held(self) -> None:
        loop = asyncio.get_running_loop()
        while self._held and not self._closed:
            due = max(self._held[0][0], self.server.hold_until)
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            now = loop.time()
            if self.server.hold_until > now:
                continue
            ready = []
            while self._held and self._held[0][0] <= now:
                ready.append(self._held.popleft()[1])
            self._write(b"".join(ready))
            if not self.ready:
                # The handshake's answer was held (stall, delay): the client's time to
                # answer it starts now, not at connect.
                self._arm_handshake_timer(loop.time() + self.server.handshake_timeout)

    def _write(self, data: bytes) -> None:
        if self._closed:
            return
        transport = self.writer.transport
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("client %s is not reading; dropping it", self.client_id)
            self.close()
            return
        self.writer.write(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cancel_handshake_timer()
            self._cancel_partial_timer()
            # Free a partial frame now, not whenever the last reference to `self` goes.
            self.decoder.clear()
            self.writer.close()

    def _arm_handshake_timer(self, when: float) -> None:
        self._cancel_handshake_timer()
        self._handshake_timer = asyncio.get_running_loop().call_at(
            when, self._handshake_expired)

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        if self.ready or self._closed:
            return
        if self._held:
            # Our own answer is still held by a stall or delay: the client cannot go on
            # before it has it. _drain_held re-arms the timer once it is written.
            return
        log.warning("closing connection from %s: no API handshake within %g s", self.peer,
                    self.server.handshake_timeout)
        self.close()  # the pending read then sees EOF and run() ends

    def _cancel_partial_timer(self) -> None:
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None

    def _watch_partial_frame(self) -> None:
        """A client writes each message at once, so a frame left unfinished for the
        handshake timeout is abandoned or hostile: many such connections would each hold
        up to MAX_CLIENT_FRAME. Idle clients have nothing pending and are never timed."""
        if not self.decoder.pending:
            self._cancel_partial_timer()
        elif self._partial_timer is None:
            self._partial_timer = asyncio.get_running_loop().call_later(
                self.server.handshake_timeout, self._partial_expired)

    def _partial_expired(self) -> None:
        self._partial_timer = None
        if self.decoder.pending and not self._closed:
            log.warning("closing connection from %s: a frame unfinished for %g s "
                        "(%d bytes held)", self.peer, self.server.handshake_timeout,
                        self.decoder.pending)
            self.close()

    async def run(self, prefix: bytes, deadline: float | None = None) -> None:
        if deadline is not None:
            self._arm_handshake_timer(deadline)
        try:
            await self._handshake(prefix)
            self._watch_partial_frame()
            while not self._closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                for fields in self.decoder.feed(data):
                    self._dispatch(fields)
                self._watch_partial_frame()
        except FrameError as exc:
            log.warning("closing connection from %s: %s", self.peer, exc)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()
            log.info("client %s disconnected", self.client_id)

    async def _handshake(self, prefix: bytes) -> None:
        if prefix != API_PREFIX:
            raise FrameError("the connection did not start with the API prefix")
        while True:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("closed during handshake")
            frames = self.decoder.feed(data)
            if frames:
                break
        low, high = parse_version_range(frames[0][0])
        version = negotiate(low, high)
        if version is None:
            self.send(m.error(-1, 503, f"The TWS API client version range v{low}..{high} is "
                                       "not supported: this server speaks v178."))
            await self.writer.drain()
            raise FrameError(f"unsupported client versions v{low}..{high}")
        self.version = version
        now = dt.datetime.now(dt.UTC)
        stamp = f"{self.server.world.date:%Y%m%d} {now:%H:%M:%S} UTC"
        self.send(encode(version, stamp))
        for fields in frames[1:]:
            self._dispatch(fields)

    # --- dispatch --------------------------------------------------------------------
    def _dispatch(self, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except (ValueError, IndexError):
            self.send(m.error(-1, 505, f"Fatal Error: Unknown message id {fields[:1]!r}."))
            return
        if not self.ready:
            if msg_id == m.START_API:
                self._start_api(fields)
            else:
                self.send(m.error(-1, 505, "Fatal Error: the API has not been started."))
            return
        if self._over_pace(msg_id, fields):
            return
        handler = self._handlers.get(msg_id)
        if handler is None:
            self._unsupported(msg_id, fields)
            return
        try:
            handler(fields)
        except (IndexError, ValueError) as exc:
            # placeOrder and the newer messages carry no version: their id is field 1.
            req_id = _int_at(fields, 1 if msg_id >= 78 or msg_id == m.PLACE_ORDER else 2)
            self.send(m.error(req_id, 320, f"Error reading request: message {msg_id}: {exc}"))

    def _over_pace(self, msg_id: int, fields: list[str]) -> bool:
        """IB refuses a client's messages past its rate with error 100 (pacing)."""
        limit = self.server.scenario.pacing_limit
        if not limit:
            return False
        now = asyncio.get_running_loop().time()
        self._pace = [t for t in self._pace if now - t < 1.0]
        self._pace.append(now)
        if len(self._pace) <= limit:
            return False
        # Name the request (or order) it refuses, so a client waiting for it is answered.
        req_id = _int_at(fields, 1 if msg_id >= 78 or msg_id == m.PLACE_ORDER else 2)
        self.send(m.error(req_id, 100, "Max rate of messages per second has been exceeded:"
                                       f"max={limit} rec={len(self._pace)} (1)"))
        return True

    def push_bad_tick(self, con_id: int, book: Book, factor: float, crossed: bool) -> None:
        out = []
        for req_id, sub in self.quotes.items():
            if sub.con_id != con_id or sub.delayed:
                continue
            if crossed:
                bid = round(book.ask + 10 * (book.ask - book.bid or 0.01), 6)
                out.append(m.tick_price(req_id, m.BID, bid, book.bid_size))
                sub.sent[m.BID] = bid
            else:
                wild = round(book.last * factor, 6)
                out.append(m.tick_price(req_id, m.LAST, wild, book.last_size))
                sub.sent[m.LAST] = wild
        if out:
            self.send(b"".join(out))

    def _unsupported(self, msg_id: int, fields: list[str]) -> None:
        index = _UNSUPPORTED_REQ_ID_INDEX.get(msg_id)
        req_id = _int_at(fields, index) if index is not None else -1
        what = _UNSUPPORTED_NAMES.get(msg_id, f"message {msg_id}")
        self.send(m.error(req_id, 505, f"{what} is not supported by the ibterm simulator"))

    def _start_api(self, fields: list[str]) -> None:
        client_id = int(fields[2])
        other = self.server.client(client_id)
        if other is not None and other is not self:
            self.send(m.error(-1, 326, "Unable to connect as the client id is already in use. "
                                       "Retry with a unique client id."))
            self.close()
            return
        self.client_id = client_id
        self.ready = True
        self._cancel_handshake_timer()  # from here on, idling is legitimate
        self.send(m.next_valid_id(self.server.next_order_id))
        self.send(m.managed_accounts(self._account_ids()))
        for code, text in ((2104, "Market data farm connection is OK:usfarm"),
                           (2106, "HMDS data farm connection is OK:ushmds"),
                           (2158, "Sec-def data farm connection is OK:secdefnj")):
            self.send(m.error(-1, code, text))
        log.info("client %d connected from %s (v%d)", client_id, self.peer, self.version)
        if self.server.on_client_ready is not None:
            self.server.on_client_ready(self)

    def _account_ids(self) -> list[str]:
        return list(self.server.accounts)

    # --- contracts -------------------------------------------------------------------
    def _resolve(self, fields: list[str], start: int) -> list[SimInstrument]:
        return match(self.server.world, ContractQuery.from_fields(fields[start : start + 12]))

    def _req_contract_details(self, fields: list[str]) -> None:
        req_id = int(fields[2])
        found = self._resolve(fields, 3)
        if not found:
            self.send(m.error(req_id, 200, "No security definition has been found for the "
                                           "request"))
            return
        self.send(b"".join(m.contract_details(req_id, sim) for sim in found))
        self.send(m.contract_details_end(req_id))

    def _req_sec_def_opt_params(self, fields: list[str]) -> None:
        req_id = int(fields[1])
        symbol, under_con_id = fields[2].upper(), int(fields[5] or 0)
        world = self.server.world
        chain = [
            s for s in world.instruments.values()
            if s.instrument.sec_type.value == "OPT" and s.instrument.symbol == symbol
            and (not under_con_id or s.underlying == under_con_id)
        ]
        if chain:
            expiries = sorted({s.instrument.expiry for s in chain})
            strikes = sorted({s.instrument.strike for s in chain})
            self.send(m.sec_def_opt_params(req_id, "SMART", chain[0].underlying, symbol, "100",
                                           expiries, strikes))
        self.send(m.sec_def_opt_params_end(req_id))

    # --- market data -----------------------------------------------------------------
    def _req_market_data_type(self, fields: list[str]) -> None:
        data_type = int(fields[2])
        if data_type not in (LIVE, FROZEN, DELAYED, DELAYED_FROZEN):
            self.send(m.error(-1, 320, f"Error reading request: market data type {data_type}"))
            return
        self.data_type = data_type

    def _effective_type(self, sim: SimInstrument) -> int | None:
        """IB's rule: live data when subscribed (even if delayed was asked for); frozen when
        the market is closed and frozen was asked for; delayed only without a subscription."""
        requested = self.data_type
        if sim.live_data:
            if not self.server.market_open and requested in (FROZEN, DELAYED_FROZEN):
                return FROZEN
            return LIVE
        if requested in (DELAYED, DELAYED_FROZEN):
            if not self.server.market_open and requested == DELAYED_FROZEN:
                return DELAYED_FROZEN
            return DELAYED
        return None

    def _req_mkt_data(self, fields: list[str]) -> None:
        req_id = int(fields[2])
        if fields[5].upper() == "BAG":
            self.send(m.error(req_id, 505, "combo market data is not supported by the "
                                           "ibterm simulator"))
            return
        at = 15
        if fields[at] == "1":  # delta-neutral block
            at += 3
        snapshot = fields[at + 2] == "1" or fields[at + 3] == "1"
        found = self._resolve(fields, 3)
        if len(found) != 1:
            self.send(m.error(req_id, 200, "No security definition has been found for the "
                                           "request"))
            return
        sim = found[0]
        effective = self._effective_type(sim)
        if effective is None:
            self.send(m.error(req_id, 354, "Requested market data is not subscribed. Delayed "
                                           "market data is available."))
            return
        self.send(m.market_data_type(req_id, effective))
        delayed = effective in (DELAYED, DELAYED_FROZEN)
        if delayed:
            self.send(m.error(req_id, 10167, "Requested market data is not subscribed. "
                                             "Displaying delayed market data."))
        streaming = not snapshot and effective in (LIVE, DELAYED) and self.server.market_open
        sub = Subscription(sim.instrument.con_id, delayed, streaming)
        self.send(self._book_ticks(req_id, sub))
        if snapshot:
            self.send(m.tick_snapshot_end(req_id))
        else:
            self.quotes[req_id] = sub

    def _cancel_mkt_data(self, fields: list[str]) -> None:
        self.quotes.pop(int(fields[2]), None)

    def _book_ticks(self, req_id: int, sub: Subscription) -> bytes:
        book: Book = self.server.market.book(sub.con_id, sub.delayed)
        sent = sub.sent
        out: list[bytes] = []
        dmap = m.DELAYED if sub.delayed else None

        def tt(tick_type: int) -> int:
            return dmap[tick_type] if dmap else tick_type

        for price_type, size_type, price, size in (
            (m.BID, m.BID_SIZE, book.bid, book.bid_size),
            (m.ASK, m.ASK_SIZE, book.ask, book.ask_size),
        ):
            if sent.get(price_type) != price:
                out.append(m.tick_price(req_id, tt(price_type), price, size))
                sent[price_type], sent[size_type] = price, size
            elif sent.get(size_type) != size:
                out.append(m.tick_size(req_id, tt(size_type), size))
                sent[size_type] = size
        if sent.get(m.LAST) != book.last or sent.get(m.VOLUME) != book.volume:
            out.append(m.tick_price(req_id, tt(m.LAST), book.last, book.last_size))
            sent[m.LAST] = book.last
        if sent.get(m.VOLUME) != book.volume:
            out.append(m.tick_size(req_id, tt(m.VOLUME), book.volume))
            sent[m.VOLUME] = book.volume
        for tick_type, price in ((m.HIGH, book.high), (m.LOW, book.low),
                                 (m.CLOSE, book.close), (m.OPEN, book.open)):
            if sent.get(tick_type) != price:
                out.append(m.tick_price(req_id, tt(tick_type), price, 0))
                sent[tick_type] = price
        return b"".join(out)

    def push_quotes(self) -> None:
        if not self.quotes or self._closed:
            return
        chunks = [self._book_ticks(req_id, sub)
                  for req_id, sub in self.quotes.items() if sub.streaming]
        data = b"".join(chunks)
        if data:
            self.send(data)

    # --- account ---------------------------------------------------------------------
    def _values(self, account: str) -> dict[str, str]:
        values = self.server.account_values(account)
        return {k: (f"{values[k]:.6f}" if k == "Cushion" else f"{values[k]:.2f}")
                for k in ACCOUNT_KEYS}

    def _account(self, account: str) -> SimAccount | None:
        return self.server.accounts.get(account)

    def _req_account_updates(self, fields: list[str]) -> None:
        subscribe, account = fields[2] == "1", fields[3]
        if not subscribe:
            self.account_subs.pop(account, None)
            return
        acct = self._account(account)
        if acct is None:
            self.send(m.error(-1, 321, f"Error validating request: unknown account {account!r}"))
            return
        self.account_subs[account] = {}
        self._push_account_updates(account, full=True)
        self.send(m.account_download_end(account))

    def _push_account_updates(self, account: str, full: bool = False) -> None:
        acct = self.server.accounts[account]
        sent = self.account_subs[account]
        values = self._values(account)
        out = [m.account_value(k, v, acct.currency, account)
               for k, v in values.items() if full or sent.get(k) != v]
        sent.update(values)
        for row in acct.portfolio(self.server.world, self.server.market):
            out.append(m.portfolio_value(row.sim.instrument, row.quantity, row.market_price,
                                         row.market_value, row.avg_cost, row.unrealized,
                                         row.realized, account))
        out.append(m.account_time(dt.datetime.now().strftime("%H:%M")))
        self.send(b"".join(out))

    def _req_account_updates_multi(self, fields: list[str]) -> None:
        req_id, account = int(fields[2]), fields[3]
        accounts = list(self.server.accounts) if account in ("", "All") else [account]
        if any(a not in self.server.accounts for a in accounts):
            self.send(m.error(req_id, 321, f"Error validating request: unknown account "
                                           f"{account!r}"))
            return
        self.multi_subs[req_id] = [(a, {}) for a in accounts]
        self._push_multi(req_id, full=True)
        self.send(m.account_update_multi_end(req_id))

    def _push_multi(self, req_id: int, full: bool = False) -> None:
        out = []
        for account, sent in self.multi_subs[req_id]:
            currency = self.server.accounts[account].currency
            values = self._values(account)
            out += [m.account_update_multi(req_id, account, k, v, currency)
                    for k, v in values.items() if full or sent.get(k) != v]
            sent.update(values)
        if out:
            self.send(b"".join(out))

    def _req_account_summary(self, fields: list[str]) -> None:
        req_id, tags = int(fields[2]), fields[4]
        wanted = set(ACCOUNT_KEYS) if "$LEDGER" in tags else set(tags.split(",")) & set(
            ACCOUNT_KEYS)
        self.summary_subs[req_id] = (wanted, {})
        self._push_summary(req_id)
        self.send(m.account_summary_end(req_id))

    def _push_summary(self, req_id: int) -> None:
        wanted, sent = self.summary_subs[req_id]
        out = []
        for account, acct in self.server.accounts.items():
            for key, value in self._values(account).items():
                if key in wanted and sent.get((account, key)) != value:
                    out.append(m.account_summary(req_id, account, key, value, acct.currency))
                    sent[(account, key)] = value
        if out:
            self.send(b"".join(out))

    def _req_positions(self, fields: list[str]) -> None:
        self.positions_sub = True
        out = []
        for account, acct in self.server.accounts.items():
            for pos in acct.positions.values():
                inst = self.server.world.instruments[pos.con_id].instrument
                out.append(m.position(account, inst, pos.quantity,
                                      pos.avg_price * inst.multiplier))
        out.append(m.position_end())
        self.send(b"".join(out))

    def _cancel_positions(self, fields: list[str]) -> None:
        self.positions_sub = False

    def _req_pnl(self, fields: list[str]) -> None:
        req_id, account = int(fields[1]), fields[2]
        if account not in self.server.accounts:
            self.send(m.error(req_id, 321, f"Error validating request: unknown account "
                                           f"{account!r}"))
            return
        self.pnl_subs[req_id] = account
        self._push_pnl(req_id)

    def _push_pnl(self, req_id: int) -> None:
        account = self.pnl_subs[req_id]
        acct = self.server.accounts[account]
        values = self.server.account_values(account)
        daily = acct.daily_pnl(self.server.world, self.server.market)
        self.send(m.pnl(req_id, round(daily, 2), round(values["UnrealizedPnL"], 2),
                        round(values["RealizedPnL"], 2)))

    def _req_pnl_single(self, fields: list[str]) -> None:
        req_id, account, con_id = int(fields[1]), fields[2], int(fields[4] or 0)
        if account not in self.server.accounts:
            self.send(m.error(req_id, 321, f"Error validating request: unknown account "
                                           f"{account!r}"))
            return
        self.pnl_single_subs[req_id] = (account, con_id)
        self._push_pnl_single(req_id)

    def _push_pnl_single(self, req_id: int) -> None:
        account, con_id = self.pnl_single_subs[req_id]
        acct = self.server.accounts[account]
        for row in acct.portfolio(self.server.world, self.server.market):
            if row.sim.instrument.con_id == con_id:
                self.send(m.pnl_single(req_id, row.quantity, round(row.daily, 2),
                                       round(row.unrealized, 2), round(row.realized, 2),
                                       round(row.market_value, 2)))
                return
        self.send(m.pnl_single(req_id, 0, 0.0, 0.0, 0.0, 0.0))

    def push_account(self) -> None:
        if self._closed or not self.ready:
            return
        for account in list(self.account_subs):
            self._push_account_updates(account)
        for req_id in list(self.multi_subs):
            self._push_multi(req_id)
        for req_id in list(self.summary_subs):
            self._push_summary(req_id)
        for req_id in list(self.pnl_subs):
            self._push_pnl(req_id)
        for req_id in list(self.pnl_single_subs):
            self._push_pnl_single(req_id)

    # --- orders ----------------------------------------------------------------------
    def _place_order(self, fields: list[str]) -> None:
        order_id = _int_at(fields, 1)
        server = self.server
        server.next_order_id = max(server.next_order_id, order_id + 1)
        assert self.client_id is not None
        try:
            req = parse_place_order(fields)
            rejection = server.next_order_rejection
            is_new = (self.client_id, order_id) not in server.orders.orders
            if rejection is not None and is_new and not req.what_if:
                server.next_order_rejection = None
                self.send(m.error(order_id, *rejection))
                return
            found = match(server.world, req.contract)
            sim = found[0] if len(found) == 1 else None
            default_account = next(iter(server.accounts))
            if req.what_if:
                self._what_if(req, sim, req.account or default_account)
                return
            events = server.orders.place(req, self.client_id, sim, default_account)
        except UnsupportedOrder as exc:
            self.send(m.error(order_id, 201, f"Order rejected - reason:{exc}"))
            return
        except Rejection as exc:
            self.send(m.error(order_id, exc.code, exc.message))
            return
        server.publish(events)

    def _what_if(self, req, sim: SimInstrument | None, account: str) -> None:  # type: ignore[no-untyped-def]
        engine = self.server.orders
        engine.validate(req, sim, account)
        assert sim is not None and self.client_id is not None
        margin = engine.margin_check(req, sim, account)
        view = SimOrder(req, self.client_id, 0, sim, account, status="PreSubmitted",
                        quantity=req.quantity).view()
        self.send(open_order(view, sim.instrument, margin))

    def _cancel_order(self, fields: list[str]) -> None:
        order_id = int(fields[2])
        assert self.client_id is not None
        try:
            events = self.server.orders.cancel(self.client_id, order_id)
        except Rejection as exc:
            self.send(m.error(order_id, exc.code, exc.message))
            return
        self.server.publish(events)

    def _req_global_cancel(self, fields: list[str]) -> None:
        # IB cancels every open order of the account, whichever client placed it.
        self.server.publish(self.server.orders.cancel_all(set(self.server.accounts)))

    def _sees(self, order: SimOrder) -> bool:
        """A client sees its own orders; client 0 (the master here) sees all of them."""
        return order.client_id == self.client_id or self.client_id == 0

    def _req_open_orders(self, all_clients: bool) -> None:
        out = [open_order(o.view(), o.sim.instrument) + order_status(o.view(), o.avg_price,
                                                                     o.last_fill)
               for o in self.server.orders.working() if all_clients or self._sees(o)]
        out.append(m.open_order_end())
        self.send(b"".join(out))

    def _req_completed_orders(self, fields: list[str]) -> None:
        out = [completed_order(o.view(), o.sim.instrument, o.completed_time)
               for o in self.server.orders.orders.values() if o.done]
        out.append(m.completed_orders_end())
        self.send(b"".join(out))

    def _req_executions(self, fields: list[str]) -> None:
        req_id = int(fields[2])
        client_filter = int(fields[3] or 0)
        account, symbol, sec_type, side = fields[4], fields[6].upper(), fields[7].upper(), \
            fields[9].upper()
        try:
            since = exec_filter_time(fields[5])
        except ValueError:
            self.send(m.error(req_id, 321, f"Error validating request: execution filter time "
                                           f"{fields[5]!r} is not yyyymmdd-hh:mm:ss"))
            return
        out = []
        for fill in self.server.orders.fills:
            o, inst = fill.order, fill.order.sim.instrument
            if client_filter and o.client_id != client_filter:
                continue
            if since is not None and exec_filter_time(fill.time) < since:
                continue
            if (account and o.account != account) or (symbol and inst.symbol != symbol) or (
                    sec_type and inst.sec_type.value != sec_type) or (
                    side and side != o.req.action):
                continue
            out.append(self._fill_messages(req_id, fill))
        out.append(m.exec_details_end(req_id))
        self.send(b"".join(out))

    def _fill_messages(self, req_id: int, fill: Fill) -> bytes:
        o = fill.order
        side = "BOT" if o.buy else "SLD"
        view = o.view()
        return exec_details(req_id, view, o.sim.instrument, fill.exec_id, fill.time, side,
                            fill.shares, fill.price, o.filled, o.avg_price) + commission_report(
            fill.exec_id, fill.commission, fill.realized)

    def push_order_events(self, events: OrderEvents) -> None:
        if self._closed or not self.ready:
            return
        mine = [o for o in events.changed if self._sees(o)]
        fills = [f for f in events.fills if self._sees(f.order)]
        if not mine and not fills:
            return
        out = [open_order(o.view(), o.sim.instrument) for o in mine]
        out += [self._fill_messages(-1, f) for f in fills]
        out += [order_status(o.view(), o.avg_price, o.last_fill) for o in mine]
        self.send(b"".join(out))

    def push_positions(self, con_ids: set[int]) -> None:
        if not self.positions_sub or self._closed:
            return
        out = []
        for account, acct in self.server.accounts.items():
            for con_id in con_ids:
                pos = acct.positions.get(con_id)
                if pos is None:
                    continue
                inst = self.server.world.instruments[con_id].instrument
                out.append(m.position(account, inst, pos.quantity,
                                      pos.avg_price * inst.multiplier))
        if out:
            self.send(b"".join(out))


def _int_at(fields: list[str], index: int) -> int:
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return -1
