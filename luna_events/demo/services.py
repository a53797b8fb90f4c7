"""Simulated services that log through plain stdlib logging into JSON files."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from luna_events.demo.simulate import Simulator, Traffic
from luna_events.logs.stdlib import JsonLineFormatter

SERVICE_FILES = {"luna-tasks": "luna-tasks.jsonl", "luna-remote-sdk": "luna-remote-sdk.jsonl"}


def _logger(name: str, path: Path) -> tuple[logging.Logger, logging.Handler]:
    logger = logging.getLogger(f"luna_events.demo.{name}")
    logger.handlers.clear()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonLineFormatter(service=name))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, handler


def write_logs(directory: Path, traffic: Traffic, *, ordinary_every: int = 25) -> Counter[str]:
    """Run the simulation, each service logging its events (and some ordinary lines) with
    ``logger.info`` into ``<directory>/<service>.jsonl``. Returns events written per series."""
    directory.mkdir(parents=True, exist_ok=True)
    loggers = {
        service: _logger(service, directory / file) for service, file in SERVICE_FILES.items()
    }
    written: Counter[str] = Counter()
    try:
        for index, event in enumerate(Simulator(traffic).events()):
            sdk = event.tags.get("service") == "luna-remote-sdk"
            logger = loggers["luna-remote-sdk" if sdk else "luna-tasks"][0]
            logger.info(event.series, extra=event.extra())
            written[event.series] += 1
            if index % ordinary_every == 0:
                logger.info("handled %d events so far", index)
    finally:
        for _, handler in loggers.values():
            handler.close()
    return written


def simulate_forever(
    directory: Path, requests_per_second: float, *, duration_s: float | None = None
) -> int:
    """Log live traffic, one second at a time with the current time, until stopped
    (SIGTERM/SIGINT) or ``duration_s`` has passed. Returns the events written."""
    import signal
    import time

    stopping = False

    def stop(number: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    written = 0
    started = time.monotonic()
    second = 0
    while not stopping and (duration_s is None or time.monotonic() - started < duration_s):
        traffic = Traffic(
            start_ns=time.time_ns(),
            duration_s=1.0,
            requests_per_second=requests_per_second,
            seed=second,
        )
        written += sum(write_logs(directory, traffic).values())
        second += 1
        time.sleep(max(0.0, started + second - time.monotonic()))
    return written
