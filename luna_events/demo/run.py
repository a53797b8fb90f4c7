"""``luna-events demo``: simulated traffic into a private InfluxDB, then a per-series summary."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from luna_events.catalog import CATALOG, Unit
from luna_events.demo.simulate import Simulator, Traffic
from luna_events.lineprotocol import encode_line
from luna_events.localservers import InfluxDB1
from luna_events.validation import validate

DATABASE = "luna_monitoring"
BATCH_LINES = 5000


@dataclass
class SeriesSummary:
    """What arrived in InfluxDB for one series."""

    series: str
    sent: int
    arrived: int
    detail: str


def write_traffic(influx: InfluxDB1, traffic: Traffic) -> Counter[str]:
    """Simulate ``traffic``, validate and encode every event, write it in batches."""
    sent: Counter[str] = Counter()
    lines: list[str] = []
    for event in Simulator(traffic).events():
        lines.append(encode_line(validate(event)))
        sent[event.series] += 1
        if len(lines) >= BATCH_LINES:
            _post(influx, lines)
    if lines:
        _post(influx, lines)
    return sent


def _post(influx: InfluxDB1, lines: list[str]) -> None:
    status, body = influx.write(DATABASE, ("\n".join(lines) + "\n").encode(), gzip=False)
    if status != 204:
        raise RuntimeError(f"InfluxDB refused a batch ({status}): {body[:300]!r}")
    lines.clear()


def summarize(influx: InfluxDB1, sent: Counter[str]) -> list[SeriesSummary]:
    """Count what arrived per series and describe its main value."""
    summaries = []
    for name in sent:
        spec = CATALOG[name]
        timing = next((f for f in spec.fields if f.unit is Unit.SECONDS), None)
        arrived = len(influx.points(DATABASE, name))
        detail = _detail(influx, name, timing.name) if timing else ""
        summaries.append(SeriesSummary(name, sent[name], arrived, detail))
    return sorted(summaries, key=lambda s: (CATALOG[s.series].group, s.series))


def _detail(influx: InfluxDB1, name: str, field: str) -> str:
    answer = influx.query(
        f'SELECT mean("{field}"), percentile("{field}", 95) FROM "{name}"', DATABASE
    )
    _, mean, p95 = answer["results"][0]["series"][0]["values"][0]
    return f"{field} mean {mean * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def run_demo(
    duration_s: float = 60.0, rate: float = 40.0, console: Console | None = None
) -> list[SeriesSummary]:
    """Start a private InfluxDB, write ``duration_s`` of simulated traffic, print a summary."""
    console = console or Console()
    with InfluxDB1() as influx:
        console.print(f"private InfluxDB 1.x at {influx.url} (data in {influx.workdir})")
        influx.create_database(DATABASE)
        traffic = Traffic(
            start_ns=time.time_ns() - int(duration_s * 1e9),
            duration_s=duration_s,
            requests_per_second=rate,
        )
        started = time.perf_counter()
        sent = write_traffic(influx, traffic)
        elapsed = time.perf_counter() - started
        console.print(f"wrote {sum(sent.values())} events of {len(sent)} series in {elapsed:.2f}s")
        summaries = summarize(influx, sent)
    table = Table(title=f"What arrived in {DATABASE}")
    for column in ("series", "group", "sent", "arrived", "detail"):
        table.add_column(column, justify="right" if column in ("sent", "arrived") else "left")
    for item in summaries:
        style = "" if item.sent == item.arrived else "bold red"
        table.add_row(
            item.series,
            CATALOG[item.series].group,
            str(item.sent),
            str(item.arrived),
            item.detail,
            style=style,
        )
    console.print(table)
    return summaries
