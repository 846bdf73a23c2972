"""Issue 9, money: every path that moves a wallet's money keeps the ledger whole."""

from contextlib import closing
from datetime import date, timedelta

from odoo import SUPERUSER_ID, Command, api, http
from odoo.exceptions import UserError
from odoo.service.model import retrying
from odoo.sql_db import db_connect
from odoo.tests import HttpCase, JsonRpcException, new_test_user, tagged
from odoo.tools import format_amount, mute_logger

from odoo.addons.payment import utils as payment_utils

from .test_wallet import WalletCommon


class MoneyCommon(WalletCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accountant = new_test_user(cls.env, login="money_accountant", groups="account.group_account_invoice")
        cls.salesman = new_test_user(cls.env, login="money_salesman", groups="sales_team.group_sale_salesman_all_leads")

    def assertLedgerWhole(self, *wallets):
        for wallet in wallets:
            self.assertFalse(wallet._check_ledger(), f"{wallet.display_name}: balance != sum of its lines")

    def _kinds(self, wallet):
        return wallet.transaction_ids.sorted("id").mapped(lambda line: (line.kind, line.amount))


@tagged("post_install", "-at_install")
class TestMoneyPayWithBalance(MoneyCommon):
    def setUp(self):
        super().setUp()
        self.deadline = self._deadline(expiry=date.today() + timedelta(days=10))
        self.order = self.deadline._portal_renewal_order()
        self.wallet = self._wallet()
        self._deposit(self.wallet, self.order.amount_total + 10.0, "TOPUP-PAY")

    def _order_transaction(self, reference):
        """A payment of the order the customer started at the provider (draft: they are at their bank)."""
        return self.env["payment.transaction"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.provider.payment_method_ids[:1].id,
                "reference": reference,
                "amount": self.order.amount_total,
                "currency_id": self.order.currency_id.id,
                "partner_id": self.customer.id,
                "operation": "online_redirect",
                "sale_order_ids": [Command.set(self.order.ids)],
            }
        )

    def test_paying_with_balance_is_refused_while_a_card_payment_is_under_way(self):
        transfer = self._order_transaction("ORDER-TRANSFER")
        transfer._set_pending()
        self.assertRefused("already under way", self.order._lifecycle_pay_with_wallet)
        transfer._set_authorized()
        self.assertRefused("already under way", self.order._lifecycle_pay_with_wallet)
        self.assertEqual((self.order.state, self.wallet.balance), ("draft", self.order.amount_total + 10.0))
        transfer._set_canceled()
        self.order._lifecycle_pay_with_wallet()
        self.assertEqual((self.order.state, self.wallet.balance), ("sale", 10.0))
        self.assertLedgerWhole(self.wallet)

    def test_cancelling_an_order_paid_from_the_balance_gives_the_money_back_once(self):
        total = self.order.amount_total
        self.order._lifecycle_pay_with_wallet()
        self.assertEqual(self.wallet.balance, 10.0)
        order = self.order.with_user(self.salesman)
        order.action_cancel()
        self.assertEqual(self.wallet.balance, total + 10.0)
        refund = self.wallet.transaction_ids.sorted("id")[-1]
        self.assertEqual((refund.kind, refund.amount, refund.sale_order_id), ("refund", total, self.order))
        order.action_cancel()  # cancelling again gives nothing more
        self.assertEqual(self.wallet.balance, total + 10.0)
        # set to quotation and paid again: debited once more, renewed once in all
        order.action_draft()
        self.order._lifecycle_pay_with_wallet()
        self.assertEqual(self.wallet.balance, 10.0)
        self.assertEqual(
            self._kinds(self.wallet),
            [("deposit", total + 10.0), ("payment", -total), ("refund", total), ("payment", -total)],
        )
        self.assertEqual(len(self.deadline.renewal_ids), 1)
        self.assertLedgerWhole(self.wallet)

    def test_an_order_is_never_paid_twice_from_the_balance(self):
        self._deposit(self.wallet, self.order.amount_total, "TOPUP-TWICE")
        self.order._lifecycle_pay_with_wallet()
        balance = self.wallet.balance
        # cancelled without giving the money back (before this version)
        self.order.write({"state": "cancel"})
        self.order.action_draft()
        self.assertRefused("already paid from the balance", self.order._lifecycle_pay_with_wallet)
        self.assertEqual((self.order.state, self.wallet.balance), ("draft", balance))
        self.assertLedgerWhole(self.wallet)

    def test_a_card_payment_that_lands_after_paying_from_the_balance_goes_to_the_balance(self):
        total = self.order.amount_total
        card = self._order_transaction("ORDER-CARD")  # the customer is at their bank...
        self.order._lifecycle_pay_with_wallet()  # ...and pays from their balance meanwhile
        self.assertEqual((self.order.state, self.wallet.balance), ("sale", 10.0))
        for _notification in range(2):
            card.action_demo_set_done()
            card._post_process()
        self.assertEqual(card.state, "done")
        self.assertEqual(self.wallet.balance, total + 10.0, "the second payment of the order is the customer's")
        line = self.wallet.transaction_ids.sorted("id")[-1]
        self.assertEqual((line.kind, line.amount, line.payment_transaction_id), ("deposit", total, card))
        self.assertIn(self.order.name, line.reason)
        said = self.order.message_ids.filtered(lambda message: "it was added to the" in str(message.body))
        self.assertEqual(len(said), 1, "the order's chatter says it, once")
        self.assertEqual(len(self.deadline.renewal_ids), 1, "renewed once")
        self.assertLedgerWhole(self.wallet)

    def test_a_card_payment_captured_in_parts_after_paying_from_the_balance_goes_to_the_balance(self):
        total = self.order.amount_total
        self.provider.capture_manually = True
        card = self._order_transaction("ORDER-CAPTURE")
        self.order._lifecycle_pay_with_wallet()
        card.action_demo_set_done()  # authorized: nothing is taken yet
        card._post_process()
        self.assertEqual(self.wallet.balance, 10.0)
        self.env["payment.capture.wizard"].with_user(self.accountant).with_context(
            active_model="payment.transaction", active_ids=card.ids
        ).create({"amount_to_capture": 60.0, "void_remaining_amount": True}).action_capture()
        (card | card.child_transaction_ids)._post_process()
        self.assertEqual(card.state, "done")
        captured = card.child_transaction_ids.filtered(lambda tx: tx.state == "done")
        self.assertEqual(self._kinds(self.wallet)[-2:], [("payment", -total), ("deposit", 60.0)])
        self.assertEqual(self.wallet.transaction_ids.sorted("id")[-1].payment_transaction_id, captured)
        self.assertEqual(self.wallet.balance, 70.0)
        self.assertLedgerWhole(self.wallet)


