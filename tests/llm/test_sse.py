"""The event-stream decoder, fed plain bytes: where reads cut a body must not change its events."""

from __future__ import annotations

import pytest

from unmute_server.llm._sse import MAX_EVENT_BYTES, EventDataDecoder, EventTooLong


def _decode(*reads: bytes) -> list[bytes]:
    decoder = EventDataDecoder()
    return [data for read in reads for data in decoder.feed(read)]


STREAM = (
    b": a comment\n"
    b"event: message\n"
    b"id: 1\n"
    b'data: {"a": 1}\n'
    b"\n"
    b"data:no space\n"
    b"data:  two spaces\n"
    b"data\n"
    b"\n"
    b"retry: 10\n"
    b"\n"
    b"data:\n"
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
EVENTS = [b'{"a": 1}', b"no space\n two spaces\n", b"[DONE]"]


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_line_end_gives_the_same_events(line_end: bytes) -> None:
    assert _decode(STREAM.replace(b"\n", line_end)) == EVENTS


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_a_body_cut_at_any_byte_gives_the_same_events(line_end: bytes) -> None:
    stream = STREAM.replace(b"\n", line_end)
    for cut in range(len(stream) + 1):
        assert _decode(stream[:cut], stream[cut:]) == EVENTS, cut
    assert _decode(*(stream[i : i + 1] for i in range(len(stream)))) == EVENTS


def test_an_event_is_given_only_once_its_blank_line_has_arrived() -> None:
    decoder = EventDataDecoder()
    assert decoder.feed(b"data: x\n") == []
    assert decoder.feed(b"\ndata: y") == [b"x"]
    assert decoder.feed(b"\n\n") == [b"y"]


def test_a_cr_at_the_end_of_a_read_ends_its_line_at_once() -> None:
    # A stream written with lone CRs must not wait for the next read to finish an event.
    decoder = EventDataDecoder()
    assert decoder.feed(b"data: x\r\r") == [b"x"]
    assert decoder.feed(b"\ndata: y\r\r") == [b"y"]  # that LF ends the CRLF the CR began


def test_an_event_longer_than_the_limit_is_refused_whether_one_line_or_many() -> None:
    with pytest.raises(EventTooLong):
        EventDataDecoder().feed(b"data: " + b"x" * MAX_EVENT_BYTES)
    decoder = EventDataDecoder()
    with pytest.raises(EventTooLong):  # noqa: PT012 (the limit is crossed by the last read)
        for _ in range(MAX_EVENT_BYTES // 1000 + 1):
            decoder.feed(b"data: " + b"x" * 1000 + b"\n")
    assert EventDataDecoder().feed(b"data: " + b"x" * (MAX_EVENT_BYTES - 10) + b"\n\n")
