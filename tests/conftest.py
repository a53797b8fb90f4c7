"""Fixtures: private InfluxDB 1.x and VictoriaMetrics on free 127.0.0.1 ports, the
``server`` marker applied by fixture, and global state reset after every test."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import settings

from luna_events import localservers
from luna_events.localservers import InfluxDB1, VictoriaMetrics

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

SERVER_FIXTURES = frozenset(
    {"influxdb", "database", "victoria", "private_influxdb", "demo_influxdb"}
)
"""Fixtures that start an InfluxDB or a VictoriaMetrics: a test using one (directly or
through another fixture) gets the ``server`` marker, so ``pytest -m "not server"``
is the fast unit run. A test that starts a server by itself marks itself."""

_database_numbers = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test whose fixtures start a server."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.fixture(autouse=True)
def _servers_only_under_the_marker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test without the ``server`` marker that starts a server fails and says so,
    rather than slowing the unit run down unnoticed."""
    if request.node.get_closest_marker("server") is not None:
        return

    def refuse(self: localservers._Server, timeout: float = 30.0) -> None:
        pytest.fail(
            f"{request.node.nodeid} starts {type(self).__name__} without the server marker:"
            " add `pytestmark = pytest.mark.server` (or @pytest.mark.server), or use a"
            f" fixture named in tests/conftest.py SERVER_FIXTURES",
            pytrace=False,
        )

    for server in (InfluxDB1, VictoriaMetrics):
        monkeypatch.setattr(server, "start", refuse)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """Whatever a test configured, the next one starts from structlog's defaults."""
    yield
    structlog.reset_defaults()


def shared_file(relative: str) -> Path:
    """``shared/RELATIVE`` beside the checkout, or skip saying how to get it."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(
            f"needs shared/{relative} in the project's shared/ folder beside the checkout"
            f" ({SHARED}): CI clones the repository with shared/ beside it; locally,"
            " ln -s /path/to/shared there"
        )
    return path


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
