import itertools
import json
import threading
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone

from standardwebhooks.webhooks import Webhook

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError
from odoo.sql_db import db_connect
from odoo.tests import HttpCase, TransactionCase, tagged

from ..lib.webhook_inbound import MAX_BODY_BYTES
from ..lib.webhook_signature import new_secret, sign
from .common import LifecycleCommon

MESSAGE_IDS = (f"msg_{number}" for number in itertools.count(1))
# A request still waiting after this long is stuck: the test stops waiting (no speed is asserted).
STUCK = 60


class WebhookInboundCommon(LifecycleCommon, HttpCase):
    """An incoming endpoint of the main company, and customers to name in messages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.write({"email": "billing@azure.example", "ref": "AZ-1"})
        # a contact of the customer with the same address: the customer is still meant
        cls.accountant = cls.env["res.partner"].create(
            {"name": "Ann Accountant", "parent_id": cls.customer.id, "email": "Billing@Azure.example"}
        )
        cls.endpoint = (
            cls.env["lifecycle.webhook.endpoint"]
            .with_user(cls.lc_manager)
            .create({"name": "Billing system", "direction": "inbound", "custom_event_types": "trial.started"})
        )

    def _post(self, data, *, msg_id=None, secret=None, sent_at=None, signer="reference", endpoint=None, **headers):
        """POST ``data`` (a dict, or raw text) signed as the sender would; ``headers`` override (None drops one)."""
        text = data if isinstance(data, str) else json.dumps({"timestamp": "2027-01-15T08:00:00Z", **data})
        msg_id = msg_id or next(MESSAGE_IDS)
        sent_at = sent_at or int(time.time())
        secret = secret or self.endpoint.secret
        if signer == "reference":
            signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(sent_at, tz=timezone.utc), text)
        else:
            signature = sign(secret, msg_id, sent_at, text.encode())
        sent = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(sent_at),
            "webhook-signature": signature,
        }
        sent.update((name.replace("_", "-"), value) for name, value in headers.items())
        response = self.url_open(
            f"/lifecycle/webhook/{(endpoint or self.endpoint).uuid}", data=text.encode(), headers=sent
        )
        self.env.invalidate_all()
        return response

    def _written(self):
        """What a request may write: events, calls received, chatter messages."""
        self.env.invalidate_all()
        return tuple(
            self.env[model].search_count([])
            for model in ("lifecycle.event", "lifecycle.webhook.inbound", "mail.message")
        )

    def assertRefusedCall(self, status, pattern, post, *args, **kwargs):
        before = self._written()
        response = post(*args, **kwargs)
        self.assertEqual(response.status_code, status, response.text)
        if pattern:  # werkzeug's own refusals answer in HTML
            self.assertRegex(response.json()["error"], pattern)
        self.assertEqual(self._written(), before, "a refused message writes nothing")
        return response

    def _calls(self, msg_id):
        return self.env["lifecycle.webhook.inbound"].search([("webhook_id", "=", msg_id)])

    @staticmethod
    def _payment(kind="payment_received", **customer):
        return {
            "type": kind,
            "data": {"customer": customer or {"email": "billing@azure.example"}, "amount": 99.5, "currency": "EUR"},
        }


@tagged("post_install", "-at_install")
class TestWebhookInbound(WebhookInboundCommon):
    def test_a_payment_signed_by_the_reference_library_becomes_one_pending_event_about_the_customer(self):
        response = self._post(
            {**self._payment(), "data": {**self._payment()["data"], "reference": "INV/2027/7"}}, msg_id="msg_payment"
        )
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(response.json(), {"status": "accepted"})
        call = self._calls("msg_payment")
        event = call.event_id
        self.assertEqual(
            (event.event_type, event.state, event.partner_id, event.company_id),
            ("payment_received", "pending", self.customer, self.company),
        )
        self.assertEqual(
            (event.payload["amount"], event.payload["currency"], event.payload["reference"]),
            (99.5, "EUR", "INV/2027/7"),
        )
        self.assertEqual(event.payload["webhook"]["id"], call.webhook_id)
        self.assertEqual(event.payload["data"]["customer"], {"email": "billing@azure.example"})
        self.assertEqual((call.endpoint_id, call.partner_id, call.result), (self.endpoint, self.customer, "accepted"))

    def test_our_own_signature_is_accepted_and_the_customer_is_found_by_reference(self):
        response = self._post({"type": "customer_registered", "data": {"customer": {"ref": "AZ-1"}}}, signer="ours")
        self.assertEqual(response.status_code, 202, response.text)
        event = self.env["lifecycle.webhook.inbound"].search([("endpoint_id", "=", self.endpoint.id)]).event_id
        self.assertEqual((event.event_type, event.partner_id), ("customer_registered", self.customer))

    def test_a_replayed_webhook_id_answers_200_and_creates_one_event(self):
        message = self._payment("payment_failed")
        self.assertEqual(self._post(message, msg_id="msg_replayed").status_code, 202)
        written = self._written()
        replay = self._post(message, msg_id="msg_replayed")
        self.assertEqual((replay.status_code, replay.json()), (200, {"status": "duplicate"}))
        # the same id with another body and a fresh signature is a replay too
        other = self._post(self._payment(ref="AZ-1"), msg_id="msg_replayed", signer="ours")
        self.assertEqual(other.status_code, 200)
        self.assertEqual(self._written(), written)
        self.assertEqual(len(self._calls("msg_replayed").event_id), 1)
        # another endpoint has its own ids
        second = self.endpoint.copy({"name": "Second system"})
        self.assertEqual(
            self._post(message, msg_id="msg_replayed", endpoint=second, secret=second.secret).status_code, 202
        )

    def test_a_bad_or_missing_signature_is_401_and_writes_nothing(self):
        self.assertRefusedCall(401, "webhook-signature", self._post, self._payment(), secret=new_secret())
        self.assertRefusedCall(401, "webhook-signature", self._post, self._payment(), webhook_signature=None)
        self.assertRefusedCall(401, "webhook-signature", self._post, self._payment(), webhook_id=None)
        self.assertRefusedCall(
            401, "webhook-signature", self._post, self._payment(), webhook_signature="v1,AAAA v2,xyz"
        )
        # signed for another body
        signed = Webhook(self.endpoint.secret).sign("msg_x", datetime.now(timezone.utc), "{}")
        self.assertRefusedCall(
            401, "webhook-signature", self._post, self._payment(), msg_id="msg_x", webhook_signature=signed
        )

    def test_a_timestamp_more_than_five_minutes_away_is_400_and_writes_nothing(self):
        now = int(time.time())
        for sent_at in (now - 6 * 60, now + 6 * 60):
            self.assertRefusedCall(400, "webhook-timestamp", self._post, self._payment(), sent_at=sent_at)
        self.assertRefusedCall(400, "webhook-timestamp", self._post, self._payment(), webhook_timestamp=None)
        # within the tolerance it is accepted
        self.assertEqual(self._post(self._payment(), sent_at=now - 4 * 60).status_code, 202)

    def test_an_unknown_or_ambiguous_customer_is_422_and_writes_nothing(self):
        self.assertRefusedCall(422, "No customer has the email", self._post, self._payment(email="nobody@example.com"))
        self.assertRefusedCall(422, "No customer has the reference", self._post, self._payment(ref="AZ-404"))
        # a customer of another company is unknown to this endpoint
        self.env["res.partner"].create({"name": "Elsewhere Inc", "ref": "OTHER-1", "company_id": self.other_company.id})
        self.assertRefusedCall(422, "No customer has the reference", self._post, self._payment(ref="OTHER-1"))
        # two customers with one address: refused, not guessed between
        self.env["res.partner"].create([{"name": name, "email": "shared@example.com"} for name in ("Ann", "Bob")])
        self.assertRefusedCall(422, "Several customers", self._post, self._payment(email="shared@example.com"))
        self.customer.action_archive()
        self.assertRefusedCall(422, "No customer", self._post, self._payment(ref="AZ-1"))

    def test_malformed_json_or_an_unknown_type_is_400_and_writes_nothing(self):
        self.assertRefusedCall(400, "not valid JSON", self._post, '{"type": "payment_received", "data": ')
        self.assertRefusedCall(400, "a JSON object", self._post, '["payment_received"]')
        self.assertRefusedCall(400, "Unknown event type", self._post, {**self._payment(), "type": "invoice_paid"})
        self.assertRefusedCall(
            400, "data.amount", self._post, {"type": "payment_received", "data": {"customer": {"ref": "AZ-1"}}}
        )

    def test_a_body_over_256_kb_is_413_and_one_of_unknown_length_is_411(self):
        message = {"type": "customer_registered", "data": {"customer": {"ref": "AZ-1"}, "note": ""}}
        room = MAX_BODY_BYTES - len(json.dumps({"timestamp": "2027-01-15T08:00:00Z", **message}))
        message["data"]["note"] = "x" * room
        too_big = {**message, "data": {**message["data"], "note": "x" * (room + 1)}}
        self.assertRefusedCall(413, None, self._post, too_big)
        self.assertRefusedCall(413, "over 256 KB", self._post, too_big, content_type=None)
        self.assertEqual(self._post(message).status_code, 202, "256 KB exactly are accepted")
        before = self._written()
        chunked = self.url_open(
            f"/lifecycle/webhook/{self.endpoint.uuid}",
            data=iter([b'{"type": "customer_registered", ', b'"data": {}}']),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(chunked.status_code, 411)
        self.assertEqual(self._written(), before)

    def test_an_archived_outgoing_or_unknown_endpoint_is_404(self):
        outgoing = self.endpoint.copy({"name": "Slack", "direction": "outbound", "url": "https://hooks.example.com/in"})
        archived = self.endpoint.copy({"name": "Old billing"})
        archived.action_archive()
        for endpoint in (outgoing, archived):
            self.assertRefusedCall(
                404, "No such webhook endpoint", self._post, self._payment(), endpoint=endpoint, secret=endpoint.secret
            )
        unknown = self.url_open("/lifecycle/webhook/00000000-0000-0000-0000-000000000000", data=b"{}")
        self.assertEqual(unknown.status_code, 404)

    def test_the_previous_secret_is_accepted_during_the_rotation_overlap_and_refused_after(self):
        old = self.endpoint.secret
        self.endpoint.with_user(self.lc_manager).action_rotate_secret()
        self.assertEqual(self._post(self._payment(), secret=old).status_code, 202)
        self.assertEqual(self._post(self._payment(), secret=self.endpoint.secret).status_code, 202)
        self.endpoint.previous_secret_until = fields.Datetime.now() - timedelta(seconds=1)
        self.assertRefusedCall(401, "webhook-signature", self._post, self._payment(), secret=old)
        self.assertEqual(self._post(self._payment(), secret=self.endpoint.secret).status_code, 202)

    def test_a_custom_event_type_starts_the_workflow_that_matches_it(self):
        todo = self.env.ref("mail.mail_activity_data_todo")
        Workflow = self.env["lifecycle.workflow"].with_user(self.lc_manager)
        trial, ticket = Workflow.create(
            [
                {
                    "name": f"On {custom_type}",
                    "event_type": "custom",
                    "custom_type": custom_type,
                    "step_ids": [
                        (0, 0, {"step_type": "activity", "activity_type_id": todo.id, "activity_summary": custom_type})
                    ],
                }
                for custom_type in ("trial.started", "ticket_opened")
            ]
        )
        self.endpoint.custom_event_types = "trial.started ticket_opened"
        response = self._post({"type": "trial.started", "data": {"customer": {"ref": "AZ-1"}, "plan": "Pro"}})
        self.assertEqual(response.status_code, 202, response.text)
        event = self.env["lifecycle.webhook.inbound"].search([("endpoint_id", "=", self.endpoint.id)]).event_id
        self.assertEqual(
            (event.event_type, event.custom_type, event.partner_id), ("custom", "trial.started", self.customer)
        )
        self.assertEqual(event.payload["data"]["plan"], "Pro")
        self.assertFalse(trial.run_ids, "workflows run in the engine, not in the request")
        self.env["lifecycle.workflow.run"]._cron_engine()
        self.assertEqual(trial.run_ids.event_id, event)
        self.assertEqual(trial.run_ids.state, "done")
        self.assertFalse(ticket.run_ids)
        self.assertEqual(self.customer.activity_ids.mapped("summary"), ["trial.started"])

    def test_deadline_cancelled_cancels_the_customers_deadline_through_its_guarded_transition(self):
        deadline = self._deadline()
        message = {
            "type": "deadline_cancelled",
            "data": {"customer": {"ref": "AZ-1"}, "deadline_id": deadline.id, "reason": "churn"},
        }
        response = self._post(message, msg_id="msg_cancel")
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(deadline.state, "cancelled")
        event = self._calls("msg_cancel").event_id
        self.assertEqual((event.event_type, event.deadline_id), ("deadline_cancelled", deadline))
        self.assertEqual(event.payload["data"]["reason"], "churn")
        # said again under another id: nothing to change
        again = self._post(message)
        self.assertEqual((again.status_code, again.json()), (200, {"status": "unchanged"}))
        self.assertEqual(
            self.env["lifecycle.event"].search_count(
                [("deadline_id", "=", deadline.id), ("event_type", "=", "deadline_cancelled")]
            ),
            1,
        )
        # a closed deadline cannot be cancelled; another customer's deadline is not this customer's
        closed = self._deadline()
        closed.action_close()
        self.assertRefusedCall(
            409,
            "cannot become Cancelled",
            self._post,
            {**message, "data": {**message["data"], "deadline_id": closed.id}},
        )
        self.assertEqual(closed.state, "closed")
        rival = self.env["res.partner"].create({"name": "Rival", "ref": "RIV-1"})
        self.assertRefusedCall(
            422,
            "no deadline number",
            self._post,
            {**message, "data": {**message["data"], "customer": {"ref": "RIV-1"}}},
        )
        self.assertFalse(rival.lifecycle_deadline_ids)

    def test_managers_see_calls_from_the_customer_and_the_event_and_nobody_changes_them(self):
        self.assertEqual(self._post(self._payment(), msg_id="msg_seen").status_code, 202)
        call = self._calls("msg_seen")
        customer = self.customer.with_user(self.lc_manager)
        self.assertEqual(customer.lifecycle_webhook_inbound_count, 1)
        self.assertEqual(self.accountant.with_user(self.lc_manager).lifecycle_webhook_inbound_count, 1)
        self.assertEqual(
            self.env["lifecycle.webhook.inbound"].search(customer.action_view_lifecycle_webhook_inbound()["domain"]),
            call,
        )
        self.assertEqual(call.event_id.with_user(self.lc_manager).webhook_inbound_ids, call)
        self.assertEqual(self.endpoint.with_user(self.lc_manager).inbound_ids, call)
        with self.assertRaises(AccessError):
            call.with_user(self.lc_manager).write({"partner_id": self.accountant.id})
        with self.assertRaises(AccessError):
            call.with_user(self.lc_manager).unlink()
        with self.assertRaises(AccessError):
            call.with_user(self.lc_user).read(["webhook_id"])

    def test_custom_types_are_names_on_the_endpoint_and_on_the_workflow(self):
        endpoint = self.endpoint.with_user(self.lc_manager)
        self.assertRefused(
            "not custom event types: payment_received, Trial",
            endpoint.write,
            {"custom_event_types": "ok, payment_received, Trial"},
        )
        self.assertRefused(
            "names its type",
            self.env["lifecycle.workflow"].with_user(self.lc_manager).create,
            {"name": "On anything", "event_type": "custom"},
        )

    def test_the_endpoint_shows_the_url_to_call(self):
        self.assertEqual(
            self.endpoint.inbound_url, f"{self.endpoint.get_base_url()}/lifecycle/webhook/{self.endpoint.uuid}"
        )
        response = self._post(self._payment())
        self.assertEqual(response.status_code, 202)
        self.assertTrue(self.endpoint.inbound_url.endswith(response.url.removeprefix(self.base_url())))


@tagged("post_install", "-at_install")
class TestWebhookInboundRace(TransactionCase):
    """Two identical messages at the same time, each in a transaction of its own, as two HTTP workers run them.

    What they need is committed by the test, and removed again afterwards.
    """

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        with closing(db_connect(self.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            (last_trigger,) = cr.fetchone()
            customer = env["res.partner"].create({"name": "Race Customer", "ref": "RACE-1"})
            endpoint = env["lifecycle.webhook.endpoint"].create({"name": "Race", "direction": "inbound"})
            self.customer_id, self.endpoint_id, self.secret = customer.id, endpoint.id, endpoint.secret
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_committed, last_trigger)

    def _drop_committed(self, last_trigger):
        with closing(db_connect(self.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            # the calls go with their endpoint, the events with their customer
            env["lifecycle.webhook.endpoint"].browse(self.endpoint_id).unlink()
            env["res.partner"].browse(self.customer_id).unlink()
            cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [last_trigger])
            cr.commit()  # pylint: disable=invalid-commit

    def _receive(self, env, body, sent_at):
        signature = sign(self.secret, "msg_race", sent_at, body)
        endpoint = env["lifecycle.webhook.endpoint"].browse(self.endpoint_id)
        return env["lifecycle.webhook.inbound"]._receive(endpoint, "msg_race", str(sent_at), signature, body)

    def test_two_identical_messages_at_once_make_one_event_and_the_second_answers_200(self):
        body = json.dumps({"type": "customer_registered", "data": {"customer": {"ref": "RACE-1"}}}).encode()
        sent_at = int(time.time())
        answers = {}
        # The environment is made here: the test runner holds the registry lock.
        cr_b = self.enterContext(closing(db_connect(self.dbname).cursor()))
        env_b = api.Environment(cr_b, SUPERUSER_ID, {})
        cr_b.execute("SELECT pg_backend_pid()")
        (pid_b,) = cr_b.fetchone()

        def second():
            answers["b"] = self._receive(env_b, body, sent_at)
            cr_b.commit()  # pylint: disable=invalid-commit

        with closing(db_connect(self.dbname).cursor()) as cr_a, closing(db_connect(self.dbname).cursor()) as watch:
            # its call is written, not committed
            answers["a"] = self._receive(api.Environment(cr_a, SUPERUSER_ID, {}), body, sent_at)
            thread = threading.Thread(target=second)
            thread.start()
            stuck_at = time.monotonic() + STUCK
            while True:  # until the second one waits for the first at the unique index
                watch.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid_b])
                if watch.fetchone()[0] == "Lock":
                    break
                self.assertLess(time.monotonic(), stuck_at, "the second message never waited for the first")
                watch.rollback()
                time.sleep(0.02)
            cr_a.commit()  # pylint: disable=invalid-commit
            thread.join(timeout=STUCK)
            self.assertFalse(thread.is_alive())
            self.assertEqual(answers, {"a": (202, {"status": "accepted"}), "b": (200, {"status": "duplicate"})})
            watch.rollback()
            watch.execute("SELECT COUNT(*) FROM lifecycle_webhook_inbound WHERE endpoint_id = %s", [self.endpoint_id])
            self.assertEqual(watch.fetchone()[0], 1)
            watch.execute(
                "SELECT COUNT(*) FROM lifecycle_event WHERE partner_id = %s AND event_type = 'customer_registered'",
                [self.customer_id],
            )
            self.assertEqual(watch.fetchone()[0], 1)
