from odoo.tests import new_test_user

from odoo.addons.base.tests.common import BaseCommon


class LifecycleCommon(BaseCommon):
    """Two companies and one user per access level, built once per class."""

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
