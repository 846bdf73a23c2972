"""Standard Webhooks signatures (https://www.standardwebhooks.com): sign and verify, no ORM.

A message is signed with HMAC-SHA256 over ``"<id>.<timestamp>.<body>"`` using
the secret's bytes; the ``webhook-signature`` header lists one ``v1,<base64>``
signature per secret that currently signs (two during a secret rotation),
separated by spaces. Secrets are written ``whsec_`` + base64 of their bytes.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32
# How far a request's timestamp may be from our clock, either way (the specification's 5 minutes).
TOLERANCE_SECONDS = 5 * 60


class SignatureError(ValueError):
    """No signature of the request matches any of the endpoint's secrets (or it carries none)."""


class TimestampError(ValueError):
    """The request's timestamp is missing, unreadable, or too far from now."""


def new_secret():
    """A fresh secret: ``whsec_`` followed by the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret):
    """The key bytes of a ``whsec_`` secret."""
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from error
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret, msg_id, timestamp, body):
    """``v1,<base64 signature>`` of ``body`` (bytes) sent as message ``msg_id`` at ``timestamp`` (int seconds)."""
    signed = b"%s.%d.%s" % (msg_id.encode(), int(timestamp), body)
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(signing_secrets, msg_id, timestamp, body):
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in signing_secrets)


def verify(signing_secrets, msg_id, timestamp, signature, body, *, now):
    """Check a received message; raise ``TimestampError`` or ``SignatureError`` when it does not hold.

    ``timestamp`` and ``signature`` are the raw header values, ``now`` the
    current time in seconds since the epoch. Any ``v1`` signature made with
    any of ``signing_secrets`` is accepted, compared in constant time.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError) as error:
        raise TimestampError("missing or unreadable webhook-timestamp") from error
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        raise TimestampError("webhook-timestamp is too far from now")
    if not msg_id or not signature:
        raise SignatureError("missing webhook-id or webhook-signature")
    received = []
    for item in signature.split(" "):
        version, _comma, value = item.partition(",")
        if version == "v1":
            try:
                received.append(base64.b64decode(value, validate=True))
            except binascii.Error:
                continue
    for secret in signing_secrets:
        expected = base64.b64decode(sign(secret, msg_id, sent_at, body)[3:])
        if any(hmac.compare_digest(expected, candidate) for candidate in received):
            return
    raise SignatureError("no signature matches")
