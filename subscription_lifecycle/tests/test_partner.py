import ast
from datetime import date

import lxml.html
from freezegun import freeze_time

from odoo.tests import tagged

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestPartner(LifecycleCommon):
    def test_customer_card_totals_per_currency(self):
        usd = self.env.ref("base.USD")
        eur = self.env.ref("base.EUR")
        eur.active = usd.active = True
        self._deadline(amount=1000.0, currency_id=eur.id)
        self._deadline(amount=500.0, currency_id=eur.id)
        self._deadline(amount=300.0, currency_id=usd.id)
        self._deadline(amount=700.0, currency_id=eur.id, state="closed")
        self._deadline(amount=9999.0, currency_id=eur.id, state="cancelled")
        self._deadline(amount=8888.0, currency_id=usd.id, state="draft")
        contact = self.env["res.partner"].create({"name": "Ann Buyer", "parent_id": self.customer.id})
        for partner in (self.customer, contact):
            partner.invalidate_recordset()
            self.assertEqual(partner.lifecycle_deadline_count, 6)
            table = lxml.html.fromstring(str(partner.lifecycle_summary_html))
            rows = [[" ".join(cell.text_content().split()) for cell in row.iter("td")] for row in table.iter("tr")][1:]
            self.assertEqual(rows, [["EUR", "1,500.00 €", "700.00 €"], ["USD", "$ 300.00", "$ 0.00"]])

    def test_smart_button_lists_the_entity_deadlines(self):
        deadline = self._deadline()
        action = self.customer.action_view_lifecycle_deadlines()
        self.assertEqual(self.env["lifecycle.deadline"].search(action["domain"]), deadline)

    def test_callback_column_shows_the_date_of_the_last_done_callback(self):
        callback = self.env.ref("subscription_lifecycle.mail_activity_type_callback")
        todo = self.env.ref("mail.mail_activity_data_todo")
        deadline = self._deadline()
        self.assertFalse(self.customer.lifecycle_callback_date)
        with freeze_time("2026-11-02"):
            activity = self.customer.activity_schedule(activity_type_id=todo.id, user_id=self.lc_user.id)
            activity.with_user(self.lc_user).action_done()
        self.assertFalse(self.customer.lifecycle_callback_date, "other activity types do not count")
        with freeze_time("2026-11-05"):
            self.customer.activity_schedule(activity_type_id=callback.id, user_id=self.lc_user.id)
            self.customer.activity_ids.with_user(self.lc_user).action_done()
        self.assertEqual(self.customer.lifecycle_callback_date, date(2026, 11, 5))
        with freeze_time("2026-11-21"):
            deadline.activity_schedule(activity_type_id=callback.id, user_id=self.lc_user.id)
            deadline.activity_ids.with_user(self.lc_user).action_done()
        self.assertEqual(self.customer.lifecycle_callback_date, date(2026, 11, 21))
        sorted_partners = self.env["res.partner"].search(
            [("lifecycle_callback_date", "!=", False)], order="lifecycle_callback_date desc"
        )
        self.assertEqual(sorted_partners[:1], self.customer)

    def test_callbacks_today_lists_only_my_due_callbacks(self):
        callback = self.env.ref("subscription_lifecycle.mail_activity_type_callback")
        mine_today = self.customer.activity_schedule(
            activity_type_id=callback.id, user_id=self.lc_user.id, date_deadline=date.today()
        )
        self.customer.activity_schedule(
            activity_type_id=callback.id, user_id=self.lc_manager.id, date_deadline=date.today()
        )
        self.customer.activity_schedule(
            activity_type_id=callback.id, user_id=self.lc_user.id, date_deadline=date(2099, 1, 1)
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.mail_activity_action_lifecycle_callbacks"
        )
        domain = ast.literal_eval(action["domain"]) + [
            ("user_id", "=", self.lc_user.id),
            ("date_deadline", "<=", date.today()),
        ]
        self.assertEqual(self.env["mail.activity"].with_user(self.lc_user).search(domain), mine_today)
        mine_today.with_user(self.lc_user).action_done()
        self.assertEqual(self.customer.lifecycle_callback_date, date.today())
