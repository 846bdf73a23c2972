"""Issue 14, items 4 and 5: invoice events, and the recipes shipped as workflows."""

from datetime import date, datetime, time, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.tests import new_test_user, tagged

from .test_engine import EngineCommon

DUE = date(2026, 1, 5)


def _at(days):
    """Noon UTC, ``days`` after the due date."""
    return datetime.combine(DUE + timedelta(days=days), time(12, 0))


class InvoiceCommon(EngineCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accountant = new_test_user(
            cls.env, login="lc_accountant", groups="account.group_account_invoice", name="Accountant Ada"
        )
        # a Lifecycle manager who may read invoices: who previews the invoice recipes
        cls.billing_manager = new_test_user(
            cls.env,
            login="lc_billing_manager",
            groups="subscription_lifecycle.group_lifecycle_manager,account.group_account_invoice",
        )
        cls.Move = cls.env["account.move"]
        cls.sales = cls.env.ref("subscription_lifecycle.discuss_channel_sales")

    def _invoice(self, amount, partner=None, due=DUE):
        invoice = (
            self.Move.with_user(self.accountant)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": (partner or self.customer).id,
                    "invoice_date": due,
                    "invoice_date_due": due,
                    "invoice_line_ids": [
                        Command.create(
                            {"name": "Consulting", "quantity": 1, "price_unit": amount, "tax_ids": [Command.clear()]}
                        )
                    ],
                }
            )
            .sudo(False)
        )
        invoice.action_post()
        self.assertEqual((invoice.invoice_date_due, invoice.amount_total), (due, amount))
        return invoice

    def _pay(self, invoice, amount, day):
        self.env["account.payment.register"].with_user(self.accountant).with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": amount, "payment_date": DUE + timedelta(days=day)})._create_payments()

    def _scan(self, days):
        return self.Move._lifecycle_emit_overdue(now=_at(days))

    def _events(self, event_type, invoice):
        return self.Event.search(
            [("event_type", "=", event_type), ("res_model", "=", "account.move"), ("res_id", "=", invoice.id)],
            order="id",
        )

    def _thresholds(self, invoice):
        return [event.payload["threshold"] for event in self._events("invoice_overdue", invoice)]

    def _channel_posts(self):
        return self.sales.message_ids.filtered(lambda message: message.message_type == "comment")


