from datetime import timedelta
from urllib.parse import urlsplit

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.base.tests.common import MockSmtplibCase

from ..lib.sampling import pilot_member, variant
from .test_engine import TODAY, EngineCommon

IN_A_MONTH = TODAY + timedelta(days=30)
MEASURES = ["sent_count:sum", "delivered_count:sum", "clicked_count:sum", "renewed_count:sum", "renewal_rate:avg"]


@tagged("post_install", "-at_install")
class TestReminderAnalytics(EngineCommon, MockSmtplibCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The figures are those of a company's whole book of reminders: start from none, whatever
        # the database already holds (the demo database has a season of them).
        cls.env["lifecycle.reminder.trace"].search([]).unlink()

    def _traces(self, deadlines):
        return self.env["lifecycle.reminder.trace"].search([("deadline_id", "in", deadlines.ids)])

    def _figures(self, user):
        """Sent, delivered, clicked, renewed, renewal rate per (workflow, rung): the pivot as ``user`` sees it."""
        groups = (
            self.env["lifecycle.reminder.trace"]
            .with_user(user)
            ._read_group([], ["workflow_id", "reminder_offset"], MEASURES)
        )
        return {(workflow, rung): tuple(values) for workflow, rung, *values in groups}

    def test_a_click_on_the_tracked_renew_link_then_a_renewal_count_for_the_reminder(self):
        clicked, ignored, forgotten = (self._deadline(expiry=IN_A_MONTH) for _ in range(3))
        deadlines = clicked | ignored | forgotten
        self._day(0)
        traces = self._traces(deadlines)
        self.assertEqual(traces.mapped("reminder_offset"), [30, 30, 30])
        trace = traces.filtered(lambda trace: trace.deadline_id == clicked)
        mail = self._mails(clicked)
        # the email's renew link is the reminder's own short link, not the portal page itself
        self.assertIn(trace.link_tracker_id.short_url, mail.body_html)
        self.assertNotIn("access_token", mail.body_html)
        self.assertEqual(len(set(traces.link_tracker_id.mapped("code"))), 3, "one code per recipient")

        response = self.url_open(urlsplit(trace.link_tracker_id.short_url).path, allow_redirects=False)
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response.headers["Location"].endswith(clicked.get_portal_url()))
        with self.mock_smtplib_connection():  # the outside world: an SMTP server that accepts everything
            self._mails(deadlines).send()
        clicked.with_user(self.lc_user).action_renew()
        ignored.with_user(self.lc_user).action_renew()
        self.env.invalidate_all()

        self.assertTrue(trace.date_clicked)
        self.assertEqual(trace.renewal_id, clicked.renewal_ids)
        workflow = self.env.ref("subscription_lifecycle.workflow_reminder_30")
        self.assertEqual(self._figures(self.lc_user), {(workflow, 30): (3, 3, 1, 2, 200 / 3)})
        funnel = self.env["lifecycle.cockpit"].with_user(self.lc_user).get_cockpit_data()["funnel"]
        self.assertEqual(funnel, {"sent": 3, "delivered": 3, "clicked": 1, "renewed": 2, "median_days": 0.0})

    def test_a_reminder_link_is_unique_as_any_link(self):
        Tracker = self.env["link.tracker"].sudo()
        url = "https://example.com/my/deadlines/1"
        Tracker.create({"url": url, "title": "Reminder", "label": "lifecycle-reminder-1-1"})
        # the same URL, UTM and label again: refused with link_tracker's own message
        self.assertRefused(
            "must be unique", Tracker.create, {"url": url, "title": "Reminder", "label": "lifecycle-reminder-1-1"}
        )
        # the same label on another URL is another link, as link_tracker has it
        other = Tracker.create({"url": f"{url}0", "title": "Reminder", "label": "lifecycle-reminder-1-1"})
        self.assertEqual(other.label, "lifecycle-reminder-1-1")

    def test_a_user_sees_the_figures_of_their_companies_only(self):
        ours = self._deadline(expiry=IN_A_MONTH)
        theirs = self._deadline(expiry=IN_A_MONTH, company_id=self.other_company.id)
        self._day(0)
        self.assertEqual(len(self._traces(ours | theirs)), 2)
        theirs._renew()
        local = new_test_user(
            self.env, login="lc_local", groups="subscription_lifecycle.group_lifecycle_user", name="Local Lea"
        )
        workflow = self.env.ref("subscription_lifecycle.workflow_reminder_30")
        self.assertEqual(self._figures(local), {(workflow, 30): (1, 0, 0, 0, 0.0)})
        self.assertEqual(self.env["lifecycle.cockpit"].with_user(local).get_cockpit_data()["funnel"]["sent"], 1)
        self.assertEqual(self._figures(self.lc_user), {(workflow, 30): (2, 0, 0, 1, 50.0)})

    def test_test_mode_emails_are_not_counted_as_reminders(self):
        workflow = self.env.ref("subscription_lifecycle.workflow_reminder_30")
        workflow.write({"test_mode": True, "test_recipients": self.lc_manager.email})
        deadline = self._deadline(expiry=IN_A_MONTH)
        self._day(0)
        self.assertTrue(self._mails(deadline))
        self.assertFalse(self._traces(deadline))


