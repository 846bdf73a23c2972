from odoo import fields, models


class LifecycleReferenceMixin(models.AbstractModel):
    """A short configuration list (origins, institutions) shared by a company."""

    _name = "lifecycle.reference.mixin"
    _description = "Lifecycle configuration list entry"
    _order = "sequence, name, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        index=True,
        default=lambda self: self.env.company,
        help="Leave empty to share this entry between all companies.",
    )
    note = fields.Text()
