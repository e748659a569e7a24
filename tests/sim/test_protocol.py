"""Framing and version negotiation of the TWS API."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibterm.sim.protocol import (
    FrameDecoder,
    FrameError,
    encode,
    format_field,
    negotiate,
    parse_version_range,
)


def test_one_message_round_trips() -> None:
    assert FrameDecoder().feed(encode(1, 11, 7, "AAPL", 1.5, True, None)) == [
        ["1", "11", "7", "AAPL", "1.5", "1", ""]
    ]


def test_partial_frames_are_buffered_until_complete() -> None:
    data = encode(9, 1, 42)
    decoder = FrameDecoder()
    for i in range(len(data) - 1):
        assert decoder.feed(data[i : i + 1]) == []
    assert decoder.feed(data[-1:]) == [["9", "1", "42"]]
    assert decoder.pending == 0


def test_several_messages_in_one_packet() -> None:
    data = encode(1, "a") + encode(2, "b") + encode(3, "c")[:5]
    decoder = FrameDecoder()
    assert decoder.feed(data) == [["1", "a"], ["2", "b"]]
    assert decoder.feed(encode(3, "c")[5:]) == [["3", "c"]]


@pytest.mark.parametrize("length", [0, 0xFFFFFF + 1, 0xFFFFFFFF])
def test_garbage_length_is_a_frame_error(length: int) -> None:
    with pytest.raises(FrameError):
        FrameDecoder().feed(struct.pack(">I", length) + b"x")


def test_non_utf8_payload_is_a_frame_error() -> None:
    with pytest.raises(FrameError):
        FrameDecoder().feed(struct.pack(">I", 2) + b"\xff\0")


@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_characters="\0",
                                                        blacklist_categories=("Cs",)),
                                 max_size=20), min_size=1, max_size=8), max_size=10),
       st.integers(min_value=1, max_value=64))
def test_any_chunking_decodes_the_same_messages(messages: list[list[str]], chunk: int) -> None:
    data = b"".join(encode(*m) for m in messages)
    decoder = FrameDecoder()
    out: list[list[str]] = []
    for i in range(0, len(data), chunk):
        out.extend(decoder.feed(data[i : i + chunk]))
    assert out == messages


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), (True, "1"), (False, "0"), (3, "3"), (2.0, "2"), (0.25, "0.25"),
    (float("nan"), ""), (1e20, "1e+20"),
])
def test_field_formatting(value: object, text: str) -> None:
    assert format_field(value) == text  # type: ignore[arg-type]


def test_version_negotiation() -> None:
    assert parse_version_range("v157..178") == (157, 178)
    assert parse_version_range("v100..200 +PACEAPI") == (100, 200)
    assert negotiate(157, 178) == 178
    assert negotiate(100, 200) == 178
    assert negotiate(157, 170) is None  # only v178 layouts are written
    assert negotiate(100, 150) is None
    assert negotiate(179, 190) is None
    with pytest.raises(FrameError):
        parse_version_range("hello")
    with pytest.raises(FrameError):
        parse_version_range("v178..157")
