"""The influxdb_v1 sink's gzip (ISA-L): any gzip reader gets the body back byte for
byte, and a real InfluxDB 1.x takes large bodies and refuses bad lines as it did with
zlib's gzip."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from isal.igzip import compress as gzip_compress  # what the sink compresses with

from luna_events.errors import Problem
from luna_events.localservers import InfluxDB1
from luna_events.ship.config import InfluxDBv1Config
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.deadletters import DeadLetters, invalid_record
from luna_events.ship.sinks.influxdb_v1 import InfluxDBv1Sink

from .shipping import ORDINARY, ship_config, write_toml
from .strategies import examples


def one_gzip_member(body: bytes) -> bytes:
    """``body`` inflated by zlib as a single gzip member with nothing after it."""
    inflater = zlib.decompressobj(wbits=31)
    inflated = inflater.decompress(body) + inflater.flush()
    assert inflater.eof
    assert inflater.unused_data == b""
    return inflated


def lines(count: int, pad: int = 0) -> bytes:
    """``count`` points of one series with distinct times, ``pad`` bytes of text each."""
    text = "x" * pad
    return "".join(
        f'gzip_check,host=h{n % 7} n={n}i,text="{text}{n}" {1_700_000_000_000_000_000 + n}\n'
        for n in range(count)
    ).encode()


@settings(max_examples=examples(60))
@given(st.one_of(st.binary(max_size=5000), st.text(max_size=2000).map(str.encode)))
def test_any_body_comes_back_byte_for_byte(body: bytes):
    compressed = gzip_compress(body, compresslevel=1)
    assert compressed[:3] == b"\x1f\x8b\x08"  # gzip, deflate
    assert one_gzip_member(compressed) == body
    assert gzip.decompress(compressed) == body


def test_a_body_of_several_megabytes_comes_back_byte_for_byte():
    body = lines(60_000, pad=80)  # about 8 MB
    assert len(body) > 7_000_000
    compressed = gzip_compress(body, compresslevel=1)
    assert one_gzip_member(compressed) == body
    assert len(compressed) < len(gzip.compress(body, compresslevel=1)) * 1.2


@pytest.mark.server
def test_influxdb_takes_a_large_gzipped_body_whole(influxdb: InfluxDB1, database: str):
    body = lines(60_000, pad=80)
    sink = InfluxDBv1Sink(InfluxDBv1Config(url=influxdb.url, database=database))
    try:
        result = sink.send(body)
    finally:
        sink.close()
    assert (result.status, result.message) == (204, "")
    answer = influxdb.query("SELECT COUNT(n) FROM gzip_check", database)
    assert answer["results"][0]["series"][0]["values"][0][1] == 60_000


@pytest.mark.server
def test_influxdb_answers_a_bad_line_as_it_did_with_zlib(influxdb: InfluxDB1, database: str):
    body = lines(500) + b"gzip_check n=\n" + lines(3)
    sink = InfluxDBv1Sink(InfluxDBv1Config(url=influxdb.url, database=database))
    try:
        result = sink.send(body)
    finally:
        sink.close()
    status, answer = influxdb.write(database, gzip.compress(body, compresslevel=1), gzip=True)
    assert result.status == status == 400
    assert result.message == answer.decode().strip()
    assert "unable to parse" in result.message


BLOCKED = """
import sys
for name in sys.argv.pop(1).split(","):
    sys.modules[name] = None  # as if not installed
from luna_events.cli import cli
cli()
"""


@pytest.mark.parametrize(
    ("sink_type", "missing"), [("influxdb_v1", "isal"), ("influxdb_v2", "influxdb_client")]
)
@pytest.mark.parametrize("command", [["ship", "--once"], ["dead-letters", "replay"]])
def test_a_sink_module_not_installed_is_a_one_line_refusal(
    tmp_path: Path, sink_type: str, missing: str, command: list[str]
):
    # an upgrade without the [ship] extra does not bring a new dependency of it
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(ORDINARY)
    sink = {"type": sink_type, "url": "http://127.0.0.1:9"}
    if sink_type == "influxdb_v2":
        sink.update(token="t", org="o", bucket="b")
    data = ship_config(tmp_path, sink)
    config = write_toml(tmp_path / "ship.toml", data)
    letters = DeadLetters(load_ship_config(config, environ={}).dead_letters)
    problem = Problem("malformed_json", "line", "not JSON")
    letters.write([invalid_record("a", "a.jsonl", 0, b'{"luna_event": 1', (problem,))])
    letters.close()
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED, f"{missing},{missing}.igzip", *command, "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f'luna-events {command[0]}: sink.type = "{sink_type}" needs the [ship] extra '
        f"(no module '{missing}'): pip install 'luna-events[ship]'"
    ]
