from odoo import api, fields, models
from odoo.exceptions import UserError


class LifecycleWalletTransaction(models.Model):
    """One line of a wallet's ledger. Never edited nor deleted: a correction is a new line."""

    _name = "lifecycle.wallet.transaction"
    _description = "Wallet ledger line"
    _order = "id desc"

    wallet_id = fields.Many2one("lifecycle.wallet", required=True, readonly=True, index=True, ondelete="restrict")
    partner_id = fields.Many2one(related="wallet_id.partner_id", store=True, string="Customer")
    company_id = fields.Many2one(related="wallet_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="wallet_id.currency_id", store=True)
    kind = fields.Selection(
        [
            ("deposit", "Deposit"),
            ("payment", "Payment"),
            ("refund", "Refund"),
            ("withdrawal", "Withdrawal"),
            ("adjustment", "Adjustment"),
            ("bonus", "Bonus"),
        ],
        required=True,
        readonly=True,
    )
    amount = fields.Monetary(required=True, readonly=True, currency_field="currency_id")
    balance_after = fields.Monetary(readonly=True, currency_field="currency_id")
    date = fields.Datetime(default=fields.Datetime.now, required=True, readonly=True)
    user_id = fields.Many2one("res.users", string="By", default=lambda self: self.env.user, readonly=True)
    reason = fields.Char(readonly=True)
    # The documents a line comes from are kept: deleting them is refused.
    payment_transaction_id = fields.Many2one(
        "payment.transaction", readonly=True, index="btree_not_null", ondelete="restrict"
    )
    sale_order_id = fields.Many2one("sale.order", readonly=True, index="btree_not_null", ondelete="restrict")
    deadline_id = fields.Many2one("lifecycle.deadline", readonly=True, index="btree_not_null", ondelete="restrict")
    move_id = fields.Many2one(
        "account.move",
        string="Journal Entry",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="The entry that books this movement on the customer's receivable: the top-up's or refund's payment, "
        "the invoice paid from the balance, its credit note, the entry of a credit or correction.",
    )
    workflow_run_id = fields.Many2one(
        "lifecycle.workflow.run", readonly=True, index="btree_not_null", ondelete="restrict"
    )

    # A payment transaction credits its wallet once, however often the
    # provider notifies it.
    _one_line_per_payment = models.UniqueIndex(
        "(payment_transaction_id) WHERE payment_transaction_id IS NOT NULL",
        "This payment was already credited to the wallet.",
    )
    _amount_not_zero = models.Constraint("CHECK(amount != 0)", "A wallet movement needs an amount.")

    @api.depends("kind", "amount", "currency_id")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for line in self:
            line.display_name = f"{kinds.get(line.kind, '')} {line.amount:+.2f} {line.currency_id.name or ''}"

    def write(self, vals):
        if vals:
            raise UserError(self.env._("Wallet ledger lines cannot be changed; record a correction instead."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _never_delete(self):
        raise UserError(self.env._("Wallet ledger lines cannot be deleted; record a correction instead."))
