from odoo import models


class ResUsers(models.Model):
    _inherit = "res.users"

    def _create_user_from_template(self, values):
        """A portal signup (or granted portal access) registers a customer."""
        user = super()._create_user_from_template(values)
        # in the company they registered with: a new customer has no company of their own
        self.env["lifecycle.event"]._emit("customer_registered", user.partner_id, company_id=user.company_id.id)
        return user
