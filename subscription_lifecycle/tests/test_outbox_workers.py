"""The WhatsApp sender run by a real worker process, killed by SIGKILL while its requests are in flight.

The worker (``engine_worker.py``) runs the message sender's cron job through
Odoo's cron loop against a Graph API server on 127.0.0.1 started by the test.
Everything it has to see is committed by the test and removed afterwards.
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
from .webhook_server import WebhookServer

MESSAGES = 30
BATCH = 10  # the worker's batches: the first is answered, the second is in flight when it dies, the third waits


@tagged("post_install", "-at_install")
class TestWhatsappWorkerKilled(EngineWorkersCommon):
    def setUp(self):
        super().setUp()
        self.server = WebhookServer()
        self.server.default = graph_accepts
        self.addCleanup(self.server.stop)
        self._marks()  # the cron tables' marks, removed again at the end
        with self._committed() as env:
            cron = env.ref(SENDER_CRON)
            company = env.company
            parameters = env["ir.config_parameter"]
            self.addCleanup(
                self._restore,
                cron.read(["code", "nextcall", "lastcall", "failure_count", "first_failure_date"])[0],
                company.read(list(WHATSAPP_SETTINGS))[0],
                parameters.get_param(WHATSAPP_API_URL),
            )
            cron.code = f"model._cron_send(batch_size={BATCH})"
            company.write(WHATSAPP_SETTINGS)
            parameters.set_param(WHATSAPP_API_URL, f"{self.server.root}/v21.0")
            partner = env["res.partner"].create({"name": "Worker WhatsApp Customer", "phone": "+4915123456789"})
            self.partner_id = partner.id
            self.addCleanup(self._drop, partner.id)
            env["lifecycle.message"]._enqueue(
                [
                    {
                        "channel": "whatsapp",
                        "partner_id": partner.id,
                        "company_id": company.id,
                        "recipient": "+4915123456789",
                        "payload": {
                            "messaging_product": "whatsapp",
                            "to": "4915123456789",
                            "type": "template",
                            "template": {"name": "hello_world", "language": {"code": "en_US"}},
                        },
                    }
                    for _n in range(MESSAGES)
                ]
            )

    @contextmanager
    def _committed(self):
        """A superuser environment on a cursor of its own, committed when the block ends without error."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def _restore(self, cron_values, company_values, api_url):
        with closing(db_connect(self.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["ir.cron"].browse(cron_values.pop("id")).write(cron_values)
            env["res.company"].browse(company_values.pop("id")).write(company_values)
            env["ir.config_parameter"].set_param(WHATSAPP_API_URL, api_url)
            cr.commit()  # pylint: disable=invalid-commit

    def _drop(self, partner_id):
        with closing(db_connect(self.dbname).cursor()) as cr:
            cr.execute("DELETE FROM lifecycle_message WHERE partner_id = %s", [partner_id])
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

    def _references(self):
        """How often the server received each message (by the reference its request carries)."""
        return Counter(json.loads(received.body)["biz_opaque_callback_data"] for received in self.server.requests)

    def test_a_sender_killed_mid_batch_sends_no_message_twice_and_leaves_the_lost_answers_unknown(self):
        # the first batch is answered at once; the second's answers are held until the worker is dead
        self.server.hold_from(BATCH + 1)
        (worker,) = self._start_workers([SENDER_CRON])
        self._go(worker)
        # the first batch recorded and committed, the second batch's requests in flight (as many as the threads)
        self._wait_until(
            lambda: self._states().get("sent") == BATCH and len(self.server.requests) >= BATCH + 8,
            "the second batch in flight",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        self.assertEqual(worker.returncode, -signal.SIGKILL)
        self._wait_until(lambda: not self._sessions(worker), "the end of the killed worker's sessions")
        self.server.release()
        self.assertEqual(self._states(), {"sent": BATCH, "sending": BATCH, "queued": MESSAGES - 2 * BATCH})
        in_flight = len(self.server.requests) - BATCH

        # the sender runs again: before the lease ends, the messages being sent are left alone
        with self._committed() as env:
            env["lifecycle.message"]._cron_send(now=fields.Datetime.now())
        self.assertEqual(self._states(), {"sent": MESSAGES - BATCH, "sending": BATCH})
        # after the lease, they are unknown, and never sent again
        with self._committed() as env, mute_logger("odoo.addons.subscription_lifecycle.models.lifecycle_message"):
            for later in (LEASE, LEASE + timedelta(days=1)):
                env["lifecycle.message"]._cron_send(now=fields.Datetime.now() + later + timedelta(seconds=1))
        self.assertEqual(self._states(), {"sent": MESSAGES - BATCH, "unknown": BATCH})

        references = self._references()
        self.assertEqual(set(references.values()), {1}, "no message reached the server twice")
        self.assertEqual(len(references), MESSAGES - BATCH + in_flight, "those in flight reached it once")
        with self._committed() as env:
            messages = env["lifecycle.message"].search([("partner_id", "=", self.partner_id)])
            unknown = messages.filtered(lambda message: message.state == "unknown")
            self.assertTrue(all("stopped before the service answered" in error for error in unknown.mapped("error")))
            self.assertTrue(
                all(messages.filtered(lambda message: message.state == "sent").mapped("provider_message_id"))
            )
            notes = env["res.partner"].browse(self.partner_id).message_ids.mapped("body")
            self.assertEqual(
                sum(note.count("outcome unknown") for note in notes), BATCH, "each one said on the customer"
            )
