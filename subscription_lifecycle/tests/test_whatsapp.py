"""WhatsApp messages: the step, the outbox's sender against a Graph API server on 127.0.0.1, Meta's callbacks.

``TestWhatsappStep`` runs in the test's transaction: queueing needs no
commit. ``TestWhatsappSending`` commits, as the sender does (a message leaves
only once its claim is committed): its data is written through cursors of its
own and removed again by SQL. ``TestWhatsappWebhook`` calls the callback route
through Odoo's HTTP server.
"""

import hashlib
import hmac
import json
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import SQL, mute_logger

from ..lib.whatsapp import message_reference
from ..models.lifecycle_message import WHATSAPP_API_URL
from .common import LifecycleCommon
from .webhook_server import HANG_UP, WebhookServer

NOW = datetime(2090, 1, 15, 8, 0)
PHONE_NUMBER_ID = "106540352242922"
TOKEN = "EAAGm0PX4ZCpsBA-test-token"  # noqa: S105 (test credentials)
APP_SECRET = "3f1a0c5e9b7d4a2e8c6f0b1d3e5a7c9f"  # noqa: S105 (test credentials)
VERIFY_TOKEN = "lifecycle-verify-7Qx"  # noqa: S105 (test credentials)
WHATSAPP_SETTINGS = {
    "lifecycle_whatsapp_phone_number_id": PHONE_NUMBER_ID,
    "lifecycle_whatsapp_access_token": TOKEN,
    "lifecycle_whatsapp_app_secret": APP_SECRET,
    "lifecycle_whatsapp_verify_token": VERIFY_TOKEN,
}
UNDELIVERABLE = {
    "error": {
        "message": "(#131026) Message undeliverable",
        "type": "OAuthException",
        "code": 131026,
        "error_data": {"messaging_product": "whatsapp", "details": "Message Undeliverable."},
        "error_subcode": 2494010,
        "fbtrace_id": "A3kzNDq7Fo1vA8o9xCQm7ys",
    }
}


def graph_accepts(received):
    """The Graph API's answer to an accepted message: its wamid (one per message, from the request)."""
    to = json.loads(received.body)["to"]
    wamid = "wamid." + hashlib.sha256(received.body).hexdigest()[:32]
    return (
        200,
        {},
        {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]},
    )


def graph_path():
    return f"/v21.0/{PHONE_NUMBER_ID}/messages"


