import json

from odoo.tests import BaseCase, tagged

from ..lib.webhook_inbound import MAX_ID_LENGTH, MessageError, parse_custom_types, parse_message


def plain(message, **values):
    """What ``env._`` does, without the translation."""
    return message % values


def body(kind="payment_received", **data):
    return json.dumps({"type": kind, "timestamp": "2027-01-15T08:00:00Z", "data": data}).encode()


PAYMENT = {"customer": {"email": "ann@example.com"}, "amount": 120.5, "currency": "EUR"}


@tagged("post_install", "-at_install")
class TestWebhookInboundParsing(BaseCase):
    def parse(self, raw, custom_types=(), msg_id="msg_1"):
        return parse_message(msg_id, raw, custom_types, plain)

    def assertUnreadable(self, raw, pattern, custom_types=(), msg_id="msg_1"):
        with self.assertRaisesRegex(MessageError, pattern):
            self.parse(raw, custom_types, msg_id)

    def test_a_payment_keeps_its_data_and_the_keys_of_odoos_own_payment_events(self):
        message = self.parse(body(**PAYMENT, reference="INV/7"))
        self.assertEqual((message.event_type, message.custom_type), ("payment_received", False))
        self.assertEqual((message.customer_email, message.customer_ref), ("ann@example.com", ""))
        payload = message.payload("msg_1", "Billing")
        self.assertEqual(payload["webhook"], {"endpoint": "Billing", "id": "msg_1", "type": "payment_received"})
        self.assertEqual(payload["data"], {**PAYMENT, "reference": "INV/7"})
        self.assertEqual(
            {key: payload[key] for key in ("reference", "amount", "currency", "provider", "message")},
            {"reference": "INV/7", "amount": 120.5, "currency": "EUR", "provider": "webhook", "message": ""},
        )

    def test_a_custom_type_of_the_endpoint_is_a_custom_event_of_that_type(self):
        message = self.parse(body("trial.started", customer={"ref": 1042}), custom_types=("trial.started",))
        self.assertEqual((message.event_type, message.custom_type), ("custom", "trial.started"))
        self.assertEqual(message.customer_ref, "1042", "a numeric reference is read as text")
        self.assertEqual(message.payload("msg_1", "CRM")["data"], {"customer": {"ref": 1042}})
        self.assertUnreadable(body("trial.started", customer={"ref": "A"}), "Unknown event type")

    def test_a_cancellation_names_its_deadline_by_number(self):
        message = self.parse(body("deadline_cancelled", customer={"ref": "AZ"}, deadline_id=42))
        self.assertEqual((message.event_type, message.deadline_id), ("deadline_cancelled", 42))
        for wrong in ("42", 4.2, True, 0, None):
            self.assertUnreadable(
                body("deadline_cancelled", customer={"ref": "AZ"}, deadline_id=wrong), "data.deadline_id"
            )

    def test_malformed_bodies_are_unreadable(self):
        self.assertUnreadable(b"{not json", "not valid JSON")
        self.assertUnreadable(b"\xff\xfe\x00", "not valid JSON")
        self.assertUnreadable(b"[" * 100_000 + b"]" * 100_000, "not valid JSON")
        self.assertUnreadable(b"[1, 2]", "a JSON object")
        self.assertUnreadable(json.dumps({"type": "payment_received", "data": []}).encode(), '"data" object')
        self.assertUnreadable(body("refund_everything", **PAYMENT), 'Unknown event type "refund_everything"')
        self.assertUnreadable(json.dumps({"type": ["x"], "data": PAYMENT}).encode(), "Unknown event type")
        self.assertUnreadable(body(**PAYMENT), "webhook-id", msg_id="m" * (MAX_ID_LENGTH + 1))

    def test_every_message_names_its_customer_and_a_payment_its_amount_and_currency(self):
        self.assertUnreadable(body("customer_registered"), "data.customer")
        self.assertUnreadable(body("customer_registered", customer={"email": " ", "ref": None}), "data.customer")
        self.assertUnreadable(body("customer_registered", customer="ann@example.com"), "data.customer")
        for amount in (None, "12", -1, True, float("nan")):
            raw = json.dumps({"type": "payment_failed", "data": {**PAYMENT, "amount": amount}}).encode()
            self.assertUnreadable(raw, "data.amount")
        for currency in (None, "eur", "EURO", 978):
            self.assertUnreadable(body(**{**PAYMENT, "currency": currency}), "data.currency")

    def test_custom_types_are_listed_by_commas_spaces_or_lines(self):
        self.assertEqual(
            parse_custom_types("trial.started, ticket_opened\nnps-score  trial.started"),
            ("trial.started", "ticket_opened", "nps-score"),
        )
        self.assertEqual(parse_custom_types(False), ())
        with self.assertRaisesRegex(ValueError, "^Trial, payment_received, 9lives$"):
            parse_custom_types("Trial, ok, payment_received, 9lives")
