"""The simulator's control endpoint: a small HTTP/1.1 JSON interface on the API port itself.

A TWS API connection starts with `API\\0`; anything starting with an HTTP method is a
control request instead. Sharing the port means `ibterm sim` needs no second address and
its one `listening on HOST:PORT` line stays the whole interface, and the endpoint is as
loopback-only as the simulator. Out-of-process tests (tmux, the soak) and people use it:

    curl -s -X POST -H 'Content-Type: application/json' \\
         -d '{"symbol": "AAPL", "factor": 10}' http://127.0.0.1:7497/faults/bad_tick

Routes, bodies and answers: docs/simulator.md#control-endpoint.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import os
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Protocol

import pydantic

from ibterm.sim.faults import FAULT_NAMES, FaultTarget, parse_fault
from ibterm.sim.orders import OrderEngine
from ibterm.sim.world import World

log = logging.getLogger("ibterm.sim.control")

HTTP_METHODS = (b"GET ", b"POST", b"HEAD", b"PUT ", b"DELE", b"PATC", b"OPTI")
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
# The token for control requests, for `ibterm sim` and for `call()`: an environment
# variable, not an argument, since other users of the machine can read a command line.
TOKEN_ENV = "IBTERM_SIM_CONTROL_TOKEN"
_SINGLE_HEADERS = frozenset({"host", "origin", "authorization", "content-length"})


class Peer(Protocol):
    @property
    def client_id(self) -> int | None: ...


class Controlled(FaultTarget, Protocol):
    """What the endpoint reads and acts on: `SimServer` implements it, so the endpoint
    sits below the server it answers for."""

    host: str
    port: int
    control_token: str | None
    handshake_timeout: float
    hold_until: float
    reply_delay: float
    next_order_rejection: tuple[int, str] | None

    @property
    def world(self) -> World: ...
    @property
    def orders(self) -> OrderEngine: ...
    @property
    def connections(self) -> Sequence[Peer]: ...


class ControlError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def status(server: Controlled) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rejection = server.next_order_rejection
    return {
        "host": server.host,
        "port": server.port,
        "date": server.world.date.isoformat(),
        "clients": sorted(c.client_id for c in server.connections if c.client_id is not None),
        "connections": len(server.connections),
        "orders": len(server.orders.orders),
        "faults": {
            "stalled_for": round(max(0.0, server.hold_until - loop.time()), 3),
            "delay": server.reply_delay,
            "reject_next_order": list(rejection) if rejection else None,
        },
    }


def orders(server: Controlled) -> list[dict[str, Any]]:
    """Every order the simulator holds, working or done, oldest first."""
    out = []
    for o in sorted(server.orders.orders.values(), key=lambda o: o.perm_id):
        r = o.req
        out.append({
            "client_id": o.client_id, "order_id": r.order_id, "perm_id": o.perm_id,
            "order_ref": r.order_ref, "account": o.account,
            "symbol": o.sim.instrument.symbol, "action": r.action, "quantity": o.quantity,
            "order_type": r.order_type, "status": o.status, "filled": o.filled,
            "remaining": o.remaining,
        })
    return out


def check_token(token: str) -> str:
    """Return `token` if it can travel in an `Authorization` header; ValueError if not."""
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("a control token must be non-empty printable ASCII without spaces")
    return token


def _authorized(server: Controlled, headers: dict[str, str]) -> bool:
    if server.control_token is None:
        return True
    scheme, _, given = headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), server.control_token.encode())


def loopback_host(value: str) -> bool:
    """Whether a Host header names this machine by a loopback name: `localhost`, a
    127.0.0.0/8 address or `[::1]`, each with or without a port (`::1` bare too)."""
    host, port = value.strip(), ""
    if host.startswith("["):
        # An IPv6 literal is bracketed when a port may follow: "[::1]:7497".
        end = host.find("]")
        if end < 0:
            return False
        host, rest = host[1:end], host[end + 1:]
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:] if rest else ""
        if rest and not port:
            return False
    elif host.count(":") == 1:
        host, port = host.split(":")
        if not port:
            return False
    if port and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _route(server: Controlled, method: str, path: str, body: bytes,
           headers: dict[str, str]) -> tuple[HTTPStatus, Any]:
    # Browsers name the page's origin; scripts and curl do not. A web page must not reach
    # a simulator on the trader's machine, not even its GET routes.
    if "origin" in headers:
        raise ControlError(HTTPStatus.FORBIDDEN, "requests from web pages are refused")
    # DNS rebinding: a page on attacker.example re-resolves its own name to 127.0.0.1, and
    # its same-origin GETs (no Origin header) then reach this port. The browser still
    # sends `Host: attacker.example`, so only loopback names are answered. A request
    # without Host cannot come from a browser (every browser sends one), so HTTP/1.0-style
    # scripts and raw sockets keep working.
    host = headers.get("host")
    if host is not None and not loopback_host(host):
        raise ControlError(HTTPStatus.FORBIDDEN,
                           f"Host {host[:100]!r} is not a loopback name: only localhost, "
                           "127.x.y.z and [::1] are answered (DNS rebinding)")
    # With a token every route needs it, GETs too: /orders is the trader's order book,
    # and the token is what keeps the machine's other users and processes out of it.
    if not _authorized(server, headers):
        raise ControlError(HTTPStatus.UNAUTHORIZED,
                           "this simulator requires its control token: "
                           "send Authorization: Bearer TOKEN")
    if path in ("/status", "/orders", "/faults"):
        if method != "GET":
            raise ControlError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} answers GET only")
        if path == "/status":
            return HTTPStatus.OK, status(server)
        if path == "/orders":
            return HTTPStatus.OK, orders(server)
        return HTTPStatus.OK, {"faults": list(FAULT_NAMES)}
    if path.startswith("/faults/"):
        name = path.removeprefix("/faults/")
        if name not in FAULT_NAMES:
            raise ControlError(HTTPStatus.NOT_FOUND,
                               f"no fault {name!r}; faults: {', '.join(FAULT_NAMES)}")
        if method != "POST":
            raise ControlError(HTTPStatus.METHOD_NOT_ALLOWED, "faults are injected with POST")
        # JSON only, even an empty body: a browser cannot send that to another origin
        # without a CORS preflight, which this endpoint never grants.
        if not headers.get("content-type", "").startswith("application/json"):
            raise ControlError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                               "send the parameters as Content-Type: application/json")
        try:
            params = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ControlError(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise ControlError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        try:
            fault = parse_fault({**params, "fault": name})
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
                for e in exc.errors())
            raise ControlError(HTTPStatus.BAD_REQUEST, problems) from None
        try:
            result = fault.apply(server)
        except ValueError as exc:
            raise ControlError(HTTPStatus.BAD_REQUEST, str(exc)) from None
        log.info("control: %s %s", name, params)
        return HTTPStatus.OK, {"ok": True, "fault": name, "result": result}
    raise ControlError(HTTPStatus.NOT_FOUND,
                       f"no route {path!r}; routes: /status, /orders, /faults, /faults/NAME")


async def _read_request(reader: asyncio.StreamReader,
                        first: bytes) -> tuple[str, str, dict[str, str], bytes]:
    head = first
    while b"\r\n\r\n" not in head:
        if len(head) > MAX_HEAD:
            raise ControlError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers too large")
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError("closed before the end of the headers")
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ControlError(HTTPStatus.BAD_REQUEST, "not an HTTP/1.x request line")
    method, target, _ = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name = name.strip().lower()
            # Two Hosts (or tokens, lengths) would let a check read one and a proxy the
            # other: a request that names them twice is refused, not guessed at.
            if name in _SINGLE_HEADERS and name in headers:
                raise ControlError(HTTPStatus.BAD_REQUEST, f"more than one {name} header")
            headers[name] = value.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise ControlError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise ControlError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
    body = rest
    while len(body) < length:
        chunk = await reader.read(length - len(body))
        if not chunk:
            raise ConnectionError("closed before the end of the body")
        body += chunk
    return method, target.split("?", 1)[0], headers, body[:length]


async def serve(server: Controlled, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter, first: bytes,
                deadline: float | None = None) -> None:
    """Answer one request, then close (every answer says `Connection: close`). The
    request must have arrived whole by `deadline` (loop time; default: the server's
    handshake timeout from now), or the connection is closed unanswered."""
    loop = asyncio.get_running_loop()
    if deadline is None:
        deadline = loop.time() + server.handshake_timeout
    try:
        try:
            method, path, headers, body = await asyncio.wait_for(
                _read_request(reader, first), max(0.0, deadline - loop.time()))
            code, payload = _route(server, method, path, body, headers)
        except ControlError as exc:
            code, payload = exc.status, {"ok": False, "error": exc.message}
        data = json.dumps(payload, indent=None).encode() + b"\n"
        challenge = ('WWW-Authenticate: Bearer realm="ibterm-sim"\r\n'
                     if code is HTTPStatus.UNAUTHORIZED else "")
        writer.write(
            f"HTTP/1.1 {code.value} {code.phrase}\r\nContent-Type: application/json\r\n"
            f"{challenge}Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            .encode() + data)
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def call(port: int, path: str, params: dict[str, Any] | None = None,
         host: str = "127.0.0.1", timeout: float = 5.0, token: str | None = None) -> Any:
    """A blocking client for scripts and tests: GET `path`, or POST `params` as JSON when
    given. `token` (default: $IBTERM_SIM_CONTROL_TOKEN, if set) is sent as a bearer
    token. Returns the decoded answer; raises ControlError for an error status."""
    import http.client  # only scripts need it, not the simulator

    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if params is None:
            conn.request("GET", path, headers=headers)
        else:
            conn.request("POST", path, body=json.dumps(params),
                         headers={**headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        payload = json.loads(response.read() or b"null")
    finally:
        conn.close()
    if response.status != HTTPStatus.OK:
        raise ControlError(HTTPStatus(response.status),
                           payload.get("error", "") if isinstance(payload, dict) else "")
    return payload