@tagged("post_install", "-at_install")
class TestInvoiceOverdue(InvoiceCommon):
    def test_an_overdue_invoice_is_announced_once_per_threshold_over_a_month(self):
        invoice = self._invoice(1000.0)
        self._scan(0)
        self.assertFalse(self._events("invoice_overdue", invoice), "not overdue on its due date")
        for day in range(1, 40):
            self._scan(day)
            self._scan(day)  # a second run the same day changes nothing
        self.assertEqual(self._thresholds(invoice), [1, 7, 30])
        first, _week, month = self._events("invoice_overdue", invoice)
        self.assertEqual(
            first.payload,
            {
                "amount": 1000.0,
                "amount_due": 1000.0,
                "currency": invoice.currency_id.name,
                "date_due": "2026-01-05",
                "days_overdue": 1,
                "threshold": 1,
            },
        )
        self.assertEqual(month.payload["days_overdue"], 30)
        self.assertEqual((first.partner_id, first.company_id), (self.customer, invoice.company_id))
        self.assertEqual(first.name, f"Invoice overdue: {invoice.display_name}")

    def test_a_partial_payment_keeps_the_thresholds_and_shows_what_is_left_a_full_one_stops_them(self):
        invoice = self._invoice(1000.0)
        self._scan(1)
        self._pay(invoice, 300.0, day=3)
        self.assertEqual(invoice.payment_state, "partial")
        self._scan(3)
        self._scan(7)
        self.assertEqual(self._thresholds(invoice), [1, 7])
        self.assertEqual(self._events("invoice_overdue", invoice)[-1].payload["amount_due"], 700.0)
        self._pay(invoice, 700.0, day=8)
        self._scan(30)
        self.assertEqual(self._thresholds(invoice), [1, 7], "a paid invoice is overdue no more")

    def test_an_invoice_found_late_is_announced_at_the_threshold_it_reached_only(self):
        invoice = self._invoice(1000.0)
        self._scan(10)
        self.assertEqual(self._thresholds(invoice), [7])
        self.assertEqual(self._events("invoice_overdue", invoice).payload["days_overdue"], 10)
        for day in range(11, 30):
            self._scan(day)
        self.assertEqual(self._thresholds(invoice), [7], "the missed threshold 1 is not caught up")

    def test_drafts_credit_notes_and_vendor_bills_are_never_overdue(self):
        draft = self.Move.create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": DUE,
                "invoice_line_ids": [Command.create({"name": "Draft", "quantity": 1, "price_unit": 50.0})],
            }
        )
        bill = self.Move.create(
            {
                "move_type": "in_invoice",
                "partner_id": self.customer.id,
                "invoice_date": DUE,
                "invoice_line_ids": [Command.create({"name": "Bill", "quantity": 1, "price_unit": 50.0})],
            }
        )
        bill.action_post()
        self._scan(10)
        self.assertFalse(
            self.Event.search([("event_type", "=", "invoice_overdue"), ("res_id", "in", (draft | bill).ids)])
        )

    def test_the_thresholds_are_the_companys(self):
        self.company.lifecycle_overdue_thresholds = "3"
        invoice = self._invoice(1000.0)
        for day in range(0, 10):
            self._scan(day)
        self.assertEqual(self._thresholds(invoice), [3])

    def test_the_scan_costs_the_same_queries_for_one_invoice_or_many(self):
        def scan_queries(days):
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            emitted = self._scan(days)
            return self.cr.sql_log_count - before, len(emitted)

        self._invoice(100.0)
        self._scan(1)  # the first emission fills Odoo's caches (the engine's cron jobs, the event labels)
        self._invoice(150.0, due=DUE + timedelta(days=1))
        one = scan_queries(2)
        for amount in range(200, 1200, 100):
            self._invoice(float(amount), due=DUE + timedelta(days=2))
        many = scan_queries(3)
        self.assertEqual((one[1], many[1]), (1, 10))
        self.assertEqual(one[0], many[0])

    def test_bad_threshold_settings_are_refused_and_change_nothing(self):
        admin = new_test_user(self.env, login="lc_admin", groups="base.group_system,account.group_account_manager")
        Settings = self.env["res.config.settings"].with_user(admin)
        for text, reason in (
            ("1,7,7", "appears twice"),
            ("0,7", "'0' is not a number of days from 1 to 3650"),
            ("seven", "'seven' is not"),
        ):
            self.assertRefused(
                f"overdue invoice thresholds must list.*{reason}",
                lambda text=text: Settings.create({"lifecycle_overdue_thresholds": text}).execute(),
            )
        self.assertEqual(self.company.lifecycle_overdue_thresholds, "1,7,30")

    def test_a_workflow_cannot_wait_for_a_threshold_the_settings_do_not_have(self):
        self.assertRefused(
            "No invoice is announced 5 days overdue",
            self._workflow,
            "invoice_overdue",
            [{"step_type": "discuss", "discuss_channel_id": self.sales.id, "alert_body": "Late"}],
            overdue_threshold=5,
        )

    def test_webhooks_subscribed_to_overdue_invoices_carry_the_payload(self):
        self.company.write({"lifecycle_webhook_allow_http": True, "lifecycle_webhook_allow_private": True})
        field = self.env["ir.model.fields"]._get("lifecycle.event", "event_type")
        subscribed = self.env["ir.model.fields.selection"].search(
            [("field_id", "=", field.id), ("value", "in", ("invoice_overdue", "invoice_paid"))]
        )
        endpoint = self.env["lifecycle.webhook.endpoint"].create(
            {
                "name": "Accounting system",
                "url": "http://127.0.0.1:9/hook",
                "company_id": self.company.id,
                "user_id": self.lc_manager.id,
                "event_type_ids": [Command.set(subscribed.ids)],
            }
        )
        invoice = self._invoice(1000.0)
        self._scan(1)
        self._pay(invoice, 1000.0, day=2)
        deliveries = self.env["lifecycle.webhook.delivery"].search([("endpoint_id", "=", endpoint.id)], order="id")
        self.assertEqual(deliveries.mapped("event_type"), ["invoice_overdue", "invoice_paid"])
        overdue = deliveries[0]._data("full")
        self.assertEqual((overdue["customer"]["id"], overdue["details"]["days_overdue"]), (self.customer.id, 1))
        self.assertEqual(deliveries[1]._data("full")["details"]["amount"], 1000.0)


