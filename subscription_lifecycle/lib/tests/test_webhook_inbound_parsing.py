import json

import pytest
from lib.webhook_inbound import MAX_ID_LENGTH, MessageError, parse_custom_types, parse_message


def plain(message, **values):
    """What ``env._`` does, without the translation."""
    return message % values


def body(kind="payment_received", **data):
    return json.dumps({"type": kind, "timestamp": "2027-01-15T08:00:00Z", "data": data}).encode()


PAYMENT = {"customer": {"email": "ann@example.com"}, "amount": 120.5, "currency": "EUR"}


def parse(raw, custom_types=(), msg_id="msg_1"):
    return parse_message(msg_id, raw, custom_types, plain)


def assert_unreadable(raw, pattern, custom_types=(), msg_id="msg_1"):
    with pytest.raises(MessageError, match=pattern):
        parse(raw, custom_types, msg_id)


def test_a_payment_keeps_its_data_and_the_keys_of_odoos_own_payment_events():
    message = parse(body(**PAYMENT, reference="INV/7"))
    assert (message.event_type, message.custom_type) == ("payment_received", False)
    assert (message.customer_email, message.customer_ref) == ("ann@example.com", "")
    payload = message.payload("msg_1", "Billing")
    assert payload["webhook"] == {"endpoint": "Billing", "id": "msg_1", "type": "payment_received"}
    assert payload["data"] == {**PAYMENT, "reference": "INV/7"}
    assert {key: payload[key] for key in ("reference", "amount", "currency", "provider", "message")} == {
        "reference": "INV/7",
        "amount": 120.5,
        "currency": "EUR",
        "provider": "webhook",
        "message": "",
    }


def test_a_custom_type_of_the_endpoint_is_a_custom_event_of_that_type():
    message = parse(body("trial.started", customer={"ref": 1042}), custom_types=("trial.started",))
    assert (message.event_type, message.custom_type) == ("custom", "trial.started")
    assert message.customer_ref == "1042", "a numeric reference is read as text"
    assert message.payload("msg_1", "CRM")["data"] == {"customer": {"ref": 1042}}
    assert_unreadable(body("trial.started", customer={"ref": "A"}), "Unknown event type")


def test_a_cancellation_names_its_deadline_by_number():
    message = parse(body("deadline_cancelled", customer={"ref": "AZ"}, deadline_id=42))
    assert (message.event_type, message.deadline_id) == ("deadline_cancelled", 42)
    for wrong in ("42", 4.2, True, 0, None):
        assert_unreadable(body("deadline_cancelled", customer={"ref": "AZ"}, deadline_id=wrong), "data.deadline_id")


def test_malformed_bodies_are_unreadable():
    assert_unreadable(b"{not json", "not valid JSON")
    assert_unreadable(b"\xff\xfe\x00", "not valid JSON")
    assert_unreadable(b"[" * 100000 + b"]" * 100000, "not valid JSON")
    assert_unreadable(b"[1, 2]", "a JSON object")
    assert_unreadable(json.dumps({"type": "payment_received", "data": []}).encode(), '"data" object')
    assert_unreadable(body("refund_everything", **PAYMENT), 'Unknown event type "refund_everything"')
    assert_unreadable(json.dumps({"type": ["x"], "data": PAYMENT}).encode(), "Unknown event type")
    assert_unreadable(body(**PAYMENT), "webhook-id", msg_id="m" * (MAX_ID_LENGTH + 1))


def test_every_message_names_its_customer_and_a_payment_its_amount_and_currency():
    assert_unreadable(body("customer_registered"), "data.customer")
    assert_unreadable(body("customer_registered", customer={"email": " ", "ref": None}), "data.customer")
    assert_unreadable(body("customer_registered", customer="ann@example.com"), "data.customer")
    for amount in (None, "12", -1, True, float("nan")):
        raw = json.dumps({"type": "payment_failed", "data": {**PAYMENT, "amount": amount}}).encode()
        assert_unreadable(raw, "data.amount")
    for currency in (None, "eur", "EURO", 978):
        assert_unreadable(body(**{**PAYMENT, "currency": currency}), "data.currency")


def test_custom_types_are_listed_by_commas_spaces_or_lines():
    assert parse_custom_types("trial.started, ticket_opened\nnps-score  trial.started") == (
        "trial.started",
        "ticket_opened",
        "nps-score",
    )
    assert parse_custom_types(False) == ()
    with pytest.raises(ValueError, match=r"^Trial, payment_received, 9lives$"):
        parse_custom_types("Trial, ok, payment_received, 9lives")
