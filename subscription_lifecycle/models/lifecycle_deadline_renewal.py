from odoo import api, fields, models


class LifecycleDeadlineRenewal(models.Model):
    """One renewal of a deadline: history only, never edited afterwards."""

    _name = "lifecycle.deadline.renewal"
    _description = "Deadline renewal"
    _order = "date_to desc, id desc"
    _rec_name = "deadline_id"

    deadline_id = fields.Many2one("lifecycle.deadline", required=True, index=True, ondelete="restrict", readonly=True)
    partner_id = fields.Many2one(related="deadline_id.partner_id", store=True, string="Customer")
    company_id = fields.Many2one(related="deadline_id.company_id", store=True, index=True)
    date_from = fields.Date(string="From", required=True, readonly=True, help="Expiry date before the renewal.")
    date_to = fields.Date(string="To", required=True, readonly=True, help="Expiry date after the renewal.")
    amount = fields.Monetary(currency_field="currency_id", readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    source = fields.Selection(
        [("manual", "Manual"), ("sale", "Sale order"), ("wallet", "Wallet")],
        required=True,
        readonly=True,
        default="manual",
    )
    sale_line_id = fields.Many2one("sale.order.line", readonly=True, index="btree_not_null")
    sale_order_id = fields.Many2one(related="sale_line_id.order_id", string="Sale order")
    user_id = fields.Many2one("res.users", string="Renewed by", default=lambda self: self.env.user, readonly=True)

    # One renewal per period: a second renewal starting from the same expiry
    # (a double click, two workers) is impossible by construction.
    _one_renewal_per_period = models.Constraint(
        "UNIQUE(deadline_id, date_from)", "This deadline was already renewed from that expiry date."
    )
    _one_renewal_per_order_line = models.UniqueIndex(
        "(deadline_id, sale_line_id) WHERE sale_line_id IS NOT NULL",
        "This order line already renewed the deadline.",
    )
    _dates_ordered = models.Constraint("CHECK(date_to > date_from)", "A renewal must move the expiry date forward.")

    @api.model_create_multi
    def create(self, vals_list):
        renewals = super().create(vals_list)
        self.env["lifecycle.reminder.trace"]._attribute(renewals)
        return renewals