@tagged("post_install", "-at_install")
class TestInvoicePaid(InvoiceCommon):
    def test_a_paid_invoice_emits_invoice_paid_once(self):
        invoice = self._invoice(800.0)
        self._pay(invoice, 300.0, day=1)
        self.assertFalse(self._events("invoice_paid", invoice), "a partial payment does not pay the invoice")
        self._pay(invoice, 500.0, day=2)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        paid = self._events("invoice_paid", invoice)
        self.assertEqual(len(paid), 1)
        self.assertEqual(
            paid.payload,
            {"amount": 800.0, "currency": invoice.currency_id.name, "payment_state": invoice.payment_state},
        )
        self.assertEqual(paid.partner_id, self.customer)
        # Odoo computes the payment state again: nothing new happened
        self.env.add_to_compute(invoice._fields["payment_state"], invoice)
        invoice.flush_recordset()
        self.assertEqual(len(self._events("invoice_paid", invoice)), 1)

    def test_a_payment_undone_then_another_payment_gives_a_second_event(self):
        invoice = self._invoice(800.0)
        self._pay(invoice, 800.0, day=1)
        invoice.line_ids.remove_move_reconcile()
        self.assertEqual(invoice.payment_state, "not_paid")
        self._pay(invoice, 800.0, day=2)
        self.assertEqual(len(self._events("invoice_paid", invoice)), 2)

    def test_a_credit_note_reversing_the_invoice_is_not_a_payment(self):
        invoice = self._invoice(800.0)
        invoice._reverse_moves(cancel=True)
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertFalse(self._events("invoice_paid", invoice))

    def test_a_workflow_on_invoices_over_500_runs_for_600_and_not_for_400(self):
        workflow = self._workflow(
            "invoice_paid",
            [{"step_type": "discuss", "discuss_channel_id": self.sales.id, "alert_body": "{{ object.name }} paid"}],
            domain="[('amount_total', '>', 500)]",
        )
        big, small = self._invoice(600.0), self._invoice(400.0)
        self._pay(big, 600.0, day=1)
        self._pay(small, 400.0, day=1)
        self.Run._cron_engine(now=_at(1))
        self.assertEqual(workflow.run_ids.event_id.mapped("res_id"), big.ids)
        self.assertEqual(workflow.run_ids.state, "done")
        self.assertIn(f"{big.name} paid", self._channel_posts().body)


