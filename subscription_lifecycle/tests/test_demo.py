"""Issue 15, item 2: the story demo shows something true on every screen and sends nothing.

These tests are about the demo data themselves, so they read it (the test
command installs the addon with its demo data); every other test builds its own.
"""

from odoo import fields
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestStoryDemo(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")

    def _demo(self, name):
        return self.env.ref(f"subscription_lifecycle.{name}")

    def test_the_demo_wallets_agree_with_the_accounts(self):
        wallets = self.env["lifecycle.wallet"].search([("partner_id", "=", self._demo("partner_demo_northwind").id)])
        self.assertEqual(wallets, self._demo("wallet_demo_northwind"))
        self.assertEqual(
            sorted(wallets.transaction_ids.mapped("kind")), ["bonus", "deposit", "payment"], "top-up, renewal, bonus"
        )
        demo_wallets = self.env["lifecycle.wallet"].search([])
        self.assertFalse(self.env["lifecycle.wallet"]._check_accounting(demo_wallets))
        for wallet in demo_wallets:
            self.assertEqual(wallet.balance, sum(wallet.transaction_ids.mapped("amount")), wallet.display_name)
            self.assertEqual(wallet.unbooked_balance, 0.0, f"{wallet.display_name}: every movement is booked")

    def test_the_dashboard_tells_the_story_to_the_administrator(self):
        data = self.env["lifecycle.cockpit"].with_user(self.admin).get_cockpit_data()
        self.assertGreaterEqual(len(data["upcoming"]["rows"]), 5, "deadlines due this week")
        lateness = [row["days_late"] for row in data["todo"]["rows"]]
        self.assertIn(0, lateness, "a callback due today")
        self.assertTrue(any(days > 0 for days in lateness), "a late callback")
        kpis = {kpi["key"]: kpi for kpi in data["kpis"]}
        for key in ("due", "renewed"):
            self.assertGreater(kpis[key]["count"], 0, key)
        funnel = data["funnel"]
        self.assertGreater(funnel["sent"], funnel["clicked"])
        self.assertGreater(funnel["clicked"], 0)
        self.assertGreater(funnel["renewed"], 0)
        self.assertTrue(funnel["median_days"])
        traces = self.env["lifecycle.reminder.trace"].search([])
        clicked, renewed = traces.filtered("clicked_count"), traces.filtered("renewal_id")
        self.assertTrue(clicked and renewed, "reminders were clicked and renewals counted for them")
        self.assertTrue(renewed - clicked, "a renewal counts for a reminder sent, not clicked")

    def test_the_demo_runs_are_done_waiting_and_failed_with_a_reason(self):
        runs = self.env["lifecycle.workflow.run"].search([("event_id.partner_id", "!=", False)])
        self.assertTrue({"done", "waiting", "failed"} <= set(runs.mapped("state")))
        failed = self._demo("run_demo_reminder_failed")
        self.assertIn("no email address", failed.log_ids.filtered(lambda log: log.outcome == "error").message)

    def test_nothing_in_the_demo_is_sent_when_the_database_starts(self):
        now = fields.Datetime.now()
        self.assertFalse(
            self.env["lifecycle.workflow.run"].search(
                [("state", "in", ("running", "waiting")), ("resume_at", "<=", now)]
            ),
            "no run is due now",
        )
        self.assertFalse(
            self.env["lifecycle.webhook.delivery"].search([("state", "in", ("pending", "sending"))]),
            "every delivery is in its final state",
        )
        self.assertFalse(
            self.env["lifecycle.message"].search([("state", "in", ("queued", "sending"))]),
            "every message is in its final state",
        )
        self.assertFalse(self._demo("webhook_endpoint_demo_crm").active)
        ladder = self.env["lifecycle.workflow"].search([("event_type", "=", "reminder_due")])
        self.assertFalse(ladder, "the reminder ladder ships switched off")
        trial = self._demo("workflow_demo_win_back")
        self.assertTrue(trial.active and trial.test_mode and trial.pilot_mode)
