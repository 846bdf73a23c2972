import threading
from contextlib import closing
from datetime import date, timedelta

from psycopg2.errors import SerializationFailure

from odoo import SUPERUSER_ID, Command, api, http
from odoo.exceptions import AccessError, UserError
from odoo.sql_db import db_connect
from odoo.tests import HttpCase, JsonRpcException, new_test_user, tagged
from odoo.tools import mute_logger

from ..lib.duration import add_duration
from .common import LifecycleCommon


class WalletCommon(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.currency = cls.company.currency_id
        cls.Wallet = cls.env["lifecycle.wallet"]
        cls.provider = cls.env.ref("payment.payment_provider_demo")

    def _wallet(self, partner=None):
        return self.Wallet._for_partner(partner or self.customer, self.company, self.currency)

    def _top_up_transaction(self, wallet, amount, reference):
        return self.env["payment.transaction"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.provider.payment_method_ids[:1].id,
                "reference": reference,
                "amount": amount,
                "currency_id": wallet.currency_id.id,
                "partner_id": wallet.partner_id.id,
                "operation": "online_direct",
                "lifecycle_wallet_id": wallet.id,
            }
        )

    def _deposit(self, wallet, amount, reference="TOPUP"):
        transaction = self._top_up_transaction(wallet, amount, reference)
        transaction._set_done()
        transaction._post_process()
        return transaction


@tagged("post_install", "-at_install")
class TestWalletLedger(WalletCommon):
    def test_a_deposit_credits_once_however_often_it_is_post_processed(self):
        wallet = self._wallet()
        transaction = self._top_up_transaction(wallet, 150.0, "TOPUP-TWICE")
        for _notification in range(3):
            transaction._set_done()
            transaction._post_process()
        self.assertEqual(wallet.balance, 150.0)
        self.assertEqual(len(wallet.transaction_ids), 1)
        line = wallet.transaction_ids
        self.assertEqual((line.kind, line.amount, line.payment_transaction_id), ("deposit", 150.0, transaction))
        self.assertRefused("already credited", wallet._post, "deposit", 150.0, payment_transaction_id=transaction.id)
        self.assertEqual(wallet.balance, 150.0)

    def test_balance_is_the_sum_of_the_ledger(self):
        wallet = self._wallet()
        self._deposit(wallet, 100.0, "TOPUP-A")
        wallet._post("bonus", 20.0, reason="Welcome")
        wallet._post("payment", -55.5, reason="S00001")
        wallet._post("adjustment", -4.5, reason="Typo")
        self.assertEqual(wallet.balance, 60.0)
        self.assertEqual(wallet.transaction_ids.sorted("id")[-1].balance_after, 60.0)
        self.assertFalse(wallet._check_ledger())

    def test_the_ledger_is_append_only_and_never_negative(self):
        wallet = self._wallet()
        self._deposit(wallet, 10.0, "TOPUP-B")
        line = wallet.transaction_ids
        self.assertRefused("cannot be changed", line.write, {"amount": 1000})
        self.assertRefused("cannot be deleted", line.unlink)
        self.assertRefused("only changes through its ledger", wallet.write, {"balance": 1000})
        self.assertRefused("does not cover", wallet._post, "payment", -10.01)
        self.assertRefused("needs an amount", wallet._post, "bonus", 0.0)
        self.assertRefused("cannot have that sign", wallet._post, "deposit", -5.0)
        self.assertRefused(
            "cannot go below zero", wallet.with_context(lifecycle_wallet_posting=True).write, {"balance": -1}
        )
        self.assertEqual((wallet.balance, len(wallet.transaction_ids)), (10.0, 1))

    def test_one_wallet_per_customer_company_and_currency(self):
        contact = self.env["res.partner"].create({"name": "Ann", "parent_id": self.customer.id})
        self.assertEqual(self._wallet(contact), self._wallet(), "a contact shares its company's wallet")
        self.assertFalse(self.Wallet._for_partner(self.customer, self.other_company, self.currency, create=False))


