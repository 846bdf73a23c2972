"""Issue 14, items 2 and 3: automatic renewal with the balance or a saved card, then dunning."""

from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import http
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..lib.dunning import retry_days
from ..lib.duration import add_duration
from .test_wallet_accounting import PAID, AccountingCommon

TODAY = date(2027, 3, 28)
# noon UTC: the customer's date is TODAY whatever their time zone within ±11 hours
NOON = datetime(2027, 3, 28, 12)


def at(day):
    return datetime.combine(day, NOON.time())


class AutorenewCommon(AccountingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider.state = "test"
        cls.other_customer = cls.env["res.partner"].create({"name": "Deco Addict", "is_company": True})

    def setUp(self):
        super().setUp()
        # expires in 3 days: the company's default auto-renewal day
        self.deadline = self._deadline(expiry=TODAY + timedelta(days=3))

    def _token(self, simulated_state="done", partner=None, provider=None):
        provider = provider or self.provider
        return self.env["payment.token"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": self.provider.payment_method_ids[:1].id,
                "partner_id": (partner or self.customer).id,
                "provider_ref": f"demo-{simulated_state}",
                "payment_details": "4242",
                "demo_simulated_state": simulated_state,
            }
        )

    def _auto(self, deadline=None, token=None, wallet_first=False):
        deadline = deadline or self.deadline
        deadline.write(
            {"autorenew": True, "autorenew_token_id": token and token.id, "autorenew_wallet_first": wallet_first}
        )
        return deadline

    def _run(self, day=TODAY):
        self.env["lifecycle.deadline"]._cron_schedule(now=at(day))
        self.env.invalidate_all()

    def _charges(self):
        return self.env["payment.transaction"].search(
            [("operation", "=", "offline"), ("partner_id", "=", self.customer.id)]
        )


@tagged("post_install", "-at_install")
class TestAutorenewPayment(AutorenewCommon):
    def test_the_balance_pays_the_renewal_with_a_posted_invoice_reconciled_with_the_wallet(self):
        price = self.deadline.renewal_price
        self._deposit(self.wallet, price + 5.0, "TOPUP-AUTO")
        self._auto(token=self._token("error"), wallet_first=True)
        self._run()
        self.assertEqual(self.deadline.date_expiry, date(2028, 3, 31), "renewed one year from the old expiry")
        self.assertEqual(self.deadline.autorenew_state, "paid")
        order = self.deadline.autorenewal_id.sale_order_id
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.invoice_ids.state, "posted")
        self.assertIn(order.invoice_ids.payment_state, PAID)
        self.assertEqual(self.wallet.balance, 5.0)
        self.assertFalse(self._charges(), "the card is not charged when the balance pays")
        self.assertAccountsAgree(self.wallet)

    def test_the_saved_card_pays_when_the_balance_falls_short(self):
        self._deposit(self.wallet, 10.0, "TOPUP-SHORT")
        self._auto(token=self._token("done"), wallet_first=True)
        self._run()
        charge = self._charges()
        self.assertEqual((len(charge), charge.state), (1, "done"))
        self.assertEqual(charge.sale_order_ids.state, "sale")
        self.assertEqual(self.deadline.date_expiry, date(2028, 3, 31))
        self.assertEqual(self.deadline.autorenew_state, "paid")
        self.assertEqual(self.wallet.balance, 10.0, "the balance that did not cover it is left alone")

    def test_nothing_is_charged_before_the_auto_renewal_day_nor_twice_after(self):
        self._auto(token=self._token("done"))
        self._run(TODAY - timedelta(days=1))
        self.assertFalse(self._charges())
        self._run()
        self._run()
        self._run(TODAY + timedelta(days=1))
        self.assertEqual(len(self._charges()), 1)
        self.assertEqual(len(self.deadline.renewal_ids), 1)

    def test_without_balance_or_card_the_reminder_ladder_goes_on(self):
        self._auto(wallet_first=True)
        self._run()
        self.assertEqual(self.deadline.autorenew_state, "not_charged")
        self.assertEqual(self.deadline.date_expiry, TODAY + timedelta(days=3), "not renewed")
        reminder = self.env["lifecycle.event"].search(
            [("event_type", "=", "reminder_due"), ("res_id", "=", self.deadline.id)]
        )
        self.assertEqual(reminder.reminder_offset, 3, "the 3-day reminder goes out as before")
        self.assertFalse(self._charges())

    def test_a_pending_payment_is_never_charged_again(self):
        self._auto(token=self._token("pending"))
        self._run()
        self._run(TODAY + timedelta(days=1))
        self.assertEqual(self._charges().mapped("state"), ["pending"])
        self.assertEqual(self.deadline.autorenew_state, "pending")
        self._charges()._set_done()
        self._run(TODAY + timedelta(days=2))
        self.assertEqual(self.deadline.autorenew_state, "paid")
        self.assertEqual(self.deadline.date_expiry, date(2028, 3, 31))


