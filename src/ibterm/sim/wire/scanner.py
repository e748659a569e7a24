"""Scanner requests and answers: reqScannerParameters (24) / scannerParameters (19),
reqScannerSubscription (22) / scannerData (20), cancelScannerSubscription (23).

reqScannerSubscription has no version field: its request id is field 1 and field 2 its
numberOfRows. Its tag lists come as `tag=value;…`, the filter options (field 23) before
the options (24). One scannerData message is a whole result set: the client ends the
request after its rows, and a row ranked 0 starts the list again."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ibterm.domain.instrument import Instrument
from ibterm.sim.protocol import Field, encode
from ibterm.sim.scans import INSTRUMENTS, LOCATIONS, SCAN_TYPES, Limits
from ibterm.sim.wire.fields import int_field, nothing
from ibterm.sim.wire.layouts import Incoming, Layouts


@dataclass(frozen=True, slots=True)
class ScannerRequest:
    req_id: int
    rows: int  # -1 (unset): IB's default
    instrument: str
    location: str
    scan_code: str
    limits: Limits  # the subscription's own bounds and its filter options
    unknown_filters: list[str]  # filter options the simulator does not apply


def _price(text: str) -> float | None:
    """An optional number: the client sends UNSET_DOUBLE as an empty field."""
    return float(text) if text else None


def tag_values(text: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in text.split(";") if item)
    return {tag: value for tag, _, value in pairs}


# The filter options a subscription may give, by the Limits field each sets.
FILTERS = {"priceAbove": ("above_price", "Price above"),
           "priceBelow": ("below_price", "Price below"),
           "volumeAbove": ("above_volume", "Volume above")}


def _read_subscription(fields: list[str]) -> ScannerRequest:
    bounds = {"above_price": _price(fields[6]), "below_price": _price(fields[7]),
              "above_volume": _price(fields[8])}
    unknown = []
    for tag, value in tag_values(fields[23] if len(fields) > 23 else "").items():
        if tag in FILTERS:
            bounds[FILTERS[tag][0]] = _price(value)
        else:
            unknown.append(tag)
    return ScannerRequest(
        req_id=int(fields[1]), rows=int(fields[2] or -1), instrument=fields[3].upper(),
        location=fields[4].upper(), scan_code=fields[5].upper(), limits=Limits(**bounds),
        unknown_filters=unknown,
    )


REQ_SCANNER_SUBSCRIPTION = Incoming(22, "reqScannerSubscription", {176: _read_subscription})
CANCEL_SCANNER_SUBSCRIPTION = Incoming(23, "cancelScannerSubscription", {176: int_field(2)})
REQ_SCANNER_PARAMETERS = Incoming(24, "reqScannerParameters", {176: nothing})


def parameters_xml() -> str:
    """What the simulator scans, in the shape of IB's scanner parameters: instruments,
    locations, scan types and the filters it applies (the client passes it on unparsed)."""
    root = ET.Element("ScanParameterResponse")

    def add(parent: ET.Element, tag: str, **children: str) -> ET.Element:
        element = ET.SubElement(parent, tag)
        for name, text in children.items():
            ET.SubElement(element, name).text = text
        return element

    instruments = ET.SubElement(root, "InstrumentList", varName="fullInstrumentList")
    for i in INSTRUMENTS.values():
        add(instruments, "Instrument", name=i.name, type=i.code,
            filters=",".join(FILTERS))
    locations = ET.SubElement(root, "LocationTree", varName="locationTree")
    for loc in LOCATIONS.values():
        add(locations, "Location", displayName=loc.name, locationCode=loc.code,
            instruments=loc.instrument)
    scans = ET.SubElement(root, "ScanTypeList", varName="scanTypeList")
    for s in SCAN_TYPES.values():
        add(scans, "ScanType", displayName=s.name, scanCode=s.code,
            instruments=",".join(INSTRUMENTS))
    filters = ET.SubElement(root, "FilterList", varName="filterList")
    for code, (_, name) in FILTERS.items():
        add(filters, "RangeFilter", id=code, category="Price & Volume", displayName=name)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def scanner_parameters(xml: str) -> bytes:
    return encode(19, 1, xml)


def scanner_data(req_id: int, rows: list[Instrument]) -> bytes:
    """Each row: rank, the contract (conId … tradingClass, marketName before it), then
    distance, benchmark, projection and legs, which plain scans leave empty."""
    fields: list[Field] = []
    for rank, inst in enumerate(rows):
        fields += [rank, inst.con_id, inst.symbol, inst.sec_type.value, inst.expiry,
                   inst.strike, inst.right.value if inst.right else "", inst.exchange,
                   inst.currency, inst.local_symbol, inst.trading_class, inst.trading_class,
                   "", "", "", ""]
    return encode(20, 3, req_id, len(rows), *fields)


SCANNER_PARAMETERS = Layouts("scannerParameters", {176: scanner_parameters})
SCANNER_DATA = Layouts("scannerData", {176: scanner_data})
