"""A hostile HTTP proxy on 127.0.0.1 for the fault tests: forwards to a real server,
or delays, resets the connection, answers a plain 400, or never answers.

The mode is a list of steps taken one per request (the last one repeats), so a test
says "three resets, then forward" without any sleeps.
"""

from __future__ import annotations

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

FORWARD = "forward"
RESET = "reset"
PLAIN_400 = "plain400"
HANG = "hang"
PARTIAL_ELSEWHERE = "partial-elsewhere"
"""InfluxDB's partial-write answer naming a line that was not in the request."""
DELAY = "delay"
"""Wait :attr:`FaultProxy.delay` seconds, then forward."""


ANSWERS = {
    PLAIN_400: ("text/html", b"<html><body><h1>400 Bad Request</h1></body></html>"),
    PARTIAL_ELSEWHERE: (
        "application/json",
        b'{"error":"partial write: unable to parse \'elsewhere,t=a f=\': '
        b'missing field value dropped=1"}',
    ),
}
"""What the proxy answers itself, by step: content type and body (all with 400)."""


def answer(handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
    """Send a whole answer."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


class FaultProxy:
    """``with FaultProxy(upstream, [RESET, RESET, FORWARD]) as proxy: proxy.url``."""

    def __init__(self, upstream: str, steps: list[str], *, delay: float = 0.5) -> None:
        self.upstream = upstream
        self.steps = list(steps)
        self.delay = delay
        self.requests = 0
        self.answers: list[str] = []
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def set_steps(self, steps: list[str]) -> None:
        with self._lock:
            self.steps = list(steps)

    def _next(self) -> str:
        with self._lock:
            self.requests += 1
            step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
            self.answers.append(step)
            return step

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        step = self._next()
        if step == HANG:
            self.closing.wait()
            return
        if step == RESET:
            connection = handler.connection
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()
            handler.close_connection = True
            return
        if step in ANSWERS:
            answer(handler, 400, *ANSWERS[step])
            return
        if step == DELAY:
            self.closing.wait(self.delay)
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() in {"content-type", "content-encoding", "authorization"}
        }
        response = self._client.post(handler.path, content=body, headers=headers)
        content_type = response.headers.get("Content-Type", "text/plain")
        answer(handler, response.status_code, content_type, response.content)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._client.close()
