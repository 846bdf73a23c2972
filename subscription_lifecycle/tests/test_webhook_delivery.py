"""Outgoing webhooks, sent for real to an HTTP server on 127.0.0.1 started by each test.

Sending commits (a delivery leaves only once its claim is committed), so the
tests of ``TestWebhookSending`` write their data through cursors of their own,
commit it, run the sender on another cursor, and remove everything again by
SQL at the end. Every request the server receives is checked with the
reference library ``standardwebhooks``. The tests of ``TestWebhookOutbox``
need no commit and run in the test's transaction.
"""

import json
from contextlib import contextmanager
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, tagged, users
from odoo.tools import SQL, mute_logger

from ..lib.webhook_http import Outcome
from ..models.lifecycle_webhook_delivery import LEASE
from .common import LifecycleCommon
from .webhook_server import WebhookServer

NOW = datetime(2090, 1, 15, 8, 0)


def _selection_ids(env, *event_types):
    field = env["ir.model.fields"]._get("lifecycle.event", "event_type")
    return env["ir.model.fields.selection"].search([("field_id", "=", field.id), ("value", "in", event_types)]).ids


@tagged("post_install", "-at_install")
class TestWebhookSending(TransactionCase):
    def setUp(self):
        super().setUp()
        self.server = WebhookServer()
        self.addCleanup(self.server.stop)
        self.endpoint_ids, self.partner_ids, self.workflow_ids = [], [], []
        with self.committed() as env:
            env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            self.trigger_mark = env.cr.fetchone()[0]
            company = env.company
            self.company_id = company.id
            self.addCleanup(
                self._set_company,
                lifecycle_webhook_allow_http=company.lifecycle_webhook_allow_http,
                lifecycle_webhook_allow_private=company.lifecycle_webhook_allow_private,
            )
            company.write({"lifecycle_webhook_allow_http": True, "lifecycle_webhook_allow_private": True})
        self.addCleanup(self._drop_committed)

    @contextmanager
    def committed(self):
        """A superuser environment on a cursor of its own, committed when the block ends without error."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def _set_company(self, **values):
        with self.committed() as env:
            env["res.company"].browse(self.company_id).write(values)

    def _drop_committed(self):
        with self.committed() as env:
            cr = env.cr
            for model, ids in (("lifecycle.webhook.endpoint", self.endpoint_ids), ("res.partner", self.partner_ids)):
                cr.execute("DELETE FROM mail_activity WHERE res_model = %s AND res_id = ANY(%s)", [model, ids])
                cr.execute("DELETE FROM mail_message WHERE model = %s AND res_id = ANY(%s)", [model, ids])
                cr.execute("DELETE FROM mail_followers WHERE res_model = %s AND res_id = ANY(%s)", [model, ids])
            cr.execute("DELETE FROM lifecycle_workflow WHERE id = ANY(%s)", [self.workflow_ids])
            cr.execute("DELETE FROM lifecycle_webhook_endpoint WHERE id = ANY(%s)", [self.endpoint_ids])
            cr.execute("DELETE FROM lifecycle_event WHERE partner_id = ANY(%s)", [self.partner_ids])
            cr.execute("DELETE FROM res_partner WHERE id = ANY(%s)", [self.partner_ids])
            cr.execute(SQL("DELETE FROM ir_cron_trigger WHERE id > %s", self.trigger_mark))
        env.registry.clear_cache()

    def _endpoint(self, env, **values):
        endpoint = env["lifecycle.webhook.endpoint"].create(
            {
                "name": "Webhook test endpoint",
                "url": self.server.url,
                "company_id": self.company_id,
                "user_id": env.ref("base.user_admin").id,
                "event_type_ids": [(6, 0, _selection_ids(env, "payment_received"))],
                **values,
            }
        )
        self.endpoint_ids.append(endpoint.id)
        return endpoint

    def _customer(self, env, name="Webhook Customer"):
        partner = env["res.partner"].create({"name": name, "email": "webhook.customer@example.com"})
        self.partner_ids.append(partner.id)
        return partner

    def _pay(self, env, partner):
        return env["lifecycle.event"]._emit("payment_received", partner, payload={"amount": 42.0})

    def _send(self, now=NOW):
        with self.committed() as env:
            env["lifecycle.webhook.delivery"]._cron_send(now=now)

    def _deliveries(self):
        """``[(msg_id, state, attempts as [(status, error)])]`` of this test's endpoints, as committed."""
        with self.committed() as env:
            deliveries = env["lifecycle.webhook.delivery"].search([("endpoint_id", "in", self.endpoint_ids)])
            return [
                (delivery.msg_id, delivery.state, [(a.status_code, a.error) for a in delivery.attempt_ids.sorted("id")])
                for delivery in deliveries
            ]

    def _verified(self, received, secret):
        """The body of a received request, after the reference library checked its signature with ``secret``."""
        return Webhook(secret).verify(received.body, received.headers)

    def _setup(self, **endpoint_values):
        """A committed endpoint and customer; their ids and the endpoint's secret."""
        with self.committed() as env:
            endpoint = self._endpoint(env, **endpoint_values)
            return endpoint.id, self._customer(env).id, endpoint.secret

    # ------------------------------------------------------------------
    def test_a_rolled_back_event_sends_nothing_a_committed_one_is_delivered_signed(self):
        _endpoint_id, partner_id, secret = self._setup()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self._pay(env, env["res.partner"].browse(partner_id))
            self.assertTrue(env["lifecycle.webhook.delivery"].search([("partner_id", "=", partner_id)]))
            cr.rollback()
        self._send()
        self.assertEqual(self.server.requests, [])
        self.assertEqual(self._deliveries(), [])

        with self.committed() as env:
            event = self._pay(env, env["res.partner"].browse(partner_id))
            event_id, created = event.id, event.create_date
        self.assertEqual(self.server.requests, [], "nothing leaves with the transaction itself")
        self._send()
        [received] = self.server.requests
        body = self._verified(received, secret)
        self.assertEqual(received.headers["content-type"], "application/json")
        self.assertEqual(
            body,
            {
                "type": "payment_received",
                "timestamp": created.isoformat() + "Z",
                "data": {
                    "event_id": event_id,
                    "customer_id": partner_id,
                    "deadline_id": None,
                    "customer": {
                        "id": partner_id,
                        "name": "Webhook Customer",
                        "email": "webhook.customer@example.com",
                        "reference": None,
                    },
                    "deadline": None,
                    "reminder_offset": None,
                    "details": {"amount": 42.0},
                },
            },
        )
        [(msg_id, state, attempts)] = self._deliveries()
        self.assertEqual((received.headers["webhook-id"], state, attempts), (msg_id, "delivered", [(200, False)]))
        self.assertRegex(msg_id, r"^msg_[0-9a-f]{32}$")

    def test_a_500_then_a_200_gives_two_attempts_and_one_success_with_the_same_webhook_id(self):
        _endpoint_id, partner_id, secret = self._setup()
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
        self.server.answer(500)
        self._send()
        [(_msg_id, state, attempts)] = self._deliveries()
        self.assertEqual((state, attempts), ("pending", [(500, False)]))
        with self.committed() as env:
            delivery = env["lifecycle.webhook.delivery"].search([("endpoint_id", "in", self.endpoint_ids)])
            self.assertTrue(NOW + timedelta(seconds=4) <= delivery.next_attempt_at <= NOW + timedelta(seconds=6))
            self.assertTrue(delivery.endpoint_id.failing_since)
            cron = env.ref("subscription_lifecycle.ir_cron_lifecycle_webhook_send")
            wake_up = env["ir.cron.trigger"].search([("cron_id", "=", cron.id), ("id", ">", self.trigger_mark)])
            self.assertIn(delivery.next_attempt_at, wake_up.mapped("call_at"), "the sender wakes up for the retry")
        self._send(NOW + timedelta(seconds=3))
        self.assertEqual(len(self.server.requests), 1, "not yet due")
        self._send(NOW + timedelta(seconds=7))
        first, second = self.server.requests
        self.assertEqual(self._verified(first, secret), self._verified(second, secret))
        [(msg_id, state, attempts)] = self._deliveries()
        self.assertEqual(first.headers["webhook-id"], msg_id)
        self.assertEqual(second.headers["webhook-id"], msg_id)
        self.assertEqual((state, attempts), ("delivered", [(500, False), (200, False)]))
        with self.committed() as env:
            self.assertFalse(env["lifecycle.webhook.endpoint"].browse(self.endpoint_ids).failing_since)

    def test_410_gone_disables_the_endpoint_at_once_and_tells_its_owner(self):
        endpoint_id, partner_id, _secret = self._setup()
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
            self._pay(env, env["res.partner"].browse(partner_id))
        self.server.answer(410)
        with self.committed() as env:
            env["lifecycle.webhook.delivery"]._cron_send(now=NOW, batch_size=1)
        self.assertEqual(len(self.server.requests), 1, "the second delivery is not sent to a gone endpoint")
        self.assertEqual(sorted(state for _id, state, _a in self._deliveries()), ["failed", "pending"])
        with self.committed() as env:
            endpoint = env["lifecycle.webhook.endpoint"].with_context(active_test=False).browse(endpoint_id)
            self.assertFalse(endpoint.active)
            owner = env.ref("base.user_admin")
            self.assertEqual(endpoint.activity_ids.user_id, owner)
            mail = env["mail.mail"].search(
                [("model", "=", endpoint._name), ("res_id", "=", endpoint_id), ("subject", "like", "was disabled")]
            )
            self.assertEqual(mail.recipient_ids, owner.partner_id)
            self.assertIn("410 Gone", mail.body_html)

    def test_retry_after_is_respected_in_seconds_and_as_a_date(self):
        _endpoint_id, partner_id, _secret = self._setup()
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
        self.server.answer(429, {"Retry-After": "120"})
        self._send()
        self._send(NOW + timedelta(seconds=119))
        self.assertEqual(len(self.server.requests), 1, "asked to wait two minutes")
        later = NOW + timedelta(seconds=120)
        self.server.answer(503, {"Retry-After": (later + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")})
        self._send(later)
        self._send(later + timedelta(minutes=59))
        self.assertEqual(len(self.server.requests), 2, "asked to wait until a date an hour later")
        self._send(later + timedelta(minutes=60))
        [(_msg_id, state, attempts)] = self._deliveries()
        self.assertEqual((state, [status for status, _e in attempts]), ("delivered", [429, 503, 200]))

    def test_a_worker_dying_between_claim_and_send_leaves_the_delivery_to_be_sent_after_its_lease(self):
        # The worker's death is the end of its cursor right after the claim's commit: exactly the window
        # between "claimed" and "sent" (a killed process could die anywhere; this one dies there).
        _endpoint_id, partner_id, secret = self._setup()
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
        with self.committed() as env:
            deliveries = env["lifecycle.webhook.delivery"]
            due = SQL("state IN ('pending', 'sending') AND next_attempt_at <= %s", NOW)
            claimed = deliveries.browse(env["lifecycle.workflow.run"]._claim("lifecycle_webhook_delivery", due, 10))
            [outgoing], _outcomes = claimed._prepare(NOW)
        self._send(NOW + LEASE - timedelta(seconds=1))
        self.assertEqual(self.server.requests, [], "the lease still holds")
        [(msg_id, state, attempts)] = self._deliveries()
        self.assertEqual((msg_id, state, attempts), (outgoing.headers["webhook-id"], "sending", []))
        self._send(NOW + LEASE)
        [received] = self.server.requests
        self._verified(received, secret)
        self.assertEqual(received.headers["webhook-id"], msg_id)
        self.assertEqual(self._deliveries(), [(msg_id, "delivered", [(200, False)])])

    def test_a_private_address_is_refused_unless_the_company_allows_it(self):
        _endpoint_id, partner_id, _secret = self._setup()
        self._set_company(lifecycle_webhook_allow_private=False)
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
        self._send()
        self.assertEqual(self.server.requests, [])
        [(_msg_id, state, [(status, error)])] = self._deliveries()
        self.assertEqual((state, status), ("pending", 0))
        self.assertEqual(error, "refused: 127.0.0.1 is 127.0.0.1, a loopback address")
        self._set_company(lifecycle_webhook_allow_private=True)
        self._send(NOW + timedelta(seconds=7))
        self.assertEqual(len(self.server.requests), 1)

    def test_http_is_refused_at_send_time_once_the_company_no_longer_allows_it(self):
        _endpoint_id, partner_id, _secret = self._setup()
        self._set_company(lifecycle_webhook_allow_http=False)
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
        self._send()
        self.assertEqual(self.server.requests, [])
        [(_msg_id, _state, [(_status, error)])] = self._deliveries()
        self.assertRegex(error, r"^refused: http://127\.0\.0\.1")

    def test_after_a_rotation_both_secrets_sign_for_a_day(self):
        endpoint_id, partner_id, old_secret = self._setup()
        with self.committed() as env:
            endpoint = env["lifecycle.webhook.endpoint"].browse(endpoint_id)
            endpoint.action_rotate_secret()
            new_secret = endpoint.secret
            rotated_until = endpoint.previous_secret_until
            self._pay(env, env["res.partner"].browse(partner_id))
        self._send(rotated_until - timedelta(seconds=1))
        [received] = self.server.requests
        self.assertEqual(len(received.headers["webhook-signature"].split(" ")), 2)
        self.assertEqual(self._verified(received, old_secret), self._verified(received, new_secret))
        with self.committed() as env:
            self._pay(env, env["res.partner"].browse(partner_id))
        self._send(rotated_until + timedelta(seconds=1))
        received = self.server.requests[1]
        self.assertEqual(len(received.headers["webhook-signature"].split(" ")), 1, "the old secret has expired")
        self._verified(received, new_secret)

    def test_the_webhook_step_delivers_the_event_its_run_answers(self):
        with self.committed() as env:
            endpoint = self._endpoint(env, event_type_ids=[(5, 0, 0)], payload_style="thin")
            secret = endpoint.secret
            workflow = env["lifecycle.workflow"].create(
                {
                    "name": "Webhook test workflow",
                    "event_type": "payment_received",
                    "step_ids": [(0, 0, {"step_type": "webhook", "webhook_endpoint_id": endpoint.id})],
                }
            )
            self.workflow_ids.append(workflow.id)
            event = self._pay(env, self._customer(env))
            self.assertFalse(env["lifecycle.webhook.delivery"].search([("event_id", "=", event.id)]))
            runs = event._match_workflows(NOW).filtered(lambda run: run.workflow_id == workflow)
            runs._execute_all(NOW)
            self.assertEqual(runs.state, "done")
            event_id, partner_id, run_id = event.id, event.partner_id.id, runs.id
        self._send()
        [received] = self.server.requests
        body = self._verified(received, secret)
        self.assertEqual(body["type"], "payment_received")
        self.assertEqual(body["data"], {"event_id": event_id, "customer_id": partner_id, "deadline_id": None})
        with self.committed() as env:
            delivery = env["lifecycle.webhook.delivery"].search([("event_id", "=", event_id)])
            self.assertEqual((delivery.workflow_run_id.id, delivery.state), (run_id, "delivered"))

    def test_thin_payload_body_template_and_custom_headers(self):
        with self.committed() as env:
            thin = self._endpoint(env, payload_style="thin", custom_headers="X-Team: billing")
            slack = self._endpoint(
                env,
                name="Slack",
                body_template='{"text": "Paid by {{ object.partner_id.name }}", "unfurl": false}',
            )
            thin_id, thin_secret, slack_id = thin.id, thin.secret, slack.id
            partner = self._customer(env, name='Jo "The Hammer" O\'Neil')
            event = self._pay(env, partner)
            event_id, partner_id = event.id, partner.id
        self._send()
        self.assertEqual(len(self.server.requests), 2)
        by_id = {received.headers["webhook-id"]: received for received in self.server.requests}
        with self.committed() as env:
            deliveries = env["lifecycle.webhook.delivery"].search([("event_id", "=", event_id)])
            thin_received = by_id[deliveries.filtered(lambda d: d.endpoint_id.id == thin_id).msg_id]
            slack_received = by_id[deliveries.filtered(lambda d: d.endpoint_id.id == slack_id).msg_id]
            slack_secret = env["lifecycle.webhook.endpoint"].browse(slack_id).secret
        self.assertEqual(
            self._verified(thin_received, thin_secret)["data"],
            {"event_id": event_id, "customer_id": partner_id, "deadline_id": None},
        )
        self.assertEqual(thin_received.headers["x-team"], "billing")
        self.assertEqual(
            self._verified(slack_received, slack_secret), {"text": 'Paid by Jo "The Hammer" O\'Neil', "unfurl": False}
        )
        self.assertNotIn("x-team", slack_received.headers)


@tagged("post_install", "-at_install")
class TestWebhookOutbox(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint = cls.env["lifecycle.webhook.endpoint"].create(
            {
                "name": "Accounting",
                "url": "https://accounting.example.com/hooks",
                "user_id": cls.lc_manager.id,
                "event_type_ids": [(6, 0, _selection_ids(cls.env, "payment_received", "customer_archived"))],
            }
        )

    def _deliveries(self, partners):
        return self.env["lifecycle.webhook.delivery"].search([("partner_id", "in", partners.ids)])

    def test_subscribed_events_are_queued_others_not_and_never_to_another_company(self):
        other = self.endpoint.copy({"name": "Other company", "company_id": self.other_company.id})
        customers = self.env["res.partner"].create([{"name": f"Outbox {index}"} for index in range(3)])
        self.env["lifecycle.event"]._emit("payment_received", customers, company_id=self.company.id)
        self.env["lifecycle.event"]._emit("payment_failed", customers, company_id=self.company.id)
        deliveries = self._deliveries(customers)
        self.assertEqual(len(deliveries), 3)
        self.assertEqual(set(deliveries.mapped("event_type")), {"payment_received"})
        self.assertEqual(deliveries.endpoint_id, self.endpoint)
        self.assertEqual(set(deliveries.mapped("state")), {"pending"})
        self.assertEqual(len(set(deliveries.mapped("msg_id"))), 3)
        other.active = False
        self.env["lifecycle.event"]._emit("payment_received", customers)  # no company: every company's endpoint
        self.assertEqual(len(self._deliveries(customers)), 6)

    def test_a_manager_reads_and_duplicates_an_endpoint_with_its_subscriptions(self):
        endpoint = self.endpoint.with_user(self.lc_manager)
        self.assertEqual(
            set(endpoint.read(["event_type_ids"])[0]["event_type_ids"]),
            set(_selection_ids(self.env, "payment_received", "customer_archived")),
        )
        self.assertEqual(endpoint.copy({"name": "Copy"}).event_type_ids, self.endpoint.event_type_ids)

    def test_a_shared_workflow_never_sends_another_companys_event_to_an_endpoint(self):
        workflow = self.env["lifecycle.workflow"].create(
            {
                "name": "Every company's payments",
                "event_type": "payment_failed",
                "step_ids": [(0, 0, {"step_type": "webhook", "webhook_endpoint_id": self.endpoint.id})],
            }
        )
        customers = self.env["res.partner"].create([{"name": "Ours"}, {"name": "Theirs"}])
        ours = self.env["lifecycle.event"]._emit("payment_failed", customers[0], company_id=self.company.id)
        theirs = self.env["lifecycle.event"]._emit("payment_failed", customers[1], company_id=self.other_company.id)
        runs = (ours | theirs)._match_workflows().filtered(lambda run: run.workflow_id == workflow)
        runs._execute_all(fields.Datetime.now())
        self.assertEqual(self._deliveries(customers).event_id, ours)
        their_run = runs.filtered(lambda run: run.event_id == theirs)
        self.assertEqual(their_run.state, "done")
        self.assertIn("No webhook sent: the event belongs to Other Company Ltd", their_run.log_ids[-1:].message)

    def test_queueing_500_events_costs_the_same_queries_as_one_and_none_without_subscribers(self):
        customers = self.env["res.partner"].create([{"name": f"Bulk {index}"} for index in range(501)])
        one = self.env["lifecycle.event"]._emit("payment_failed", customers[:1])
        many = self.env["lifecycle.event"]._emit("payment_failed", customers[1:])
        outbox = self.env["lifecycle.webhook.delivery"]
        outbox._enqueue_subscribed(one)  # warms the subscription cache
        with self.assertQueryCount(0):
            outbox._enqueue_subscribed(many)
        self.endpoint.event_type_ids = [(4, _selection_ids(self.env, "payment_failed")[0])]
        self.env.flush_all()
        outbox._enqueue_subscribed(one)
        with self.assertQueryCount(3):  # one INSERT … SELECT for all the events, and waking the sender up
            outbox._enqueue_subscribed(one)
        with self.assertQueryCount(3):
            outbox._enqueue_subscribed(many)
        self.assertEqual(len(self._deliveries(customers)), 2 + 500)

    def test_five_days_of_failures_disable_the_endpoint_and_tell_its_owner(self):
        delivery = self.env["lifecycle.webhook.delivery"]._create_test(self.endpoint)
        now = datetime(2090, 1, 15, 8, 0)
        self.endpoint.failing_since = now - timedelta(days=5) + timedelta(seconds=1)
        delivery._record([Outcome(key=delivery.id, status=500)], now)
        self.assertTrue(self.endpoint.active, "not five days yet")
        delivery._record([Outcome(key=delivery.id, error="ConnectionError: refused")], now + timedelta(seconds=1))
        self.assertFalse(self.endpoint.active)
        activity = self.endpoint.activity_ids
        self.assertEqual(activity.user_id, self.lc_manager)
        self.assertIn("failed for 5 days", activity.note)
        mail = self.env["mail.mail"].search(
            [
                ("model", "=", self.endpoint._name),
                ("res_id", "=", self.endpoint.id),
                ("subject", "like", "was disabled"),
            ]
        )
        self.assertEqual(mail.recipient_ids, self.lc_manager.partner_id)

    def test_the_tenth_failure_fails_the_delivery_for_good(self):
        delivery = self.env["lifecycle.webhook.delivery"]._create_test(self.endpoint)
        now = datetime(2090, 1, 15, 8, 0)
        for attempt in range(1, 11):
            delivery._record([Outcome(key=delivery.id, status=502)], now)
            self.assertEqual(delivery.state, "pending" if attempt < 10 else "failed")
        self.assertEqual(len(delivery.attempt_ids), 10)
        self.assertFalse(delivery.next_attempt_at)

    @users("lc_manager")
    def test_a_manager_resends_a_selection_with_the_same_webhook_ids(self):
        endpoint = self.endpoint.with_user(self.env.user)
        deliveries = self.env["lifecycle.webhook.delivery"].sudo()
        deliveries = deliveries._create_test(endpoint) | deliveries._create_test(endpoint)
        deliveries.write({"state": "failed", "attempt_count": 10, "next_attempt_at": False})
        ids = deliveries.mapped("msg_id")
        deliveries.with_user(self.env.user).action_resend()
        self.assertEqual(set(deliveries.mapped("state")), {"pending"})
        self.assertEqual(set(deliveries.mapped("attempt_count")), {0})
        self.assertEqual(deliveries.mapped("msg_id"), ids)
        self.assertEqual(endpoint.failed_delivery_count, 0)
        self.assertEqual(endpoint.delivery_count, 2)

    @users("lc_user")
    def test_a_lifecycle_user_sees_no_delivery_and_cannot_resend(self):
        delivery = self.env["lifecycle.webhook.delivery"].sudo()._create_test(self.endpoint)
        with self.assertRaises(AccessError):
            delivery.with_user(self.env.user).action_resend()
        with self.assertRaises(AccessError):
            self.env["lifecycle.webhook.endpoint"].search([])

    def test_endpoint_settings_are_checked_when_saved(self):
        # template editors only may write more than field paths (Odoo's setting, as for mail templates)
        self.env["ir.config_parameter"].set_param("mail.restrict.template.rendering", True)
        endpoint = self.endpoint.with_user(self.lc_manager)
        self.assertFalse(self.lc_manager.has_group("mail.group_mail_template_editor"))
        self.company.lifecycle_webhook_allow_http = False
        for values, message in (
            ({"url": "http://accounting.example.com/hooks"}, "is not a URL deliveries can go to"),
            ({"url": "ftp://accounting.example.com/hooks"}, "is not a URL deliveries can go to"),
            ({"custom_headers": "webhook-signature: v1,forged"}, "webhook-signature is set by the sender"),
            ({"custom_headers": "Content-Type: text/plain"}, "Content-Type is set by the sender"),
            ({"custom_headers": "not a header"}, "one header per line"),
            ({"body_template": "{text: oops}"}, "must be JSON"),
            ({"body_template": '{"text": "{{ object.env.cr.execute(1) }}"}'}, "Only template editors"),
        ):
            with self.subTest(values=values):
                self.assertRefused(message, endpoint.write, values)
        endpoint.write({"body_template": '{"text": "{{ object.partner_id.name }}"}', "custom_headers": "X-A: 1"})

    def test_the_step_needs_an_outgoing_endpoint(self):
        inbound = self.endpoint.copy({"name": "In", "direction": "inbound"})
        workflow = self.env["lifecycle.workflow"].create({"name": "Hooks", "event_type": "payment_received"})
        with self.assertRaises(ValidationError), mute_logger("odoo.sql_db"):
            workflow.step_ids = [(0, 0, {"step_type": "webhook", "webhook_endpoint_id": inbound.id})]
            self.env.flush_all()

    def test_a_test_event_is_queued_for_the_sender_and_opens_the_log(self):
        action = self.endpoint.with_user(self.lc_manager).action_send_test()
        delivery = self.endpoint.delivery_ids
        self.assertEqual((delivery.event_type, delivery.state), ("webhook.test", "pending"))
        self.assertEqual(action["params"]["next"]["domain"], [("endpoint_id", "=", self.endpoint.id)])
        cron = self.env.ref("subscription_lifecycle.ir_cron_lifecycle_webhook_send")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]))
        self.assertEqual(json.loads(delivery._render_body() or delivery.body)["type"], "webhook.test")
