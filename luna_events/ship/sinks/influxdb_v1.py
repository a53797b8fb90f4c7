"""InfluxDB 1.x through ``/write`` (database, retention policy, basic auth, gzip)."""

from __future__ import annotations

import httpx
from isal.igzip import compress as gzip_compress

from luna_events.ship.config import InfluxDBv1Config
from luna_events.ship.sinks import SendResult
from luna_events.ship.sinks.retry_after import parse_retry_after


class InfluxDBv1Sink:
    """POSTs batches to ``{url}/write?db=...&rp=...&precision=ns``.

    The URL holds no credentials (the config moved them into auth), so neither
    this module nor httpx's request log can print them.
    """

    name = "influxdb_v1"

    def __init__(self, config: InfluxDBv1Config) -> None:
        self.gzip = config.gzip
        params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            params["rp"] = config.retention_policy
        auth = None
        if config.username:
            password = config.password.reveal() if config.password else ""
            auth = httpx.BasicAuth(config.username, password)
        self.client = httpx.Client(
            base_url=config.url,
            params=params,
            auth=auth,
            verify=config.verify_ssl,
            timeout=config.timeout_secs,
        )

    def send(self, body: bytes) -> SendResult:
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            # ISA-L's gzip at its fast level: a quarter of zlib's CPU at level 1, and as
            # small (the same deflate format: any gzip reader takes it)
            body = gzip_compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            response = self.client.post("/write", content=body, headers=headers)
        except httpx.HTTPError as error:
            return SendResult(None, f"{type(error).__name__}: {error}")
        return SendResult(
            response.status_code,
            response.text.strip(),
            parse_retry_after(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self.client.close()
