from datetime import date, datetime

from freezegun import freeze_time

from odoo.tests import new_test_user, tagged

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestSale(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contact = cls.env["res.partner"].create({"name": "Ann Buyer", "parent_id": cls.customer.id})
        cls.chair = cls.env["product.product"].create({"name": "Chair", "type": "consu", "list_price": 50})

    def _order(self, lines, partner=None):
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.contact).id,
                "date_order": datetime(2026, 11, 21, 10, 0),
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": qty, "price_unit": price, **extra})
                    for product, qty, price, extra in lines
                ],
            }
        )

    def test_confirming_an_order_creates_active_deadlines(self):
        order = self._order([(self.yearly, 25, 80.0, {}), (self.chair, 2, 50.0, {})])
        with freeze_time(order.date_order):  # confirming dates the order: now
            order.action_confirm()
        deadline = order.order_line.lifecycle_created_deadline_id
        self.assertEqual(len(deadline), 1, "only the deadline product creates a deadline")
        self.assertEqual(deadline.partner_id, self.customer, "the deadline belongs to the commercial entity")
        self.assertEqual((deadline.state, deadline.quantity, deadline.amount), ("active", 25, 2000.0))
        self.assertEqual((deadline.date_start, deadline.date_expiry), (date(2026, 11, 21), date(2027, 11, 21)))
        self.assertEqual(deadline.sale_line_id, order.order_line[0])
        self.assertEqual(deadline.currency_id, order.currency_id)

    def test_confirming_an_order_line_that_names_a_deadline_renews_it(self):
        deadline = self._deadline(expiry=date(2027, 3, 31))
        order = self._order([(self.yearly, 2, 700.0, {"lifecycle_renewed_deadline_id": deadline.id})])
        order.action_confirm()
        self.assertEqual(deadline.date_expiry, date(2028, 3, 31))
        self.assertEqual(deadline.sale_line_id, order.order_line, "the deadline points at the line that renewed it")
        self.assertEqual((deadline.quantity, deadline.amount), (2, 1400.0))
        renewal = deadline.renewal_ids
        self.assertEqual((renewal.source, renewal.sale_order_id, renewal.amount), ("sale", order, 1400.0))
        self.assertFalse(order.order_line.lifecycle_created_deadline_id, "a renewal creates no new deadline")
        self.assertEqual(self.env["lifecycle.deadline"].search([("partner_id", "=", self.customer.id)]), deadline)

    def test_reconfirming_a_cancelled_order_changes_nothing_more(self):
        deadline = self._deadline(expiry=date(2027, 3, 31))
        renewing = self._order([(self.yearly, 1, 1200.0, {"lifecycle_renewed_deadline_id": deadline.id})])
        creating = self._order([(self.monthly, 1, 45.0, {})])
        for order in (renewing, creating):
            order.action_confirm()
            order._action_cancel()
            order.action_draft()
            order.action_confirm()
        self.assertEqual(deadline.date_expiry, date(2028, 3, 31))
        self.assertEqual(len(deadline.renewal_ids), 1)
        self.assertEqual(self.env["lifecycle.deadline"].search_count([("product_id", "=", self.monthly.id)]), 1)

    def test_a_line_cannot_renew_another_customers_or_products_deadline(self):
        deadline = self._deadline()
        stranger = self.env["res.partner"].create({"name": "Stranger"})
        orders = self.env["sale.order"].search_count([])
        self.assertRefused(
            "order's customer",
            self._order,
            [(self.yearly, 1, 1.0, {"lifecycle_renewed_deadline_id": deadline.id})],
            partner=stranger,
        )
        self.assertRefused(
            "deadline it renews is for",
            self._order,
            [(self.monthly, 1, 1.0, {"lifecycle_renewed_deadline_id": deadline.id})],
        )
        self.assertEqual(self.env["sale.order"].search_count([]), orders)
        self.assertFalse(deadline.renewal_ids)

    def test_a_salesperson_without_lifecycle_rights_confirms_deadline_orders(self):
        salesman = new_test_user(self.env, login="lc_salesman", groups="sales_team.group_sale_salesman")
        deadline = self._deadline(expiry=date(2027, 3, 31))
        creating = self._order([(self.yearly, 1, 100.0, {})])
        renewing = self._order([(self.yearly, 1, 100.0, {"lifecycle_renewed_deadline_id": deadline.id})])
        (creating | renewing).user_id = salesman  # their own orders
        creating.with_user(salesman).action_confirm()
        renewing.with_user(salesman).action_confirm()
        self.assertEqual(creating.order_line.lifecycle_created_deadline_id.state, "active")
        self.assertEqual(deadline.date_expiry, date(2028, 3, 31))

    def test_paying_for_a_deadline_closed_since_the_quotation_starts_a_new_one(self):
        deadline = self._deadline(expiry=date(2027, 3, 31))
        order = self._order([(self.yearly, 1, 100.0, {"lifecycle_renewed_deadline_id": deadline.id})])
        deadline.action_close()
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertFalse(deadline.renewal_ids)
        fresh = order.order_line.lifecycle_created_deadline_id
        self.assertEqual((fresh.state, fresh.partner_id), ("active", self.customer))
        self.assertIn("no longer active", order.message_ids[0].body)
