"""The reader's runs through the fast path (``Topology._take``) give what the plain
per-line transform gives: the same points in the same order, the same dead letters
at the same offsets, the same counts, whatever mix of lines a chunk holds."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luna_events.event import Event
from luna_events.jsonline import LineKind, to_json_line
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.sources import Chunk
from luna_events.ship.sources.splitter import LineSplitter
from luna_events.ship.topology import Topology
from luna_events.transform import Transform

from .shipping import ORDINARY, make_events, ship_config, write_toml
from .strategies import examples
from .test_fastpath import events

MAX_LINE = 600
"""A small line limit, so that generated lines reach it."""
VALID = [
    to_json_line(e, timestamp=1.0, level="INFO", logger="m", message="e") for e in make_events(40)
]
SHORT_VALID = [line for line in VALID if len(line) < MAX_LINE]


class _NoSource:
    def close(self) -> None:
        pass


class _NoSink:
    name = "nowhere"

    def close(self) -> None:
        pass


@st.composite
def raw_lines(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """A line as written (no newline) and, for a line over the limit (the source cuts
    it), its full length."""
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return ORDINARY.rstrip(b"\n"), None
    if kind == 1:  # a valid event
        return draw(st.sampled_from(SHORT_VALID)).rstrip(b"\n"), None
    if kind == 2:  # any event, valid or not
        event: Event = draw(events())
        text = to_json_line(event, timestamp=1.0, level="INFO", logger="m", message="e")
        return text.rstrip(b"\n"), None
    if kind == 3:  # damaged: cut anywhere, or a byte changed
        line = draw(st.sampled_from(SHORT_VALID)).rstrip(b"\n")
        at = draw(st.integers(0, len(line) - 1))
        if draw(st.booleans()):
            return line[:at], None
        return line[:at] + bytes([draw(st.integers(0, 255).filter(lambda b: b != 10))]) + line[
            at + 1 :
        ], None
    if kind == 4:  # valid behind a BOM (not on the fast path)
        return b"\xef\xbb\xbf" + draw(st.sampled_from(SHORT_VALID)).rstrip(b"\n"), None
    if kind == 5:  # cut at the line limit, with the marker or without
        base = draw(st.sampled_from([VALID[0], ORDINARY])).rstrip(b"\n")
        full = base + b" " * (MAX_LINE + draw(st.integers(1, 50)))
        return full, len(full)
    if kind == 6:  # exactly at the limit, or one byte over it (not cut by the source)
        line = draw(st.sampled_from(SHORT_VALID)).rstrip(b"\n")
        pad = MAX_LINE - len(line) + draw(st.integers(0, 1))
        return line[:-2] + b" " * pad + line[-2:], None
    if kind == 7:  # the marker in an ordinary line
        return b'{"message": "luna_event", "luna_event": 3}', None
    return draw(st.binary(max_size=40)).replace(b"\n", b""), None


def expected(transform: Transform, chunk: Chunk) -> tuple[list[str], list[int], int]:
    """Points, dead-letter offsets and skipped lines, one line at a time."""
    points: list[str] = []
    offsets: list[int] = []
    skipped = 0
    for index, line in enumerate(chunk.lines):
        if index in chunk.oversized:
            if index in chunk.marked:
                offsets.append(chunk.offset_of(index))
            else:
                skipped += 1
            continue
        outcome = transform(line)
        if outcome.kind is LineKind.EVENT:
            points.append(outcome.line_protocol or "")
        elif outcome.kind is LineKind.INVALID:
            offsets.append(chunk.offset_of(index))
        else:
            skipped += 1
    return points, offsets, skipped


def take_all(chunks: list[Chunk]) -> tuple[list[str], list[int], Topology]:
    """The points and dead-letter offsets of ``chunks`` taken by one topology's reader."""
    with tempfile.TemporaryDirectory() as tmp:
        data: dict[str, Any] = ship_config(
            Path(tmp), {"type": "influxdb_v1", "url": "http://127.0.0.1:9", "database": "d"}
        )
        data["source"]["max_line_bytes"] = MAX_LINE
        config = load_ship_config(write_toml(Path(tmp) / "ship.toml", data), environ={})
        topology = Topology(config, _NoSource(), _NoSink())  # type: ignore[arg-type]
        try:
            for chunk in chunks:
                assert topology._take(chunk)
            topology.dead_letters.close()
            written = config.dead_letters.read_bytes() if config.dead_letters.exists() else b""
        finally:
            topology.dead_letters.close()
    offsets = [orjson.loads(record)["source"]["offset"] for record in written.splitlines()]
    return topology._batch.lines, offsets, topology


