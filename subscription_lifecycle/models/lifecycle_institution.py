from odoo import models


class LifecycleInstitution(models.Model):
    """The body a service is held with or for: a registry, an authority, a vendor."""

    _name = "lifecycle.institution"
    _inherit = ["lifecycle.reference.mixin"]
    _description = "Deadline institution"

    _name_company_uniq = models.Constraint(
        "UNIQUE(name, company_id)",
        "An institution with this name already exists in this company.",
    )
