"""Cost of parse + validate + encode per event, against orjson.loads and influxdb-client.

    .venv/bin/python benchmarks/encode.py [--events 20000] [--repeat 7]

All three run in the same process over the same realistic mix of JSON lines (the
demo's simulated luna-tasks and luna-remote-sdk traffic, with the keys a logging
library adds), taking turns in every round, timed in CPU time. The figures that
matter are the ratios, which the machine's noise affects far less than the absolute
times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from luna_events.demo.simulate import Simulator, Traffic
from luna_events.jsonline import to_json_line
from luna_events.transform import Transform

GOAL_VS_ORJSON = 4.0
GOAL_VS_POINT = 3.0


def make_lines(count: int) -> list[bytes]:
    """``count`` JSON lines of simulated traffic, as a stdlib JSON formatter writes them."""
    traffic = Traffic(
        start_ns=1_763_794_047_000_000_000, duration_s=count / 6, requests_per_second=1
    )
    lines = []
    for event in Simulator(traffic).events():
        lines.append(
            to_json_line(
                event,
                timestamp="2026-11-22T06:47:27.123456Z",
                level="info",
                logger="luna.monitoring",
                message=event.series,
            )
        )
        if len(lines) == count:
            break
    return lines


def to_point(document: dict[str, Any]) -> str:
    """What an influxdb-client user writes for one parsed line."""
    event = document["luna_event"]
    point = Point(event["series"])
    for key, value in event["tags"].items():
        point.tag(key, value)
    for key, value in event["fields"].items():
        point.field(key, value)
    point.time(event["time"], WritePrecision.NS)
    line: str = point.to_line_protocol()
    return line


def per_event(step: Callable[[Any], object], items: list[Any]) -> float:
    """CPU time per item, in µs (``time.process_time``: user + system, which other
    processes on a shared machine disturb far less than the wall clock), streaming:
    each result is dropped at once, as a pipeline does, so no run pays for keeping
    20,000 results alive."""
    started = time.process_time()
    for item in items:
        step(item)
    return (time.process_time() - started) / len(items) * 1e6


def interleaved_best(
    variants: dict[str, tuple[Callable[[Any], object], list[Any]]], repeat: int
) -> dict[str, float]:
    """Best-of-``repeat`` µs per item for each variant, the variants taking turns in
    every round so that all of them see the same machine."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeat):
        for label, (step, items) in variants.items():
            best[label] = min(best[label], per_event(step, items))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    lines = make_lines(args.events)
    documents = [orjson.loads(line) for line in lines]
    outcomes = [Transform()(line) for line in lines]
    assert all(o.line_protocol for o in outcomes), "the mix must be valid events"
    average_bytes = statistics.mean(len(line) for line in lines)

    best = interleaved_best(
        {
            "loads": (orjson.loads, lines),
            "full": (Transform(), lines),
            "point": (to_point, documents),
        },
        args.repeat,
    )
    loads, full, point = best["loads"], best["full"], best["point"]

    print(f"{len(lines)} events, {average_bytes:.0f} bytes per JSON line, best of {args.repeat}")
    print(f"  orjson.loads alone                     {loads:7.2f} µs/event   1.00x")
    print(
        f"  luna-events parse+validate+encode      {full:7.2f} µs/event"
        f"   {full / loads:.2f}x orjson"
        f"   (goal <= {GOAL_VS_ORJSON}x)"
    )
    print(
        f"  influxdb_client Point.to_line_protocol {point:7.2f} µs/event"
        f"   {point / loads:.2f}x orjson"
        f"   -> luna-events is {point / full:.2f}x faster (goal >= {GOAL_VS_POINT}x)"
    )


if __name__ == "__main__":
    main()