@tagged("post_install", "-at_install")
class TestMoneyConcurrentPayment(MoneyCommon):
    def test_a_failed_confirmation_leaves_the_balance_untouched(self):
        """The deadline is being renewed elsewhere: the payment fails whole and Odoo replays it, debiting once."""
        # committed data, so that a second connection can lock the deadline
        dbname = self.env.cr.dbname
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partner = env["res.partner"].create({"name": "Concurrent renewer", "is_company": True})
            product = env["product.product"].create(
                {"name": "Concurrent licence", "type": "service", "list_price": 50.0, "lifecycle_is_deadline": True}
            )
            deadline = env["lifecycle.deadline"].create(
                {
                    "partner_id": partner.id,
                    "product_id": product.id,
                    "amount": 50.0,
                    "date_start": date.today() - timedelta(days=300),
                    "date_expiry": date.today() + timedelta(days=10),
                }
            )
            deadline.action_activate()
            company = env["res.company"].browse(self.company.id)
            wallet = env["lifecycle.wallet"]._for_partner(partner, company, company.currency_id)
            wallet._post("adjustment", 100.0, reason="Opening balance")
            order = deadline._portal_renewal_order()
            ids = {"partner": partner.id, "product": product.id, "deadline": deadline.id}
            ids.update(wallet=wallet.id, order=order.id)
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_committed, dbname, ids)

        with (
            closing(db_connect(dbname).cursor()) as cr_other,
            closing(db_connect(dbname).cursor()) as cr,
            mute_logger("odoo.sql_db", "odoo.service.model"),
        ):
            # someone else is renewing the deadline right now
            cr_other.execute("SELECT id FROM lifecycle_deadline WHERE id = %s FOR NO KEY UPDATE", [ids["deadline"]])
            env = api.Environment(cr, SUPERUSER_ID, {})
            attempts = []

            def pay():
                attempts.append(env["lifecycle.wallet"].browse(ids["wallet"]).balance)
                if len(attempts) == 2:
                    cr_other.rollback()  # the other renewal is over by the time the call is replayed
                env["sale.order"].browse(ids["order"])._lifecycle_pay_with_wallet()

            # what Odoo's request and RPC layer does with a call: replay it on a lock conflict
            retrying(pay, env)
            self.assertEqual(attempts, [100.0, 100.0], "the first attempt was undone whole, then replayed")
            cr.commit()  # pylint: disable=invalid-commit
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            wallet = env["lifecycle.wallet"].browse(ids["wallet"])
            order = env["sale.order"].browse(ids["order"])
            self.assertEqual(order.state, "sale")
            self.assertEqual(wallet.balance, 100.0 - order.amount_total)
            self.assertEqual(len(wallet.transaction_ids), 2, "one debit, not one per attempt")
            self.assertFalse(wallet._check_ledger())

    def test_a_debit_made_while_a_provider_refund_is_processed_leaves_the_wallet_whole(self):
        """The customer spends while their top-up is refunded at the provider: the refund takes what is left."""
        dbname = self.env.cr.dbname
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partner = env["res.partner"].create({"name": "Concurrent refunder", "is_company": True})
            company = env["res.company"].browse(self.company.id)
            wallet = env["lifecycle.wallet"]._for_partner(partner, company, company.currency_id)
            top_up = env["payment.transaction"].create(
                {
                    "provider_id": self.provider.id,
                    "payment_method_id": self.provider.payment_method_ids[:1].id,
                    "reference": "CONCURRENT-REFUND",
                    "amount": 80.0,
                    "currency_id": wallet.currency_id.id,
                    "partner_id": partner.id,
                    "operation": "online_direct",
                    "lifecycle_wallet_id": wallet.id,
                    "state": "done",
                }
            )
            wallet._post("deposit", 80.0, payment_transaction_id=top_up.id, reason=top_up.reference)
            refund = top_up._create_child_transaction(80.0, is_refund=True, state="done")
            ids = {"partner": partner.id, "wallet": wallet.id, "top_up": top_up.id, "refund": refund.id}
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_committed_refund, dbname, ids)

        with (
            closing(db_connect(dbname).cursor()) as cr_other,
            closing(db_connect(dbname).cursor()) as cr,
            mute_logger("odoo.sql_db", "odoo.service.model"),
        ):
            env, env_other = api.Environment(cr, SUPERUSER_ID, {}), api.Environment(cr_other, SUPERUSER_ID, {})
            attempts = []

            def withdraw():
                attempts.append(env["lifecycle.wallet"].browse(ids["wallet"]).balance)
                if len(attempts) == 1:
                    # the customer spends 50 after the refund's transaction started, before it reaches the wallet
                    env_other["lifecycle.wallet"].browse(ids["wallet"])._post("payment", -50.0, reason="Meanwhile")
                    cr_other.commit()  # pylint: disable=invalid-commit
                env["payment.transaction"].browse(ids["refund"])._lifecycle_withdraw_refund()

            # what Odoo's request layer and the post-processing cron do with a call: replay it on a conflict
            retrying(withdraw, env)
            self.assertEqual(attempts, [80.0, 30.0], "the first attempt saw the balance before the debit")
            cr.commit()  # pylint: disable=invalid-commit
        with closing(db_connect(dbname).cursor()) as cr:
            wallet = api.Environment(cr, SUPERUSER_ID, {})["lifecycle.wallet"].browse(ids["wallet"])
            self.assertEqual(wallet.balance, 0.0)
            self.assertEqual(self._kinds(wallet), [("deposit", 80.0), ("payment", -50.0), ("withdrawal", -30.0)])
            self.assertFalse(wallet._check_ledger())

    @staticmethod
    def _drop_committed_refund(dbname, ids):
        with closing(db_connect(dbname).cursor()) as cr:
            cr.execute("DELETE FROM lifecycle_wallet_transaction WHERE wallet_id = %s", [ids["wallet"]])
            cr.execute("DELETE FROM payment_transaction WHERE id IN %s", [(ids["refund"], ids["top_up"])])
            cr.execute("DELETE FROM lifecycle_wallet WHERE id = %s", [ids["wallet"]])
            api.Environment(cr, SUPERUSER_ID, {})["res.partner"].browse(ids["partner"]).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    @staticmethod
    def _drop_committed(dbname, ids):
        with closing(db_connect(dbname).cursor()) as cr:
            cr.execute("DELETE FROM lifecycle_wallet_transaction WHERE wallet_id = %s", [ids["wallet"]])
            cr.execute("DELETE FROM lifecycle_wallet WHERE id = %s", [ids["wallet"]])
            cr.execute("DELETE FROM lifecycle_deadline_renewal WHERE deadline_id = %s", [ids["deadline"]])
            # the invoice that paying from the balance posts (issue 14)
            cr.execute("DELETE FROM account_move WHERE partner_id = %s", [ids["partner"]])
            cr.execute("DELETE FROM sale_order WHERE id = %s", [ids["order"]])
            cr.execute("DELETE FROM lifecycle_event WHERE deadline_id = %s", [ids["deadline"]])
            cr.execute("DELETE FROM lifecycle_deadline WHERE id = %s", [ids["deadline"]])
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["product.product"].browse(ids["product"]).product_tmpl_id.unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            cr.commit()  # pylint: disable=invalid-commit


