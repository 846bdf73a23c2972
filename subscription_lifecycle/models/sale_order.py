from odoo import models
from odoo.exceptions import UserError


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_confirm(self):
        result = super()._action_confirm()
        self.order_line._lifecycle_apply_deadlines()
        return result

    def _lifecycle_wallet(self):
        """The customer's wallet in this order's company and currency, if any."""
        self.ensure_one()
        return self.env["lifecycle.wallet"]._for_partner(
            self.partner_id, self.company_id, self.currency_id, create=False
        )

    def _lifecycle_pay_with_wallet(self):
        """Pay the whole order from the customer's balance and confirm it, in one transaction.

        Confirming renews the deadlines its lines name. Any failure (a balance
        that does not cover the total, an order already paid) rolls it all back.
        """
        self.ensure_one()
        if not self._has_to_be_paid():
            raise UserError(self.env._("This order has nothing left to pay."))
        wallet = self._lifecycle_wallet()
        if not wallet:
            raise UserError(self.env._("There is no balance to pay this order with."))
        line = wallet._post("payment", -self.amount_total, sale_order_id=self.id, reason=self.name)
        self.action_confirm()
        self.message_post(body=self.env._("Paid from the customer's wallet balance."))
        return line
