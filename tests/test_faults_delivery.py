"""Delivery under hostile answers, signals and timeouts: a plain 400 never dead-letters
good events, InfluxDB's own refusals do (one line each), a hung request never holds a
stop, ``--drain-timeout`` bounds ``--once``, ``--fail-on-dead-letters`` exits 3 and
dead letters can be listed and replayed. Real InfluxDB on 127.0.0.1, the real command
where the operator view matters."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from luna_events.localservers import InfluxDB1, free_port
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.deadletters import DeadLetters, rejected_record
from luna_events.ship.delivery import Delivery, refuses_lines
from luna_events.ship.sinks import SendResult
from luna_events.ship.sinks.registry import build_sink
from luna_events.ship.spool import Segment, encode_segment
from luna_events.ship.stats import ShipperStats

from .faultproxy import DELAY, FORWARD, HANG, PARTIAL_ELSEWHERE, PLAIN_400, RESET, FaultProxy
from .shipping import (
    influx_sink,
    line,
    make_events,
    no_traceback,
    sequence_numbers,
    ship_config,
    stored_as_sent,
    wait_until,
    write_toml,
)

pytestmark = pytest.mark.server

COMMAND = [sys.executable, "-m", "luna_events.cli"]


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=timeout, env=environment()
    )


def write_logs(tmp_path: Path, lines: list[bytes]) -> None:
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "service.jsonl").write_bytes(b"".join(lines))


def config_file(tmp_path: Path, sink: dict[str, Any], **extra: Any) -> Path:
    return write_toml(tmp_path / "ship.toml", ship_config(tmp_path, sink, **extra))


# InfluxDB's answers, as InfluxDB 1.x gives them --------------------------------------------


def test_which_answers_refuse_lines_decided_on_real_influxdb_answers(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    config = load_ship_config(config_file(tmp_path, influx_sink(influxdb, database)), environ={})
    sink = build_sink(config.sink)
    try:
        assert sink.send(b"m f=1i 1\n").ok
        answers = {
            "type conflict": b'm f=1i 2\nm f="x" 3\n',
            "unparsable among good": b"m f=1i 4\nm f= 5\n",
            "unparsable alone": b"m f==\n",
            "timestamp out of range": b"m f=1i 99999999999999999999999\n",
            "unparsable with a string": b'm,t=a s="it \\"quoted\\"",f=\n',
        }
        results = {what: (sink.send(body), body) for what, body in answers.items()}
    finally:
        sink.close()
    for what, (result, body) in results.items():
        assert result.status == 400, (what, result)
        assert refuses_lines(result, body), (what, result.message)
    assert "partial write" not in results["unparsable alone"][0].message
    assert "unable to parse 'm f=='" in results["unparsable alone"][0].message
    proxy = SendResult(400, "<html><body><h1>400 Bad Request</h1></body></html>")
    assert not refuses_lines(proxy, b"m f=1i 1\n")
    elsewhere = SendResult(400, '{"error":"unable to parse \'other f=\': missing field"}')
    assert not refuses_lines(elsewhere, b"m f=1i 1\n"), "names no line of this batch"
    partial_elsewhere = SendResult(
        400, '{"error":"partial write: unable to parse \'other f=\': missing field dropped=1"}'
    )
    assert not refuses_lines(partial_elsewhere, b"m f=1i 1\n"), "about another request"
    assert refuses_lines(SendResult(422, "partial write"), b"m f=1i 1\n")


def test_a_line_influxdb_cannot_parse_is_dead_lettered_alone(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(200, seed=81)
    from luna_events.lineprotocol import encode_line
    from luna_events.validation import validate

    lines = [encode_line(validate(e)) for e in events]
    lines.insert(77, "broken,host=a value= 1")
    body, ends = encode_segment(lines)
    config = load_ship_config(config_file(tmp_path, influx_sink(influxdb, database)), environ={})
    sink = build_sink(config.sink)
    dead = DeadLetters(tmp_path / "dead.jsonl")
    stats = ShipperStats()
    delivery = Delivery(sink, dead, config.retry, stats, threading.Event())
    assert delivery.deliver(Segment(tmp_path / "x.seg", body, ends))
    sink.close()
    dead.close()
    assert sorted(sequence_numbers(influxdb, database)) == list(range(200))
    stored_as_sent(influxdb, database, events)
    records = [orjson.loads(r) for r in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert [r["line"] for r in records] == ["broken,host=a value= 1"]
    assert "unable to parse" in records[0]["reason"] and records[0]["key"].startswith("lp:")
    assert stats.events_dead_lettered == 1 and stats.events_shipped == 200


# hostile answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [PLAIN_400, PARTIAL_ELSEWHERE],
    ids=["a plain 400 (a proxy)", "a partial write naming a line of another request"],
)
def test_a_400_that_names_no_line_of_the_batch_never_dead_letters_good_events(
    tmp_path: Path, influxdb: InfluxDB1, database: str, answer: str
) -> None:
    events = make_events(5_000, seed=83)
    write_logs(tmp_path, [line(e) for e in events])
    with FaultProxy(influxdb.url, [answer] * 8 + [FORWARD]) as proxy:
        config = config_file(tmp_path, {**influx_sink(influxdb, database), "url": proxy.url})
        result = run("ship", "-c", str(config), "--once", "--drain-timeout", "120")
    no_traceback(result.stderr)
    assert result.returncode == 0, result.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    assert proxy.answers.count(answer) == 8
    assert not (tmp_path / "data" / "dead-letter.jsonl").exists()
    assert (
        "ERROR luna_events.ship: influxdb_v1 answered 400 to a whole batch without naming a "
        "refused line of it" in result.stderr
    )
    assert re.search(r"dead-lettered\s*│\s*0\s", result.stderr)


def test_resets_and_slow_answers_deliver_everything_exactly_once(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(3_000, seed=85)
    write_logs(tmp_path, [line(e) for e in events])
    steps = [RESET, RESET, DELAY, RESET, DELAY, FORWARD]
    with FaultProxy(influxdb.url, steps, delay=0.3) as proxy:
        config = config_file(
            tmp_path,
            {**influx_sink(influxdb, database), "url": proxy.url},
            batch={"max_events": 500, "timeout_secs": 0.2},
        )
        result = run("ship", "-c", str(config), "--once", "--drain-timeout", "120")
    no_traceback(result.stderr)
    assert result.returncode == 0, result.stderr
    assert proxy.answers[:3] == [RESET, RESET, DELAY]
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


# signals and bounded stops -----------------------------------------------------------------


class Shipper:
    """``luna-events ship`` running, its stderr in a file to read while it runs."""

    def __init__(self, config: Path, *extra: str) -> None:
        self.log = config.with_name("shipper.stderr")
        with open(self.log, "wb") as stderr:
            self.process = subprocess.Popen(
                [*COMMAND, "ship", "-c", str(config), *extra],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=environment(),
                # as started from a terminal, whatever the test runner ignores (nohup)
                preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
            )

    @property
    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, deadline: float = 60) -> int:
        """The exit code, polled for up to ``deadline`` seconds."""
        wait_until(lambda: self.process.poll() is not None, "the shipper to exit", deadline)
        return self.process.returncode


def test_second_sigterm_stops_at_once_while_a_request_hangs_and_the_batch_is_kept(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(500, seed=87)
    write_logs(tmp_path, [line(e) for e in events])
    with FaultProxy(influxdb.url, [HANG]) as proxy:
        sink = {**influx_sink(influxdb, database), "url": proxy.url, "timeout_secs": 3600}
        config = config_file(tmp_path, sink)
        shipper = Shipper(config)
        wait_until(lambda: proxy.requests >= 1, "the first request")
        shipper.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "spooling the open batch" in shipper.stderr, "the first stop")
        shipper.process.send_signal(signal.SIGTERM)
        code = shipper.wait()
        stderr = shipper.stderr
        no_traceback(stderr)
        assert code == 0, stderr
        assert "spooling the open batch and stopping" in stderr
        assert "signal 15 again: stopping at once" in stderr
        assert re.search(r"stopped with \d+ batches \([\d,]+ bytes\) in the spool", stderr)
        assert list((tmp_path / "data" / "spool").glob("*.seg")), "the batch is kept"
        assert sequence_numbers(influxdb, database) == []
        proxy.set_steps([FORWARD])
        result = run("ship", "-c", str(config), "--once", "--drain-timeout", "120")
    no_traceback(result.stderr)
    assert result.returncode == 0, result.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


def test_first_sigterm_in_the_once_drain_stops_within_the_grace_period(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(300, seed=89)
    write_logs(tmp_path, [line(e) for e in events])
    with FaultProxy(influxdb.url, [HANG]) as proxy:
        sink = {**influx_sink(influxdb, database), "url": proxy.url, "timeout_secs": 3600}
        shipper = Shipper(config_file(tmp_path, sink), "--once")
        wait_until(lambda: proxy.requests >= 1, "the first request")
        shipper.process.send_signal(signal.SIGTERM)
        code = shipper.wait()
    stderr = shipper.stderr
    no_traceback(stderr)
    assert code == 1, stderr  # something is left undelivered
    assert "spooling the open batch and stopping" in stderr
    assert "a request to influxdb_v1 is still in flight: closing it" in stderr
    assert re.search(r"left in the spool\s*│\s*[1-9]\d* batches", stderr)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_before_the_end_of_the_input_is_not_a_finished_once_run(
    tmp_path: Path, influxdb: InfluxDB1, database: str, number: signal.Signals
) -> None:
    events = make_events(3_000, seed=90)
    write_logs(tmp_path, [line(e) for e in events])
    with FaultProxy(influxdb.url, [HANG]) as proxy:
        sink = {**influx_sink(influxdb, database), "url": proxy.url, "timeout_secs": 3600}
        # a spool too small for the input: reading waits for the sink, which hangs
        config = config_file(tmp_path, sink, buffer={"max_size": 30_000}, batch={"max_events": 100})
        shipper = Shipper(config, "--once")
        wait_until(lambda: proxy.requests >= 1, "the first request")
        shipper.process.send_signal(number)
        code = shipper.wait()
        stderr = shipper.stderr
        no_traceback(stderr)
        assert code == 1, stderr  # not 0: the input was not read to its end
        assert f"signal {int(number)}: spooling the open batch and stopping" in stderr
        assert re.search(r"not finished\s*│\s*stopped before the end of the input", stderr)
        proxy.set_steps([FORWARD])
        result = run("ship", "-c", str(config), "--once", "--drain-timeout", "120")
    no_traceback(result.stderr)
    assert result.returncode == 0, result.stderr
    assert "not finished" not in result.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


def test_drain_timeout_bounds_once_while_the_sink_refuses_connections(
    tmp_path: Path,
) -> None:
    events = make_events(3_000, seed=91)
    write_logs(tmp_path, [line(e) for e in events])
    sink = {"type": "influxdb_v1", "url": f"http://127.0.0.1:{free_port()}", "database": "x"}
    config = config_file(tmp_path, sink, buffer={"max_size": 30_000}, batch={"max_events": 100})
    result = run("ship", "-c", str(config), "--once", "--drain-timeout", "2")
    no_traceback(result.stderr)
    assert result.returncode == 1, result.stderr
    assert "took no batch for 2 s (--drain-timeout) while the spool was full; giving up" in (
        result.stderr
    )
    assert re.search(r"left in the spool\s*│\s*[1-9]\d* batches", result.stderr)


# dead letters: exit code, summary, list, replay ---------------------------------------------


def test_fail_on_dead_letters_and_list_and_replay_once_the_cause_is_fixed(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(100, seed=93)
    conflicting = events[60]
    conflicting.fields["seq"] = "sixty"  # every other point has seq as a number
    write_logs(tmp_path, [line(e) for e in events])
    config = config_file(tmp_path, influx_sink(influxdb, database), metrics_interval_secs=0.05)
    result = run("ship", "-c", str(config), "--once", "--fail-on-dead-letters")
    no_traceback(result.stderr)
    assert result.returncode == 3, result.stderr
    dead_file = tmp_path / "data" / "dead-letter.jsonl"
    summary = re.sub(r"\s+", " ", result.stderr)
    assert re.search(r"events shipped │ 99 │", summary)
    assert re.search(r"shipper's own points shipped │ [1-9]\d* │", summary)
    assert "dead-lettered │ 1 → dead-letter.jsonl" in summary
    assert (
        f"WARNING luna_events.ship: 1 events dead-lettered to {dead_file} "
        "(see them: luna-events dead-letters list)"
    ) in result.stderr
    assert "answered 400 to a whole batch" not in result.stderr
    assert sorted(sequence_numbers(influxdb, database)) == [i for i in range(100) if i != 60]

    # the same input shipped again from scratch: the same point, the same key
    again = run("ship", "-c", str(config), "--once", "--data-dir", str(tmp_path / "data2"))
    assert again.returncode == 0, again.stderr
    second = (tmp_path / "data2" / "dead-letter.jsonl").read_bytes()
    dead_file.write_bytes(dead_file.read_bytes() + second)
    records = [orjson.loads(r) for r in dead_file.read_bytes().splitlines()]
    assert len(records) == 2 and records[0]["key"] == records[1]["key"]

    listed = run("dead-letters", "list", "-c", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "1 dead letters waiting" in listed.stdout
    assert "rejected: rejected_by_sink" in listed.stdout

    still = run("dead-letters", "replay", "-c", str(config))
    no_traceback(still.stderr)
    assert still.returncode == 1 and "0 replayed, 1 still waiting" in still.stdout
    assert "still refused (400)" in still.stderr

    influxdb.query(f'DROP MEASUREMENT "{conflicting.series}"', database)
    replayed = run("dead-letters", "replay", "-c", str(config))
    assert replayed.returncode == 0, replayed.stderr
    assert "1 replayed, 0 still waiting" in replayed.stdout
    stored = [p for p in influxdb.points(database, conflicting.series)]
    assert [p["fields"]["seq"] for p in stored] == ["sixty"]

    twice = run("dead-letters", "replay", "-c", str(config))
    assert twice.returncode == 0 and "no dead letters waiting" in twice.stdout
    assert len(influxdb.points(database, conflicting.series)) == 1


def test_replay_sends_dead_letters_in_batches_and_splits_down_to_the_refused_point(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    points = [
        b"replayed,service=s seq=%di %d" % (n, 1_763_000_000_000_000_000 + n) for n in range(300)
    ]
    refused = b'replayed,service=s seq="text" 1763000000000000999'
    dead_file = tmp_path / "dead.jsonl"
    letters = DeadLetters(dead_file)
    letters.write(
        rejected_record("influxdb_v1", 500, "was down", p)
        for p in [*points[:150], refused, *points[150:]]
    )
    letters.close()
    with FaultProxy(influxdb.url, [FORWARD]) as proxy:
        sink = {"type": "influxdb_v1", "url": proxy.url, "database": database}
        config = config_file(tmp_path, sink, dead_letter_path=str(dead_file))
        result = run("dead-letters", "replay", "-c", str(config))
    no_traceback(result.stderr)
    assert result.returncode == 1 and "300 replayed, 1 still waiting" in result.stdout
    assert "still refused (400)" in result.stderr
    assert proxy.requests <= 2 * 9 + 1, "one batch, halves only along the refused point"
    stored = influxdb.points(database, "replayed")
    assert sorted(p["fields"]["seq"] for p in stored) == list(range(300))
    again = run("dead-letters", "replay", "-c", str(config))
    assert again.returncode == 1 and "0 replayed, 1 still waiting" in again.stdout


def test_dead_letters_edited_by_hand_are_listed_without_a_traceback(tmp_path: Path) -> None:
    dead_file = tmp_path / "dead.jsonl"
    dead_file.write_bytes(
        b'{"key":"a","kind":"rejected","line_base64":"abc"}\n'
        b'{"key":"b","problems":"oops","reason":5}\n'
        b'{"key":"c","problems":["x"],"line":"m f=1i 1"}\n'
    )
    listed = run("dead-letters", "list", "--file", str(dead_file), "--records")
    no_traceback(listed.stderr)
    assert listed.returncode == 0 and "3 dead letters waiting" in listed.stdout
    assert "a\t\t<cut>" in listed.stdout and "c\t\tm f=1i 1" in listed.stdout


def test_dead_letter_lines_that_are_not_whole_records_are_counted_not_skipped_silently(
    tmp_path: Path,
) -> None:
    dead_file = tmp_path / "dead.jsonl"
    dead_file.write_bytes(
        b'{"key":"a","problems":[],"line":"x"}\n{"key":"b","probl\n[1, 2]\n\n'
        b'{"key":"c","problems":[],"line":"y"}\n'
    )
    listed = run("dead-letters", "list", "--file", str(dead_file))
    no_traceback(listed.stderr)
    assert listed.returncode == 0 and "2 dead letters waiting" in listed.stdout
    assert "2 line(s) are not whole records" in listed.stderr


def test_a_shipper_started_under_nohup_keeps_ignoring_sighup(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(100, seed=92)
    write_logs(tmp_path, [line(e) for e in events])
    log = tmp_path / "shipper.stderr"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [*COMMAND, "ship", "-c", str(config_file(tmp_path, influx_sink(influxdb, database)))],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=environment(),
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as nohup does
        )
    wait_until(lambda: len(sequence_numbers(influxdb, database)) == len(events), "delivery")
    process.send_signal(signal.SIGHUP)
    process.send_signal(signal.SIGTERM)
    wait_until(lambda: process.poll() is not None, "the shipper to stop")
    stderr_text = log.read_text()
    no_traceback(stderr_text)
    assert process.returncode == 0, stderr_text
    assert "signal 1:" not in stderr_text and "signal 15: spooling the open batch" in stderr_text