@tagged("post_install", "-at_install")
class TestAutorenewBadInput(AutorenewCommon):
    def test_a_card_of_another_customer_is_refused(self):
        token = self._token("done", partner=self.other_customer)
        self.assertRefused("not a payment method of this customer", self._auto, token=token)
        self.assertFalse(self.deadline.autorenew)
        self._run()
        self.assertFalse(self._charges())

    def test_a_card_of_another_company_is_refused(self):
        provider = self.provider.copy({"company_id": self.other_company.id, "state": "test"})
        token = self._token("done", provider=provider)
        self.assertRefused("belongs to Other Company Ltd", self._auto, token=token)
        self._run()
        self.assertFalse(self._charges())

    def test_a_deadline_in_another_currency_is_refused(self):
        euro = self.env.ref("base.EUR")
        euro.active = True
        if self.company.currency_id == euro:
            euro = self.env.ref("base.USD")
            euro.active = True
        self.deadline.currency_id = euro
        self.assertRefused("in another currency", self._auto, token=self._token("done"))
        self._run()
        self.assertFalse(self._charges())

    def test_auto_renew_without_any_payment_method_is_refused(self):
        self.assertRefused("needs a saved payment method or the balance", self._auto)
        self.assertFalse(self.deadline.autorenew)


@tagged("post_install", "-at_install")
class TestDunning(AutorenewCommon):
    def test_a_declined_card_makes_the_deadline_past_due_and_emails_a_pay_link(self):
        self._auto(token=self._token("error"))
        self._run()
        self.assertEqual(self.deadline.autorenew_state, "past_due")
        autorenewal = self.deadline.autorenewal_id
        self.assertEqual(autorenewal.next_try_date, TODAY + timedelta(days=retry_days(8, 14, self.deadline.id)[0]))
        mail = self.env["mail.mail"].search([("model", "=", "lifecycle.autorenewal"), ("res_id", "=", autorenewal.id)])
        self.assertEqual(len(mail), 1)
        self.assertIn(autorenewal.sale_order_id.get_portal_url(), mail.body_html)
        self.assertIn("/my/payment_method", mail.body_html)
        self.assertIn(self.deadline, self.env["lifecycle.deadline"].search([("autorenew_state", "=", "past_due")]))

    def test_retries_fall_on_the_policy_days_and_none_between(self):
        self._auto(token=self._token("error"))
        self._run()
        days = retry_days(8, 14, self.deadline.id)
        for number, day in enumerate(days[:3], start=2):
            self._run(TODAY + timedelta(days=day - 1))
            self.assertEqual(len(self._charges()), number - 1, "no retry before its day")
            self._run(TODAY + timedelta(days=day))
            self.assertEqual(len(self._charges()), number, f"retry on day {day}")

    def test_a_new_card_saved_by_the_customer_is_tried_at_once(self):
        self._auto(token=self._token("error"))
        self._run()
        new_card = self._token("done")
        self.env.invalidate_all()
        self.assertEqual(self.deadline.autorenew_token_id, new_card)
        self.assertEqual(self.deadline.autorenew_state, "paid")
        self.assertEqual(self.deadline.date_expiry, date(2028, 3, 31))

    def test_a_hard_decline_is_not_retried_and_the_final_actions_run_once(self):
        self._auto(token=self._token("cancel"))
        self._run()
        autorenewal = self.deadline.autorenewal_id
        self.assertTrue(autorenewal.hard_decline)
        self.assertFalse(autorenewal.next_try_date)
        for day in range(15):
            self._run(TODAY + timedelta(days=day))
        self.assertEqual(len(self._charges()), 1, "never tried again")
        self.assertEqual(self.deadline.state, "cancelled")
        self.assertEqual(autorenewal.sale_order_id.state, "cancel")
        self.assertEqual(len(self.deadline.activity_ids), 1, "the team is told once")

    def test_after_the_last_retry_and_the_grace_days_the_final_actions_run_once(self):
        self.company.write(
            {"lifecycle_dunning_tries": 2, "lifecycle_dunning_days": 2, "lifecycle_dunning_grace_days": 3}
        )
        self._auto(token=self._token("error"))
        for day in range(5):
            self._run(TODAY + timedelta(days=day))
        self.assertEqual(len(self._charges()), 3, "the first charge and two retries")
        self.assertNotEqual(self.deadline.state, "cancelled", "grace days")
        self._run(TODAY + timedelta(days=5))
        self._run(TODAY + timedelta(days=6))
        self.assertEqual(self.deadline.state, "cancelled")
        self.assertEqual(len(self.deadline.activity_ids), 1)
        self.assertEqual(len(self._charges()), 3)


