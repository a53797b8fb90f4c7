"""The demo writes realistic traffic of both services and everything sent arrives."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from luna_events.catalog import CATALOG
from luna_events.demo.run import run_demo

pytestmark = pytest.mark.server  # the demo starts its own InfluxDB


def test_demo_traffic_arrives_whole_in_a_private_influxdb():
    output = io.StringIO()
    summaries = run_demo(duration_s=10, rate=40, console=Console(file=output, width=120))
    by_series = {s.series: s for s in summaries}
    assert all(s.sent == s.arrived > 0 for s in summaries), summaries
    groups = {CATALOG[name].group for name in by_series}
    assert groups >= {"http", "tasks", "sdk", "estimator"}
    assert {"requests", "errors", "subtask_final", "image_load", "face_detection"} <= set(by_series)
    assert len([s for s in summaries if CATALOG[s.series].group == "estimator"]) >= 30
    text = output.getvalue()
    assert "What arrived in luna_monitoring" in text and "execution_time mean" in text
