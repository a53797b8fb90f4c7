"""InfluxDB 2.x through ``influxdb-client`` (org, bucket, token), synchronous writes.

The client's batching ``WriteApi`` keeps an unbounded buffer and drops batches
after its retries; here each spooled batch is one synchronous write, and the
shipper's own delivery policy decides what a failure means. InfluxDB 1.8+'s
compatibility API is used when ``username``/``password`` are given instead of a
token: the token is ``user:password`` and the bucket ``database/retention_policy``.
The config has already checked that a token (or a username) and a bucket are set.
"""

from __future__ import annotations

from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from luna_events.ship.config import InfluxDBv2Config
from luna_events.ship.sinks import SendResult
from luna_events.ship.sinks.retry_after import parse_retry_after


class InfluxDBv2Sink:
    """Writes batches with ``WriteApi.write`` in SYNCHRONOUS mode."""

    name = "influxdb_v2"

    def __init__(self, config: InfluxDBv2Config) -> None:
        if config.token:
            token = config.token.reveal()
            org = config.org or "-"
        else:  # the config guarantees a token or a username
            password = config.password.reveal() if config.password else ""
            token = f"{config.username}:{password}"
            org = "-"
        assert config.bucket, "the config guarantees a bucket"
        self.org = org
        self.bucket = config.bucket
        self.client = InfluxDBClient(
            url=config.url,
            token=token,
            org=org,
            enable_gzip=config.gzip,
            verify_ssl=config.verify_ssl,
            timeout=int(config.timeout_secs * 1000),
            retries=False,
        )
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)

    def send(self, body: bytes) -> SendResult:
        try:
            self.write_api.write(
                bucket=self.bucket,
                org=self.org,
                record=body,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
            )
        except ApiException as error:
            headers: Any = error.headers or {}
            return SendResult(
                error.status,
                str(error.body or error.reason or "").strip(),
                parse_retry_after(headers.get("Retry-After")),
            )
        except Exception as error:  # urllib3 connection errors and timeouts
            return SendResult(None, f"{type(error).__name__}: {error}")
        return SendResult(204)

    def close(self) -> None:
        self.write_api.close()  # type: ignore[no-untyped-call]
        self.client.close()  # type: ignore[no-untyped-call]
