import socket
import threading

from lib.messaging import FAILED, RETRY, RETRY_DELAYS, SENT, UNKNOWN, classify
from lib.webhook_http import Outgoing, Sender


def test_an_accepted_message_is_sent():
    assert classify(200, True, 1).state == SENT


def test_a_request_that_never_reached_the_service_is_tried_again_later():
    result = classify(0, False, 1, error="ConnectionError: refused")
    assert (result.state, result.retry_in, result.error) == (RETRY, RETRY_DELAYS[0], "ConnectionError: refused")
    assert classify(0, False, 2).retry_in == RETRY_DELAYS[1]


def test_a_message_that_never_reached_the_service_fails_after_the_last_try():
    assert classify(0, False, len(RETRY_DELAYS) + 1).state == FAILED


def test_a_request_timeout_is_tried_again():
    assert classify(408, True, 1).state == RETRY


def test_a_rate_limit_waits_as_long_as_the_service_asks():
    assert classify(429, True, 1, retry_after=120).retry_in == 120
    assert classify(429, True, 1, retry_after=None).retry_in == RETRY_DELAYS[0]


def test_a_refusal_fails_and_is_never_retried():
    result = classify(400, True, 1, error="(#131026) Message undeliverable")
    assert (result.state, result.error) == (FAILED, "(#131026) Message undeliverable")
    assert classify(403, True, 1).error == "HTTP 403"


def test_a_server_error_or_a_lost_answer_leaves_the_outcome_unknown():
    assert classify(500, True, 1).state == UNKNOWN
    assert classify(503, True, 1).state == UNKNOWN
    assert classify(0, True, 1).state == UNKNOWN


def _send(url):
    with Sender(threads=1) as sender:
        return sender.send(Outgoing(key=1, url=url, headers={}, body=b"{}", allow_private=True))


def test_a_refused_connection_did_not_reach_the_service():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    outcome = _send(f"http://127.0.0.1:{port}/messages")
    assert (outcome.status, outcome.reached) == (0, False)


def test_a_connection_closed_after_the_request_may_have_reached_the_service():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def read_then_hang_up():
        connection, _address = server.accept()
        with connection:
            connection.recv(65536)  # the request arrived; no answer

    thread = threading.Thread(target=read_then_hang_up)
    thread.start()
    try:
        outcome = _send(f"http://127.0.0.1:{server.getsockname()[1]}/messages")
    finally:
        thread.join()
        server.close()
    assert (outcome.status, outcome.reached) == (0, True)


def test_an_answer_that_does_not_come_in_time_may_have_reached_the_service(monkeypatch):
    monkeypatch.setattr("lib.webhook_http.TIMEOUT", 0.2)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    done = threading.Event()

    def read_then_say_nothing():
        connection, _address = server.accept()
        with connection:
            connection.recv(65536)  # the request arrived; the answer never comes
            done.wait(5)

    thread = threading.Thread(target=read_then_say_nothing)
    thread.start()
    try:
        outcome = _send(f"http://127.0.0.1:{server.getsockname()[1]}/messages")
    finally:
        done.set()
        thread.join()
        server.close()
    assert (outcome.status, outcome.reached) == (0, True)
    assert outcome.error.startswith("ReadTimeout")
    assert classify(outcome.status, outcome.reached, 1).state == UNKNOWN
