from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    lifecycle_late_renewal_base = fields.Selection(related="company_id.lifecycle_late_renewal_base", readonly=False)
    lifecycle_reminder_offsets = fields.Char(related="company_id.lifecycle_reminder_offsets", readonly=False)
    lifecycle_renewal_window = fields.Integer(related="company_id.lifecycle_renewal_window", readonly=False)
    lifecycle_wallet_max_deposit = fields.Monetary(
        related="company_id.lifecycle_wallet_max_deposit", readonly=False, currency_field="currency_id"
    )
    lifecycle_webhook_allow_http = fields.Boolean(related="company_id.lifecycle_webhook_allow_http", readonly=False)
    lifecycle_webhook_allow_private = fields.Boolean(
        related="company_id.lifecycle_webhook_allow_private", readonly=False
    )
    lifecycle_telegram_bot_token = fields.Char(related="company_id.lifecycle_telegram_bot_token", readonly=False)
    lifecycle_telegram_bot_username = fields.Char(related="company_id.lifecycle_telegram_bot_username", readonly=False)
    lifecycle_telegram_secret = fields.Char(related="company_id.lifecycle_telegram_secret")

    def action_lifecycle_telegram_register_webhook(self):
        self.ensure_one()
        self.company_id._lifecycle_telegram_register_webhook()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Telegram now sends the bot's messages to %(url)s.",
                    url=self.company_id._lifecycle_telegram_webhook_url(),
                ),
            },
        }
