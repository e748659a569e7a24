"""Market scanners: the parameters, and subscriptions ranked from the market (sim/scans.py)
that send their whole list again whenever the ranking changes, until cancelled."""

from __future__ import annotations

from dataclasses import dataclass

from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.scans import SCAN_TYPES, ScanType, scan
from ibterm.sim.wire.scanner import (
    CANCEL_SCANNER_SUBSCRIPTION,
    REQ_SCANNER_PARAMETERS,
    REQ_SCANNER_SUBSCRIPTION,
    SCANNER_DATA,
    SCANNER_PARAMETERS,
    ScannerRequest,
    parameters_xml,
)

PARAMETERS = parameters_xml()
# IB's answers to a scan it does not run, as the Historical Market Data Service words them.
HMDS = "Historical Market Data Service error message:"


@dataclass(slots=True)
class ScanSubscription:
    request: ScannerRequest
    scan_type: ScanType
    sent: tuple[int, ...] | None = None  # the conIds last sent, in rank order


class ScannerDesk(Desk):
    def __init__(self) -> None:
        super().__init__()
        self.scans: dict[int, ScanSubscription] = {}

    @serves(REQ_SCANNER_PARAMETERS)
    def _req_scanner_parameters(self, fields: list[str]) -> None:
        self.send(self.layout(SCANNER_PARAMETERS)(PARAMETERS))

    @serves(REQ_SCANNER_SUBSCRIPTION)
    def _req_scanner_subscription(self, fields: list[str]) -> None:
        req = REQ_SCANNER_SUBSCRIPTION.read(self.version, fields)
        scan_type = SCAN_TYPES.get(req.scan_code)
        if scan_type is None:
            self.error(req.req_id, 162, f"{HMDS}Scanner type with code {req.scan_code} is "
                                        "disabled.")
            return
        if req.unknown_filters:
            self.error(req.req_id, 162, f"{HMDS}Scanner filter {req.unknown_filters[0]} is "
                                        "disabled.")
            return
        sub = self.scans[req.req_id] = ScanSubscription(req, scan_type)
        self._send_scan(req.req_id, sub)

    @serves(CANCEL_SCANNER_SUBSCRIPTION)
    def _cancel_scanner_subscription(self, fields: list[str]) -> None:
        req_id = CANCEL_SCANNER_SUBSCRIPTION.read(self.version, fields)
        if self.scans.pop(req_id, None) is None:
            self.error(req_id, 365, f"No scanner subscription found for ticker id:{req_id}")

    def _send_scan(self, req_id: int, sub: ScanSubscription) -> None:
        req = sub.request
        server = self.server
        found = scan(server.world, server.market, sub.scan_type, req.instrument,
                     req.location, req.limits, req.rows)
        ranking = tuple(s.instrument.con_id for s in found)
        if ranking != sub.sent:
            sub.sent = ranking
            self.send(self.layout(SCANNER_DATA)(req_id, [s.instrument for s in found]))

    def push_scans(self) -> None:
        """After a market step: each subscription whose ranking moved gets its new list."""
        if self._closed:
            return
        for req_id, sub in self.scans.items():
            self._send_scan(req_id, sub)
