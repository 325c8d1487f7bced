"""`CountingProxy(upstream)`: a real HTTP proxy on 127.0.0.1 that logs every request it forwards.

A test helper for the live-endpoint tests: the client talks to the proxy, the proxy to a real
`metaalign serve`. Each request is logged with its Idempotency-Key, status and times, and the
proxy keeps the largest number of requests it had in flight at once (the client's concurrency).
It forwards bodies and headers unchanged; it does not answer anything itself.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Forwarded:
    path: str
    key: str | None
    status: int
    started: float
    ended: float


class CountingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.log: list[Forwarded] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def keys(self, status: int | None = 200) -> list[str]:
        with self._lock:
            return [r.key for r in self.log if r.key and (status is None or r.status == status)]

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        request = urllib.request.Request(
            self.upstream + handler.path, data=body, headers=headers, method=handler.command
        )
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=600) as reply:
                status, reply_headers, data = reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as err:
            status, reply_headers, data = err.code, err.headers, err.read()
        finally:
            with self._lock:
                self.in_flight -= 1
        key = handler.headers.get("Idempotency-Key")
        with self._lock:
            self.log.append(Forwarded(handler.path, key, status, started, time.monotonic()))
        try:
            handler.send_response(status)
            for name, value in reply_headers.items():
                if name.lower() not in HOP_HEADERS:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client went away (a killed build)
            pass

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy._forward(self)

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
