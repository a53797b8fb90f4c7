"""Cost of emitting a monitoring event, as a ratio to a bare stdlib ``logger.info("msg")``.

    .venv/bin/python benchmarks/emit.py [--events 50000] [--repeat 5]

Every variant writes to a file through the same kind of handler (``FileHandler``),
in the same process, best of ``--repeat`` rounds in which the variants take turns,
timed in CPU time (``time.process_time``):

* baseline: ``logger.info("msg")`` with ``logging.Formatter("%(message)s")``;
* (a) ``logger.info("request", extra=event.extra())`` with luna-events' formatter;
* python-json-logger's default ``JsonFormatter`` on the same event, for reference;
* (b) structlog's native path: ``BytesLogger`` + ``LunaLineRenderer``;
* (c) the request path with ``configure_logging``'s queue (the default mode): the
  caller only enqueues (measured with the listener stopped, and with it checking and
  writing on its own thread);
* (d) the default mode's check (``WarningFilter``) on the handler without a queue, and
  ``Monitor.emit`` in the default mode: what a set-up without the queue pays;
* (e) strict mode: (a) with ``StrictFilter`` validating every event on the caller.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import queue
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from pythonjsonlogger.json import JsonFormatter

from luna_events import series
from luna_events.checking import StrictFilter, WarningFilter
from luna_events.jsonline import event_payload
from luna_events.logs.setup import _DeferredQueueHandler
from luna_events.logs.stdlib import JsonLineFormatter
from luna_events.logs.structlog_processors import LunaLineRenderer
from luna_events.monitor import Monitor

EVENT = series.requests(
    service="luna-tasks",
    route="GET:/tasks/{task_id}",
    status_code=200,
    request_id="1763794047,0b6e2c1e-7f3a-4d4e-9a43-1c1b2f7e9d10",
    execution_time=0.012345,
)


def file_logger(
    name: str, path: Path, formatter: logging.Formatter
) -> tuple[logging.Logger, logging.Handler]:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, handler


def per_call(call: Callable[[], object], events: int) -> float:
    """CPU µs per call over ``events`` calls: the process's user + system time, which
    other processes on a shared machine disturb far less than the wall clock."""
    started = time.process_time()
    for _ in range(events):
        call()
    return (time.process_time() - started) / events * 1e6


def interleaved_best(
    calls: dict[str, Callable[[], object]], events: int, repeat: int
) -> dict[str, float]:
    """Best-of-``repeat`` µs per call for each variant, the variants taking turns in
    every round so that all of them see the same machine."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeat):
        for label, call in calls.items():
            best[label] = min(best[label], per_call(call, events))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.events, args.repeat
    work = Path(tempfile.mkdtemp(prefix="luna-emit-bench-"))

    bare, _ = file_logger("bench.bare", work / "bare.log", logging.Formatter("%(message)s"))
    luna, _ = file_logger("bench.luna", work / "luna.log", JsonLineFormatter())
    pjl, _ = file_logger("bench.pjl", work / "pjl.log", JsonFormatter())
    checked, checked_handler = file_logger(
        "bench.checked", work / "checked.log", JsonLineFormatter()
    )
    checked_handler.addFilter(WarningFilter())
    monitor = Monitor(checked, strict=False)
    strict, _ = file_logger("bench.strict", work / "strict.log", JsonLineFormatter())
    strict.addFilter(StrictFilter())
    extra = EVENT.extra()
    pjl_extra = {"luna_event": event_payload(EVENT)}

    structlog.configure(
        processors=[LunaLineRenderer()],
        logger_factory=structlog.BytesLoggerFactory((work / "structlog.log").open("ab")),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    native = structlog.get_logger()

    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    queued = logging.getLogger("bench.queued")
    queued.handlers[:] = [_DeferredQueueHandler(records)]
    queued.setLevel(logging.INFO)
    queued.propagate = False
    _, target = file_logger("bench.queue-target", work / "queued.log", JsonLineFormatter())
    target.addFilter(WarningFilter())  # as configure_logging sets it up in the default mode

    def drain() -> None:
        while not records.empty():
            target.handle(records.get())

    figures = interleaved_best(
        {
            "baseline": lambda: bare.info("msg"),
            "(a) logger.info + luna-events formatter": lambda: luna.info("request", extra=extra),
            "    python-json-logger JsonFormatter": lambda: pjl.info("request", extra=pjl_extra),
            "(b) structlog native (BytesLogger)": lambda: native.info("request", luna_event=EVENT),
            "(c) queue: caller enqueues only": lambda: queued.info("request", extra=extra),
        },
        n,
        repeat,
    )
    baseline = figures.pop("baseline")
    # the checks run in rounds of their own, against a baseline of their own, so that
    # their allocations cannot weigh on the figures above
    checks = interleaved_best(
        {
            "baseline": lambda: bare.info("msg"),
            "(d) (a) + default-mode check, no queue": lambda: checked.info("request", extra=extra),
            "(d) Monitor.emit, default mode, no queue": lambda: monitor.emit(EVENT),
            "(e) (a) in strict mode": lambda: strict.info("request", extra=extra),
        },
        n,
        repeat,
    )
    checks_baseline = checks.pop("baseline")
    drain()
    listener = logging.handlers.QueueListener(records, target)
    listener.start()
    figures["(c) queue: caller, listener writing"] = per_call(
        lambda: queued.info("request", extra=extra), n
    )
    listener.stop()

    print(f"{n} events per run, best of {repeat}; files in {work}")
    print(f"  baseline logger.info('msg') %(message)s   {baseline:6.2f} µs   1.00x")
    for label, value in figures.items():
        print(f"  {label:<40} {value:6.2f} µs   {value / baseline:.2f}x")
    print(f"  checks' own baseline                     {checks_baseline:6.2f} µs   1.00x")
    for label, value in checks.items():
        print(f"  {label:<40} {value:6.2f} µs   {value / checks_baseline:.2f}x")


if __name__ == "__main__":
    main()
