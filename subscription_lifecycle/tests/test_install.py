from odoo.modules.module import get_manifest
from odoo.tests import tagged

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestInstall(LifecycleCommon):
    def test_module_installed_with_its_groups_and_menu(self):
        module = self.env["ir.module.module"].search([("name", "=", "subscription_lifecycle")])
        self.assertEqual(module.state, "installed")
        self.assertEqual(module.latest_version, get_manifest("subscription_lifecycle")["version"])
        self.assertTrue(module.latest_version.startswith("19.0."))
        user_group = self.env.ref("subscription_lifecycle.group_lifecycle_user")
        manager_group = self.env.ref("subscription_lifecycle.group_lifecycle_manager")
        self.assertEqual(user_group.privilege_id, manager_group.privilege_id)
        self.assertIn(user_group, manager_group.all_implied_ids)
        self.assertIn(self.env.ref("base.user_admin"), manager_group.user_ids)
        root = self.env.ref("subscription_lifecycle.menu_lifecycle_root")
        self.assertEqual(root.group_ids, user_group)

    def test_every_menu_opens_an_existing_view(self):
        root = self.env.ref("subscription_lifecycle.menu_lifecycle_root")
        menus = self.env["ir.ui.menu"].search([("id", "child_of", root.id), ("action", "!=", False)])
        self.assertTrue(menus)
        for menu in menus:
            action = menu.action
            if action._name != "ir.actions.act_window":
                continue  # the overview is a client action: its tests run it in the browser (test_cockpit.py)
            for mode in action.view_mode.split(","):
                # get_views raises if an arch is broken or a field is unknown
                self.env[action.res_model].get_views([(False, mode)])

    def test_company_bound_models_have_a_multi_company_rule(self):
        xmlids = self.env["ir.model.data"].search(
            [("module", "=", "subscription_lifecycle"), ("model", "=", "ir.model")]
        )
        company_models = [
            model
            for model in self.env["ir.model"].browse(xmlids.mapped("res_id"))
            if not self.env[model.model]._abstract
            and not self.env[model.model]._transient
            and "company_id" in self.env[model.model]._fields
        ]
        self.assertTrue(company_models)
        for model in company_models:
            rules = self.env["ir.rule"].search([("model_id", "=", model.id), ("global", "=", True)])
            self.assertTrue(
                any("company_ids" in rule.domain_force for rule in rules), f"{model.model} has no company rule"
            )
