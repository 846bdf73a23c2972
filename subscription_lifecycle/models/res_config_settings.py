from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    lifecycle_late_renewal_base = fields.Selection(related="company_id.lifecycle_late_renewal_base", readonly=False)
    lifecycle_reminder_offsets = fields.Char(related="company_id.lifecycle_reminder_offsets", readonly=False)
    lifecycle_renewal_window = fields.Integer(related="company_id.lifecycle_renewal_window", readonly=False)
    lifecycle_lapse_days = fields.Integer(related="company_id.lifecycle_lapse_days", readonly=False)
    lifecycle_overdue_thresholds = fields.Char(related="company_id.lifecycle_overdue_thresholds", readonly=False)
    lifecycle_wallet_max_deposit = fields.Monetary(
        related="company_id.lifecycle_wallet_max_deposit", readonly=False, currency_field="currency_id"
    )
    lifecycle_wallet_journal_id = fields.Many2one(related="company_id.lifecycle_wallet_journal_id", readonly=False)
    lifecycle_wallet_expense_account_id = fields.Many2one(
        related="company_id.lifecycle_wallet_expense_account_id", readonly=False
    )
    lifecycle_autorenew_days = fields.Integer(related="company_id.lifecycle_autorenew_days", readonly=False)
    lifecycle_dunning_tries = fields.Integer(related="company_id.lifecycle_dunning_tries", readonly=False)
    lifecycle_dunning_days = fields.Integer(related="company_id.lifecycle_dunning_days", readonly=False)
    lifecycle_dunning_grace_days = fields.Integer(related="company_id.lifecycle_dunning_grace_days", readonly=False)
    lifecycle_dunning_final_action = fields.Selection(
        related="company_id.lifecycle_dunning_final_action", readonly=False
    )
    lifecycle_bad_debt_account_id = fields.Many2one(related="company_id.lifecycle_bad_debt_account_id", readonly=False)
    lifecycle_webhook_allow_http = fields.Boolean(related="company_id.lifecycle_webhook_allow_http", readonly=False)
    lifecycle_webhook_allow_private = fields.Boolean(
        related="company_id.lifecycle_webhook_allow_private", readonly=False
    )
    lifecycle_whatsapp_phone_number_id = fields.Char(
        related="company_id.lifecycle_whatsapp_phone_number_id", readonly=False
    )
    lifecycle_whatsapp_access_token = fields.Char(
        related="company_id.lifecycle_whatsapp_access_token", readonly=False, groups="base.group_system"
    )
    lifecycle_whatsapp_app_secret = fields.Char(
        related="company_id.lifecycle_whatsapp_app_secret", readonly=False, groups="base.group_system"
    )
    lifecycle_whatsapp_verify_token = fields.Char(
        related="company_id.lifecycle_whatsapp_verify_token", readonly=False, groups="base.group_system"
    )
    lifecycle_whatsapp_callback_url = fields.Char(
        string="WhatsApp callback URL", compute="_compute_lifecycle_whatsapp_callback_url"
    )
    lifecycle_telegram_bot_token = fields.Char(related="company_id.lifecycle_telegram_bot_token", readonly=False)
    lifecycle_telegram_bot_username = fields.Char(related="company_id.lifecycle_telegram_bot_username", readonly=False)
    lifecycle_telegram_secret = fields.Char(related="company_id.lifecycle_telegram_secret")

    @api.depends("company_id")
    def _compute_lifecycle_whatsapp_callback_url(self):
        for settings in self:
            settings.lifecycle_whatsapp_callback_url = (
                f"{settings.company_id.get_base_url()}/lifecycle/whatsapp/{settings.company_id.id}/webhook"
            )

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
