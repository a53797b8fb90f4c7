"""The shipper's own series: its counters, written every ``metrics_interval_secs``."""

from __future__ import annotations

from luna_events.catalog.build import count, field, seconds, series, tag
from luna_events.catalog.model import SeriesSpec, Unit, ValueType

SHIPPER = "luna-events-ship"

SERIES: tuple[SeriesSpec, ...] = (
    series(
        "shipper",
        "the fallback shipper's counters since it started",
        (SHIPPER,),
        (
            tag("host", ValueType.STR, "host the shipper runs on"),
            tag("sink", ValueType.STR, "sink type, e.g. influxdb_v1"),
        ),
        (
            count("lines_read", "log lines read", required=True),
            count("events_read", "monitoring events read", required=True),
            count("events_shipped", "events the sink acknowledged", required=True),
            count(
                "own_points_shipped",
                "the shipper's own points acknowledged (not in events_shipped)",
            ),
            count("lines_skipped", "ordinary log lines skipped", required=True),
            count("events_dead_lettered", "lines sent to the dead-letter file", required=True),
            count("retries", "sink requests retried", required=True),
            field(
                "spool_bytes",
                ValueType.INT,
                "bytes in the disk buffer",
                required=True,
                unit=Unit.BYTES,
            ),
            count("spool_batches", "batches in the disk buffer", required=True),
            seconds("lag_seconds", "age of the oldest batch not yet acknowledged", required=True),
            count(
                "segments_quarantined",
                "damaged spool segments moved to the quarantine dir (intact records sent)",
            ),
            count("records_damaged", "spool records found cut or garbled and not sent"),
            field(
                "senders_working",
                ValueType.INT,
                "senders running now (the rest wait to restart after a failure)",
            ),
            field("senders", ValueType.INT, "senders configured (the sink's concurrency)"),
            count("sender_failures", "senders that failed and were restarted"),
            count(
                "write_failures",
                "spool, checkpoint or dead-letter writes that failed (disk full...)",
            ),
        ),
        group="shipper",
    ),
)
