"""The outbox's sender run by a real worker process, killed by SIGKILL while its requests are in flight.

The worker (``engine_worker.py``) runs the message sender's cron job through
Odoo's cron loop against a server on 127.0.0.1 started by the test: the
Graph API for WhatsApp, Twilio's REST API for SMS. Everything it has to see
is committed by the test and removed afterwards.
"""

import json
import signal
from collections import Counter
from contextlib import closing, contextmanager
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.lifecycle_message import LEASE, SENDER_CRON, WHATSAPP_API_URL
from .test_engine_workers import EngineWorkersCommon
from .test_whatsapp import WHATSAPP_SETTINGS, graph_accepts
from .twilio_local import TWILIO_ROOT, LocalTwilio, sms_uuid, twilio_accepts, twilio_settings
from .webhook_server import WebhookServer

MESSAGES = 30
BATCH = 10  # the worker's batches: the first is answered, the second is in flight when it dies, the third waits
PHONE = "+4915123456789"


class OutboxWorkerCommon(EngineWorkersCommon):
    """MESSAGES messages to one customer, committed; the sender's cron job sends BATCH at a time.

    Subclasses set up their channel and queue the messages in ``_queue``.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = WebhookServer()
        cls.addClassCleanup(cls.server.stop)

    def setUp(self):
        super().setUp()
        self._marks()  # the cron tables' marks, removed again at the end
        with self._committed() as env:
            cron = env.ref(SENDER_CRON)
            self.addCleanup(
                self._restore_cron,
                cron.read(["code", "nextcall", "lastcall", "failure_count", "first_failure_date"])[0],
            )
            cron.code = f"model._cron_send(batch_size={BATCH})"
            partner = env["res.partner"].create({"name": "Worker Outbox Customer", "phone": PHONE})
            self.partner_id = partner.id
            self.addCleanup(self._drop, partner.id)
            self._queue(env, partner)

    @contextmanager
    def _committed(self):
        """A superuser environment on a cursor of its own, committed when the block ends without error."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def _restore_cron(self, values):
        with self._committed() as env:
            env["ir.cron"].browse(values.pop("id")).write(values)

    def _drop(self, partner_id):
        with closing(db_connect(self.dbname).cursor()) as cr:
            cr.execute("DELETE FROM lifecycle_message WHERE partner_id = %s", [partner_id])
            cr.execute("DELETE FROM sms_sms WHERE partner_id = %s", [partner_id])
            cr.execute("DELETE FROM mail_message WHERE model = 'res.partner' AND res_id = %s", [partner_id])
            cr.execute("DELETE FROM mail_followers WHERE res_model = 'res.partner' AND res_id = %s", [partner_id])
            cr.execute("DELETE FROM res_partner WHERE id = %s", [partner_id])
            cr.commit()  # pylint: disable=invalid-commit

    def _states(self):
        self.watch_cr.rollback()
        self.watch_cr.execute(
            "SELECT state, COUNT(*) FROM lifecycle_message WHERE partner_id = %s GROUP BY state", [self.partner_id]
        )
        return dict(self.watch_cr.fetchall())

    def _kill_mid_batch(self, in_flight, **environ):
        """Kill the sending worker with ``in_flight`` requests of its second batch unanswered, then send on.

        The sender runs again in the test: before the lease ends, it sends the
        queued messages and leaves those being sent alone; after it, those
        become unknown, and stay so. Returns how many requests the dead
        worker made in its second batch.
        """
        # the first batch is answered at once; the second's answers are held until the worker is dead
        self.server.hold_from(BATCH + 1)
        (worker,) = self._start_workers([SENDER_CRON], **environ)
        self._go(worker)
        self._wait_until(
            lambda: self._states().get("sent") == BATCH and len(self.server.requests) >= BATCH + in_flight,
            "the second batch in flight",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        self.assertEqual(worker.returncode, -signal.SIGKILL)
        self._wait_until(lambda: not self._sessions(worker), "the end of the killed worker's sessions")
        self.server.release()
        self.assertEqual(self._states(), {"sent": BATCH, "sending": BATCH, "queued": MESSAGES - 2 * BATCH})
        sent_by_the_worker = len(self.server.requests) - BATCH

        with self._committed() as env:
            env["lifecycle.message"]._cron_send(now=fields.Datetime.now())
        self.assertEqual(self._states(), {"sent": MESSAGES - BATCH, "sending": BATCH})
        with self._committed() as env, mute_logger("odoo.addons.subscription_lifecycle.models.lifecycle_message"):
            for later in (LEASE, LEASE + timedelta(days=1)):
                env["lifecycle.message"]._cron_send(now=fields.Datetime.now() + later + timedelta(seconds=1))
        self.assertEqual(self._states(), {"sent": MESSAGES - BATCH, "unknown": BATCH})
        return sent_by_the_worker

    def assertToldStaff(self, env):
        """Each unknown message says why, and so does the customer's chatter, once per message."""
        unknown = env["lifecycle.message"].search([("partner_id", "=", self.partner_id), ("state", "=", "unknown")])
        self.assertTrue(all("stopped before the service answered" in error for error in unknown.mapped("error")))
        notes = env["res.partner"].browse(self.partner_id).message_ids.mapped("body")
        self.assertEqual(sum(note.count("outcome unknown") for note in notes), BATCH, "each one said on the customer")


@tagged("post_install", "-at_install")
class TestWhatsappWorkerKilled(OutboxWorkerCommon):
    def _queue(self, env, partner):
        company = env.company
        parameters = env["ir.config_parameter"]
        self.addCleanup(self._restore, company.read(list(WHATSAPP_SETTINGS))[0], parameters.get_param(WHATSAPP_API_URL))
        company.write(WHATSAPP_SETTINGS)
        parameters.set_param(WHATSAPP_API_URL, f"{self.server.root}/v21.0")
        self.server.default = graph_accepts
        env["lifecycle.message"]._enqueue(
            [
                {
                    "channel": "whatsapp",
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "recipient": PHONE,
                    "payload": {
                        "messaging_product": "whatsapp",
                        "to": PHONE.lstrip("+"),
                        "type": "template",
                        "template": {"name": "hello_world", "language": {"code": "en_US"}},
                    },
                }
                for _n in range(MESSAGES)
            ]
        )

    def _restore(self, company_values, api_url):
        with self._committed() as env:
            env["res.company"].browse(company_values.pop("id")).write(company_values)
            env["ir.config_parameter"].set_param(WHATSAPP_API_URL, api_url)

    def test_a_sender_killed_mid_batch_sends_no_message_twice_and_leaves_the_lost_answers_unknown(self):
        in_flight = self._kill_mid_batch(8)  # as many as the sender's threads
        # how often the server received each message, by the reference its request carries
        references = Counter(json.loads(received.body)["biz_opaque_callback_data"] for received in self.server.requests)
        self.assertEqual(set(references.values()), {1}, "no message reached the server twice")
        self.assertEqual(len(references), MESSAGES - BATCH + in_flight, "those in flight reached it once")
        with self._committed() as env:
            self.assertToldStaff(env)
            sent = env["lifecycle.message"].search([("partner_id", "=", self.partner_id), ("state", "=", "sent")])
            self.assertTrue(all(sent.mapped("provider_message_id")))


@tagged("post_install", "-at_install")
class TestSmsWorkerKilled(LocalTwilio, OutboxWorkerCommon):
    """SMS through Twilio (sms_twilio) from a worker killed with an SMS request in flight."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = cls.server  # the test's own sending goes there too (LocalTwilio)

    def _queue(self, env, partner):
        company = env.company
        fields_kept = ["sms_provider", "sms_twilio_account_sid", "sms_twilio_auth_token"]
        self.addCleanup(self._restore, company.read(fields_kept)[0], company.sms_twilio_number_ids.ids)
        company.write(twilio_settings(env.ref("base.de")))
        self.server.default = twilio_accepts
        sms = env["sms.sms"].create(
            [
                {
                    "number": PHONE,
                    "body": f"Your service expires soon ({index}).",
                    "partner_id": partner.id,
                    "record_company_id": company.id,
                    "state": "process",  # as the workflow step queues it
                }
                for index in range(MESSAGES)
            ]
        )
        env["lifecycle.message"]._enqueue(
            [
                {
                    "channel": "sms",
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "recipient": one.number,
                    "body": one.body,
                    "sms_id": one.id,
                }
                for one in sms
            ]
        )
        self.uuids = set(sms.mapped("uuid"))

    def _restore(self, company_values, number_ids):
        with self._committed() as env:
            company = env["res.company"].browse(company_values.pop("id"))
            (company.sms_twilio_number_ids - company.sms_twilio_number_ids.browse(number_ids)).unlink()
            company.write(company_values)

    def test_a_sender_killed_with_an_sms_at_twilio_sends_no_sms_twice_and_leaves_the_lost_ones_unknown(self):
        # Twilio's requests leave one at a time: one in flight
        in_flight = self._kill_mid_batch(1, **{TWILIO_ROOT: self.server.root})
        received = Counter(sms_uuid(request) for request in self.server.requests)
        self.assertEqual(set(received.values()), {1}, "no SMS reached Twilio twice")
        self.assertEqual(len(received), MESSAGES - BATCH + in_flight, "the one in flight reached it once")
        with self._committed() as env:
            self.assertToldStaff(env)
            messages = env["lifecycle.message"].search([("partner_id", "=", self.partner_id)])
            states = Counter((message.state, message.sms_id.state, message.sms_id.failure_type) for message in messages)
            # Odoo's SMS say so too: sent (Odoo's "Sent", waiting for the delivery report), or an error never retried
            self.assertEqual(
                states, {("sent", "pending", False): MESSAGES - BATCH, ("unknown", "error", "unknown"): BATCH}
            )
            # none missing: every SMS reached Twilio, or is unknown for staff to decide
            unknown = messages.filtered(lambda message: message.state == "unknown")
            self.assertEqual(set(received) | set(unknown.sms_id.mapped("uuid")), self.uuids)
            env["sms.sms"]._process_queue()  # Odoo's SMS cron job sends none of them either
        self.assertEqual(len(self.server.requests), MESSAGES - BATCH + in_flight)
