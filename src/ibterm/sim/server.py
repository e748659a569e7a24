"""The simulator's core: the listening socket, each connection's transport, the handshake
and version negotiation, and the dispatch of every request to the desk of its family
(sim/requests/), which reads and writes it through its layouts in sim/wire/.

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

from ibterm.sim import control
from ibterm.sim.accounts import SimAccount
from ibterm.sim.market import Market
from ibterm.sim.orders import OrderEngine, OrderEvents
from ibterm.sim.protocol import (
    API_PREFIX,
    MAX_CLIENT_FRAME,
    MAX_SERVER_VERSION,
    MIN_SERVED_VERSION,
    FrameDecoder,
    FrameError,
    negotiate,
    parse_version_range,
)
from ibterm.sim.requests.accounts import AccountDesk
from ibterm.sim.requests.contracts import ContractDesk
from ibterm.sim.requests.depth import DepthDesk
from ibterm.sim.requests.desk import handlers, serves
from ibterm.sim.requests.history import HistoryDesk
from ibterm.sim.requests.market_data import MarketDataDesk
from ibterm.sim.requests.news import NewsDesk
from ibterm.sim.requests.orders import OrderDesk
from ibterm.sim.requests.scanner import ScannerDesk
from ibterm.sim.requests.ticks import TickDesk
from ibterm.sim.scenario import MarketSession, Scenario
from ibterm.sim.wire.errors import ERROR
from ibterm.sim.wire.fields import request_id
from ibterm.sim.wire.layouts import UnservedVersion
from ibterm.sim.wire.orders import NEXT_VALID_ID
from ibterm.sim.wire.session import CURRENT_TIME, REQ_CURRENT_TIME, SERVER_HELLO, START_API
from ibterm.sim.wire.unserved import EMPTY_ANSWERS, Answer, unserved
from ibterm.sim.world import build_world, find_instrument

log = logging.getLogger("ibterm.sim")

# A client that stops reading must not make the simulator buffer without bound.
MAX_WRITE_BUFFER = 32 * 1024 * 1024
# ib_async sends its version range and startApi within milliseconds of connecting; a
# connection still mid-handshake after this long is a port scan or an attack, and would
# otherwise hold a socket and a buffer forever. Above ib_async's own 4 s connect timeout.
HANDSHAKE_TIMEOUT = 5.0
# IB counts a client's messages over one second. A message is stamped when the read that
# brought it returns, which can be a few milliseconds after its bytes came (the simulator
# was answering the previous batch), while a throttled client like ib_async sends its
# next batch exactly one second, by its own clock, after the one it replaces: so each
# message counts for a second less this margin, or a late-read batch and the punctual
# next one overlap. A real burst (60 messages at once) is refused all the same.
PACING_WINDOW = 1.0 - 0.05

def check_loopback(host: str) -> str:
    """Return `host` if it is a loopback IP address; raise ValueError otherwise."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"--host must be a loopback IP address, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to listen on {host}: only loopback addresses are allowed")
    return host


class SimServer:
    """The simulated gateway. The desks see it as a `Venue`, faults as a `FaultTarget` and
    the control endpoint as `Controlled`: each of those is defined below it."""

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
                conn.push_scans()
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
                conn.push_positions({c for f in events.fills
                                     if (c := f.position_con_id) is not None})
                conn.push_account()

    def edit_order(self, order_ref: str, **changes: object) -> None:
        """Change a working order as TWS's own window would (OrderRequest fields, e.g.
        tif="GTC"), and tell its client."""
        self.publish(self.orders.edit(order_ref, **changes))

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
                conn.error(-1, code, texts[code])

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

    def market_data_line_free(self) -> bool:
        """Whether one more subscription fits the scenario's market data lines, which (as
        IB's) belong to the user, not to one connection."""
        lines = self.scenario.market_data_lines
        return not lines or sum(len(conn.quotes) for conn in self.connections) < lines


