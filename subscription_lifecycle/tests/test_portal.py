import re
from datetime import date, timedelta

from odoo import Command, http
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..lib.duration import add_duration
from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestPortal(LifecycleCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.email = "azure@example.com"
        cls.portal_user = new_test_user(cls.env, login="azure_portal", groups="base.group_portal", name="Ann Azure")
        cls.portal_user.partner_id.parent_id = cls.customer
        cls.rival = cls.env["res.partner"].create({"name": "Rival Corp", "is_company": True})
        cls.rival_user = new_test_user(cls.env, login="rival_portal", groups="base.group_portal", name="Rob Rival")
        cls.rival_user.partner_id.parent_id = cls.rival
        cls.soon = cls._make(cls.customer, "Licence pack", date.today() + timedelta(days=10))
        cls.later = cls._make(cls.customer, "Support plan", date.today() + timedelta(days=90))
        cls.rival_deadline = cls._make(cls.rival, "Rival hosting", date.today() + timedelta(days=5))

    @classmethod
    def _make(cls, partner, name, expiry):
        product = cls.env["product.product"].create(
            {"name": name, "type": "service", "list_price": 120.0, "lifecycle_is_deadline": True}
        )
        return cls.env["lifecycle.deadline"].create(
            {
                "partner_id": partner.id,
                "product_id": product.id,
                "quantity": 3,
                "amount": 360.0,
                "date_start": expiry - timedelta(days=365),
                "date_expiry": expiry,
                "state": "active",
            }
        )

    def _renew(self, deadline, access_token=None):
        data = {"csrf_token": http.Request.csrf_token(self)}
        if access_token:
            data["access_token"] = access_token
        return self.url_open(f"/my/deadlines/{deadline.id}/renew", data=data, allow_redirects=False)

    def _orders(self, deadline):
        return self.env["sale.order.line"].search([("lifecycle_renewed_deadline_id", "=", deadline.id)]).order_id

    def test_my_deadlines_lists_the_customers_services_only(self):
        self.authenticate("azure_portal", "azure_portal")
        page = self.url_open("/my/deadlines")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Licence pack", page.text)
        self.assertIn("Support plan", page.text)
        self.assertNotIn("Rival hosting", page.text)
        self.assertRegex(page.text, r"text-bg-warning[^>]*>\s*Expires in 10 days<")
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["deadline_count"]})
        self.assertEqual(counters["deadline_count"], 2)
        found = self.url_open("/my/deadlines?search=Support&search_in=service")
        self.assertIn("Support plan", found.text)
        self.assertNotIn("Licence pack", found.text)
        grouped = self.url_open("/my/deadlines?groupby=state&sortby=service")
        self.assertIn("Active", grouped.text)

    def test_detail_shows_renew_only_within_the_window(self):
        self.authenticate("azure_portal", "azure_portal")
        soon = self.url_open(f"/my/deadlines/{self.soon.id}")
        self.assertIn("o_lifecycle_renew", soon.text)
        later = self.url_open(f"/my/deadlines/{self.later.id}")
        self.assertEqual(later.status_code, 200)
        self.assertNotIn("o_lifecycle_renew", later.text)
        self.assertRegex(later.text, r"from 30 days\s+before it expires")
        self.assertEqual(self._renew(self.later).status_code, 403)
        self.assertFalse(self._orders(self.later))
        self.company.lifecycle_renewal_window = 120
        self.assertIn("o_lifecycle_renew", self.url_open(f"/my/deadlines/{self.later.id}").text)

    def test_the_detail_page_quotes_what_renewing_costs_with_tax(self):
        self.soon.product_id.taxes_id = self.env["account.tax"].create({"name": "VAT 21%", "amount": 21.0})
        self.authenticate("azure_portal", "azure_portal")
        page = self.url_open(f"/my/deadlines/{self.soon.id}")
        # 3 x 120.00 at the customer's pricelist, plus 21%
        self.assertRegex(page.text, r"(?s)o_lifecycle_next_price.*?435\.60.*?taxes included")

    def test_nothing_leaks_to_other_customers_wrong_tokens_or_visitors(self):
        token = self.soon._portal_ensure_token()
        rival_token = self.rival_deadline._portal_ensure_token()
        self.authenticate("rival_portal", "rival_portal")
        self.assertEqual(self.url_open(f"/my/deadlines/{self.soon.id}").status_code, 404)
        self.assertEqual(self._renew(self.soon).status_code, 404)
        self.assertEqual(self.url_open(f"/my/deadlines/{self.soon.id}?access_token=wrong").status_code, 404)
        self.assertEqual(self.url_open(f"/my/deadlines/{self.soon.id}?access_token={rival_token}").status_code, 404)
        self.assertNotIn("Licence pack", self.url_open("/my/deadlines").text)
        self.assertEqual(self.url_open("/my/deadlines/999999").status_code, 404)

        self.authenticate(None, None)
        self.assertEqual(self.url_open(f"/my/deadlines/{self.soon.id}").status_code, 404)
        self.assertEqual(self.url_open(f"/my/deadlines/{self.later.id}?access_token={token}").status_code, 404)
        self.assertEqual(self._renew(self.later, access_token=token).status_code, 404)
        self.assertEqual(self._renew(self.soon, access_token="wrong").status_code, 404)  # noqa: S106
        listing = self.url_open("/my/deadlines", allow_redirects=False)
        self.assertIn("/web/login", listing.headers.get("Location", ""))
        self.assertFalse(self._orders(self.soon) | self._orders(self.later) | self._orders(self.rival_deadline))

    def test_email_link_portal_renew_pay_renews_once(self):
        # the link the 14-day reminder sends
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_14")
        body = template._render_field("body_html", self.soon.ids)[self.soon.id]
        link = re.search(r'href="([^"]*/my/deadlines/[^"]+)"', body).group(1).replace("&amp;", "&")
        path = link[link.index("/my/deadlines") :]
        token = path.split("access_token=")[1]

        self.authenticate(None, None)  # a visitor who is not logged in
        page = self.url_open(path)
        self.assertEqual(page.status_code, 200)
        self.assertIn("Licence pack", page.text)
        response = self._renew(self.soon, access_token=token)
        self.assertEqual(response.status_code, 303)
        order = self._orders(self.soon)
        self.assertEqual(len(order), 1)
        self.assertIn(f"/my/orders/{order.id}", response.headers["Location"])
        self.assertIn(f"access_token={order.access_token}", response.headers["Location"])
        self.assertEqual((order.partner_id, order.state), (self.customer, "draft"))
        self.assertEqual((order.order_line.product_id, order.order_line.product_uom_qty), (self.soon.product_id, 3))
        self.assertEqual(order.amount_untaxed, 360.0, "priced at the customer's pricelist: 3 x 120")
        self.assertEqual(self.url_open(response.headers["Location"]).status_code, 200)
        # renew pressed again while the quotation is open: the same quotation
        self._renew(self.soon, access_token=token)
        self.assertEqual(self._orders(self.soon), order)

        provider = self.env.ref("payment.payment_provider_demo")
        self.assertEqual(provider.state, "test")
        transaction = self.env["payment.transaction"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": provider.payment_method_ids[:1].id,
                "reference": "RENEW-LOOP",
                "amount": order.amount_total,
                "currency_id": order.currency_id.id,
                "partner_id": order.partner_id.id,
                "operation": "online_direct",
                "sale_order_ids": [Command.set(order.ids)],
            }
        )
        expiry = self.soon.date_expiry
        for _notification in range(2):  # the provider notifies twice
            transaction._set_done()
            transaction._post_process()
        self.assertEqual(order.state, "sale")
        self.assertEqual(self.soon.date_expiry, add_duration(expiry, 1, "year"))
        self.assertEqual(len(self.soon.renewal_ids), 1)
        self.assertEqual(self.soon.renewal_ids.sale_order_id, order)
        detail = self.url_open(path)
        self.assertIn("Renewals", detail.text)
        self.assertNotIn("Not renewed yet", detail.text)

    def test_list_queries_do_not_grow_with_rows(self):
        for index in range(5):
            self._make(self.rival, f"Rival item {index}", date.today() + timedelta(days=index))
        self.authenticate("rival_portal", "rival_portal")
        self.url_open("/my/deadlines")  # warm the caches
        count = self.cr.sql_log_count
        self.url_open("/my/deadlines")
        few = self.cr.sql_log_count - count
        for index in range(200):
            self._make(self.rival, f"Rival bulk {index}", date.today() + timedelta(days=index % 60))
        self.url_open("/my/deadlines")
        with self.assertQueryCount(few):
            page = self.url_open("/my/deadlines")
        self.assertEqual(page.text.count("o_lifecycle_portal_deadline"), 80, "one page of the pager")

    def test_drafts_and_internal_notes_stay_internal(self):
        draft = self._make(self.customer, "Draft offer", date.today() + timedelta(days=20))
        draft.action_cancel()
        draft.action_draft()
        self.soon.note = "Internal: max discount 20%"
        deadlines = self.env["lifecycle.deadline"].with_user(self.portal_user)
        self.assertNotIn(draft, deadlines.search([]))
        with self.assertRaises(AccessError):
            self.soon.with_user(self.portal_user).read(["note"])
        self.authenticate("azure_portal", "azure_portal")
        self.assertEqual(self.url_open(f"/my/deadlines/{draft.id}").status_code, 404)
        self.assertNotIn("max discount", self.url_open(f"/my/deadlines/{self.soon.id}").text)
