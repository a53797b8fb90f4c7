"""What an ordinary log line costs the shipper, as a ratio of a monitoring line.

    .venv/bin/python benchmarks/mixed.py [--lines 100000] [--repeat 3]

A service's log is mostly ordinary lines. This runs ``luna-events ship --once`` as a
child process, end to end into a real InfluxDB 1.x, over files of equal line count:

* **ordinary**: a realistic service log without events (JSON log lines of several
  shapes, some with a traceback, and plain-text lines);
* **monitoring**: the demo's simulated monitoring events, as the formatter writes them;
* **mixed**: 85 % JSON log lines, 10 % plain text, 5 % events;
* **empty**: one ordinary line (start-up, config, imports: the baseline).

CPU is the child's user+system time (``RUSAGE_CHILDREN``), best of ``--repeat``.
The figure that matters: (ordinary - empty) / (monitoring - empty), goal ≤ 0.15.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from luna_events.demo.simulate import Simulator, Traffic
from luna_events.localservers import InfluxDB1
from luna_events.logs.layout import render

GOAL = 0.15
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/luna/tasks/worker.py", line 214, in run_subtask\n'
    "    result = await self.processor.process(subtask)\n"
    '  File "/srv/luna/tasks/processor.py", line 88, in process\n'
    "    raise SubtaskError(27001, 'descriptor extraction failed')\n"
    "luna.tasks.errors.SubtaskError: [27001] descriptor extraction failed"
)


def ordinary_lines(count: int, rng: random.Random) -> list[bytes]:
    """A service's own log lines: mostly JSON of a few shapes, some plain text."""
    lines = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.1:
            lines.append(
                f"2026-11-22 06:47:{index % 60:02d},{index % 1000:03d} INFO luna.tasks: "
                f"worker {index % 8} picked up task {index}".encode()
            )
            continue
        context: dict[str, object] = {
            "request_id": f"1763794047,{index:08x}-0b6e-2c1e",
            "taskName": None,
        }
        level = rng.choice(["INFO", "INFO", "INFO", "DEBUG", "WARNING"])
        if roll > 0.98:
            level = "ERROR"
            context["exc_info"] = TRACEBACK
        lines.append(
            render(
                1763794047.123456 + index,
                level,
                rng.choice(["luna.tasks.worker", "luna.remote_sdk.handlers", "aiohttp"]),
                f"processed subtask {index} of task {index // 50} in 0.0{index % 97}s",
                None,
                context=context,
            )
        )
    return lines


def monitoring_lines(count: int) -> list[bytes]:
    """The demo's simulated events as the project's formatter writes them."""
    start = 1_763_000_000_000_000_000
    traffic = Traffic(start_ns=start, duration_s=count / 3 + 20, requests_per_second=1)
    lines: list[bytes] = []
    for event in Simulator(traffic).events():
        event.time_ns = start + len(lines) * 1000
        lines.append(render(time.time(), "INFO", "luna.monitoring", event.series, event))
        if len(lines) == count:
            break
    return lines


def mixed_lines(count: int, rng: random.Random) -> list[bytes]:
    """85 % JSON log lines, 10 % plain text (both from :func:`ordinary_lines`), 5 % events."""
    events = monitoring_lines(count // 20)
    ordinary = ordinary_lines(count - len(events), rng)
    lines = ordinary + events
    rng.shuffle(lines)
    return lines


def ship_cpu(influx: InfluxDB1, lines: list[bytes], work: Path, name: str) -> float:
    """CPU seconds (user+sys) of one ``luna-events ship --once`` child over ``lines``."""
    run = work / f"{name}-{time.monotonic_ns()}"
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "service.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    database = f"mixed_{run.name.replace('-', '_')}"
    influx.create_database(database)
    config = run / "ship.toml"
    config.write_text(
        f'data_dir = "{run / "data"}"\nmetrics_interval_secs = 0\n'
        f'[source]\ninclude = ["{run / "logs"}/*.jsonl"]\n'
        f'[sink]\ntype = "influxdb_v1"\nurl = "{influx.url}"\ndatabase = "{database}"\n',
        encoding="utf-8",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "luna_events.cli",
            "ship",
            "-c",
            str(config),
            "--once",
            "--no-status",
        ],
        capture_output=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(
            f"ship --once failed ({result.returncode}): {result.stderr.decode()[-800:]}"
        )
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    inputs = {
        "empty": ordinary_lines(1, rng),
        "ordinary": ordinary_lines(args.lines, rng),
        "monitoring": monitoring_lines(args.lines),
        "mixed": mixed_lines(args.lines, rng),
    }
    work = Path(tempfile.mkdtemp(prefix="luna-mixed-bench-"))
    best = dict.fromkeys(inputs, float("inf"))
    with InfluxDB1() as influx:
        for _ in range(args.repeat):  # the variants take turns, the best run counts
            for name, lines in inputs.items():
                best[name] = min(best[name], ship_cpu(influx, lines, work, name))
    count = args.lines
    per_line = {name: (best[name] - best["empty"]) / count * 1e6 for name in inputs}
    ratio = per_line["ordinary"] / per_line["monitoring"]
    sizes = {name: sum(map(len, lines)) / max(1, len(lines)) for name, lines in inputs.items()}
    print(f"{count:,} lines per file, best of {args.repeat}; shipper CPU minus the empty run")
    print(f"  empty run (start-up, one line)         {best['empty']:7.3f} s")
    for name in ("ordinary", "monitoring", "mixed"):
        print(f"  {name:<10} {sizes[name]:5.0f} B/line   {per_line[name]:7.2f} µs/line")
    print(f"  ordinary / monitoring: {ratio:.3f}x   (goal <= {GOAL}x)")
    print(json.dumps({"ratio": round(ratio, 3), **{k: round(v, 3) for k, v in per_line.items()}}))


if __name__ == "__main__":
    main()
