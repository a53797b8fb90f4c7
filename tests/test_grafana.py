"""The dashboards: sound JSON, and every panel's query answers on real demo data."""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from luna_events.demo.run import DATABASE, ship_logs
from luna_events.demo.simulate import Traffic
from luna_events.generate.grafana import DASHBOARDS, DATASOURCE_UID
from luna_events.localservers import InfluxDB1

from .conftest import ROOT

DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
INTERVAL = "10s"


def dashboards() -> dict[str, dict[str, Any]]:
    return {name: json.loads((DASHBOARD_DIR / name).read_text()) for name in DASHBOARDS}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def test_every_dashboard_is_provisioned_and_accepted_by_the_sdk_model():
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/luna.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/luna"
    for name, board in dashboards().items():
        model = Dashboard.from_json(board)
        assert model.uid == board["uid"] and model.title, name
        assert board["time"] == {"from": "now-1h", "to": "now"}


def test_panel_ids_are_unique_and_datasources_resolve():
    provisioned = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/influxdb.yaml").read_text()
    )
    uids = {d["uid"] for d in provisioned["datasources"]}
    assert DATASOURCE_UID in uids
    for name, board in dashboards().items():
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), name
        references = [p["datasource"] for p in panels(board)]
        references += [t["datasource"] for p in panels(board) for t in p["targets"]]
        references += [v["datasource"] for v in board["templating"]["list"] if "datasource" in v]
        assert all(r["uid"] in uids for r in references), name


def test_every_panel_has_a_description_a_unit_and_thresholds():
    for name, board in dashboards().items():
        for panel in panels(board):
            where = f"{name}: {panel['title']}"
            assert panel.get("description"), where
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), where
            assert defaults["thresholds"]["steps"], where


# Grafana's own expansion of the InfluxQL datasource's macros and variables -----------

_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|\[\]{}/])")


def escape_regex(value: str) -> str:
    """Grafana's escapeRegex for variable values interpolated into a regex."""
    return _REGEX_SPECIAL.sub(r"\\\1", value)


def expand(query: str, variables: dict[str, list[str]], start_ms: int, end_ms: int) -> str:
    query = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    query = query.replace("$__interval_ms", "10000").replace("$__interval", INTERVAL)
    for name in sorted(variables, key=len, reverse=True):
        values = variables[name]
        if len(values) == 1:
            replacement = escape_regex(values[0])
        else:
            replacement = "(" + "|".join(escape_regex(v) for v in values) + ")"
        query = query.replace(f"${name}", replacement)
    return query


def non_empty(answer: dict[str, Any]) -> bool:
    for result in answer["results"]:
        for series in result.get("series", []):
            if any(value is not None for row in series["values"] for value in row[1:]):
                return True
    return False


@pytest.fixture(scope="module")
def demo_influxdb() -> Iterator[tuple[InfluxDB1, int, int]]:
    with InfluxDB1() as influx, tempfile.TemporaryDirectory() as work:
        influx.create_database(DATABASE)
        start_ns = time.time_ns() - 120 * 10**9
        traffic = Traffic(start_ns=start_ns, duration_s=60, requests_per_second=40)
        ship_logs(influx, Path(work), traffic)
        yield influx, start_ns // 10**6 - 60_000, time.time_ns() // 10**6 + 60_000


def variable_values(
    influx: InfluxDB1, board: dict[str, Any], known: dict[str, list[str]], window: tuple[int, int]
) -> dict[str, list[str]]:
    """Each variable's values (All), its query run the way Grafana runs it."""
    values = dict(known)
    for variable in board["templating"]["list"]:
        if variable["type"] == "custom":
            values[variable["name"]] = [v.strip() for v in variable["query"].split(",")]
            continue
        query = expand(variable["query"], values, *window)
        answer = influx.query(query, DATABASE)
        found = sorted(
            {row[1] for r in answer["results"] for s in r.get("series", []) for row in s["values"]}
        )
        assert found, f"variable {variable['name']}: {query} returned nothing"
        values[variable["name"]] = found
    return values


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_query_answers_with_data(demo_influxdb: tuple[InfluxDB1, int, int], name: str):
    influx, start_ms, end_ms = demo_influxdb
    board = dashboards()[name]
    values = variable_values(influx, board, {}, (start_ms, end_ms))
    checked = 0
    for panel in panels(board):
        for target in panel["targets"]:
            query = expand(target["query"], values, start_ms, end_ms)
            answer = influx.query(query, DATABASE)
            assert non_empty(answer), f"{name}: {panel['title']}: no data for {query}"
            checked += 1
    assert checked >= len(panels(board))


def test_the_terminal_report_shows_the_overview(demo_influxdb: tuple[InfluxDB1, int, int]):
    import io

    from rich.console import Console

    from luna_events.report import InfluxQLClient, ReportError, report, sparkline

    influx, *_ = demo_influxdb
    screen = io.StringIO()
    Console(file=screen, width=160).print(
        report(InfluxQLClient(influx.url, DATABASE), since="10m", bucket="10s")
    )
    text = screen.getvalue()
    for expected in (
        "luna-tasks",
        "luna-remote-sdk",
        "POST:/sdk",
        "Top error codes",
        "Status codes",
        "p95",
    ):
        assert expected in text, expected
    assert any(block in text for block in "▂▃▄▅▆▇█"), "a sparkline"
    assert sparkline([0, 5, 10]) == "▁▅█"
    with pytest.raises(ReportError, match="cannot reach InfluxDB"):
        InfluxQLClient("http://127.0.0.1:9", DATABASE).rows("SHOW MEASUREMENTS")
