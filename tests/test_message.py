"""Message bodies as streams: dot-stuffing and line ends on the fly, BDAT chunks, every source, flat memory."""

import io
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_smtpcheck.smtp.message import Chunks, DotStuffer, bdat_chunks, body_from, generated_message

WIRE_BYTES = st.lists(st.sampled_from([b".", b"\r", b"\n", b"a", b"b"]), max_size=40).map(b"".join)


def reference(data: bytes) -> bytes:
    """DATA's wire form computed the simple way, from the whole message at once: CRLF, LF and CR end lines."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


def feed_in_pieces(data: bytes, cuts: list[int]) -> bytes:
    stuffer, out, previous = DotStuffer(), b"", 0
    for cut in [*sorted(cuts), len(data)]:
        out += stuffer.feed(data[previous:cut])
        previous = cut
    return out + stuffer.end()


@given(WIRE_BYTES, st.lists(st.integers(0, 40), max_size=5))
def test_stuffing_in_any_pieces_equals_stuffing_the_whole_message(data, cuts):
    assert feed_in_pieces(data, [min(c, len(data)) for c in cuts]) == reference(data)


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"", b".\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b"a\nb", b"a\r\nb\r\n.\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b"a\rb\n", b"a\r\nb\r\n.\r\n"),  # RFC 5321 2.3.8: no bare CR on the wire; it ends a line
        (b"x\r", b"x\r\n.\r\n"),
        (b"hi\r.\r\nMAIL FROM:<x@y>\r\n", b"hi\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"),  # <CR>.<CR><LF> smuggling
        (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
    ],
)
def test_known_bodies(data, wire):
    assert feed_in_pieces(data, []) == wire


@given(WIRE_BYTES, st.integers(1, 9))
def test_bdat_chunks_are_full_except_the_last_carry_crlf_lines_and_no_stuffing(data, size):
    chunks = list(bdat_chunks(data, size))
    assert [last for _, last in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(len(chunk) == size for chunk, _ in chunks[:-1])
    expected = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert b"".join(chunk for chunk, _ in chunks) == expected


def test_an_empty_bdat_message_is_one_empty_last_chunk_and_a_chunk_needs_a_byte():
    assert list(bdat_chunks(b"", 10)) == [(b"", True)]
    assert [(len(c), last) for c, last in bdat_chunks(b"x" * 84 + b"\r\n", 1000)] == [(86, True)]  # RFC 3030's
    assert [(len(c), last) for c, last in bdat_chunks(b"y" * 20478 + b"\r\n", 7000)] == [
        (7000, False), (7000, False), (6480, True)]
    with pytest.raises(ValueError, match="at least 1 byte"):
        list(bdat_chunks(b"x", 0))


@pytest.mark.parametrize("size", [0, 1, 100, 20_000, 20_480, 1_000_000])
def test_a_generated_message_is_exactly_the_size_asked_for(size):
    head = len(b"".join(generated_message(0, "t").parts))
    assert len(b"".join(generated_message(size, "t").parts)) == max(size, head)


def test_every_source_gives_the_same_wire_bytes(tmp_path):
    text = "Subject: x\n\n.dot\nend\n"
    path = tmp_path / "body.eml"
    path.write_text(text)
    sources = [text, text.encode(), path, io.BytesIO(text.encode()), ["Subject: x", "", ".dot", "end"],
               [b"Subject: x", b"", b".dot", b"end"], Chunks([b"Subject: x\n\n.d", b"ot\nend\n"])]
    wires = [b"".join(body_from(source)) for source in sources]
    assert wires == [b"Subject: x\r\n\r\n..dot\r\nend\r\n.\r\n"] * len(sources)


def test_the_transcript_preview_is_the_first_lines_without_the_terminator():
    body = body_from([f"line {n}" for n in range(50)])
    for _ in body:
        pass
    assert body.preview() == [f"line {n}" for n in range(20)]
    assert body.sent_lines == 51
    short = body_from("one\ntwo\n")
    list(short)
    assert short.preview() == ["one", "two"]


def test_streaming_a_large_message_keeps_memory_flat():
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in body_from(generated_message(20_000_000, "big")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 20_000_000
    assert peak < 2_000_000, f"peak {peak} bytes for a 20 MB message"
