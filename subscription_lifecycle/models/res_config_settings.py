from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    lifecycle_late_renewal_base = fields.Selection(related="company_id.lifecycle_late_renewal_base", readonly=False)
