"""A real HTTP server on 127.0.0.1 for the webhook tests: it records every request and answers as told.

server = WebhookServer()          # started, on a free port
server.answer(500)                # the next request gets a 500, the one after the default 200
server.answer(429, {"Retry-After": "120"})
server.answer(201, body={"sid": "SM…"})  # a JSON answer, as REST APIs give
... server.requests ...           # [Received(path, headers, body), ...] in arrival order
server.stop()
"""

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict  # names in lower case
    body: bytes


class WebhookServer:
    def __init__(self):
        self.requests = []
        self._answers = deque()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers
            # answer at once, as real servers do: otherwise the body, written after the headers,
            # waits for the client's delayed ACK (40 ms) on a kept-alive connection
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    server.requests.append(
                        Received(self.path, {name.lower(): value for name, value in self.headers.items()}, body)
                    )
                    status, headers, payload = server._answers.popleft() if server._answers else (200, {}, None)
                answer = f"answer {status}".encode() if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain" if payload is None else "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass  # the test log stays quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    @property
    def port(self):
        return self._server.server_port

    def answer(self, status, headers=None, body=None):
        """Queue the answer to a coming request (default: 200); ``body``, when given, is sent as JSON."""
        with self._lock:
            self._answers.append((status, headers or {}, body))

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
