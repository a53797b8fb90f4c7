"""Helpers for the shipper tests: realistic events with a sequence number, log writers,
configs, a shipper subprocess, and waiting for InfluxDB to hold what was sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luna_events.demo.simulate import Simulator, Traffic
from luna_events.event import Event
from luna_events.jsonline import to_json_line
from luna_events.localservers import InfluxDB1

BASE_TIME = 1_763_000_000_000_000_000


def make_events(count: int, *, seed: int = 5) -> list[Event]:
    """``count`` realistic events with unique times and an additional ``seq`` field."""
    traffic = Traffic(
        start_ns=BASE_TIME, duration_s=count / 3 + 20, requests_per_second=1, seed=seed
    )
    events: list[Event] = []
    for event in Simulator(traffic).events():
        event.time_ns = BASE_TIME + len(events) * 1000
        event.fields["seq"] = len(events)
        events.append(event)
        if len(events) == count:
            return events
    raise AssertionError("the simulation gave too few events")


def line(event: Event) -> bytes:
    """The JSON line a service's logger would write for ``event``."""
    return to_json_line(
        event, timestamp=time.time(), level="INFO", logger="luna.monitoring", message=event.series
    )


ORDINARY = b'{"timestamp": 1.0, "level": "INFO", "logger": "app", "message": "ordinary line"}\n'


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    """A minimal TOML writer for the flat tables the shipper config uses."""

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, list):
            return "[" + ", ".join(value(i) for i in item) + "]"
        return '"' + str(item).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for table, content in data.items():
        if isinstance(content, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in content.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ship_config(
    tmp: Path, sink: dict[str, Any], *, include: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A shipper config for tests: fast globbing, short batches and backoffs."""
    config: dict[str, Any] = {
        "data_dir": str(tmp / "data"),
        "metrics_interval_secs": 0,
        "source": {
            "include": [include or str(tmp / "logs" / "*.jsonl*")],
            "glob_interval_secs": 0.1,
            "rotate_wait_secs": 1.0,
        },
        "sink": sink,
        "batch": {"timeout_secs": 0.2},
        "retry": {"initial_backoff_secs": 0.1, "max_backoff_secs": 1.0, "auth_retry_secs": 1.0},
    }
    for key, content in extra.items():
        if isinstance(content, dict) and isinstance(config.get(key), dict):
            config[key].update(content)
        else:
            config[key] = content
    return config


def influx_sink(influx: InfluxDB1, database: str) -> dict[str, Any]:
    return {"type": "influxdb_v1", "url": influx.url, "database": database}


class ShipperProcess:
    """``luna-events ship -c CONFIG`` as a child process."""

    def __init__(self, config: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 30) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr.decode()


def sequence_numbers(influx: InfluxDB1, database: str) -> list[int]:
    """Every ``seq`` stored, over all measurements (one per point)."""
    answer = influx.query('SELECT "seq" FROM /.*/', database)
    numbers: list[int] = []
    for result in answer.get("results", []):
        for series in result.get("series", []):
            numbers.extend(int(row[1]) for row in series["values"] if row[1] is not None)
    return numbers


def wait_for(influx: InfluxDB1, database: str, expected: int, timeout: float = 120) -> list[int]:
    """Poll until ``expected`` points carry a ``seq`` (or time runs out)."""
    deadline = time.monotonic() + timeout
    numbers: list[int] = []
    while time.monotonic() < deadline:
        numbers = sequence_numbers(influx, database)
        if len(numbers) >= expected:
            return numbers
        time.sleep(0.25)
    return numbers


def stored_as_sent(influx: InfluxDB1, database: str, events: list[Event]) -> None:
    """Every point equals its event (tags as strings, fields with their types), no other points."""
    from luna_events.validation import validate

    expected: dict[tuple[str, int], dict[str, Any]] = {}
    for event in events:
        normalized = validate(event)
        expected[(event.series, event.time_ns)] = {
            "tags": normalized.tags,
            "fields": normalized.fields,
        }
    measurements = {e.series for e in events}
    stored: dict[tuple[str, int], dict[str, Any]] = {}
    types = influx.field_types(database)
    assert set(types) == measurements, f"unexpected measurements {set(types) - measurements}"
    for name in measurements:
        for point in influx.points(database, name):
            fields = {
                k: float(v) if types[name][k] == "float" else v for k, v in point["fields"].items()
            }
            key = (name, point["time"])
            assert key not in stored
            stored[key] = {"tags": point["tags"], "fields": fields}
    assert stored.keys() == expected.keys()
    mismatched = [key for key in expected if stored[key] != expected[key]]
    assert not mismatched, (
        mismatched[:3],
        [stored[k] for k in mismatched[:3]],
        [expected[k] for k in mismatched[:3]],
    )


def wait_until(condition: Callable[[], object], what: str, deadline: float = 120) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.05)


def no_traceback(stderr: str) -> None:
    """What an operator can cause never ends in a Python traceback."""
    assert "Traceback" not in stderr, stderr