@tagged("post_install", "-at_install")
class TestWhatsappStep(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({**WHATSAPP_SETTINGS, "country_id": cls.env.ref("base.us").id})
        cls.env["res.lang"]._activate_lang("de_DE")
        cls.customer.write({"phone": "0151 23456789", "country_id": cls.env.ref("base.de").id, "lang": "de_DE"})
        cls.workflow = cls.env["lifecycle.workflow"].create(
            {
                "name": "Expired: WhatsApp",
                "event_type": "deadline_expired",
                "active": False,  # the engine's runs of other tests never meet it
                "step_ids": [
                    (
                        0,
                        0,
                        {
                            "step_type": "whatsapp",
                            "whatsapp_template": "service_expired",
                            "whatsapp_language": "de",
                            "whatsapp_variables": "partner_id.name, date_expiry, amount, product_id",
                        },
                    )
                ],
            }
        )

    def setUp(self):
        super().setUp()
        self.server = WebhookServer()
        self.addCleanup(self.server.stop)
        self.env["ir.config_parameter"].set_param(WHATSAPP_API_URL, f"{self.server.root}/v21.0")

    def _run_step(self, deadline):
        event = self.env["lifecycle.event"]._emit("deadline_expired", deadline)
        run = self.env["lifecycle.workflow.run"].create(
            {"workflow_id": self.workflow.id, "event_id": event.id, "resume_at": NOW}
        )
        run._execute_all(NOW)
        return run

    def _messages(self, run):
        return self.env["lifecycle.message"].search([("workflow_run_id", "=", run.id)])

    def test_the_step_queues_a_template_message_written_in_the_customers_language_and_sends_nothing_yet(self):
        run = self._run_step(self._deadline(expiry=date(2027, 3, 31)))
        message = self._messages(run)
        self.assertEqual((message.channel, message.state, message.recipient), ("whatsapp", "queued", "+4915123456789"))
        template = message.payload["template"]
        texts = [parameter["text"] for parameter in template["components"][0]["parameters"]]
        self.assertEqual(texts[:2], ["Azure Interior", "31.03.2027"])
        self.assertRegex(texts[2], r"^\D*1\.200,00\D*$", "an amount the German way")
        self.assertEqual(texts[3], "Maintenance contract")
        self.assertEqual(
            (message.payload["to"], template["name"], template["language"]),
            ("4915123456789", "service_expired", {"code": "de"}),
        )
        self.assertEqual(run.state, "done")
        self.assertIn(f"WhatsApp message {message.id} queued for +4915123456789.", run.log_ids.mapped("message"))
        self.env.flush_all()
        self.assertEqual(self.server.requests, [], "nothing leaves before the sender runs, after commit")

    def test_a_customer_who_cannot_be_reached_gets_nothing_and_the_run_says_why_and_goes_on(self):
        cases = [
            ({"phone": False}, "Azure Interior has no phone number."),
            ({"phone": "0151 234"}, "0151 234, the phone number of Azure Interior, is not a valid number in Germany."),
            # no country of their own: read with the company's (the United States)
            ({"phone": "0151 23456789", "country_id": False}, "not a valid number in United States"),
        ]
        for values, reason in cases:
            with self.subTest(values=values):
                self.customer.write(values)
                run = self._run_step(self._deadline())
                self.assertFalse(self._messages(run))
                self.assertEqual(run.state, "done")
                self.assertIn(reason, run.log_ids[0].message)
                self.assertIn("No WhatsApp message sent", run.log_ids[0].message)
        self.customer.write({"phone": "+49 151 23456789"})
        self.company.lifecycle_whatsapp_access_token = False
        run = self._run_step(self._deadline())
        self.assertFalse(self._messages(run))
        self.assertIn("has no WhatsApp account set up in the Lifecycle settings", run.log_ids[0].message)

    def test_the_customers_number_is_reached_in_e164_with_their_country(self):
        self.customer.write({"phone": "06 12 34 56 78", "country_id": self.env.ref("base.fr").id})
        self.assertEqual(self.customer._lifecycle_reach_whatsapp(self.company), ("+33612345678", ""))
        address, reason = self.customer._lifecycle_reach_whatsapp(self.other_company)
        self.assertFalse(address)
        self.assertIn("Other Company Ltd has no WhatsApp account", reason)

    def test_variables_that_name_no_field_one_may_read_are_refused_on_save(self):
        step = self.workflow.step_ids.with_user(self.lc_manager)
        refusals = {
            "partner_id.nme": "partner_id.nme does not name a field of Customer deadline you may read",
            "partner_id.name,": "is not a field path",
            "date_expiry amount": "is not a field path",
            # a manager who may not see the company's token cannot send it to a customer
            "company_id.lifecycle_whatsapp_access_token": "does not name a field of Customer deadline you may read",
        }
        for variables, message in refusals.items():
            with self.subTest(variables=variables):
                self.assertRefused(message, step.write, {"whatsapp_variables": variables})
        self.assertRefused("lower-case letters", step.write, {"whatsapp_template": "Service Expired"})
        self.assertRefused("is not complete", step.write, {"whatsapp_template": False})
        step.write({"whatsapp_variables": "partner_id.country_id.name, date_expiry"})
        self.assertEqual(step.whatsapp_variables, "partner_id.country_id.name, date_expiry")

    def test_the_secrets_are_for_system_administrators_only(self):
        with self.assertRaises(AccessError):
            self.assertFalse(self.company.with_user(self.lc_manager).lifecycle_whatsapp_access_token)
        with self.assertRaises(AccessError):
            self.assertFalse(self.company.with_user(self.lc_manager).lifecycle_whatsapp_app_secret)

    def test_only_managers_send_a_message_again_or_mark_it_sent(self):
        run = self._run_step(self._deadline())
        message = self._messages(run)
        message.sudo().write({"state": "unknown", "error": "HTTP 500", "next_attempt_at": False})
        for action in ("action_send_again", "action_mark_sent"):
            with self.subTest(action=action), self.assertRaises(AccessError):
                getattr(message.with_user(self.lc_user), action)()
        message.with_user(self.lc_manager).action_send_again()
        self.assertEqual((message.state, message.error, message.attempt_count), ("queued", False, 0))


@tagged("post_install", "-at_install")
class TestWhatsappSending(TransactionCase):
    def setUp(self):
        super().setUp()
        self.server = WebhookServer()
        self.server.default = graph_accepts
        self.addCleanup(self.server.stop)
        with self.committed() as env:
            env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            self.trigger_mark = env.cr.fetchone()[0]
            company = env.company
            self.company_id = company.id
            parameters = env["ir.config_parameter"]
            self.addCleanup(
                self._restore, company.read(list(WHATSAPP_SETTINGS))[0], parameters.get_param(WHATSAPP_API_URL)
            )
            company.write(WHATSAPP_SETTINGS)
            parameters.set_param(WHATSAPP_API_URL, f"{self.server.root}/v21.0")
            customer = env["res.partner"].create(
                {"name": "WhatsApp Customer", "phone": "+49 151 23456789", "country_id": env.ref("base.de").id}
            )
            self.partner_id = customer.id
            workflow = env["lifecycle.workflow"].create(
                {
                    "name": "Paid: WhatsApp thanks",
                    "event_type": "payment_received",
                    "active": False,  # only this test's runs
                    "step_ids": [
                        (
                            0,
                            0,
                            {
                                "step_type": "whatsapp",
                                "whatsapp_template": "payment_thanks",
                                "whatsapp_language": "en",
                                "whatsapp_variables": "name",
                            },
                        )
                    ],
                }
            )
            self.workflow_id = workflow.id
        self.addCleanup(self._drop_committed)

    @contextmanager
    def committed(self):
        """A superuser environment on a cursor of its own, committed when the block ends without error."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def _restore(self, company_values, api_url):
        with self.committed() as env:
            company_values.pop("id")
            env["res.company"].browse(self.company_id).write(company_values)
            env["ir.config_parameter"].set_param(WHATSAPP_API_URL, api_url)

    def _drop_committed(self):
        with self.committed() as env:
            cr = env.cr
            cr.execute("DELETE FROM lifecycle_message WHERE partner_id = %s", [self.partner_id])
            cr.execute("DELETE FROM mail_message WHERE model = 'res.partner' AND res_id = %s", [self.partner_id])
            cr.execute("DELETE FROM mail_followers WHERE res_model = 'res.partner' AND res_id = %s", [self.partner_id])
            cr.execute("DELETE FROM lifecycle_workflow WHERE id = %s", [self.workflow_id])
            cr.execute("DELETE FROM lifecycle_event WHERE partner_id = %s", [self.partner_id])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [self.partner_id])
            cr.execute(SQL("DELETE FROM ir_cron_trigger WHERE id > %s", self.trigger_mark))

    def _queue(self, count=1):
        """Run the WhatsApp step for ``count`` payments of the customer, committed; the runs' ids."""
        with self.committed() as env:
            events = env["lifecycle.event"]._emit_each(
                "payment_received", [(env["res.partner"].browse(self.partner_id), {}) for _n in range(count)]
            )
            runs = env["lifecycle.workflow.run"].create(
                [{"workflow_id": self.workflow_id, "event_id": event.id, "resume_at": NOW} for event in events]
            )
            runs._execute_all(NOW)
            return runs.ids

    def _send(self, now=NOW):
        with self.committed() as env:
            env["lifecycle.message"]._cron_send(now=now)

    def _messages(self):
        """``[(state, provider id, error, attempts)]`` of the customer's messages, oldest first, as committed."""
        with self.committed() as env:
            messages = env["lifecycle.message"].search([("partner_id", "=", self.partner_id)], order="id")
            return [(m.state, m.provider_message_id, m.error, m.attempt_count) for m in messages]

    def _told(self, run_ids):
        """What the runs' logs and the customer's chatter say, as committed."""
        with self.committed() as env:
            logs = env["lifecycle.workflow.run"].browse(run_ids).log_ids.mapped("message")
            notes = env["res.partner"].browse(self.partner_id).message_ids.mapped("body")
            return logs, notes

    def test_a_message_leaves_once_after_commit_with_the_token_and_becomes_sent_with_its_wamid(self):
        with self.registry.cursor() as cr:  # a step rolled back queues nothing
            env = api.Environment(cr, SUPERUSER_ID, {})
            run = env["lifecycle.workflow.run"].create(
                {
                    "workflow_id": self.workflow_id,
                    "event_id": env["lifecycle.event"]
                    ._emit("payment_received", env["res.partner"].browse(self.partner_id))
                    .id,
                    "resume_at": NOW,
                }
            )
            run._execute_all(NOW)
            self.assertTrue(env["lifecycle.message"].search([("partner_id", "=", self.partner_id)]))
            cr.rollback()
        self._send()
        self.assertEqual((self.server.requests, self._messages()), ([], []))

        self._queue()
        self.assertEqual(self.server.requests, [], "nothing leaves with the step's transaction")
        self._send()
        self._send(NOW + timedelta(days=1))
        [received] = self.server.requests
        self.assertEqual(received.path, graph_path())
        self.assertEqual(received.headers["authorization"], f"Bearer {TOKEN}")
        self.assertEqual(received.headers["content-type"], "application/json")
        with self.committed() as env:
            message = env["lifecycle.message"].search([("partner_id", "=", self.partner_id)])
            reference = message_reference(env["ir.config_parameter"].get_param("database.uuid"), message.id)
        self.assertEqual(
            json.loads(received.body),
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "4915123456789",
                "type": "template",
                "template": {
                    "name": "payment_thanks",
                    "language": {"code": "en"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "WhatsApp Customer"}]}],
                },
                "biz_opaque_callback_data": reference,
            },
        )
        wamid = graph_accepts(received)[2]["messages"][0]["id"]
        self.assertEqual(self._messages(), [("sent", wamid, False, 1)])

    def test_an_undeliverable_message_fails_in_metas_words_on_the_run_log_and_the_customer(self):
        run_ids = self._queue()
        self.server.answer(400, body=UNDELIVERABLE)
        self._send()
        self._send(NOW + timedelta(days=1))
        self.assertEqual(len(self.server.requests), 1, "a refused message is not tried again")
        [(state, _wamid, error, _attempts)] = self._messages()
        self.assertEqual((state, error), ("failed", "(#131026) Message undeliverable Message Undeliverable."))
        logs, notes = self._told(run_ids)
        told = "WhatsApp message to +4915123456789 failed: (#131026) Message undeliverable"
        self.assertTrue(any(told in log for log in logs), logs)
        self.assertTrue(any(told in note for note in notes), notes)

    def test_an_expired_token_fails_with_a_hint_where_to_set_a_new_one(self):
        self._queue()
        self.server.answer(401, body={"error": {"message": "Error validating access token", "code": 190}})
        self._send()
        [(state, _wamid, error, _attempts)] = self._messages()
        self.assertEqual(state, "failed")
        self.assertIn("set a valid one in the Lifecycle settings", error)

    def test_a_rate_limit_waits_and_the_message_goes_again(self):
        self._queue()
        self.server.answer(400, body={"error": {"message": "(#130429) Rate limit hit", "code": 130429}})
        self._send()
        self.assertEqual(self._messages(), [("queued", False, "(#130429) Rate limit hit", 1)])
        self._send(NOW + timedelta(seconds=59))
        self.assertEqual(len(self.server.requests), 1, "a minute's wait")
        self.server.answer(429, {"Retry-After": "120"}, body={"error": {"message": "Too many calls", "code": 80007}})
        self._send(NOW + timedelta(seconds=60))
        self._send(NOW + timedelta(seconds=179))
        self.assertEqual(len(self.server.requests), 2, "asked to wait two minutes")
        self._send(NOW + timedelta(seconds=180))
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual([state for state, *_rest in self._messages()], ["sent"])

    def test_a_server_error_or_a_cut_connection_leaves_the_outcome_unknown_never_sent_again_until_staff_decide(self):
        run_ids = self._queue(2)
        self.server.answer(500, body={"error": {"message": "An unknown error occurred", "code": 131000}})
        self.server.answer(HANG_UP)
        with mute_logger("odoo.addons.subscription_lifecycle.models.lifecycle_message"):
            self._send()
            for days in (1, 2, 30):
                self._send(NOW + timedelta(days=days))
        self.assertEqual(len(self.server.requests), 2, "never sent again by the sender")
        outcomes = self._messages()
        self.assertEqual([(state, attempts) for state, _w, _e, attempts in outcomes], [("unknown", 1)] * 2)
        self.assertEqual(
            sorted(error.split(" (")[0] for _s, _w, error, _a in outcomes),
            [
                "(#131000) An unknown error occurred",
                "The connection broke after the message left, before WhatsApp answered",
            ],
        )
        logs, notes = self._told(run_ids)
        for told in (logs, notes):
            self.assertEqual(sum(text.count("outcome unknown") for text in told), 2, told)

        with self.committed() as env:
            message = env["lifecycle.message"].search([("partner_id", "=", self.partner_id)], limit=1, order="id")
            manager = env.ref("base.user_admin")
            message.with_user(manager).action_send_again()
        self._send(NOW + timedelta(days=31))
        self.assertEqual(len(self.server.requests), 3)
        self.assertEqual(sorted(state for state, *_rest in self._messages()), ["sent", "unknown"])


