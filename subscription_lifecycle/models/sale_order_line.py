from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib.duration import add_duration


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    lifecycle_is_deadline = fields.Boolean(related="product_id.lifecycle_is_deadline")
    lifecycle_renewed_deadline_id = fields.Many2one(
        "lifecycle.deadline",
        string="Renews deadline",
        index="btree_not_null",
        copy=False,
        domain="[('commercial_partner_id', '=', lifecycle_commercial_partner_id), ('product_id', '=', product_id),"
        " ('state', 'in', ('active', 'expired'))]",
        help="Leave empty to create a new deadline when the order is confirmed.",
    )
    lifecycle_commercial_partner_id = fields.Many2one(related="order_partner_id.commercial_partner_id")
    lifecycle_created_deadline_id = fields.Many2one(
        "lifecycle.deadline", string="Created deadline", readonly=True, copy=False, index="btree_not_null"
    )

    @api.constrains("lifecycle_renewed_deadline_id", "product_id", "order_partner_id")
    def _check_lifecycle_renewed_deadline(self):
        for line in self.filtered("lifecycle_renewed_deadline_id"):
            deadline = line.lifecycle_renewed_deadline_id
            if deadline.product_id != line.product_id:
                raise ValidationError(
                    self.env._(
                        "The line sells %(product)s but the deadline it renews is for %(service)s.",
                        product=line.product_id.display_name,
                        service=deadline.product_id.display_name,
                    )
                )
            if deadline.commercial_partner_id != line.order_partner_id.commercial_partner_id:
                raise ValidationError(self.env._("A line can only renew a deadline of the order's customer."))

    def _lifecycle_apply_deadlines(self):
        """Create or renew the deadlines of confirmed deadline-product lines.

        Idempotent: a line that already created its deadline or renewed the
        named one (the order was cancelled and confirmed again) does nothing.
        """
        # sudo: a salesperson confirming an order needs no Lifecycle rights
        renewals = self.env["lifecycle.deadline.renewal"].sudo()
        for line in self.sudo().filtered(lambda line: line.lifecycle_is_deadline and line.product_uom_qty > 0):
            deadline = line.lifecycle_renewed_deadline_id
            if deadline and renewals.search_count([("sale_line_id", "=", line.id), ("deadline_id", "=", deadline.id)]):
                continue
            if deadline.state in ("active", "expired"):
                deadline._renew(source="sale", amount=line.price_subtotal, sale_line=line)
            elif not line.lifecycle_created_deadline_id:
                # nothing named, or the named deadline was closed or cancelled
                # since the quotation: the paid service starts a new deadline
                line.lifecycle_created_deadline_id = line._lifecycle_create_deadline()
                if deadline:
                    line.order_id.message_post(
                        body=self.env._(
                            "%(deadline)s was no longer active: a new deadline was created instead.",
                            deadline=deadline.display_name,
                        )
                    )

    def _lifecycle_create_deadline(self):
        self.ensure_one()
        order = self.order_id
        customer = order.partner_id.commercial_partner_id
        template = self.product_id.product_tmpl_id
        # the customer's date when the order was placed (confirming dates it)
        start = order.company_id._lifecycle_local_date(order.date_order, customer)
        deadline = self.env["lifecycle.deadline"].create(
            {
                "partner_id": customer.id,
                "product_id": self.product_id.id,
                "quantity": self.product_uom_qty,
                "amount": self.price_subtotal,
                "currency_id": order.currency_id.id,
                "date_start": start,
                "date_expiry": add_duration(start, template.lifecycle_duration, template.lifecycle_duration_unit),
                "user_id": order.user_id.id,
                "company_id": order.company_id.id,
                "sale_line_id": self.id,
            }
        )
        deadline.action_activate()
        deadline.message_post_with_source(
            "mail.message_origin_link",
            render_values={"self": deadline, "origin": order},
            subtype_xmlid="mail.mt_note",
        )
        return deadline