@tagged("post_install", "-at_install")
class TestAutorenewPortal(AutorenewCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(cls.env, login="auto_portal", groups="base.group_portal", name="Ann Auto")
        cls.portal_user.partner_id.parent_id = cls.customer

    def _post(self, **data):
        self.authenticate("auto_portal", "auto_portal")
        data["csrf_token"] = http.Request.csrf_token(self)
        response = self.url_open(f"/my/deadlines/{self.deadline.id}/autorenew", data=data, allow_redirects=False)
        self.env.invalidate_all()
        return response

    def test_the_customer_switches_auto_renew_on_with_a_saved_card_and_is_charged_at_the_due_date(self):
        card = self._token("done", partner=self.portal_user.partner_id)
        self.authenticate("auto_portal", "auto_portal")
        page = self.url_open(f"/my/deadlines/{self.deadline.id}")
        self.assertIn(card.display_name, page.text)
        self.assertEqual(self._post(autorenew="1", saved_method=str(card.id)).status_code, 303)
        self.assertEqual((self.deadline.autorenew, self.deadline.autorenew_token_id), (True, card))
        self._run()
        self.assertEqual(self.deadline.date_expiry, date(2028, 3, 31))

    def test_bad_choices_are_refused_with_a_4xx_and_change_nothing(self):
        rival_card = self._token("done", partner=self.other_customer)
        with mute_logger("odoo.http"):
            self.assertEqual(self._post(autorenew="1", saved_method=str(rival_card.id)).status_code, 400)
            self.assertEqual(self._post(autorenew="1", saved_method="nope").status_code, 400)
            self.assertEqual(self._post(autorenew="1").status_code, 400, "no payment method at all")
        self.assertFalse(self.deadline.autorenew)
        self._run()
        self.assertFalse(self._charges())


@tagged("post_install", "-at_install")
class TestDunningPolicy(AutorenewCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bad_debt = cls.env["account.account"].create(
            {"name": "Bad debts", "code": "654100", "account_type": "expense"}
        )
        cls.company.lifecycle_bad_debt_account_id = cls.bad_debt

    def test_the_annual_recipe_spreads_eight_retries_over_two_months(self):
        recipe = self.env.ref("subscription_lifecycle.workflow_dunning_annual")
        recipe.active = True
        self._auto(token=self._token("error"))
        self._run()
        autorenewal = self.deadline.autorenewal_id
        self.assertEqual(autorenewal.dunning_workflow_id, recipe)
        self.assertEqual(autorenewal.next_try_date, TODAY + timedelta(days=retry_days(8, 60, self.deadline.id)[0]))

    def test_a_monthly_deadline_keeps_the_company_policy(self):
        self.env.ref("subscription_lifecycle.workflow_dunning_annual").active = True
        self.deadline.product_id = self.monthly
        self._auto(token=self._token("error"))
        self._run()
        autorenewal = self.deadline.autorenewal_id
        self.assertFalse(autorenewal.dunning_workflow_id)
        self.assertEqual(autorenewal.next_try_date, TODAY + timedelta(days=retry_days(8, 14, self.deadline.id)[0]))

    def test_the_unpaid_invoice_is_written_off_to_bad_debt_once(self):
        self.env["lifecycle.workflow"].create(
            {
                "name": "Quick dunning",
                "event_type": "autorenew_failed",
                "dunning_tries": 1,
                "dunning_days": 1,
                "dunning_final_action": "write_off",
            }
        )
        self._auto(token=self._token("error"))
        self._run()
        # staff confirm and invoice the renewal, the customer still owes it
        order = self.deadline.autorenewal_id.sale_order_id
        order.action_confirm()
        invoice = order._create_invoices()
        invoice.action_post()
        for day in range(1, 4):
            self._run(TODAY + timedelta(days=day))
        self.assertEqual(len(self._charges()), 2, "the first charge and one retry")
        self.assertEqual(invoice.payment_state, "reversed")
        credit_note = invoice.reversal_move_ids
        self.assertEqual((len(credit_note), credit_note.state), (1, "posted"))
        self.assertEqual(credit_note.invoice_line_ids.account_id, self.bad_debt)
        self.assertEqual(self.deadline.state, "cancelled")
        self.assertEqual(len(self.deadline.activity_ids), 1, "the team is told once")


@tagged("post_install", "-at_install")
class TestAutorenewTour(HttpCase):
    def test_the_customer_saves_a_card_switches_auto_renew_on_and_is_renewed_at_the_due_date(self):
        provider = self.env.ref("payment.payment_provider_demo")
        provider.write({"state": "test", "is_published": True, "allow_tokenization": True})
        customer = self.env["res.partner"].create({"name": "Tour Renewer", "is_company": True})
        user = new_test_user(self.env, login="tour_renewer", groups="base.group_portal", name="Tina Tour")
        user.partner_id.parent_id = customer
        product = self.env["product.product"].create(
            {
                "name": "Tour maintenance",
                "type": "service",
                "list_price": 100.0,
                "lifecycle_is_deadline": True,
                "lifecycle_duration": 1,
                "lifecycle_duration_unit": "year",
            }
        )
        expiry = date.today() + timedelta(days=40)
        deadline = self.env["lifecycle.deadline"].create(
            {
                "partner_id": customer.id,
                "product_id": product.id,
                "date_start": expiry - timedelta(days=365),
                "date_expiry": expiry,
                "state": "active",
            }
        )
        self.start_tour("/my/payment_method", "subscription_lifecycle_autorenew_tour", login="tour_renewer")
        self.env.invalidate_all()
        self.assertTrue(deadline.autorenew)
        self.assertEqual(deadline.autorenew_token_id.demo_simulated_state, "done")
        # three days before expiry, without the customer
        due = expiry - timedelta(days=3)
        with freeze_time(due):
            self.env["lifecycle.deadline"]._cron_schedule(now=datetime.combine(due, NOON.time()))
        self.env.invalidate_all()
        self.assertEqual(deadline.date_expiry, add_duration(expiry, 1, "year", expiry.day))
        self.assertEqual(deadline.autorenew_state, "paid")