@tagged("post_install", "-at_install")
class TestMoneyTopUpRefunds(MoneyCommon):
    def setUp(self):
        super().setUp()
        self.wallet = self._wallet()
        self.top_up = self._deposit(self.wallet, 80.0, "TOPUP-REFUND")

    def _refund_as_accountant(self, amount):
        self.top_up.with_user(self.accountant).action_refund(amount_to_refund=amount)
        return self.top_up.child_transaction_ids.sorted("id")[-1]

    def test_a_refund_made_at_the_provider_takes_the_money_out_when_done(self):
        # what Stripe's charge.refunded does: the provider creates the refund itself
        refund = self.top_up.sudo()._create_child_transaction(30.0, is_refund=True)
        self.assertEqual(self.wallet.balance, 80.0, "nothing leaves before the refund is done")
        for _notification in range(2):
            refund._set_done()
            refund._post_process()
        self.assertEqual(self.wallet.balance, 50.0)
        line = self.wallet.transaction_ids.sorted("id")[-1]
        self.assertEqual((line.kind, line.amount, line.payment_transaction_id), ("withdrawal", -30.0, refund))
        self.assertLedgerWhole(self.wallet)

    def test_a_refund_that_fails_or_is_cancelled_takes_nothing(self):
        # with manual capture, the demo provider leaves refunds under way, as a bank does
        self.provider.capture_manually = True
        declined = self._refund_as_accountant(50.0)
        self.assertEqual((declined.state, self.wallet.balance), ("authorized", 80.0))
        # what a refund under way will take out can be neither spent nor refunded again
        self.assertRefused("does not cover", self.wallet._post, "payment", -40.0, reason="Spent")
        with self.assertRaisesRegex(UserError, "does not cover"):
            self._refund_as_accountant(40.0)
        declined._set_error("Declined by the bank")
        declined._post_process()
        cancelled = self._refund_as_accountant(30.0)
        cancelled._set_canceled()
        cancelled._post_process()
        self.assertEqual((self.wallet.balance, self._kinds(self.wallet)), (80.0, [("deposit", 80.0)]))
        settled = self._refund_as_accountant(80.0)
        settled._set_done()
        settled._post_process()
        self.assertEqual(self._kinds(self.wallet), [("deposit", 80.0), ("withdrawal", -80.0)])
        self.assertLedgerWhole(self.wallet)

    def test_a_refund_larger_than_what_is_left_is_refused_before_anything_is_sent(self):
        self.wallet._post("payment", -50.0, reason="Spent")
        with self.assertRaisesRegex(UserError, "does not cover"):
            self._refund_as_accountant(40.0)
        self.assertFalse(self.top_up.child_transaction_ids, "no refund asked of the provider")
        refund = self._refund_as_accountant(30.0)
        refund._post_process()
        self.assertEqual((refund.state, self.wallet.balance), ("done", 0.0))
        self.assertLedgerWhole(self.wallet)

    def test_a_provider_refund_of_money_already_spent_takes_what_is_left_and_says_so(self):
        self.wallet._post("payment", -50.0, reason="Spent")
        refund = self.top_up.sudo()._create_child_transaction(80.0, is_refund=True)
        refund._set_done()
        refund._post_process()
        refund._post_process()
        self.assertEqual(self.wallet.balance, 0.0)
        self.assertEqual(self._kinds(self.wallet), [("deposit", 80.0), ("payment", -50.0), ("withdrawal", -30.0)])
        self.assertIn("already been spent", str(self.customer.message_ids[:1].body))
        self.assertLedgerWhole(self.wallet)


