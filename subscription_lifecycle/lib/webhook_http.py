"""Sending webhook requests: several at once, keep-alive, to the address that was checked. No ORM.

The sender resolves each host name itself, refuses it when any of its
addresses is one the SSRF guard forbids (``webhook_delivery.address_allowed``),
and then connects to the first checked address: the connection pool is keyed
by that address while TLS still sends and verifies the host *name* (SNI and
certificate check through urllib3's ``server_hostname`` / ``assert_hostname``).
There is no second DNS lookup, so a name that resolves to a public address
when checked and to 127.0.0.1 a moment later (DNS rebinding) cannot reach
the inside. Proxies from the environment are ignored for the same reason.

Each sending thread keeps one ``requests`` session (a pool of keep-alive
connections per address) for the life of the ``Sender``.
"""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.exceptions import NewConnectionError

from .webhook_delivery import address_allowed, address_kind

TIMEOUT = 10  # seconds, to connect and between bytes of the answer
RESPONSE_KEPT = 2048  # bytes of the answer kept in the log
RESPONSE_READ = 64 * 1024  # bytes of the answer read at most; a longer one closes its connection
THREADS = 8


@dataclass
class Outgoing:
    """One request to make: ``key`` names it in the outcome."""

    key: int
    url: str
    headers: dict
    body: bytes
    allow_private: bool


@dataclass
class Outcome:
    """What came of an ``Outgoing``: a status (any), or an error (0 as status)."""

    key: int
    status: int = 0
    latency_ms: int = 0
    response: str = ""
    retry_after: str = ""
    error: str = ""
    # whether the request may have reached the receiver: an answer came, or
    # the connection was lost after the request left (see ``may_have_reached``)
    reached: bool = False


class _PinnedPoolManager(PoolManager):
    """Connects to the address pinned for a host name, TLS checking the name itself."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pins = {}

    def connection_from_host(self, host, port=None, scheme="http", pool_kwargs=None):
        name = host.strip("[]").lower()
        address = self.pins[name]  # a host that was not checked is never connected to
        pool_kwargs = dict(pool_kwargs or {})
        if scheme == "https":
            pool_kwargs.update(server_hostname=name, assert_hostname=name)
        return super().connection_from_host(address, port=port, scheme=scheme, pool_kwargs=pool_kwargs)


class _PinnedAdapter(HTTPAdapter):
    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _PinnedPoolManager(num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs)


def resolve(host, port):
    """The addresses ``host`` resolves to, in the resolver's order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def may_have_reached(error):
    """Whether a request that failed with ``error`` may still have reached the receiver.

    No: the name did not resolve, the address was refused, the connection
    could not be made (or not in time). Maybe: the answer did not come in
    time, or the connection broke after the request left.
    """
    if isinstance(error, requests.ConnectTimeout):
        return False
    if isinstance(error, requests.ConnectionError):
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return not isinstance(reason, NewConnectionError)
    return isinstance(error, (requests.Timeout, requests.exceptions.ChunkedEncodingError))


class Sender:
    """``with Sender() as sender: sender.send_all([Outgoing, ...])`` → ``[Outcome, ...]``, in order."""

    def __init__(self, threads=THREADS):
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="lifecycle-webhook")
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._pool.shutdown()
        for session in self._sessions:
            session.close()

    def send_all(self, outgoing):
        return list(self._pool.map(self.send, outgoing))

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy from the environment: we connect to what we checked
            adapter = _PinnedAdapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.pinned = adapter.poolmanager
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def send(self, outgoing):
        """POST one request; never raises for what the network or the receiver does."""
        started = time.monotonic()
        outcome = Outcome(key=outgoing.key)
        try:
            prepared = requests.Request("POST", outgoing.url, headers=outgoing.headers, data=outgoing.body).prepare()
            parts = urlsplit(prepared.url)
            addresses = resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
            refused = [address for address in addresses if not address_allowed(address, outgoing.allow_private)]
            if refused:
                outcome.error = f"refused: {parts.hostname} is {refused[0]}, a {address_kind(refused[0])} address"
                return outcome
            session = self._session()
            session.pinned.pins[parts.hostname.lower()] = addresses[0]
            response = session.send(prepared, timeout=TIMEOUT, allow_redirects=False, stream=True, proxies={})
            with response:
                received = b""
                for chunk in response.iter_content(RESPONSE_KEPT):
                    received += chunk
                    if len(received) >= RESPONSE_READ:
                        break
            outcome.status = response.status_code
            outcome.reached = True
            outcome.retry_after = response.headers.get("Retry-After", "")
            outcome.response = received[:RESPONSE_KEPT].decode("utf-8", "replace")
        except (OSError, ValueError, requests.RequestException) as error:
            outcome.error = f"{error.__class__.__name__}: {error}"
            outcome.reached = may_have_reached(error)
        finally:
            outcome.latency_ms = round((time.monotonic() - started) * 1000)
        return outcome