class ManyCustomers(EngineCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workflow = cls.env.ref("subscription_lifecycle.workflow_reminder_30")
        cls.customers = cls.env["res.partner"].create(
            [{"name": f"Customer {index}", "email": f"customer{index}@example.com"} for index in range(40)]
        )

    def _deadlines(self, expiry):
        return self.env["lifecycle.deadline"].union(
            *(self._deadline(expiry=expiry, partner_id=customer.id) for customer in self.customers)
        )


@tagged("post_install", "-at_install")
class TestPilot(ManyCustomers):
    def test_a_pilot_runs_the_workflow_for_its_sample_only_and_counts_the_others(self):
        self.workflow.with_user(self.lc_manager).write({"pilot_mode": True, "pilot_percent": 25})
        sample = self.customers.filtered(lambda customer: pilot_member(self.workflow.id, customer.id, 25))
        self.assertTrue(0 < len(sample) < len(self.customers))
        deadlines = self._deadlines(IN_A_MONTH)
        self._day(0)
        runs = self.Run.search([("workflow_id", "=", self.workflow.id), ("deadline_id", "in", deadlines.ids)])
        ran = runs.filtered(lambda run: run.state == "done")
        skipped = runs - ran
        self.assertEqual(ran.partner_id, sample)
        self.assertEqual(skipped.partner_id, self.customers - sample)
        self.assertEqual(set(skipped.mapped("state")), {"stopped"})
        self.assertIn("outside the pilot sample", skipped[:1].log_ids.message)
        self.assertEqual(self.workflow.pilot_skipped_count, len(skipped))
        self.assertEqual(set(self._mails(deadlines).mapped("res_id")), set(ran.deadline_id.ids))

        # the same customers again the next day: the sample does not move
        later = self._deadlines(IN_A_MONTH + timedelta(days=1))
        self._day(1)
        again = self.Run.search([("deadline_id", "in", later.ids), ("state", "=", "done")])
        self.assertEqual(again.partner_id, sample)

        # one button, and everyone gets the reminder
        self.workflow.with_user(self.lc_manager).action_end_pilot()
        everyone = self._deadlines(IN_A_MONTH + timedelta(days=2))
        self._day(2)
        done = self.Run.search([("deadline_id", "in", everyone.ids), ("state", "=", "done")])
        self.assertEqual(done.partner_id, self.customers)

    def test_a_pilot_in_test_mode_sends_its_samples_emails_to_the_test_recipients(self):
        self.workflow.write(
            {"pilot_mode": True, "pilot_percent": 25, "test_mode": True, "test_recipients": self.lc_manager.email}
        )
        deadlines = self._deadlines(IN_A_MONTH)
        self._day(0)
        mails = self._mails(deadlines)
        sample = self.customers.filtered(lambda customer: pilot_member(self.workflow.id, customer.id, 25))
        self.assertEqual(len(mails), len(sample))
        self.assertEqual(set(mails.mapped("email_to")), {self.lc_manager.email})

    def test_a_pilot_sample_is_between_nobody_and_everyone(self):
        self.assertRefused(
            "must be more than 0",
            self.workflow.with_user(self.lc_manager).write,
            {"pilot_mode": True, "pilot_percent": 100},
        )


@tagged("post_install", "-at_install")
class TestAbVariants(ManyCustomers):
    def test_each_customer_gets_the_variant_the_split_gives_them_and_no_winner_on_few_sends(self):
        template_b = self.env.ref("subscription_lifecycle.mail_template_reminder_30").copy({"subject": "Variant B"})
        step = self.workflow.step_ids.filtered(lambda step: step.step_type == "email")
        step.with_user(self.lc_manager).write({"mail_template_b_id": template_b.id, "variant_split": 50})
        deadlines = self._deadlines(IN_A_MONTH)
        self._day(0)
        traces = self.env["lifecycle.reminder.trace"].search([("deadline_id", "in", deadlines.ids)])
        self.assertEqual(len(traces), len(self.customers))
        expected = {trace.partner_id.id: variant(step.id, trace.partner_id.id, 50) for trace in traces}
        self.assertEqual({trace.partner_id.id: trace.variant for trace in traces}, expected)
        self.assertEqual(set(expected.values()), {"a", "b"})
        mails = self.env["mail.mail"].search([("model", "=", deadlines._name), ("res_id", "in", deadlines.ids)])
        self.assertEqual(
            sorted(mails.filtered(lambda mail: mail.subject == "Variant B").mapped("res_id")),
            sorted(traces.filtered(lambda trace: trace.variant == "b").deadline_id.ids),
        )
        step.invalidate_recordset(["variant_summary"])
        self.assertIn("Not enough data", step.with_user(self.lc_manager).variant_summary)
