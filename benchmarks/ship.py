"""Shipper throughput, CPU and memory against a real InfluxDB 1.x.

    .venv/bin/python benchmarks/ship.py [--events 300000] [--backlog 1000000] [--body gzip]

``--backlog 0`` leaves out the memory part; ``--body`` runs one body kind only
(``plain`` or ``gzip``; both by default).

1. Ceiling: the same events, pre-encoded into 5,000-line gzipped batches, POSTed by
   a bare loop to ``/write`` (the most this InfluxDB takes on this machine).
2. ``luna-events ship --once`` in this process from JSON log files to the same
   InfluxDB: throughput as a ratio of the ceiling, and CPU µs per event.
3. Memory: a shipper subprocess tails ``--backlog`` events while InfluxDB is
   stopped; its peak RSS (VmHWM) is sampled as the backlog grows.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from luna_events.demo.simulate import Simulator, Traffic
from luna_events.jsonline import to_json_line
from luna_events.localservers import InfluxDB1
from luna_events.ship.config import load
from luna_events.ship.run import build_topology
from luna_events.transform import Transform

BATCH = 5000


def make_lines(count: int) -> list[bytes]:
    """``count`` JSON log lines of simulated traffic with unique timestamps."""
    traffic = Traffic(
        start_ns=1_763_000_000_000_000_000, duration_s=count / 3 + 20, requests_per_second=1
    )
    lines: list[bytes] = []
    for event in Simulator(traffic).events():
        event.time_ns = 1_763_000_000_000_000_000 + len(lines) * 1000
        lines.append(
            to_json_line(
                event, timestamp=time.time(), level="INFO", logger="luna", message=event.series
            )
        )
        if len(lines) == count:
            break
    return lines


def ceiling(influx: InfluxDB1, lines: list[bytes], *, compress: bool) -> float:
    """Events/s of a bare loop POSTing pre-encoded (and pre-compressed) batches."""
    transform = Transform()
    encoded = [transform(line).line_protocol.encode() for line in lines]  # type: ignore[union-attr]
    bodies = [b"\n".join(encoded[i : i + BATCH]) + b"\n" for i in range(0, len(encoded), BATCH)]
    headers = {"Content-Encoding": "gzip"} if compress else {}
    if compress:
        bodies = [gzip.compress(body, 1) for body in bodies]
    database = f"ceiling_{compress}"
    influx.create_database(database)
    with httpx.Client(base_url=influx.url, timeout=60) as client:
        started = time.perf_counter()
        for body in bodies:
            response = client.post(
                "/write", params={"db": database, "precision": "ns"}, content=body, headers=headers
            )
            assert response.status_code == 204, response.text
        elapsed = time.perf_counter() - started
    return len(lines) / elapsed


def shipped(
    influx: InfluxDB1, lines: list[bytes], work: Path, *, compress: bool
) -> tuple[float, float]:
    """Events/s and CPU µs/event of ``ship --once`` from files to InfluxDB."""
    logs = work / f"logs-{compress}"
    logs.mkdir()
    for part in range(4):
        (logs / f"service-{part}.jsonl").write_bytes(b"".join(lines[part::4]))
    database = f"shipped_{compress}"
    influx.create_database(database)
    config_path = work / "ship.toml"
    config_path.write_text(
        f'data_dir = "{work / f"data-{compress}"}"\nmetrics_interval_secs = 0\n'
        f'[source]\ninclude = ["{logs}/*.jsonl"]\n'
        f'[sink]\ntype = "influxdb_v1"\nurl = "{influx.url}"\ndatabase = "{database}"\n'
        f"gzip = {str(compress).lower()}\n",
        encoding="utf-8",
    )
    topology = build_topology(load(config_path, environ={}), once=True)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    stats = topology.run()
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    assert stats.events_shipped == len(lines), stats
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return len(lines) / elapsed, cpu / len(lines) * 1e6


def rss_kib(pid: int, key: str) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(key + ":"):
            return int(row.split()[1])
    return 0


def backlog_memory(lines: list[bytes], backlog: int, work: Path) -> list[tuple[int, float, float]]:
    """(events written, RSS MB, peak RSS MB) of a shipper whose InfluxDB is down."""
    logs = work / "backlog-logs"
    logs.mkdir()
    config_path = work / "backlog.toml"
    config_path.write_text(
        f'data_dir = "{work / "backlog-data"}"\nmetrics_interval_secs = 0\n'
        f'[source]\ninclude = ["{logs}/*.jsonl"]\n'
        f'[sink]\ntype = "influxdb_v1"\nurl = "http://127.0.0.1:9"\ndatabase = "down"\n'
        f"[retry]\nmax_backoff_secs = 2.0\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config_path), "--no-status"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    samples = []
    written = 0
    try:
        with open(logs / "service.jsonl", "ab") as handle:
            while written < backlog:
                step = min(len(lines), backlog - written)
                handle.write(b"".join(lines[:step]))
                handle.flush()
                written += step
                time.sleep(1.0)
                samples.append(
                    (
                        written,
                        rss_kib(process.pid, "VmRSS") / 1024,
                        rss_kib(process.pid, "VmHWM") / 1024,
                    )
                )
        for _ in range(20):  # let the reader catch up with the whole backlog
            time.sleep(1.0)
            samples.append(
                (
                    written,
                    rss_kib(process.pid, "VmRSS") / 1024,
                    rss_kib(process.pid, "VmHWM") / 1024,
                )
            )
        spool = sum(p.stat().st_size for p in (work / "backlog-data" / "spool").glob("*.seg"))
        print(f"  spool holds {spool / 1e6:.1f} MB after {written:,} events")
    finally:
        process.terminate()
        process.wait(30)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--body", choices=("plain", "gzip", "both"), default="both")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="luna-ship-bench-"))
    lines = make_lines(args.events)
    print(f"{len(lines):,} events, {sum(map(len, lines)) / len(lines):.0f} bytes per JSON line")
    for compress in (False, True):
        if args.body != "both" and compress != (args.body == "gzip"):
            continue
        with InfluxDB1() as influx:
            top = ceiling(influx, lines, compress=compress)
            rate, cpu = shipped(influx, lines, work, compress=compress)
        body = "gzip" if compress else "plain"
        print(f"  [{body}] ceiling: bare loop POSTing pre-encoded batches   {top:10,.0f} events/s")
        print(
            f"  [{body}] luna-events ship --once, files -> InfluxDB      {rate:10,.0f} events/s"
            f"   {rate / top:.2f}x ceiling (goal >= 0.85)"
        )
        print(f"  [{body}] shipper CPU (user+sys, whole process)            {cpu:10.2f} µs/event")
    if not args.backlog:
        return
    samples = backlog_memory(lines, args.backlog, work)
    for written, rss, peak in samples[:: max(1, len(samples) // 8)] + samples[-1:]:
        print(f"  backlog {written:>9,} events   RSS {rss:6.1f} MB   peak {peak:6.1f} MB")
    peak = max(p for *_, p in samples)
    print(f"  peak RSS with {args.backlog:,} events backlogged: {peak:.1f} MB (goal <= 100 MB)")


if __name__ == "__main__":
    main()
