"""Helpers for tests that run the real server as a process: a free port, a health wait, and a host app
of its own (a stdlib HTTP server on another loopback address) for the cross-origin embed."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `url`/health until it answers 200; fail with the server's log if it exits or stalls."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"live server exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"live server did not become healthy:\n{log.read_text()}")


class HostAppServer:
    """A stand-in for a customer's own app on a separate origin (e.g. http://127.0.0.2:<port>).

    It serves `page` at every GET and answers anything else with 405, recording each request as
    "METHOD /path" (query left off), so a test can see what the host page sent to its own origin by mistake.
    """

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.page = "<!doctype html><title>host</title>"
        self.requests: list[str] = []
        app = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: bytes) -> None:
                app.requests.append(f"{self.command} {self.path.split('?', 1)[0]}")  # no tokens in test output
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(200, app.page.encode())

            def do_POST(self) -> None:
                self._answer(405, b"")

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test asserts on `requests` instead

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="host-app", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class WebhookInbox:
    """A host app's webhook endpoint on loopback: answers every POST with 204 and keeps its raw body and
    headers (as received, before any parsing), for verifiers to check."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                inbox.deliveries.append((body, {name.lower(): value for name, value in self.headers.items()}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/saveflow"
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-inbox", daemon=True)
        self._thread.start()

    def wait_for(self, event_type: str, timeout: float = 30) -> tuple[bytes, dict[str, str]]:
        """The first delivery of `event_type`; the service delivers in rounds a few seconds apart."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body, headers in list(self.deliveries):
                if json.loads(body).get("type") == event_type:
                    return body, headers
            time.sleep(0.1)
        raise AssertionError(f"no {event_type} delivery within {timeout} s; got {len(self.deliveries)} others")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
