from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError


class LifecycleWalletAdjust(models.TransientModel):
    """A manager credits or debits a wallet, always with a reason."""

    _name = "lifecycle.wallet.adjust"
    _description = "Wallet correction"

    wallet_id = fields.Many2one("lifecycle.wallet", ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    currency_id = fields.Many2one("res.currency", required=True, default=lambda self: self.env.company.currency_id)
    direction = fields.Selection(
        [("credit", "Credit (goodwill, refund)"), ("debit", "Debit (correction)")],
        required=True,
        default="credit",
    )
    kind = fields.Selection(
        [("adjustment", "Adjustment"), ("bonus", "Bonus"), ("refund", "Refund")], default="adjustment", required=True
    )
    amount = fields.Monetary(required=True, currency_field="currency_id")
    reason = fields.Char(required=True)
    balance = fields.Monetary(related="wallet_id.balance", currency_field="currency_id")

    @api.onchange("wallet_id")
    def _onchange_wallet_id(self):
        if self.wallet_id:
            self.partner_id = self.wallet_id.partner_id
            self.currency_id = self.wallet_id.currency_id

    def action_confirm(self):
        self.ensure_one()
        if not self.env.user.has_group("subscription_lifecycle.group_lifecycle_manager"):
            raise AccessError(self.env._("Only Lifecycle Managers can correct a wallet."))
        if self.amount <= 0:
            raise UserError(self.env._("Enter a positive amount; choose credit or debit above."))
        if not (self.reason or "").strip():
            raise UserError(self.env._("Say why the wallet is corrected."))
        if self.direction == "debit" and self.kind != "adjustment":
            raise UserError(self.env._("Only an adjustment can debit a wallet."))
        wallet = self.wallet_id or self.env["lifecycle.wallet"]._for_partner(
            self.partner_id, self.env.company, self.currency_id
        )
        amount = self.amount if self.direction == "credit" else -self.amount
        wallet._post_booked(self.kind, amount, self.reason.strip())
        return {"type": "ir.actions.act_window_close"}
