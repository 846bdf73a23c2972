from odoo import models


class LifecycleOrigin(models.Model):
    """Where a deadline comes from: a tender, the web shop, a reseller…"""

    _name = "lifecycle.origin"
    _inherit = ["lifecycle.reference.mixin"]
    _description = "Deadline origin"

    _name_company_uniq = models.Constraint(
        "UNIQUE(name, company_id)",
        "An origin with this name already exists in this company.",
    )