@tagged("post_install", "-at_install")
class TestMoneyManualCapture(MoneyCommon):
    def setUp(self):
        super().setUp()
        self.provider.capture_manually = True
        self.wallet = self._wallet()
        self.top_up = self._top_up_transaction(self.wallet, 100.0, "TOPUP-CAPTURE")
        self.top_up._set_authorized()
        self.top_up._post_process()

    def _capture(self, amount, void_rest=False):
        wizard = (
            self.env["payment.capture.wizard"]
            .with_user(self.accountant)
            .with_context(active_model="payment.transaction", active_ids=self.top_up.ids)
            .create({"amount_to_capture": amount, "void_remaining_amount": void_rest})
        )
        wizard.action_capture()
        (self.top_up | self.top_up.child_transaction_ids)._post_process()

    def test_an_authorization_alone_credits_nothing(self):
        self.assertEqual((self.top_up.state, self.wallet.balance), ("authorized", 0.0))
        self.assertLedgerWhole(self.wallet)

    def test_capturing_part_and_voiding_the_rest_credits_what_was_captured(self):
        self._capture(60.0, void_rest=True)
        self.assertEqual(self.top_up.state, "done")
        self.assertEqual(self.wallet.balance, 60.0)
        captured = self.top_up.child_transaction_ids.filtered(lambda tx: tx.state == "done")
        self.assertEqual(self.wallet.transaction_ids.payment_transaction_id, captured)
        self.assertLedgerWhole(self.wallet)

    def test_a_capture_without_void_credits_what_was_captured(self):
        self._capture(60.0)
        self.assertEqual((self.top_up.state, self.wallet.balance), ("authorized", 60.0))
        self._capture(40.0)
        self.assertEqual((self.top_up.state, self.wallet.balance), ("done", 100.0))
        self.assertEqual(self._kinds(self.wallet), [("deposit", 60.0), ("deposit", 40.0)])
        self.assertLedgerWhole(self.wallet)


