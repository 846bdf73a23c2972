"""Issue 14, item 1: every wallet movement has its journal entry, and the ledger agrees with the accounts."""

from datetime import date, timedelta

from odoo import Command, http
from odoo.tests import HttpCase, new_test_user, tagged

from .test_trust_money import MoneyCommon

PAID = ("paid", "in_payment")


class AccountingCommon(MoneyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketing = cls.env["account.account"].create(
            {"name": "Wallet marketing", "code": "623100", "account_type": "expense"}
        )
        cls.company.lifecycle_wallet_expense_account_id = cls.marketing

    def setUp(self):
        super().setUp()
        self.wallet = self._wallet()
        self.deadline = self._deadline(expiry=date.today() + timedelta(days=10))
        self.order = self.deadline._portal_renewal_order()

    def _credit(self, amount, reason, kind="bonus", direction="credit"):
        self.env["lifecycle.wallet.adjust"].with_user(self.lc_manager).create(
            {
                "wallet_id": self.wallet.id,
                "partner_id": self.customer.id,
                "kind": kind,
                "direction": direction,
                "amount": amount,
                "reason": reason,
            }
        ).action_confirm()
        return self.wallet.transaction_ids.sorted("id")[-1]

    def assertAccountsAgree(self, wallet):
        self.assertFalse(self.Wallet._check_accounting(wallet), "the ledger disagrees with the accounts")
        wallet.invalidate_recordset()
        self.assertEqual((wallet.accounting_balance, wallet.accounting_difference), (wallet.balance, 0.0))
        self.assertLedgerWhole(wallet)


@tagged("post_install", "-at_install")
class TestWalletAccounting(AccountingCommon):
    """Paying from the balance is the portal's action, done in sudo as its controller does (see the portal test)."""

    def test_a_top_up_is_the_customer_payment_odoo_books(self):
        top_up = self._deposit(self.wallet, 300.0, "TOPUP-BOOKED")
        line = self.wallet.transaction_ids
        self.assertTrue(top_up.payment_id, "account_payment booked the customer payment")
        self.assertEqual(line.move_id, top_up.payment_id.move_id)
        receivable = line.move_id.line_ids.filtered(lambda aml: aml.account_id.account_type == "asset_receivable")
        self.assertEqual((receivable.credit, receivable.partner_id), (300.0, self.customer))
        self.assertAccountsAgree(self.wallet)

    def test_paying_from_the_balance_leaves_a_posted_invoice_paid_by_the_wallet_credits(self):
        total = self.order.amount_total
        top_up = self._deposit(self.wallet, total + 40.0, "TOPUP-INVOICE")
        line = self.order.sudo()._lifecycle_pay_with_wallet()
        invoice = self.order.invoice_ids
        self.assertEqual(line.move_id, invoice)
        self.assertEqual((invoice.state, invoice.amount_total), ("posted", total))
        self.assertIn(invoice.payment_state, PAID)
        credit = top_up.payment_id.move_id.line_ids.filtered(
            lambda aml: aml.account_id.account_type == "asset_receivable"
        )
        self.assertEqual(credit.amount_residual, -40.0, "what is left of the top-up stays owed to the customer")
        self.assertAccountsAgree(self.wallet)

    def test_the_ledger_and_the_accounts_agree_after_every_kind_of_movement(self):
        total = self.order.amount_total
        top_up = self._deposit(self.wallet, total + 100.0, "TOPUP-ALL")
        self.assertAccountsAgree(self.wallet)
        self.order.sudo()._lifecycle_pay_with_wallet()
        self.assertAccountsAgree(self.wallet)
        bonus = self._credit(25.0, "Loyalty bonus")
        entry = bonus.move_id.line_ids
        self.assertEqual(entry.filtered(lambda aml: aml.account_id == self.marketing).debit, 25.0)
        self.assertEqual(entry.filtered(lambda aml: aml.account_id.account_type == "asset_receivable").credit, 25.0)
        self.assertAccountsAgree(self.wallet)
        correction = self._credit(5.0, "Typo", kind="adjustment", direction="debit")
        self.assertEqual(correction.move_id.line_ids.filtered(lambda aml: aml.account_id == self.marketing).credit, 5.0)
        self.assertAccountsAgree(self.wallet)
        refund = self._refund_as_accountant(60.0)
        refund._post_process()
        self.assertEqual(self.wallet.transaction_ids.sorted("id")[-1].move_id, refund.payment_id.move_id)
        self.assertAccountsAgree(self.wallet)
        self.order.with_user(self.salesman).action_cancel()
        credit_note = self.wallet.transaction_ids.sorted("id")[-1].move_id
        self.assertEqual((credit_note.move_type, credit_note.state), ("out_refund", "posted"))
        self.assertEqual(credit_note.amount_total, total)
        self.assertAccountsAgree(self.wallet)
        self.assertEqual(self.wallet.balance, total + 100.0 + 25.0 - 5.0 - 60.0)
        self.assertNotEqual(top_up.payment_id.state, "draft")

    def _refund_as_accountant(self, amount):
        top_up = self.wallet.transaction_ids.filtered("payment_transaction_id").payment_transaction_id
        top_up.with_user(self.accountant).action_refund(amount_to_refund=amount)
        return top_up.child_transaction_ids.sorted("id")[-1]

    def test_the_check_reports_wallet_money_settled_outside_the_wallet(self):
        top_up = self._deposit(self.wallet, 100.0, "TOPUP-ELSEWHERE")
        other_invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_line_ids": [Command.create({"name": "Consulting", "quantity": 1, "price_unit": 30.0})],
            }
        )
        other_invoice.action_post()
        receivable = (top_up.payment_id.move_id | other_invoice).line_ids.filtered(
            lambda aml: aml.account_id.account_type == "asset_receivable"
        )
        receivable.reconcile()  # an accountant spends the top-up on an invoice the wallet never paid
        self.assertEqual(self.Wallet._check_accounting(self.wallet), {self.wallet: 30.0})
        action = self.Wallet.with_user(self.lc_manager).action_check_accounting()
        self.assertEqual(self.Wallet.with_user(self.lc_manager).search(action["domain"]), self.wallet)

    def test_bad_payments_from_the_balance_write_nothing(self):
        self._deposit(self.wallet, 10.0, "TOPUP-SHORT")
        moves = self.env["account.move"].search_count([])
        self.assertRefused("is missing", self.order.sudo()._lifecycle_pay_with_wallet)
        self.assertEqual((self.order.state, self.order.invoice_ids), ("draft", self.env["account.move"]))
        # a customer whose only wallet is in another currency than the order's
        other_currency = self.env.ref("base.EUR" if self.currency.name != "EUR" else "base.USD")
        other_currency.active = True
        traveller = self.env["res.partner"].create({"name": "Globe Trotter", "is_company": True})
        foreign = self.Wallet._for_partner(traveller, self.company, other_currency)
        self._deposit(foreign, 5000.0, "TOPUP-FOREIGN")
        order = self._deadline(
            partner_id=traveller.id, expiry=date.today() + timedelta(days=10)
        )._portal_renewal_order()
        moves = self.env["account.move"].search_count([])
        self.assertRefused("no balance", order.sudo()._lifecycle_pay_with_wallet)
        self.assertEqual((order.state, order.invoice_ids, foreign.balance), ("draft", self.env["account.move"], 5000.0))
        self.assertEqual(self.env["account.move"].search_count([]), moves)


@tagged("post_install", "-at_install")
class TestWalletAccountingPortal(AccountingCommon, HttpCase):
    def test_a_customer_paying_from_the_balance_in_the_portal_gets_a_paid_invoice(self):
        portal_user = new_test_user(self.env, login="accounting_portal", groups="base.group_portal")
        portal_user.partner_id.parent_id = self.customer
        self._credit(self.order.amount_total, "Sign-up credit")
        self.authenticate("accounting_portal", "accounting_portal")
        response = self.url_open(
            f"/my/orders/{self.order.id}/pay_with_wallet",
            data={"csrf_token": http.Request.csrf_token(self), "access_token": self.order.access_token},
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 303)
        self.assertEqual(self.order.state, "sale")
        self.assertIn(self.order.invoice_ids.payment_state, PAID)
        self.assertEqual(self.wallet.balance, 0.0)
        self.assertAccountsAgree(self.wallet)
