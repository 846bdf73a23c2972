from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    lifecycle_late_renewal_base = fields.Selection(
        [("today", "The renewal date"), ("expiry", "The old expiry date")],
        string="Late renewals count from",
        default="today",
        required=True,
        help="A deadline renewed after it expired runs one period from the day it is renewed, "
        "or from its old expiry date when the lapsed days are charged too.",
    )
