import json
from datetime import date, timedelta

from standardwebhooks.webhooks import Webhook

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, new_test_user, tagged

from ..lib.duration import add_duration
from .webhook_server import WebhookServer


@tagged("post_install", "-at_install")
class TestUi(HttpCase):
    def test_lifecycle_user_opens_the_menu(self):
        new_test_user(self.env, login="lc_tour_user", groups="subscription_lifecycle.group_lifecycle_user")
        self.start_tour("/odoo", "subscription_lifecycle_menu_tour", login="lc_tour_user")

    def test_add_a_deadline_from_the_customer_card_and_renew_it(self):
        new_test_user(
            self.env,
            login="lc_tour_staff",
            groups="subscription_lifecycle.group_lifecycle_user,base.group_partner_manager",
        )
        self.env["product.product"].create(
            {
                "name": "Tour hosting",
                "type": "service",
                "lifecycle_is_deadline": True,
                "lifecycle_duration": 1,
                "lifecycle_duration_unit": "month",
            }
        )
        customer = self.env["res.partner"].create({"name": "Tour Customer", "is_company": True})
        self.start_tour(
            f"/odoo/res.partner/{customer.id}", "subscription_lifecycle_deadline_tour", login="lc_tour_staff"
        )
        deadline = customer.lifecycle_deadline_ids
        self.assertEqual(deadline.state, "active")
        self.assertEqual(str(deadline.date_expiry), "2099-02-28")
        self.assertEqual(deadline.renewal_ids.date_from.isoformat(), "2099-01-31")

    def test_manager_previews_and_switches_on_the_ladder(self):
        manager = new_test_user(
            self.env, login="lc_tour_manager", groups="subscription_lifecycle.group_lifecycle_manager"
        )
        product = self.env["product.product"].create(
            {"name": "Tour licence", "lifecycle_is_deadline": True, "lifecycle_duration": 1}
        )
        customer = self.env["res.partner"].create({"name": "Tour Preview Customer", "email": "tour@example.com"})
        self.env["lifecycle.deadline"].create(
            {
                "partner_id": customer.id,
                "product_id": product.id,
                "date_start": date.today(),
                "date_expiry": date.today() + timedelta(days=30),
                "amount": 99,
                "state": "active",
            }
        )
        workflow = self.env.ref("subscription_lifecycle.workflow_reminder_30")
        self.assertFalse(workflow.active)
        mails = self.env["mail.mail"].search_count([])
        self.start_tour(
            "/odoo/action-subscription_lifecycle.lifecycle_workflow_action",
            "subscription_lifecycle_workflow_tour",
            login=manager.login,
        )
        self.assertTrue(workflow.active)
        self.assertEqual(self.env["mail.mail"].search_count([]), mails, "the preview sent nothing")


@tagged("post_install", "-at_install")
class TestPortalUi(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Tour Portal Co", "is_company": True})
        cls.portal_user = new_test_user(cls.env, login="lc_tour_portal", groups="base.group_portal")
        cls.portal_user.partner_id.parent_id = cls.customer

    def _deadline(self, name):
        product = self.env["product.product"].create(
            {"name": name, "type": "service", "list_price": 50.0, "lifecycle_is_deadline": True}
        )
        return self.env["lifecycle.deadline"].create(
            {
                "partner_id": self.customer.id,
                "product_id": product.id,
                "amount": 50.0,
                "date_start": date.today() - timedelta(days=360),
                "date_expiry": date.today() + timedelta(days=5),
                "state": "active",
            }
        )

    def _assert_renewed_once(self, deadline, expiry):
        self.assertEqual(deadline.date_expiry, add_duration(expiry, 1, "year"))
        self.assertEqual(len(deadline.renewal_ids), 1)
        self.assertEqual(deadline.renewal_ids.sale_order_id.state, "sale")

    def test_portal_user_renews_and_pays(self):
        deadline = self._deadline("Tour portal licence")
        expiry = deadline.date_expiry
        self.start_tour("/my/deadlines", "subscription_lifecycle_portal_renewal_tour", login=self.portal_user.login)
        self._assert_renewed_once(deadline, expiry)

    def test_visitor_with_a_token_renews_and_pays(self):
        deadline = self._deadline("Tour token licence")
        expiry = deadline.date_expiry
        self.start_tour(deadline.get_portal_url(), "subscription_lifecycle_token_renewal_tour")
        self._assert_renewed_once(deadline, expiry)

    def test_top_up_the_wallet_and_renew_from_the_balance(self):
        deadline = self._deadline("Tour wallet licence")
        expiry = deadline.date_expiry
        self.start_tour("/my/wallet", "subscription_lifecycle_wallet_tour", login=self.portal_user.login)
        wallet = self.env["lifecycle.wallet"].search([("partner_id", "=", self.customer.id)])
        order = deadline.renewal_ids.sale_order_id
        self.assertEqual(wallet.transaction_ids.mapped("kind"), ["payment", "deposit"])
        self.assertEqual(wallet.balance, 100.0 - order.amount_total)
        self._assert_renewed_once(deadline, expiry)


@tagged("post_install", "-at_install")
class TestWebhookUi(HttpCase):
    def test_a_manager_creates_an_endpoint_sends_a_test_event_and_opens_its_log(self):
        server = WebhookServer()
        self.addCleanup(server.stop)
        manager = new_test_user(
            self.env, login="lc_tour_hooks", groups="subscription_lifecycle.group_lifecycle_manager"
        )
        self.env.company.write({"lifecycle_webhook_allow_http": True, "lifecycle_webhook_allow_private": True})
        start = "/odoo/action-subscription_lifecycle.lifecycle_webhook_endpoint_action"
        options = {"stepDelay": 0, "keepWatchBrowser": False, "debug": False, "startUrl": start}
        self.start_tour(
            start,
            "subscription_lifecycle_webhook_tour",
            login=manager.login,
            # the tour types the URL of this test's server
            code=f"window.lifecycleWebhookUrl = {json.dumps(server.url)};"
            f" odoo.startTour('subscription_lifecycle_webhook_tour', {json.dumps(options)})",
        )
        endpoint = self.env["lifecycle.webhook.endpoint"].search([("name", "=", "Tour CRM")])
        self.assertEqual((endpoint.url, endpoint.user_id), (server.url, manager))
        self.assertEqual(endpoint.delivery_ids.state, "pending")
        self.assertEqual(server.requests, [], "nothing left before the sender ran")
        with self.registry.cursor() as cr:  # the test's own transaction, shared with the server
            api.Environment(cr, SUPERUSER_ID, {})["lifecycle.webhook.delivery"]._cron_send()
        [received] = server.requests
        body = Webhook(endpoint.secret).verify(received.body, received.headers)
        self.assertEqual((body["type"], body["data"]), ("webhook.test", {"endpoint": "Tour CRM", "test": True}))
        self.env.invalidate_all()  # the sender wrote through a cursor of its own
        self.assertEqual(endpoint.delivery_ids.state, "delivered")