@tagged("post_install", "-at_install")
class TestInvoiceRecipes(InvoiceCommon):
    def _day(self, days):
        with freeze_time(_at(days)):
            self._scan(days)
            self.Run._cron_engine(now=_at(days))

    def test_shipped_recipes_are_switched_off(self):
        for xmlid in ("workflow_invoice_overdue_alert", "workflow_signup_credit", "workflow_cancellation"):
            self.assertFalse(self.env.ref(f"subscription_lifecycle.{xmlid}").active, xmlid)

    def test_high_value_overdue_alert_posts_once_at_seven_days_with_the_days_and_the_amounts(self):
        self.env.ref("subscription_lifecycle.workflow_invoice_overdue_alert").with_user(self.lc_manager).active = True
        big, _small = self._invoice(600.0), self._invoice(400.0)
        self._pay(big, 100.0, day=2)
        for day in range(1, 12):
            self._day(day)
        post = self._channel_posts()
        self.assertEqual(len(post), 1, "one alert, for the invoice over 500, at its 7-day threshold")
        self.assertIn(f"{big.name} of Azure Interior is 7 days overdue", post.body)
        self.assertIn("500.00", post.body)
        self.assertIn("600.00", post.body)
        self.assertIn(f"/odoo/account.move/{big.id}", post.body)

    def test_the_preview_lists_the_invoices_over_500_seven_days_overdue_today(self):
        workflow = self.env.ref("subscription_lifecycle.workflow_invoice_overdue_alert")
        late = self._invoice(600.0)
        self._invoice(700.0, due=DUE + timedelta(days=1))
        self._invoice(400.0)
        with freeze_time(_at(7)):
            preview = (
                self.env["lifecycle.workflow.preview"]
                .with_user(self.billing_manager)
                .create({"workflow_id": workflow.id})
            )
            self.assertEqual(preview.invoice_ids, late)
            self.assertFalse(preview.partner_ids)

    def test_a_workflow_can_answer_every_threshold(self):
        workflow = self._workflow(
            "invoice_overdue",
            [{"step_type": "discuss", "discuss_channel_id": self.sales.id, "alert_body": "late"}],
            domain="[('amount_total', '>', 500)]",
        )
        self._invoice(600.0)
        for day in range(1, 31):
            self._day(day)
        self.assertEqual(len(workflow.run_ids), 3)

    def test_cancellation_confirmation_emails_the_customer_in_their_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        template = self.env.ref("subscription_lifecycle.mail_template_cancelled")
        template.with_context(lang="fr_FR").subject = "Votre {{ object.product_id.name }} est résilié"
        self.customer.lang = "fr_FR"
        self.env.ref("subscription_lifecycle.workflow_cancellation").with_user(self.lc_manager).active = True
        deadline = self._deadline()
        deadline.with_user(self.lc_user).action_cancel()
        self.Run._cron_engine(now=_at(0))
        mail = self._mails(deadline)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.subject, "Votre Maintenance contract est résilié")
        self.assertEqual(mail.recipient_ids, self.customer)

    def test_signup_credit_credits_a_new_customer_once_and_the_accounts_agree(self):
        workflow = self.env.ref("subscription_lifecycle.workflow_signup_credit")
        workflow.with_user(self.lc_manager).active = True
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            ._create_user_from_template({"login": "newcomer@example.com", "name": "Nina Newcomer"})
        )
        self.Run._cron_engine(now=_at(0))
        Wallet = self.env["lifecycle.wallet"]
        wallet = Wallet._for_partner(user.partner_id, user.company_id, user.company_id.currency_id, create=False)
        self.assertEqual(wallet.balance, 10.0)
        line = wallet.transaction_ids
        self.assertEqual(
            (line.kind, line.reason, line.workflow_run_id.workflow_id), ("bonus", "Sign-up credit", workflow)
        )
        self.assertEqual(line.move_id.state, "posted")
        self.assertFalse(Wallet._check_accounting(wallet))
        # registered again (portal access granted anew, another signup): no second credit
        self.Event._emit("customer_registered", user.partner_id, company_id=user.company_id.id)
        self.Run._cron_engine(now=_at(0))
        self.assertEqual(wallet.balance, 10.0)
        self.assertIn("already credited", workflow.run_ids.sorted("id")[-1].log_ids[-1].message)
        self.assertFalse(Wallet._check_accounting(wallet))

    def test_a_wallet_credit_step_never_takes_money(self):
        step = self.env.ref("subscription_lifecycle.workflow_signup_credit").step_ids
        self.assertRefused("is not complete", step.with_user(self.lc_manager).write, {"wallet_amount": -10.0})
        self.assertEqual(step.wallet_amount, 10.0)