@tagged("post_install", "-at_install")
class TestPayWithBalance(WalletCommon):
    def setUp(self):
        super().setUp()
        self.deadline = self._deadline(expiry=date.today() + timedelta(days=10), quantity=2)
        self.order = self.deadline._portal_renewal_order()
        self.wallet = self._wallet()

    def test_paying_from_balance_renews_and_debits_the_order_total(self):
        self._deposit(self.wallet, self.order.amount_total + 25.0, "TOPUP-C")
        expiry = self.deadline.date_expiry
        line = self.order._lifecycle_pay_with_wallet()
        self.assertEqual(self.order.state, "sale")
        self.assertEqual(self.deadline.date_expiry, add_duration(expiry, 1, "year"))
        self.assertEqual(self.deadline.renewal_ids.sale_order_id, self.order)
        self.assertEqual(line.amount, -self.order.amount_total)
        self.assertEqual(self.wallet.balance, 25.0)
        self.assertRefused("nothing left to pay", self.order._lifecycle_pay_with_wallet)
        self.assertEqual(self.wallet.balance, 25.0)

    def test_an_insufficient_balance_is_refused_and_changes_nothing(self):
        self._deposit(self.wallet, 10.0, "TOPUP-D")
        expiry = self.deadline.date_expiry
        self.assertRefused("is missing", self.order._lifecycle_pay_with_wallet)
        self.assertEqual((self.order.state, self.deadline.date_expiry), ("draft", expiry))
        self.assertEqual((self.wallet.balance, len(self.wallet.transaction_ids)), (10.0, 1))

    def test_users_cannot_correct_wallets_managers_can(self):
        adjust = self.env["lifecycle.wallet.adjust"]
        values = {"partner_id": self.customer.id, "amount": 30.0, "reason": "Goodwill: outage of 3 May"}
        with self.assertRaises(AccessError):
            adjust.with_user(self.lc_user).create(values)
        wizard = adjust.with_user(self.lc_manager).create(values)
        wizard.action_confirm()
        self.assertEqual(self.wallet.balance, 30.0)
        self.assertEqual(self.wallet.transaction_ids.user_id, self.lc_manager)
        self.assertRefused(
            "positive amount", adjust.with_user(self.lc_manager).create({**values, "amount": -5}).action_confirm
        )
        debit = adjust.with_user(self.lc_manager).create({**values, "direction": "debit", "amount": 31})
        self.assertRefused("does not cover", debit.action_confirm)
        self.assertEqual(self.wallet.balance, 30.0)

    def test_a_workflow_step_credits_a_welcome_bonus(self):
        workflow = self.env["lifecycle.workflow"].create(
            {
                "name": "Welcome credit",
                "event_type": "customer_registered",
                "step_ids": [
                    Command.create({"step_type": "wallet_credit", "wallet_amount": 5.0, "wallet_reason": "Welcome!"})
                ],
            }
        )
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            ._create_user_from_template(
                {"login": "fresh@example.com", "name": "Fresh Customer", "email": "fresh@example.com"}
            )
        )
        self.env["lifecycle.workflow.run"]._cron_engine()
        wallet = self.Wallet._for_partner(user.partner_id, self.company, self.currency, create=False)
        self.assertEqual(wallet.balance, 5.0)
        self.assertEqual(wallet.transaction_ids.kind, "bonus")
        self.assertEqual(workflow.run_ids.state, "done")


