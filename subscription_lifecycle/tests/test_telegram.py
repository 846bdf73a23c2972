"""The Telegram channel, end to end: portal link, the bot's webhook, the step, the Bot API on 127.0.0.1.

The Bot API is a real HTTP server started by each test (``webhook_server``)
that answers as Telegram does. The sender commits; in an HttpCase every
cursor is the test's (Odoo's test mode), so its commits stay in the test's
transaction and are rolled back with it.
"""

import json
import re
import time
from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, api, http
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..lib.telegram import START_TTL
from .common import LifecycleCommon
from .webhook_server import WebhookServer

NOW = datetime(2090, 6, 1, 8, 0)
BOT_TOKEN = "123456:AAbot-token"  # noqa: S105 (the fake Bot API's)
CHAT = 4242
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}


@tagged("post_install", "-at_install")
class TestTelegram(LifecycleCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"lifecycle_telegram_bot_token": BOT_TOKEN, "lifecycle_telegram_bot_username": "acme_bot"})
        cls.secret = cls.company.lifecycle_telegram_secret
        cls.portal_user = new_test_user(cls.env, login="azure_portal", groups="base.group_portal", name="Ann Azure")
        cls.ann = cls.portal_user.partner_id
        cls.ann.parent_id = cls.customer
        cls.rival_user = new_test_user(cls.env, login="rival_portal", groups="base.group_portal", name="Rob Rival")
        cls.workflow = cls.env["lifecycle.workflow"].create(
            {
                "name": "Welcome on Telegram",
                "event_type": "deadline_created",
                "domain": f"[('partner_id', '=', {cls.customer.id})]",
                "step_ids": [
                    (
                        0,
                        0,
                        {
                            "step_type": "telegram",
                            "telegram_body": "Hello {{ object.partner_id.name }},"
                            " {{ object.product_id.name }} is ready.",
                        },
                    )
                ],
            }
        )

    def setUp(self):
        super().setUp()
        self.server = WebhookServer()
        self.addCleanup(self.server.stop)
        self.env["ir.config_parameter"].set_param(
            "subscription_lifecycle.telegram_api_url", self.server.url.removesuffix("/hook")
        )

    # helpers -------------------------------------------------------------
    def _connect_link(self, login="azure_portal"):
        """The Connect Telegram link the customer's portal page shows, and its token."""
        self.authenticate(login, login)
        page = self.url_open("/my/deadlines").text
        link = re.search(r'href="(https://t\.me/acme_bot\?start=([A-Za-z0-9_-]{1,64}))"[^>]*>\s*Connect Telegram', page)
        self.assertTrue(link, "the portal page shows Connect Telegram with a t.me link")
        return link.group(2)

    def _update(self, text, chat=CHAT, secret=None, company=None):
        """POST an Update as Telegram does; ``secret`` False sends no secret header."""
        update = {"update_id": 1, "message": {"message_id": 9, "chat": {"id": chat, "type": "private"}, "text": text}}
        headers = {"Content-Type": "application/json"}
        if secret is not False:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret or self.secret
        return self.url_open(
            f"/lifecycle/telegram/{(company or self.company).id}/webhook", data=json.dumps(update), headers=headers
        )

    def _linked(self, partner):
        partner.invalidate_recordset()
        return partner.lifecycle_telegram_chat_id

    def _link(self):
        self.assertEqual(self._update(f"/start {self._connect_link()}").status_code, 200)
        self.assertEqual(self._linked(self.ann), str(CHAT))

    def _send(self):
        """Run the outbox's sender as its cron does, on a cursor of its own."""
        self.env.flush_all()
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["lifecycle.message"]._cron_send(now=NOW)
        self.env.invalidate_all()

    def _run_workflow(self, product):
        deadline = self._deadline(product=product, state="draft")
        self.env["lifecycle.workflow.run"]._cron_engine(now=NOW)
        return self.workflow.run_ids.filtered(lambda run: run.deadline_id == deadline)

    def _message(self, run):
        return self.env["lifecycle.message"].search([("workflow_run_id", "=", run.id)])

    # tests ---------------------------------------------------------------
    def test_connect_start_message_then_a_block_unlinks_and_says_why(self):
        token = self._connect_link()
        answer = self._update(f"/start {token}")
        self.assertEqual(answer.status_code, 200)
        reply = answer.json()
        self.assertEqual((reply["method"], reply["chat_id"]), ("sendMessage", CHAT))
        self.assertIn("Hello Ann Azure, you will now get our messages here", reply["text"])
        self.assertEqual(self._linked(self.ann), str(CHAT))

        run = self._run_workflow(self.yearly)
        message = self._message(run)
        self.assertEqual(message.state, "queued")
        self.server.answer(200, body={"ok": True, "result": {"message_id": 501, "chat": {"id": CHAT}}})
        self._send()
        sent = self.server.requests[-1]
        self.assertEqual(sent.path, f"/bot{BOT_TOKEN}/sendMessage")
        self.assertEqual(
            json.loads(sent.body), {"chat_id": CHAT, "text": "Hello Azure Interior, Maintenance contract is ready."}
        )
        self.assertEqual((message.state, message.provider_message_id), ("sent", "501"))

        run = self._run_workflow(self.monthly)
        self.server.answer(403, body=BLOCKED)
        self._send()
        message = self._message(run)
        self.assertEqual(message.state, "failed")
        self.assertFalse(self._linked(self.ann), "a customer who blocked the bot is unlinked")
        said = "Telegram no longer lets the bot write to this customer (Forbidden: bot was blocked by the user)"
        self.assertIn(said, "\n".join(run.log_ids.mapped("message")))
        self.assertIn(said, "\n".join(self.customer.message_ids.mapped("body")))
        self.assertIn("the customer blocked the bot", "\n".join(self.ann.message_ids.mapped("body")))
        # and the next message is not even queued, with the reason on the run
        run = self._run_workflow(self.yearly)
        self.assertFalse(self._message(run))
        self.assertIn("Azure Interior has not linked Telegram.", run.log_ids.mapped("message")[-1])
        self.assertEqual(run.state, "done")

    def test_a_rate_limit_waits_as_asked_and_a_chat_not_found_unlinks(self):
        self._link()
        run = self._run_workflow(self.yearly)
        limited = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 30"}
        self.server.answer(429, body={**limited, "parameters": {"retry_after": 30}})
        self._send()
        message = self._message(run)
        self.assertEqual((message.state, message.next_attempt_at), ("queued", NOW + timedelta(seconds=30)))
        self.assertEqual(self._linked(self.ann), str(CHAT))
        self.server.answer(400, body={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["lifecycle.message"]._cron_send(now=NOW + timedelta(seconds=30))
        self.env.invalidate_all()
        self.assertEqual((message.state, message.attempt_count), ("failed", 2))
        self.assertFalse(self._linked(self.ann))

    @mute_logger("odoo.http")
    def test_a_forged_or_missing_secret_is_refused_and_links_nobody(self):
        token = self._connect_link()
        forged = self._update(f"/start {token}", secret="forged")  # noqa: S106 (a wrong secret)
        self.assertEqual(forged.status_code, 403)
        self.assertEqual(self._update(f"/start {token}", secret=False).status_code, 403)
        # a company without a bot has no secret: nothing is accepted for it
        self.assertEqual(
            self._update(f"/start {token}", secret="", company=self.other_company).status_code,
            403,
        )
        self.assertFalse(self._linked(self.ann))
        self.assertFalse(self.ann.message_ids.filtered(lambda message: "Telegram" in (message.body or "")))

    def test_a_token_used_twice_forged_for_another_customer_or_expired_links_nobody(self):
        token = self._connect_link()
        self._update(f"/start {token}")
        again = self._update(f"/start {token}", chat=666).json()
        self.assertIn("this link is no longer valid", again["text"])
        self.assertEqual(self._linked(self.ann), str(CHAT), "a used token links nobody again")

        rob = self.rival_user.partner_id
        forged = token.replace(f"{self.ann.id:x}-", f"{rob.id:x}-", 1)
        self._update(f"/start {forged}", chat=666)
        self.assertFalse(self._linked(rob))

        expired = rob._lifecycle_telegram_start_url(self.company, now=time.time() - START_TTL - 60).split("start=")[1]
        self._update(f"/start {expired}", chat=666)
        self.assertFalse(self._linked(rob))
        other_bot = rob._lifecycle_telegram_start_url(self.other_company).split("start=")[1]
        self._update(f"/start {other_bot}", chat=666)
        self.assertFalse(self._linked(rob), "a token for another company's bot links nothing here")

    def test_other_updates_are_accepted_and_ignored(self):
        answer = self._update("hello bot")
        self.assertEqual((answer.status_code, answer.json()), (200, {}))
        answer = self._update("/start")
        self.assertIn("open Connect Telegram in your customer portal", answer.json()["text"])
        self.assertFalse(self._linked(self.ann))

    def test_disconnect_from_the_portal(self):
        self._link()
        self.assertIn("Disconnect Telegram", self.url_open("/my/deadlines").text)
        answer = self.url_open(
            "/my/telegram/disconnect", data={"csrf_token": http.Request.csrf_token(self)}, allow_redirects=False
        )
        self.assertEqual(answer.status_code, 303)
        self.assertFalse(self._linked(self.ann))
        self.assertIn("Telegram disconnected by the customer", "\n".join(self.ann.message_ids.mapped("body")))
        self.assertTrue(self._connect_link())

    def test_a_portal_user_cannot_read_a_chat_id_staff_see_telegram_linked(self):
        self._link()
        with self.assertRaises(AccessError):
            self.ann.with_user(self.rival_user).read(["lifecycle_telegram_chat_id"])
        with self.assertRaises(AccessError):
            self.ann.with_user(self.portal_user).read(["lifecycle_telegram_chat_id"])
        self.assertTrue(self.ann.with_user(self.lc_user).lifecycle_telegram_linked)
        with self.assertRaises(AccessError):
            self.ann.with_user(self.lc_user).read(["lifecycle_telegram_chat_id"])

    def test_register_the_webhook_tells_telegram_the_route_and_the_secret(self):
        self.server.answer(200, body={"ok": True, "result": True, "description": "Webhook was set"})
        settings = self.env["res.config.settings"].create({})
        settings.action_lifecycle_telegram_register_webhook()
        registered = self.server.requests[-1]
        self.assertEqual(registered.path, f"/bot{BOT_TOKEN}/setWebhook")
        body = json.loads(registered.body)
        self.assertEqual(body["secret_token"], self.secret)
        self.assertTrue(body["url"].endswith(f"/lifecycle/telegram/{self.company.id}/webhook"))
        self.server.answer(401, body={"ok": False, "error_code": 401, "description": "Unauthorized"})
        with self.assertRaisesRegex(UserError, "Telegram refused the webhook: Unauthorized"):
            settings.action_lifecycle_telegram_register_webhook()

    def test_the_message_is_written_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.workflow.step_ids.with_context(lang="fr_FR").telegram_body = "Bonjour {{ object.partner_id.name }} !"
        self.customer.lang = "fr_FR"
        self._link()
        message = self._message(self._run_workflow(self.yearly))
        self.assertEqual(message.body, "Bonjour Azure Interior !")
        self.assertEqual(message.payload, {"chat_id": CHAT, "text": "Bonjour Azure Interior !"})
