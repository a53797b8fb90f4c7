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