def _signed(body, secret=APP_SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _statuses(*statuses):
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                                "statuses": [
                                    {"timestamp": "1750263773", "recipient_id": "4915123456789", **status}
                                    for status in statuses
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


@tagged("post_install", "-at_install")
class TestWhatsappWebhook(HttpCase):
    def setUp(self):
        super().setUp()
        self.company = self.env.company
        self.company.write(WHATSAPP_SETTINGS)
        self.customer = self.env["res.partner"].create({"name": "Callback Customer", "phone": "+4915123456789"})
        self.url = f"/lifecycle/whatsapp/{self.company.id}/webhook"
        self.database = self.env["ir.config_parameter"].get_param("database.uuid")

    def _message(self, state, wamid=False):
        return (
            self.env["lifecycle.message"]
            .sudo()
            .create(
                {
                    "channel": "whatsapp",
                    "partner_id": self.customer.id,
                    "company_id": self.company.id,
                    "recipient": "+4915123456789",
                    "state": state,
                    "provider_message_id": wamid,
                }
            )
        )

    def _post(self, body, signature=None):
        headers = {"Content-Type": "application/json"}
        if signature is not False:
            headers["X-Hub-Signature-256"] = signature or _signed(body)
        response = self.url_open(self.url, data=body, headers=headers)
        self.env.invalidate_all()
        return response

    def test_the_callback_url_answers_metas_challenge_with_the_companys_verify_token_only(self):
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        response = self.url_open(self.url, params=query)
        self.assertEqual((response.status_code, response.text), (200, "1158201444"))
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        for wrong in ({"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.verify_token": ""}):
            with self.subTest(wrong=wrong):
                response = self.url_open(self.url, params={**query, **wrong})
                self.assertEqual(response.status_code, 403)
                self.assertNotIn("1158201444", response.text)
        other = self.env["res.company"].create({"name": "No WhatsApp Ltd"})
        response = self.url_open(f"/lifecycle/whatsapp/{other.id}/webhook", params=query)
        self.assertEqual(response.status_code, 403, "another company's URL, whose token is not set")

    def test_signed_statuses_move_messages_on_and_never_back(self):
        first, second = self._message("sent", "wamid.A"), self._message("sent", "wamid.B")
        for status in ("delivered", "read", "delivered", "sent"):
            self.assertEqual(self._post(_statuses({"id": "wamid.A", "status": status})).status_code, 200)
        self.assertEqual(first.state, "read", "a late delivered or sent never moves a read message back")

        failure = {
            "id": "wamid.B",
            "status": "failed",
            "errors": [
                {"code": 131047, "title": "Re-engagement message", "error_data": {"details": "24 hours passed"}}
            ],
        }
        self.assertEqual(self._post(_statuses(failure)).status_code, 200)
        self.assertEqual((second.state, second.error), ("failed", "(#131047) Re-engagement message: 24 hours passed"))
        self.assertIn(
            "WhatsApp message to +4915123456789 failed: (#131047) Re-engagement message",
            self.customer.message_ids[0].body,
        )

    def test_a_message_whose_outcome_was_unknown_learns_it_from_its_reference(self):
        lost = self._message("unknown")
        other_database = self._message("unknown")
        body = _statuses(
            {
                "id": "wamid.L",
                "status": "delivered",
                "biz_opaque_callback_data": message_reference(self.database, lost.id),
            },
            {
                "id": "wamid.O",
                "status": "read",
                "biz_opaque_callback_data": message_reference("staging", other_database.id),
            },
        )
        self.assertEqual(self._post(body).status_code, 200)
        self.assertEqual((lost.state, lost.provider_message_id), ("delivered", "wamid.L"))
        self.assertEqual((other_database.state, other_database.provider_message_id), ("unknown", False))

    def test_a_forged_or_unsigned_callback_is_refused_and_writes_nothing(self):
        message = self._message("sent", "wamid.F")
        notes = len(self.customer.message_ids)
        body = _statuses({"id": "wamid.F", "status": "failed", "errors": [{"code": 131026, "title": "Forged"}]})
        for signature in (False, _signed(body, "not the app secret"), _signed(body + b" "), "sha256=00"):
            with self.subTest(signature=signature):
                response = self._post(body, signature)
                self.assertEqual(response.status_code, 403)
                self.assertEqual((message.state, message.error), ("sent", False))
                self.assertEqual(len(self.customer.message_ids), notes)
        other = self.env["res.company"].create({"name": "No WhatsApp Ltd"})
        response = self.url_open(
            f"/lifecycle/whatsapp/{other.id}/webhook", data=body, headers={"X-Hub-Signature-256": _signed(body)}
        )
        self.assertEqual(response.status_code, 403, "signed with another company's secret")

    def test_statuses_of_a_message_still_being_sent_are_asked_again_later(self):
        message = self._message("sending")
        done = self._message("sent", "wamid.D")
        body = _statuses(
            {
                "id": "wamid.S",
                "status": "sent",
                "biz_opaque_callback_data": message_reference(self.database, message.id),
            },
            {"id": "wamid.D", "status": "delivered"},
        )
        self.assertEqual(self._post(body).status_code, 503)
        self.assertEqual((message.state, done.state), ("sending", "delivered"))