@tagged("post_install", "-at_install")
class TestMoneyEvents(MoneyCommon):
    def _events(self, event_type):
        return self.env["lifecycle.event"].search(
            [("event_type", "=", event_type), ("partner_id", "=", self.customer.id)]
        )

    def test_refunds_and_card_checks_are_not_payments_received(self):
        wallet = self._wallet()
        top_up = self._deposit(wallet, 50.0, "TOPUP-EVENT")
        self.assertEqual(self._events("payment_received").payload["amount"], 50.0)
        check = self._top_up_transaction(wallet, 1.0, "CARD-CHECK")
        check.operation = "validation"
        check._set_done()
        refund = top_up.sudo()._create_child_transaction(20.0, is_refund=True)
        refund._set_done()
        refund._post_process()
        top_up.sudo()._create_child_transaction(5.0, is_refund=True)._set_error("Declined")
        self.assertEqual(len(self._events("payment_received")), 1, "the top-up only")
        self.assertFalse(self._events("payment_failed"), "a declined refund is no failed payment")
        refunded = self._events("payment_refunded")
        self.assertEqual((refunded.payload["reference"], refunded.payload["amount"]), (refund.reference, 20.0))
        self.assertEqual(wallet.balance, 30.0)
        self.assertLedgerWhole(wallet)


