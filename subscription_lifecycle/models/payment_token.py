from odoo import api, models


class PaymentToken(models.Model):
    _inherit = "payment.token"

    @api.model_create_multi
    def create(self, vals_list):
        """A payment method the customer saves pays their past-due automatic renewals at once."""
        tokens = super().create(vals_list)
        for token in tokens:
            deadlines = (
                self.env["lifecycle.deadline"]
                .sudo()
                .search(
                    [
                        ("commercial_partner_id", "=", token.partner_id.commercial_partner_id.id),
                        ("company_id", "=", token.company_id.id),
                        ("autorenew", "=", True),
                        ("autorenew_state", "=", "past_due"),
                    ]
                )
            )
            if deadlines:
                deadlines.autorenew_token_id = token
                deadlines.autorenewal_id._retry_now()
        return tokens
