from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount


class SaleOrder(models.Model):
    _inherit = "sale.order"

    lifecycle_portal_renewal_deadline_id = fields.Many2one(
        "lifecycle.deadline",
        string="Portal renewal of",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The deadline the customer asked to renew from the portal with this quotation.",
    )

    def _action_confirm(self):
        result = super()._action_confirm()
        self.order_line._lifecycle_apply_deadlines()
        return result

    def _action_cancel(self):
        """A cancelled order gives back what it took from wallets, once."""
        result = super()._action_cancel()
        for order, wallet, amount in self._lifecycle_wallet_paid():
            reason = self.env._("Cancellation of %(order)s", order=order.name)
            wallet._post(
                "refund",
                amount,
                sale_order_id=order.id,
                move_id=order._lifecycle_credit_note(wallet, reason).id,
                reason=reason,
            )
            order.message_post(
                body=self.env._(
                    "%(amount)s given back to the customer's wallet balance.",
                    amount=format_amount(self.env, amount, wallet.currency_id),
                )
            )
        return result

    def _lifecycle_wallet(self):
        """The customer's wallet in this order's company and currency, if any."""
        self.ensure_one()
        return self.env["lifecycle.wallet"]._for_partner(
            self.partner_id, self.company_id, self.currency_id, create=False
        )

    def _lifecycle_wallet_paid(self):
        """``[(order, wallet, amount), ...]``: what these orders took from wallets and did not give back."""
        groups = (
            self.env["lifecycle.wallet.transaction"]
            .sudo()
            ._read_group([("sale_order_id", "in", self.ids)], ["sale_order_id", "wallet_id"], ["amount:sum"])
        )
        return [
            (order, wallet, -total)
            for order, wallet, total in groups
            if wallet.currency_id.compare_amounts(total, 0.0) < 0
        ]

    def _lifecycle_pay_with_wallet(self):
        """Pay the whole order from the customer's balance and confirm it: both or neither.

        Confirming renews the deadlines its lines name. Any failure (a balance
        that does not cover the total, a refused confirmation) undoes the
        debit too, even for a caller that catches the error and goes on.
        """
        self.ensure_one()
        if self.transaction_ids.filtered(lambda tx: tx.state in ("pending", "authorized")):
            # the payment under way would settle later: the customer would pay twice
            raise UserError(
                self.env._("A payment of this order is already under way; wait until your bank settles it.")
            )
        if not self._has_to_be_paid():
            raise UserError(self.env._("This order has nothing left to pay."))
        if self._lifecycle_wallet_paid():
            raise UserError(self.env._("This order was already paid from the balance."))
        wallet = self._lifecycle_wallet()
        if not wallet:
            raise UserError(self.env._("There is no balance to pay this order with."))
        with self.env.cr.savepoint():
            # the wallet first, as every debit does: a concurrent debit waits here
            wallet._lock_balance()
            self.action_confirm()
            invoice = self._lifecycle_invoice_for_wallet(wallet)
            line = wallet._post(
                "payment", -self.amount_total, sale_order_id=self.id, move_id=invoice.id, reason=self.name
            )
            if invoice:
                wallet._reconcile_with_credits(invoice)
        self.message_post(body=self.env._("Paid from the customer's wallet balance."))
        return line

    def _lifecycle_invoice_for_wallet(self, wallet):
        """The posted invoice of the whole order, which the wallet's credits pay (none without accounts).

        Booked by the system for the customer or salesman who pays: they need
        no right on invoices.
        """
        self.ensure_one()
        if not wallet._has_accounting():
            return self.env["account.move"]
        order = self.sudo().with_company(self.company_id)
        invoice = order._create_invoices(final=True)
        if invoice.currency_id.compare_amounts(invoice.amount_total, self.amount_total) != 0:
            raise UserError(
                self.env._(
                    "%(order)s cannot be invoiced in full now (%(invoiced)s of %(total)s): "
                    "it cannot be paid from the balance.",
                    order=self.name,
                    invoiced=format_amount(self.env, invoice.amount_total, invoice.currency_id),
                    total=format_amount(self.env, self.amount_total, self.currency_id),
                )
            )
        invoice.action_post()
        return invoice

    def _lifecycle_credit_note(self, wallet, reason):
        """The posted credit note of the invoice this order's wallet payment booked; it credits the wallet back."""
        self.ensure_one()
        paid = (
            self.env["lifecycle.wallet.transaction"]
            .sudo()
            .search(
                [("sale_order_id", "=", self.id), ("wallet_id", "=", wallet.id), ("kind", "=", "payment")],
                order="id desc",
                limit=1,
            )
        )
        invoice = paid.move_id
        if not invoice:
            return invoice  # paid before wallet accounting: the ledger alone
        credit_note = invoice.sudo()._reverse_moves([{"ref": reason}])
        credit_note.action_post()
        return credit_note
