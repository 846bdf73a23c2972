from datetime import datetime, timezone

import pytest
from lib.webhook_signature import (
    SignatureError,
    TimestampError,
    new_secret,
    secret_bytes,
    sign,
    signature_header,
    verify,
)
from standardwebhooks.webhooks import Webhook

NOW = 1800000000
BODY = b'{"type":"payment_received","timestamp":"2027-01-15T08:00:00Z","data":{"id":7}}'


def test_secrets_are_whsec_and_at_least_24_random_bytes():
    first, second = (new_secret(), new_secret())
    assert first.startswith("whsec_")
    assert len(secret_bytes(first)) >= 24
    assert first != second


def test_the_reference_library_accepts_our_signature():
    secret = new_secret()
    header = sign(secret, "msg_1", NOW, BODY)
    expected = Webhook(secret).sign("msg_1", datetime.fromtimestamp(NOW, tz=timezone.utc), BODY.decode())
    assert header == expected


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    old, new = (new_secret(), new_secret())
    header = signature_header([new, old], "msg_2", NOW, BODY)
    assert len(header.split(" ")) == 2
    for secret in (old, new):
        verify([secret], "msg_2", str(NOW), header, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify([new_secret()], "msg_2", str(NOW), header, BODY, now=NOW)


def test_we_accept_what_the_reference_library_signs():
    secret = new_secret()
    header = Webhook(secret).sign("msg_3", datetime.fromtimestamp(NOW, tz=timezone.utc), BODY.decode())
    verify([secret], "msg_3", str(NOW), header, BODY, now=NOW + 299)


def test_a_changed_body_id_or_timestamp_is_refused():
    secret = new_secret()
    header = sign(secret, "msg_4", NOW, BODY)
    with pytest.raises(SignatureError):
        verify([secret], "msg_4", str(NOW), header, BODY + b" ", now=NOW)
    with pytest.raises(SignatureError):
        verify([secret], "msg_5", str(NOW), header, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify([secret], "msg_4", str(NOW + 1), header, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify([secret], "msg_4", str(NOW), "v1,not-base64!", BODY, now=NOW)


def test_a_timestamp_more_than_five_minutes_away_is_refused():
    secret = new_secret()
    for sent_at in (NOW - 301, NOW + 301):
        header = sign(secret, "msg_6", sent_at, BODY)
        with pytest.raises(TimestampError):
            verify([secret], "msg_6", str(sent_at), header, BODY, now=NOW)
    with pytest.raises(TimestampError):
        verify([secret], "msg_6", "yesterday", sign(secret, "msg_6", NOW, BODY), BODY, now=NOW)
