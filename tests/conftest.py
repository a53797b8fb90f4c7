"""Fixtures: private InfluxDB 1.x and VictoriaMetrics on free 127.0.0.1 ports."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from luna_events.localservers import InfluxDB1, VictoriaMetrics

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def influxdb() -> Iterator[InfluxDB1]:
    """One private InfluxDB 1.x for the session; tests isolate by database."""
    with InfluxDB1() as server:
        yield server


@pytest.fixture
def database(influxdb: InfluxDB1) -> Iterator[str]:
    """A fresh, empty database on the session's InfluxDB, dropped afterwards."""
    name = f"test_{next(_database_numbers)}"
    influxdb.create_database(name)
    yield name
    influxdb.query(f'DROP DATABASE "{name}"')


@pytest.fixture(scope="session")
def victoria() -> Iterator[VictoriaMetrics]:
    """One private VictoriaMetrics for the session; tests isolate by a run label."""
    with VictoriaMetrics() as server:
        yield server


# `HYPOTHESIS_PROFILE=deep make pytest` runs the property tests 20 times longer.
settings.register_profile("deep", max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