class ClientConnection(ContractDesk, MarketDataDesk, OrderDesk, AccountDesk, ScannerDesk,
                       NewsDesk, HistoryDesk, DepthDesk, TickDesk):
    """One client's socket: the transport (stalls, delays, a bounded write buffer), the
    handshake and the dispatch of each request to its family's desk (requests/)."""

    server: SimServer  # the desks see it as a Venue; the core needs the rest

    def __init__(self, server: SimServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        super().__init__()
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
        self._closed = False
        self._held: deque[tuple[float, bytes]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._pace: deque[float] = deque()  # arrival times of the last second's messages
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._partial_timer: asyncio.TimerHandle | None = None

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
            loop = asyncio.get_running_loop()
            while not self._closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                # Pacing judges what the client sent, not how fast it is handled here:
                # every frame of one read arrived together and counts at that moment.
                arrived = loop.time()
                for fields in self.decoder.feed(data):
                    self._dispatch(fields, arrived)
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
            # No version was agreed: the error goes out in the oldest layout served.
            self.send(ERROR.at(MIN_SERVED_VERSION)(
                -1, 503, f"The TWS API client version range v{low}..{high} is not supported: "
                         f"this server speaks v{MIN_SERVED_VERSION}..{MAX_SERVER_VERSION}."))
            await self.writer.drain()
            raise FrameError(f"unsupported client versions v{low}..{high}")
        self.version = version
        now = dt.datetime.now(dt.UTC)
        stamp = f"{self.server.world.date:%Y%m%d} {now:%H:%M:%S} UTC"
        self.send(self.layout(SERVER_HELLO)(version, stamp))
        arrived = asyncio.get_running_loop().time()
        for fields in frames[1:]:
            self._dispatch(fields, arrived)

    # --- dispatch --------------------------------------------------------------------
    def _dispatch(self, fields: list[str], arrived: float) -> None:
        try:
            msg_id = int(fields[0])
        except (ValueError, IndexError):
            self.error(-1, 505, f"Fatal Error: Unknown message id {fields[:1]!r}.")
            return
        if not self.ready:
            if msg_id == START_API.msg_id:
                self._start_api(fields)
            else:
                self.error(-1, 505, "Fatal Error: the API has not been started.")
            return
        if self._over_pace(msg_id, fields, arrived):
            return
        handler = _HANDLERS.get(msg_id)
        if handler is None:
            self._unsupported(msg_id, fields)
            return
        try:
            handler(self, fields)
        except (IndexError, ValueError) as exc:
            self.error(request_id(msg_id, fields), 320,
                       f"Error reading request: message {msg_id}: {exc}")
        except UnservedVersion as exc:
            # A family whose layouts do not go back to this connection's version: the
            # request is answered as an unserved one, and the client goes on.
            self._refuse(msg_id, fields, f"{exc}: not supported by the ibterm simulator")

    def _over_pace(self, msg_id: int, fields: list[str], arrived: float) -> bool:
        """IB refuses a client's messages past its rate with error 100 (pacing), counted
        over the second before each one arrived."""
        limit = self.server.scenario.pacing_limit
        if not limit:
            return False
        pace = self._pace
        while pace and arrived - pace[0] >= PACING_WINDOW:
            pace.popleft()
        pace.append(arrived)
        if len(pace) <= limit:
            return False
        # Name the request (or order) it refuses, so a client waiting for it is answered.
        self.error(request_id(msg_id, fields), 100, "Max rate of messages per second has been "
                   f"exceeded:max={limit} rec={len(pace)} (1)")
        return True

    def _unsupported(self, msg_id: int, fields: list[str]) -> None:
        request = unserved(msg_id)
        if request.answer is not Answer.SILENT:
            self._refuse(msg_id, fields,
                         f"{request.what} is not supported by the ibterm simulator")

    def _refuse(self, msg_id: int, fields: list[str], text: str) -> None:
        """Error 505 on the request's id, or, for a request the client waits for by name
        (which no error ends), its answer, empty."""
        empty = EMPTY_ANSWERS.get(msg_id)
        if empty is not None:
            self.send(self.layout(empty)())
        else:
            self.error(request_id(msg_id, fields), 505, text)

    def _start_api(self, fields: list[str]) -> None:
        client_id = START_API.read(self.version, fields)
        other = self.server.client(client_id)
        if other is not None and other is not self:
            self.error(-1, 326, "Unable to connect as the client id is already in use. "
                                "Retry with a unique client id.")
            self.close()
            return
        self.client_id = client_id
        self.ready = True
        self._cancel_handshake_timer()  # from here on, idling is legitimate
        self.send(self.layout(NEXT_VALID_ID)(self.server.next_order_id))
        self.send_managed_accounts()
        for code, text in ((2104, "Market data farm connection is OK:usfarm"),
                           (2106, "HMDS data farm connection is OK:ushmds"),
                           (2158, "Sec-def data farm connection is OK:secdefnj")):
            self.error(-1, code, text)
        log.info("client %d connected from %s (v%d)", client_id, self.peer, self.version)
        if self.server.on_client_ready is not None:
            self.server.on_client_ready(self)

    @serves(REQ_CURRENT_TIME)
    def _req_current_time(self, fields: list[str]) -> None:
        self.send(self.layout(CURRENT_TIME)(int(time.time())))


_HANDLERS = handlers(ClientConnection)
