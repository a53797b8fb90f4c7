"""The GIL switch interval a topology sets while it runs is the process's again once
no topology runs, however runs overlap and however they end."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from luna_events.ship.config import load as load_ship_config
from luna_events.ship.sources import Chunk, Position
from luna_events.ship.topology import SWITCH_INTERVAL, Topology

from .shipping import ship_config, write_toml

DEADLINE = 60.0


class _GatedSource:
    """No lines; the reader waits in :meth:`poll` until the gate opens, then the input
    is at its end (``--once``)."""

    def __init__(self, fail: bool = False) -> None:
        self.polling = threading.Event()
        self.gate = threading.Event()
        self.fail = fail

    def poll(self) -> Sequence[Chunk]:
        self.polling.set()
        assert self.gate.wait(DEADLINE)
        if self.fail:
            raise OSError("the source broke")
        return []

    def at_end(self) -> bool:
        return self.gate.is_set()

    def commit(self, positions: dict[str, Position]) -> None:
        pass

    def close(self) -> None:
        pass


class _NoSink:
    name = "nowhere"

    def close(self) -> None:
        pass


@pytest.fixture
def original() -> Iterator[float]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    yield 0.004
    sys.setswitchinterval(before)


def topology(tmp: Path, source: _GatedSource) -> Topology:
    tmp.mkdir()
    data = ship_config(tmp, {"type": "influxdb_v1", "url": "http://127.0.0.1:9", "database": "d"})
    config = load_ship_config(write_toml(tmp / "ship.toml", data), environ={})
    return Topology(config, source, _NoSink(), once=True)  # type: ignore[arg-type]


def start(shipper: Topology, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            shipper.run(drain_timeout=5)
        except BaseException as error:  # the test looks at it
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_overlapping_runs_give_the_interval_back_when_the_last_one_ends(
    tmp_path: Path, original: float
):
    first_source, second_source = _GatedSource(), _GatedSource()
    errors: list[BaseException] = []
    first = start(topology(tmp_path / "a", first_source), errors)
    assert first_source.polling.wait(DEADLINE)
    second = start(topology(tmp_path / "b", second_source), errors)
    assert second_source.polling.wait(DEADLINE)
    assert sys.getswitchinterval() == SWITCH_INTERVAL
    first_source.gate.set()  # the first to start ends first
    first.join(DEADLINE)
    assert not first.is_alive()
    assert sys.getswitchinterval() == SWITCH_INTERVAL  # the second still runs
    second_source.gate.set()
    second.join(DEADLINE)
    assert not second.is_alive()
    assert errors == []
    assert sys.getswitchinterval() == original


def test_a_run_that_fails_gives_the_interval_back(tmp_path: Path, original: float):
    source = _GatedSource(fail=True)
    errors: list[BaseException] = []
    thread = start(topology(tmp_path / "a", source), errors)
    assert source.polling.wait(DEADLINE)
    assert sys.getswitchinterval() == SWITCH_INTERVAL
    source.gate.set()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert [type(error) for error in errors] == [OSError]
    assert sys.getswitchinterval() == original
