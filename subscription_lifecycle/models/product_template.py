from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ProductTemplate(models.Model):
    _inherit = "product.template"

    lifecycle_is_deadline = fields.Boolean(
        string="Creates a deadline",
        help="Selling this product creates a deadline for the customer, or renews the one the order line names.",
    )
    lifecycle_duration = fields.Integer(string="Renewal duration", default=1)
    lifecycle_duration_unit = fields.Selection(
        [("day", "Days"), ("week", "Weeks"), ("month", "Months"), ("year", "Years")],
        string="Duration unit",
        default="year",
        required=True,
    )

    @api.constrains("lifecycle_is_deadline", "lifecycle_duration")
    def _check_lifecycle_duration(self):
        for template in self:
            if template.lifecycle_is_deadline and template.lifecycle_duration <= 0:
                raise ValidationError(
                    self.env._(
                        "%(product)s creates deadlines: its renewal duration must be at least 1.",
                        product=template.display_name,
                    )
                )
