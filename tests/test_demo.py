"""The demo writes realistic traffic of both services and everything sent arrives."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from luna_events.catalog import CATALOG
from luna_events.demo.run import run_demo

pytestmark = pytest.mark.server  # the demo starts its own InfluxDB


def test_demo_traffic_arrives_whole_in_a_private_influxdb_and_reads_at_80_columns():
    output = io.StringIO()
    summaries = run_demo(duration_s=10, rate=40, console=Console(file=output, width=80))
    by_series = {s.series: s for s in summaries}
    assert all(s.sent == s.arrived > 0 for s in summaries), summaries
    groups = {CATALOG[name].group for name in by_series}
    assert groups >= {"http", "tasks", "sdk", "estimator"}
    assert {"requests", "errors", "subtask_final", "image_load", "face_detection"} <= set(by_series)
    assert len([s for s in summaries if CATALOG[s.series].group == "estimator"]) >= 30
    text = output.getvalue()
    assert "What arrived in luna_monitoring" in text and "mean/p95 ms" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text, "nothing cut short at 80 columns: " + text
    assert "POST:/sdk" in text and "luna-remote-sdk" in text and "▁" in text