def chunks_of(data: bytes, cuts: list[int]) -> list[Chunk]:
    """``data`` read in pieces cut at ``cuts``, as the file source makes chunks."""
    splitter = LineSplitter(MAX_LINE)
    chunks: list[Chunk] = []
    offset = 0
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for begin, end in itertools.pairwise(points):
        out = splitter.feed(data[begin:end])
        if out.lines:
            chunk = Chunk("id", "/logs/a.jsonl", offset, 0, out.lines, out.oversized, out.marked)
            chunks.append(chunk)
            offset = chunk.offset_of(len(out.lines))
    return chunks


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_lines(), max_size=30), st.lists(st.integers(0, 20_000), max_size=20))
def test_runs_give_the_points_and_dead_letters_of_the_per_line_transform(
    drawn: list[tuple[bytes, int | None]], cuts: list[int]
):
    data = b"".join(line + b"\n" for line, _ in drawn)
    whole = chunks_of(data, [])
    assert len(whole) <= 1
    assert sum(len(chunk.lines) for chunk in whole) == len(drawn)
    points, offsets, skipped = (
        expected(Transform(max_bytes=MAX_LINE), whole[0]) if whole else ([], [], 0)
    )
    # in one chunk, and in chunks cut anywhere (in the middle of lines too)
    for chunks in (whole, chunks_of(data, cuts)):
        got_points, got_offsets, topology = take_all(chunks)
        assert got_points == points
        assert got_offsets == offsets
        assert topology.stats.lines_skipped == skipped
        assert topology.stats.events_read == len(points) + len(offsets)
        assert topology.stats.lines_read == len(drawn)


def test_a_chunk_stopped_at_its_dead_letters_leaves_nothing_behind(tmp_path: Path):
    # the dead-letter file cannot be written (its directory is a file) and the reader is
    # stopped: the chunk's points are not in the batch either, it is read again later
    drawn = [SHORT_VALID[0], b'{"luna_event": 1', ORDINARY, SHORT_VALID[1]]
    chunk = chunks_of(
        b"".join(line if line.endswith(b"\n") else line + b"\n" for line in drawn), []
    )[0]
    data: dict[str, Any] = ship_config(
        tmp_path, {"type": "influxdb_v1", "url": "http://127.0.0.1:9", "database": "d"}
    )
    data["dead_letter_path"] = str(tmp_path / "blocked" / "dead-letter.jsonl")
    (tmp_path / "blocked").write_bytes(b"")
    config = load_ship_config(write_toml(tmp_path / "ship.toml", data), environ={})
    topology = Topology(config, _NoSource(), _NoSink())  # type: ignore[arg-type]
    topology.stop.set()
    assert not topology._take(chunk)
    assert (topology._batch.lines, topology._batch.positions) == ([], {})
    assert (topology.stats.events_read, topology.stats.lines_read) == (0, 0)
    assert topology.stats.events_dead_lettered == topology.stats.lines_skipped == 0
    (tmp_path / "blocked").unlink()  # the fault is gone: the same chunk, read again
    topology.stop.clear()
    assert topology._take(chunk)
    topology.dead_letters.close()
    assert len(topology._batch.lines) == 2
    assert topology.stats.events_dead_lettered == 1
