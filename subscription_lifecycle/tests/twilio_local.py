"""Twilio's REST API answered by a local server (``webhook_server.WebhookServer``): what sms_twilio sends it.

sms_twilio calls ``https://api.twilio.com`` itself: only the transport is
sent to the local server, in the test process (``LocalTwilio``) and in a
worker process (``send_twilio_to``). Plain imports only: ``engine_worker.py``
imports this module by its file's folder.
"""

import hashlib
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests

TWILIO_HOST = "api.twilio.com"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_NUMBER = "+4930901820"
TWILIO_ROOT = "LIFECYCLE_TEST_TWILIO_ROOT"  # environment variable: the local server of a worker process


def twilio_settings(country):
    """A company's values for sending SMS through Twilio from a number of ``country``."""
    return {
        "sms_provider": "twilio",
        "sms_twilio_account_sid": TWILIO_SID,
        "sms_twilio_auth_token": "twilio-token",
        "sms_twilio_number_ids": [(0, 0, {"country_id": country.id, "number": TWILIO_NUMBER})],
    }


def local_twilio(url, root):
    """``url`` on the server at ``root`` when it is Twilio's API, else ``url`` as it is."""
    parts = urlsplit(url)
    if parts.hostname != TWILIO_HOST:
        return url
    local = urlsplit(root)
    return urlunsplit((local.scheme, local.netloc, parts.path, parts.query, parts.fragment))


def sms_uuid(received):
    """The uuid of the SMS a request to Twilio is for: the end of the status callback it asks for."""
    return parse_qs(received.body.decode())["StatusCallback"][0].rsplit("/", 1)[-1]


def twilio_accepts(received):
    """Twilio's answer to an accepted SMS: 201 and the message's SID (one per SMS)."""
    sid = "SM" + hashlib.sha256(sms_uuid(received).encode()).hexdigest()[:32]
    return 201, {}, {"sid": sid, "status": "queued", "to": parse_qs(received.body.decode())["To"][0]}


def send_twilio_to(root):
    """Make the requests of this (worker) process to Twilio's API go to the server at ``root``."""
    send = requests.Session.send

    def redirected(session, request, **kwargs):
        request.url = local_twilio(request.url, root)
        return send(session, request, **kwargs)

    requests.Session.send = redirected


class LocalTwilio:
    """Mixin of test cases: the test's requests to Twilio's API go to its server ``cls.twilio``."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        r.url = local_twilio(r.url, cls.twilio.root)
        return super()._request_handler(s, r, **kw)
