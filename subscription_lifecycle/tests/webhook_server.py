"""A real HTTP server on 127.0.0.1 for the webhook tests: it records every request and answers as told.

server = WebhookServer()          # started, on a free port
server.answer(500)                # the next request gets a 500, the one after the default 200
server.answer(429, {"Retry-After": "120"})
server.answer(400, body={"error": {...}})   # a JSON answer
server.answer(HANG_UP)            # the request is read, the connection closed without an answer
server.default = callable         # the answer when none is queued: f(Received) -> (status, headers, body)
server.hold_from(10)              # the 10th request on waits for server.release() before its answer
... server.requests ...           # [Received(path, headers, body), ...] in arrival order
server.stop()
"""

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_UP = 0  # as the status of an answer: close the connection instead


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
        self.default = lambda received: (200, {}, None)
        self._held_from = None
        self._released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers
            # answer at once, as real servers do: otherwise the body, written after the headers,
            # waits for the client's delayed ACK (40 ms) on a kept-alive connection
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = Received(self.path, {name.lower(): value for name, value in self.headers.items()}, body)
                with server._lock:
                    server.requests.append(received)
                    number = len(server.requests)
                    status, headers, payload = (
                        server._answers.popleft() if server._answers else server.default(received)
                    )
                if server._held_from is not None and number >= server._held_from:
                    server._released.wait()
                if status == HANG_UP:
                    self.close_connection = True
                    return
                if payload is None:
                    answer, kind = f"answer {status}".encode(), "text/plain"
                else:
                    answer, kind = json.dumps(payload).encode(), "application/json"
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    self.close_connection = True  # the client is gone (a killed worker)

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

    @property
    def root(self):
        """The server's address without a path, for services whose paths the client builds."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def answer(self, status, headers=None, body=None):
        """Queue the answer to a coming request (default: 200); ``body``: JSON to answer with."""
        with self._lock:
            self._answers.append((status, headers or {}, body))

    def hold_from(self, number):
        """Make the ``number``-th request and those after it wait for ``release`` before their answer."""
        self._held_from = number

    def release(self):
        self._released.set()

    def stop(self):
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
