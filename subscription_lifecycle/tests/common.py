from datetime import date

from psycopg2 import IntegrityError

from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user
from odoo.tools import mute_logger

from odoo.addons.base.tests.common import BaseCommon


class LifecycleCommon(BaseCommon):
    """Two companies, one user per access level and deadline products, built once per class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.other_company = cls.env["res.company"].create({"name": "Other Company Ltd"})
        companies = cls.company | cls.other_company
        cls.employee = new_test_user(
            cls.env, login="lc_employee", groups="base.group_user", company_ids=companies.ids, name="Employee Eva"
        )
        cls.lc_user = new_test_user(
            cls.env,
            login="lc_user",
            groups="subscription_lifecycle.group_lifecycle_user",
            company_ids=companies.ids,
            name="Lifecycle Lucy",
        )
        cls.lc_manager = new_test_user(
            cls.env,
            login="lc_manager",
            groups="subscription_lifecycle.group_lifecycle_manager",
            company_ids=companies.ids,
            name="Manager Max",
        )
        cls.customer = cls.env["res.partner"].create({"name": "Azure Interior", "is_company": True})
        cls.yearly = cls._make_product("Maintenance contract", 1, "year", 1200.0)
        cls.monthly = cls._make_product("Hosting plan", 1, "month", 45.0)

    @classmethod
    def _make_product(cls, name, duration, unit, price):
        return cls.env["product.product"].create(
            {
                "name": name,
                "type": "service",
                "list_price": price,
                "lifecycle_is_deadline": True,
                "lifecycle_duration": duration,
                "lifecycle_duration_unit": unit,
            }
        )

    def _deadline(self, product=None, expiry=date(2027, 3, 31), state="active", **vals):
        values = {
            "partner_id": self.customer.id,
            "product_id": (product or self.yearly).id,
            "amount": 1200.0,
            "date_start": date(2026, 4, 1),
            "date_expiry": expiry,
            "state": state,
        }
        values.update(vals)
        return self.env["lifecycle.deadline"].create(values)

    def assertRefused(self, pattern, func, *args, **kwargs):
        """``func`` fails with the message a user would read, and writes nothing.

        A database constraint surfaces through RPC as a ValidationError with
        the constraint's message (``odoo.service.model.retrying``); this
        helper reads it the same way.
        """
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                func(*args, **kwargs)
                self.env.flush_all()
        except IntegrityError as error:
            message = self.env["lifecycle.workflow.run"]._error_message(error)
        except (UserError, ValidationError) as error:
            message = error.args[0]
        else:
            self.fail(f"{func} was not refused")
        finally:
            self.env.invalidate_all(flush=False)
        self.assertRegex(message, pattern)
