"""``luna-events encode`` and ``lint`` as a user runs them: real processes, stdin and files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from luna_events import series
from luna_events.event import Event
from luna_events.jsonline import to_json_line

CLI = [sys.executable, "-m", "luna_events.cli"]

GOOD = to_json_line(
    series.worker_queue(task_id=1, subtask_id=2, task_type=3, transport_time=0.5, time_ns=10),
    level="info",
)
BAD = to_json_line(
    Event("worker_queue", 11, {"service": "luna-tasks-worker"}, {"transport_time": "x"})
)
ORDINARY = b'{"level": "info", "message": "worker started"}\n'
GOOD_LP = (
    b"worker_queue,service=luna-tasks-worker,subtask_id=2,task_id=1,task_type=3"
    b" transport_time=0.5 10\n"
)


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run([*CLI, *args], input=stdin, capture_output=True, timeout=60)
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def test_encode_reads_stdin_and_writes_line_protocol():
    result = run("encode", stdin=ORDINARY + GOOD + b"plain text\n")
    assert result.returncode == 0
    assert result.stdout == GOOD_LP


def test_encode_reads_files_reports_invalid_lines_and_still_writes_the_good_ones(tmp_path: Path):
    log = tmp_path / "service.log"
    log.write_bytes(GOOD + BAD + GOOD)
    result = run("encode", str(log))
    assert result.returncode == 1
    assert result.stdout == GOOD_LP * 2
    assert f"{log}:2: ".encode() in result.stderr
    assert b"tags.task_id: required tag 'task_id' is missing" in result.stderr
    assert b"fields.transport_time: expected float, got str" in result.stderr


def test_lint_is_quiet_and_zero_on_good_input(tmp_path: Path):
    log = tmp_path / "ok.log"
    log.write_bytes(ORDINARY + GOOD + b"\n")
    result = run("lint", str(log))
    assert result.returncode == 0
    assert result.stdout == b""
    assert b"3 lines: 1 events, 0 invalid, 2 ordinary" in result.stderr


def test_lint_reports_every_problem_with_its_line_number(tmp_path: Path):
    log = tmp_path / "bad.log"
    oversized = b'{"luna_event": {"v": 1, "pad": "' + b"x" * 3000 + b'"}}\n'
    log.write_bytes(
        GOOD
        + b'{"luna_event": {"v": 1, "series": "worker_queue"\n'
        + b'{"luna_event": {"v": 1, "series": "\xff\xfe"}}\n'
        + oversized
        + BAD
        + GOOD
    )
    result = run("lint", "--max-line-bytes", "2000", str(log))
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert lines == [
        f"{log}:2: malformed_json: line: malformed JSON: "
        "unexpected end of data: line 1 column 49 (char 48)",
        f"{log}:3: invalid_utf8: line: invalid UTF-8 at byte 35",
        f"{log}:4: line_too_long: line: line is longer than the 2000-byte limit",
        f"{log}:5: missing_tag: tags.subtask_id: required tag 'subtask_id' is missing",
        f"{log}:5: missing_tag: tags.task_id: required tag 'task_id' is missing",
        f"{log}:5: missing_tag: tags.task_type: required tag 'task_type' is missing",
        f"{log}:5: wrong_type: fields.transport_time: expected float, got str",
    ]


def test_lint_strict_makes_ordinary_lines_errors():
    result = run("lint", "--strict", "-", stdin=GOOD + ORDINARY)
    assert result.returncode == 1
    assert b"<stdin>:2: not_an_event" in result.stdout


def test_binary_garbage_and_missing_files_give_messages_not_tracebacks(tmp_path: Path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    assert run("lint", str(garbage)).returncode == 0
    missing = run("lint", str(tmp_path / "nope.log"))
    assert missing.returncode == 2
    assert b"nope.log: cannot read" in missing.stderr
    assert run("encode", str(tmp_path)).returncode == 2


def test_a_huge_line_does_not_need_memory_for_itself(tmp_path: Path):
    log = tmp_path / "huge.log"
    with log.open("wb") as handle:
        handle.write(b'{"luna_event": {"v": 1, "pad": "')
        handle.write(b"x" * (8 * 1024 * 1024))
        handle.write(b'"}}\n')
        handle.write(GOOD)
    result = run("encode", str(log))
    assert result.returncode == 1
    assert result.stdout == GOOD_LP
    assert b"line is longer than" in result.stderr


def test_lint_finds_the_marker_of_an_over_long_line_however_late(tmp_path: Path):
    log = tmp_path / "late.log"
    pad = b"x" * 5000
    log.write_bytes(
        b'{"exc_info": "'
        + pad
        + b'", "luna_event": {"v": 1}}\n'
        + b'{"exc_info": "'
        + pad
        + b'", "luna\\u005fevent": {"v": 1}}\n'
        + b'{"exc_info": "'
        + pad
        + b'"}\n'
        + GOOD
    )
    result = run("lint", "--max-line-bytes", "2000", str(log))
    assert result.returncode == 1
    assert result.stdout.decode().splitlines() == [
        f"{log}:1: line_too_long: line: line is longer than the 2000-byte limit",
        f"{log}:2: line_too_long: line: line is longer than the 2000-byte limit",
    ]
    assert b"4 lines: 1 events, 2 invalid, 1 ordinary" in result.stderr


def test_lint_escapes_control_characters_so_each_report_stays_one_line(tmp_path: Path):
    log = tmp_path / "keys.log"
    log.write_bytes(
        b'{"luna_event": {"v": 1, "series": "sdkloop_task", "time": 1, "tags": '
        b'{"service": "luna-remote-sdk", "image_count": 1, "a\\nb": "x"}, '
        b'"fields": {"execution_time": 0.5}}}\n'
    )
    result = run("lint", str(log))
    assert result.stdout.decode().splitlines() == [
        f"{log}:1: control_character: tags.a\\nb: key contains control character U+000A"
    ]
