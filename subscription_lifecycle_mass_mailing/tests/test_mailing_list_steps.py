from datetime import timedelta

from odoo.tests import tagged

from odoo.addons.subscription_lifecycle.tests.test_engine import NOW, TODAY, EngineCommon


@tagged("post_install", "-at_install")
class TestMailingListSteps(EngineCommon):
    """Issue 12, item 6: with Email Marketing, a workflow hands customers over to a mailing list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.win_back = cls.env.ref("subscription_lifecycle_mass_mailing.mailing_list_win_back")
        cls.expired_win_back = cls.env.ref("subscription_lifecycle_mass_mailing.workflow_expired_win_back")
        cls.expired_win_back.with_user(cls.lc_manager).active = True

    def _expire(self):
        deadline = self._deadline(expiry=TODAY, date_start=TODAY - timedelta(days=365))
        self._day(1)
        self.assertEqual(deadline.state, "expired")
        return deadline

    def _subscription(self):
        return self.env["mailing.subscription"].search(
            [("list_id", "=", self.win_back.id), ("contact_id.email_normalized", "=", "azure@example.com")]
        )

    def _log(self, deadline):
        """What the shipped workflow did for ``deadline`` (the demo data has deadlines expiring too)."""
        return self.expired_win_back.run_ids.filtered(lambda run: run.deadline_id == deadline).log_ids.message

    def _remove_on_renewal(self):
        return self._workflow("deadline_renewed", [{"step_type": "list_remove", "mailing_list_id": self.win_back.id}])

    def test_the_bridge_installs_by_itself_with_email_marketing(self):
        bridge = self.env["ir.module.module"].search([("name", "=", "subscription_lifecycle_mass_mailing")])
        self.assertTrue(bridge.auto_install)
        self.assertEqual(bridge.state, "installed")
        self.assertEqual(set(bridge.dependencies_id.mapped("name")), {"subscription_lifecycle", "mass_mailing"})
        addon = self.env["ir.module.module"].search([("name", "=", "subscription_lifecycle")])
        self.assertNotIn("mass_mailing", addon.dependencies_id.mapped("name"), "the addon works without it")

    def test_an_expired_customer_joins_the_win_back_list_and_leaves_it_on_renewal(self):
        existing = self.env["mailing.contact"].create({"name": "Azure (newsletter)", "email": "Azure@Example.com"})
        self._remove_on_renewal()
        deadline = self._expire()
        subscription = self._subscription()
        self.assertEqual(subscription.contact_id, existing, "the contact with that email, not a new one")
        self.assertFalse(subscription.opt_out)
        self.assertEqual(self._log(deadline), "azure@example.com added to Win-back.")

        deadline.with_user(self.lc_user).action_renew()
        self.Run._cron_engine(now=NOW + timedelta(days=1))
        self.assertTrue(subscription.opt_out, "unsubscribed, not deleted: the list keeps the history")
        self.assertTrue(subscription.lifecycle_removed)
        self.assertIn("unsubscribed from the following mailing list", existing.message_ids[0].body)

    def test_a_workflow_removal_is_undone_by_a_later_expiry_in_the_contacts_history(self):
        self._remove_on_renewal()
        deadline = self._expire()
        deadline.with_user(self.lc_user).action_renew()
        self.Run._cron_engine(now=NOW + timedelta(days=1))
        deadline.date_expiry = TODAY + timedelta(days=1)
        self._day(2)
        self.assertEqual(deadline.state, "expired")
        subscription = self._subscription()
        self.assertFalse(subscription.opt_out)
        self.assertFalse(subscription.lifecycle_removed)
        self.assertIn("subscribed to the following mailing list", subscription.contact_id.message_ids[0].body)

    def test_someone_who_unsubscribed_themselves_is_not_subscribed_again(self):
        contact = self.env["mailing.contact"].create(
            {"name": "Azure", "email": "azure@example.com", "list_ids": [(4, self.win_back.id)]}
        )
        contact.subscription_ids.opt_out = True  # as the unsubscribe page does
        deadline = self._expire()
        self.assertTrue(self._subscription().opt_out)
        self.assertRegex(
            self._log(deadline), r"^azure@example.com unsubscribed from Win-back on .*: not subscribed again"
        )

    def test_a_list_step_needs_its_list(self):
        self.assertRefused("needs a mailing list", self._workflow, "deadline_renewed", [{"step_type": "list_add"}])