@tagged("post_install", "-at_install")
class TestConcurrentDebits(WalletCommon):
    def test_two_debits_that_together_exceed_the_balance(self):
        # two real connections, so the data is committed and removed afterwards
        dbname = self.env.cr.dbname
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partner = env["res.partner"].create({"name": "Concurrent wallet owner"})
            company = env["res.company"].browse(self.company.id)
            wallet = env["lifecycle.wallet"]._for_partner(partner, company, company.currency_id)
            wallet._post("adjustment", 100.0, reason="Opening balance")
            wallet_id, partner_id = wallet.id, partner.id
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_committed, dbname, wallet_id, partner_id)

        outcome = {}
        # The environment is made here: the test runner holds the registry lock.
        cr_b = db_connect(dbname).cursor()
        self.addCleanup(cr_b.close)
        env_b = api.Environment(cr_b, SUPERUSER_ID, {})

        def second_debit():
            wallet_b = env_b["lifecycle.wallet"].browse(wallet_id)
            for _attempt in range(3):
                try:
                    wallet_b._post("payment", -60.0, reason="B")
                    cr_b.commit()  # pylint: disable=invalid-commit
                    outcome["b"] = "paid"
                    return
                except SerializationFailure:
                    # Odoo's request layer (odoo.service.model.retrying) rolls
                    # back and replays the call; it cannot run in a thread under
                    # the test runner, which holds the registry lock.
                    outcome["serialization_failures"] = outcome.get("serialization_failures", 0) + 1
                    cr_b.rollback()
                    env_b.invalidate_all(flush=False)
                except UserError as error:
                    cr_b.rollback()
                    outcome["b"] = error.args[0]
                    return

        # the waiting debit meets a serialization failure, which PostgreSQL logs
        with closing(db_connect(dbname).cursor()) as cr_a, mute_logger("odoo.sql_db"):
            wallet_a = api.Environment(cr_a, SUPERUSER_ID, {})["lifecycle.wallet"].browse(wallet_id)
            wallet_a._post("payment", -70.0, reason="A")  # holds the wallet's row lock
            thread = threading.Thread(target=second_debit)
            thread.start()
            thread.join(timeout=2)
            self.assertTrue(thread.is_alive(), "the second debit waits for the first one")
            cr_a.commit()  # pylint: disable=invalid-commit
            thread.join(timeout=30)
        self.assertFalse(thread.is_alive())
        self.assertIn("is missing", outcome["b"])
        with closing(db_connect(dbname).cursor()) as cr:
            cr.execute("SELECT balance FROM lifecycle_wallet WHERE id = %s", [wallet_id])
            self.assertEqual(cr.fetchone()[0], 30.0)
            cr.execute(
                "SELECT COUNT(*), SUM(amount) FROM lifecycle_wallet_transaction WHERE wallet_id = %s", [wallet_id]
            )
            self.assertEqual(cr.fetchone(), (2, 30.0))

    @staticmethod
    def _drop_committed(dbname, wallet_id, partner_id):
        with closing(db_connect(dbname).cursor()) as cr:
            cr.execute("DELETE FROM lifecycle_wallet_transaction WHERE wallet_id = %s", [wallet_id])
            cr.execute("DELETE FROM lifecycle_wallet WHERE id = %s", [wallet_id])
            api.Environment(cr, SUPERUSER_ID, {})["res.partner"].browse(partner_id).unlink()
            cr.commit()  # pylint: disable=invalid-commit


