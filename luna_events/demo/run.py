"""``luna-events demo``: the whole pipeline on this machine.

Simulated luna-tasks and luna-remote-sdk services log their events with plain
``logger.info`` into JSON files; the shipper tails those files into a private
InfluxDB; a per-series summary is then read back from InfluxDB.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from luna_events.catalog import CATALOG, Unit
from luna_events.demo.services import write_logs
from luna_events.demo.simulate import Traffic
from luna_events.localservers import InfluxDB1
from luna_events.report import InfluxQLClient, report
from luna_events.ship.config import InfluxDBv1Config, ShipConfig, SourceConfig
from luna_events.ship.run import build_topology, summary_table
from luna_events.ship.stats import ShipperStats

DATABASE = "luna_monitoring"


@dataclass
class SeriesSummary:
    """What arrived in InfluxDB for one series."""

    series: str
    sent: int
    arrived: int
    timing: str
    """The series' timing field with its mean and p95 in ms, or empty."""


def ship_logs(
    influx: InfluxDB1, workdir: Path, traffic: Traffic
) -> tuple[Counter[str], ShipperStats]:
    """Write the services' logs while the shipper tails them; stop once all arrived."""
    config = ShipConfig(
        data_dir=workdir / "shipper",
        source=SourceConfig(include=[str(workdir / "logs" / "*.jsonl")], glob_interval_secs=0.2),
        sink=InfluxDBv1Config(url=influx.url, database=DATABASE),
        metrics_interval_secs=1.0,
    )
    topology = build_topology(config)
    shipper = threading.Thread(target=topology.run, name="demo-shipper", daemon=True)
    shipper.start()
    try:
        written = write_logs(workdir / "logs", traffic)
        total = sum(written.values())
        deadline = time.monotonic() + 120
        stats = topology.stats  # every event, and the shipper's own series for the report
        while (
            stats.events_shipped < total or stats.own_points_shipped == 0
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        topology.stop.set()
        shipper.join(60)
    return written, topology.stats


def summarize(influx: InfluxDB1, sent: Counter[str]) -> list[SeriesSummary]:
    """Count what arrived per series and describe its main timing."""
    summaries = []
    for name in sent:
        spec = CATALOG[name]
        timing = next((f for f in spec.fields if f.unit is Unit.SECONDS), None)
        arrived = len(influx.points(DATABASE, name))
        measured = _timing(influx, name, timing.name) if timing else ""
        summaries.append(SeriesSummary(name, sent[name], arrived, measured))
    return sorted(summaries, key=lambda s: (CATALOG[s.series].group, s.series))


def _timing(influx: InfluxDB1, name: str, field: str) -> str:
    query = f'SELECT mean("{field}"), percentile("{field}", 95) FROM "{name}"'
    _, mean, p95 = influx.query(query, DATABASE)["results"][0]["series"][0]["values"][0]
    return f"{mean * 1000:.1f}/{p95 * 1000:.1f}"


def arrival_table(summaries: list[SeriesSummary]) -> Table:
    """Sent and arrived per series, with its timing; fits 80 columns."""
    table = Table(
        title=f"What arrived in {DATABASE} (read back from InfluxDB)",
        caption="timing: execution_time unless named under the series",
    )
    table.add_column("series", no_wrap=True)
    table.add_column("group", no_wrap=True)
    table.add_column("sent", justify="right")
    table.add_column("arrived", justify="right")
    table.add_column("mean/p95 ms", justify="right", no_wrap=True)
    for item in summaries:
        spec = CATALOG[item.series]
        timed = next((f.name for f in spec.fields if f.unit is Unit.SECONDS), "execution_time")
        name = item.series if timed == "execution_time" else f"{item.series}\n[dim]{timed}[/dim]"
        table.add_row(
            name,
            spec.group,
            str(item.sent),
            str(item.arrived),
            item.timing,
            style="" if item.sent == item.arrived else "bold red",
        )
    return table


def run_demo(
    duration_s: float = 60.0,
    rate: float = 40.0,
    console: Console | None = None,
    svg: Path | None = None,
) -> list[SeriesSummary]:
    """Run the pipeline over ``duration_s`` of simulated traffic, print the summary and
    the terminal report (saved as SVG too when ``svg`` is given)."""
    console = console or (Console(record=True, width=80) if svg is not None else Console())
    with InfluxDB1() as influx, tempfile.TemporaryDirectory(prefix="luna-demo-") as work:
        console.print(f"private InfluxDB 1.x at {influx.url}; service logs in {work}/logs")
        influx.create_database(DATABASE)
        traffic = Traffic(
            start_ns=time.time_ns() - int(duration_s * 1e9),
            duration_s=duration_s,
            requests_per_second=rate,
        )
        started = time.perf_counter()
        sent, stats = ship_logs(influx, Path(work), traffic)
        elapsed = time.perf_counter() - started
        console.print(
            f"services logged {sum(sent.values())} events of {len(sent)} series; "
            f"the shipper delivered them in {elapsed:.1f}s"
        )
        console.print(summary_table(stats))
        summaries = summarize(influx, sent)
        window = f"{int(duration_s) + 30}s"
        overview = report(InfluxQLClient(influx.url, DATABASE), since=window, bucket="5s")
    console.print(arrival_table(summaries))
    console.print(overview)
    if svg is not None:
        svg.with_suffix(".txt").write_text(console.export_text(clear=False), encoding="utf-8")
        console.save_svg(str(svg), title="luna-events demo: the report")
    return summaries