@tagged("post_install", "-at_install")
class TestMoneyPortal(MoneyCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(cls.env, login="money_portal", groups="base.group_portal")
        cls.portal_user.partner_id.parent_id = cls.customer

    def _wallets(self, partner):
        return self.Wallet.search([("partner_id", "=", partner.commercial_partner_id.id)])

    def test_infinite_top_up_amounts_are_a_bad_request(self):
        self.authenticate("money_portal", "money_portal")
        for amount in ("inf", "-inf", "infinity", "-Infinity", "1e999"):
            with self.subTest(amount=amount):
                response = self.url_open(f"/my/wallet/add?amount={amount}")
                self.assertEqual(response.status_code, 400)
                self.assertIn("as a number", response.text)
        self.assertFalse(self._wallets(self.customer))

    def test_showing_the_top_up_form_opens_no_wallet_paying_does(self):
        self.authenticate("money_portal", "money_portal")
        self.assertEqual(self.url_open("/my/wallet/add?amount=25").status_code, 200)
        self.assertFalse(self._wallets(self.customer))
        payer = self.portal_user.partner_id
        params = {
            "amount": 25.0,
            "provider_id": self.provider.id,
            "payment_method_id": self.provider.payment_method_ids[:1].id,
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": "/my/wallet",
        }
        with self.assertRaisesRegex(JsonRpcException, "Forbidden"):
            self.make_jsonrpc_request("/my/wallet/transaction", {**params, "access_token": "wrong"})
        self.assertFalse(self._wallets(self.customer))
        access_token = payment_utils.generate_access_token(payer.id, 25.0, self.currency.id, env=self.env)
        self.make_jsonrpc_request("/my/wallet/transaction", {**params, "access_token": access_token})
        wallet = self._wallets(self.customer)
        self.assertEqual(len(wallet), 1)
        transaction = self.env["payment.transaction"].search([("lifecycle_wallet_id", "=", wallet.id)])
        self.assertEqual((transaction.amount, transaction.partner_id, transaction.state), (25.0, payer, "draft"))
        self.assertLedgerWhole(wallet)

    def test_an_employee_sees_their_own_wallet(self):
        self._wallet(self.employee.partner_id)._post("bonus", 7.5, reason="Staff perk")
        self._wallet()._post("bonus", 99.0, reason="Customer money")
        self.authenticate("lc_employee", "lc_employee")
        page = self.url_open("/my/wallet")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Staff perk", page.text)
        self.assertIn("7.50", page.text)
        self.assertNotIn("Customer money", page.text)
        self.assertLedgerWhole(self._wallet(self.employee.partner_id), self._wallet())

    def test_a_confirmation_refused_in_the_portal_leaves_the_balance_untouched(self):
        deadline = self._deadline(expiry=date.today() + timedelta(days=10))
        order = deadline._portal_renewal_order()
        wallet = self._wallet()
        self._deposit(wallet, order.amount_total + 10.0, "TOPUP-PORTAL")
        balance = wallet.balance
        # a product whose renewal duration was lost (an import bypasses the form's check):
        # confirming the order refuses to renew the deadline, after the debit
        self.env.cr.execute(
            "UPDATE product_template SET lifecycle_duration = 0 WHERE id = %s", [self.yearly.product_tmpl_id.id]
        )
        self.env.invalidate_all()
        self.authenticate("money_portal", "money_portal")
        data = {"csrf_token": http.Request.csrf_token(self), "access_token": order._portal_ensure_token()}
        for _attempt in range(2):  # the page is rendered and the request commits; retrying debits nothing either
            response = self.url_open(f"/my/orders/{order.id}/pay_with_wallet", data=data, allow_redirects=False)
            self.assertEqual(response.status_code, 400)
            self.assertIn("has no renewal duration", response.text)
        self.env.invalidate_all()
        self.assertEqual(wallet.balance, balance)
        self.assertFalse(wallet.transaction_ids.filtered(lambda line: line.kind == "payment"))
        self.assertEqual((order.state, len(deadline.renewal_ids)), ("draft", 0))
        self.assertLedgerWhole(wallet)

    def test_renewing_from_the_portal_never_opens_another_quotation(self):
        deadline = self._deadline(expiry=date.today() + timedelta(days=10))
        colleague = self.env["res.partner"].create({"name": "Bob Buyer", "parent_id": self.customer.id})
        quotation = self.env["sale.order"].create(
            {
                "partner_id": colleague.id,
                "order_line": [
                    Command.create({"product_id": self.yearly.id, "lifecycle_renewed_deadline_id": deadline.id}),
                    Command.create({"product_id": self.monthly.id, "product_uom_qty": 12}),
                ],
            }
        )
        token = deadline._portal_ensure_token()
        self.authenticate(None, None)  # the link of a reminder email

        def renew():
            data = {"csrf_token": http.Request.csrf_token(self), "access_token": token}
            response = self.url_open(f"/my/deadlines/{deadline.id}/renew", data=data, allow_redirects=False)
            self.assertEqual(response.status_code, 303)
            return response.headers["Location"]

        location = renew()
        self.assertNotIn(f"/my/orders/{quotation.id}?", location)
        self.assertNotIn(quotation._portal_ensure_token(), location)
        portal_order = self.env["sale.order"].search([("lifecycle_portal_renewal_deadline_id", "=", deadline.id)])
        self.assertEqual(len(portal_order), 1)
        self.assertIn(f"/my/orders/{portal_order.id}?", location)
        self.assertEqual((portal_order.partner_id, len(portal_order.order_line)), (self.customer, 1))
        self.assertEqual(renew(), location, "pressed again: the same quotation")
        # once a salesperson adds to it, it is theirs
        portal_order.order_line = [Command.create({"product_id": self.monthly.id})]
        self.assertNotIn(f"/my/orders/{portal_order.id}?", renew())
        self.assertEqual(self.env["sale.order"].search_count([("partner_id", "=", colleague.id)]), 1)


@tagged("post_install", "-at_install")
class TestMoneyRenewalPrice(MoneyCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(cls.env, login="price_portal", groups="base.group_portal")
        cls.portal_user.partner_id.parent_id = cls.customer
        cls.vat = cls.env["account.tax"].create(
            {"name": "VAT 21%", "amount": 21.0, "amount_type": "percent", "type_tax_use": "sale"}
        )
        cls.yearly.taxes_id = [Command.set(cls.vat.ids)]
        # pricelists switched on (Sales settings), the customer's own one
        cls.env.ref("base.group_user").implied_ids = [Command.link(cls.env.ref("product.group_product_pricelist").id)]
        cls.customer.specific_property_product_pricelist = cls.env["product.pricelist"].create(
            {
                "name": "Loyal customers",
                "currency_id": cls.currency.id,
                "item_ids": [
                    Command.create(
                        {
                            "applied_on": "0_product_variant",
                            "product_id": cls.yearly.id,
                            "compute_price": "fixed",
                            "fixed_price": 1000.0,
                        }
                    )
                ],
            }
        )

    def test_reminders_and_the_wallet_quote_the_renewal_with_tax(self):
        deadline = self._deadline(expiry=date.today() + timedelta(days=14))  # amount 1200, untaxed list price
        # 1000 at their pricelist, plus 21%
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_14")
        body = template._render_field("body_html", deadline.ids)[deadline.id]
        self.assertIn(format_amount(self.env, 1210.0, self.currency), body)
        self.authenticate("price_portal", "price_portal")
        page = self.url_open("/my/wallet")
        self.assertIn("/my/wallet/add?amount=1210.0", page.text)
        self.assertIn("1,210.00", page.text)
        self.assertEqual(deadline._renewal_price(), (1210.0, self.currency))
        self.assertEqual(deadline._portal_renewal_order().amount_total, 1210.0, "what the renewal order asks")
        # a customer abroad: their fiscal position takes the VAT off
        export = self.env["account.fiscal.position"].create({"name": "Export"})
        self.env["account.tax"].create(
            {
                "name": "Export 0%",
                "amount": 0.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "fiscal_position_ids": [Command.set(export.ids)],
                "original_tax_ids": [Command.set(self.vat.ids)],
            }
        )
        overseas = self.env["res.partner"].create(
            {
                "name": "Overseas Ltd",
                "is_company": True,
                "property_account_position_id": export.id,
                "specific_property_product_pricelist": self.customer.specific_property_product_pricelist.id,
            }
        )
        self.assertEqual(self._deadline(partner_id=overseas.id)._renewal_price(), (1000.0, self.currency))
