from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    lifecycle_late_renewal_base = fields.Selection(related="company_id.lifecycle_late_renewal_base", readonly=False)
    lifecycle_reminder_offsets = fields.Char(related="company_id.lifecycle_reminder_offsets", readonly=False)
    lifecycle_renewal_window = fields.Integer(related="company_id.lifecycle_renewal_window", readonly=False)
    lifecycle_wallet_max_deposit = fields.Monetary(
        related="company_id.lifecycle_wallet_max_deposit", readonly=False, currency_field="currency_id"
    )
    lifecycle_wallet_journal_id = fields.Many2one(related="company_id.lifecycle_wallet_journal_id", readonly=False)
    lifecycle_wallet_expense_account_id = fields.Many2one(
        related="company_id.lifecycle_wallet_expense_account_id", readonly=False
    )
    lifecycle_webhook_allow_http = fields.Boolean(related="company_id.lifecycle_webhook_allow_http", readonly=False)
    lifecycle_webhook_allow_private = fields.Boolean(
        related="company_id.lifecycle_webhook_allow_private", readonly=False
    )