@tagged("post_install", "-at_install")
class TestWalletPortal(WalletCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(cls.env, login="wallet_portal", groups="base.group_portal")
        cls.portal_user.partner_id.parent_id = cls.customer
        cls.rival = cls.env["res.partner"].create({"name": "Rival Corp", "is_company": True})
        cls.rival_user = new_test_user(cls.env, login="wallet_rival", groups="base.group_portal")
        cls.rival_user.partner_id.parent_id = cls.rival

    def _post(self, url, **data):
        return self.url_open(url, data={"csrf_token": http.Request.csrf_token(self), **data}, allow_redirects=False)

    def test_portal_users_see_only_their_own_wallet(self):
        ours, theirs = self._wallet(), self._wallet(self.rival)
        ours._post("bonus", 12.5, reason="Ours")
        theirs._post("bonus", 99.0, reason="Theirs")
        wallets = self.env["lifecycle.wallet"].with_user(self.portal_user)
        self.assertEqual(wallets.search([]), ours)
        self.assertEqual(self.env["lifecycle.wallet.transaction"].with_user(self.portal_user).search([]).reason, "Ours")
        self.authenticate("wallet_portal", "wallet_portal")
        page = self.url_open("/my/wallet")
        self.assertIn("12.50", page.text)
        self.assertIn("Ours", page.text)
        self.assertNotIn("Theirs", page.text)

    def test_bad_top_up_amounts_are_refused_and_write_nothing(self):
        other_currency = self.env.ref("base.EUR" if self.currency.name != "EUR" else "base.USD")
        other_currency.active = True
        transactions = self.env["payment.transaction"].search_count([])
        self.authenticate("wallet_portal", "wallet_portal")
        for amount in ("0", "-5", "abc", "", "nan", "1e12", "0.001"):
            with self.subTest(amount=amount):
                response = self.url_open(f"/my/wallet/add?amount={amount}")
                self.assertEqual(response.status_code, 400)
        self.assertEqual(self.url_open(f"/my/wallet/add?amount=10&currency_id={other_currency.id}").status_code, 400)
        self.assertEqual(self.url_open("/my/wallet/add?amount=25").status_code, 200)
        with self.assertRaisesRegex(JsonRpcException, "Forbidden"):
            self.make_jsonrpc_request(
                "/my/wallet/transaction",
                {"access_token": "x", "amount": 10, "provider_id": self.provider.id, "flow": "direct"},
            )
        self.assertEqual(self.env["payment.transaction"].search_count([]), transactions)
        self.assertFalse(
            self.env["lifecycle.wallet.transaction"].search(
                [("wallet_id.partner_id", "in", (self.customer | self.rival).ids)]
            )
        )

    def test_pay_with_balance_from_the_order_page(self):
        deadline = self._deadline(expiry=date.today() + timedelta(days=10))
        order = deadline._portal_renewal_order()
        wallet = self._wallet()
        wallet._post("bonus", order.amount_total - 1.0, reason="Almost")
        self.authenticate("wallet_portal", "wallet_portal")
        page = self.url_open(order.get_portal_url())
        self.assertIn("o_lifecycle_wallet_missing", page.text)
        pay = f"/my/orders/{order.id}/pay_with_wallet"
        self.assertEqual(self._post(pay, access_token=order.access_token).status_code, 400)
        wallet._post("bonus", 1.0, reason="Enough")
        self.assertIn("o_lifecycle_pay_with_balance", self.url_open(order.get_portal_url()).text)
        self.authenticate("wallet_rival", "wallet_rival")
        self.assertEqual(self._post(pay, access_token=order.access_token).status_code, 403)
        self.assertEqual(order.state, "draft")
        self.authenticate("wallet_portal", "wallet_portal")
        response = self._post(pay, access_token=order.access_token)
        self.assertEqual(response.status_code, 303)
        self.assertEqual(order.state, "sale")
        self.assertEqual(wallet.balance, 0.0)
        self.assertEqual(len(deadline.renewal_ids), 1)


@tagged("post_install", "-at_install")
class TestWalletEdges(WalletCommon):
    def test_refunding_a_top_up_takes_it_back_out_of_the_wallet(self):
        wallet = self._wallet()
        top_up = self._deposit(wallet, 80.0, "TOPUP-R")
        wallet._post("payment", -50.0, reason="Spent")
        self.assertRefused("does not cover", top_up._refund)
        self.assertEqual(wallet.balance, 30.0)
        top_up._refund(amount_to_refund=30.0)._post_process()  # the money leaves when the refund is done
        self.assertEqual(wallet.balance, 0.0)
        self.assertEqual(wallet.transaction_ids.sorted("id")[-1].kind, "withdrawal")
        self.assertFalse(wallet._check_ledger())

    def test_validations_and_other_currencies_credit_nothing(self):
        wallet = self._wallet()
        check = self._top_up_transaction(wallet, 1.0, "TOPUP-VALIDATION")
        check.operation = "validation"
        check._set_done()
        check._post_process()
        self.assertEqual(wallet.balance, 0.0)

    def test_correcting_the_wallet_that_was_opened(self):
        foreign = self.Wallet._for_partner(self.customer, self.other_company, self.currency)
        wizard = (
            self.env["lifecycle.wallet.adjust"]
            .with_user(self.lc_manager)
            .create({"wallet_id": foreign.id, "partner_id": self.customer.id, "amount": 15.0, "reason": "Goodwill"})
        )
        wizard.action_confirm()
        self.assertEqual(foreign.balance, 15.0)
        self.assertFalse(self.Wallet._for_partner(self.customer, self.company, self.currency, create=False))
