from datetime import timedelta
from unittest.mock import patch

from lxml import etree

from odoo.tests import tagged
from odoo.tools import mute_logger

from .test_engine import NOW, TODAY, EngineCommon

RUN_LOGGER = "odoo.addons.subscription_lifecycle.models.lifecycle_workflow_run"


@tagged("post_install", "-at_install")
class TestEngineBatch(EngineCommon):
    """Issue 10: a batch of runs goes through each step together, posted in each deadline's chatter."""

    def _due_in_30_days(self, count, **vals):
        customers = self.env["res.partner"].create(
            [{"name": f"Batch customer {index}", "email": f"batch{index}@example.com"} for index in range(count)]
        )
        return self.env["lifecycle.deadline"].create(
            [
                {
                    "partner_id": customer.id,
                    "product_id": self.yearly.id,
                    "amount": 1200.0,
                    "date_start": TODAY - timedelta(days=335),
                    "date_expiry": TODAY + timedelta(days=30),
                    "state": "active",
                    **vals,
                }
                for customer in customers
            ]
        )

    def _reminder_messages(self, deadline):
        return deadline.message_ids.filtered(lambda message: message.message_type == "comment")

    def test_reminders_are_posted_in_the_chatter_of_their_deadline_to_the_customer(self):
        deadlines = self._due_in_30_days(3, user_id=self.lc_user.id)
        self._day(0)
        for deadline in deadlines:
            message = self._reminder_messages(deadline)
            self.assertEqual(len(message), 1, "one reminder in the deadline's chatter")
            self.assertIn("up for renewal in a month", message.subject)
            self.assertEqual(message.author_id, self.lc_user.partner_id, "signed by the salesperson")
            self.assertEqual(message.notification_ids.res_partner_id, deadline.partner_id)
            self.assertEqual(message.notification_ids.notification_type, "email")
            mail = self._mails(deadline)
            self.assertEqual((mail.mail_message_id, mail.recipient_ids), (message, deadline.partner_id))
            self.assertTrue(message.reply_to, "replies come back to the deadline")
            # sending the email keeps the message (and its delivery status) in the chatter
            mail.unlink()
            self.assertTrue(message.exists())
        runs = self.ladder.run_ids.filtered(lambda run: run.deadline_id in deadlines)
        self.assertEqual(set(runs.mapped("state")), {"done"})
        self.assertRegex(runs[0].log_ids[-1].message, r"Email \d+ queued for Batch customer")

    def test_a_batch_compiles_each_template_once_and_each_customer_reads_their_own(self):
        deadlines = self._due_in_30_days(5)
        qweb = type(self.env["ir.qweb"])

        def compiles(work):
            """How many times ``work`` compiles a template from its source (Odoo's own compiler, counted)."""
            with patch.object(
                qweb, "_generate_code_uncached", autospec=True, side_effect=qweb._generate_code_uncached
            ) as compiler:
                work()
            return sum(isinstance(call.args[1], etree._Element) for call in compiler.call_args_list)

        earlier_runs = self.Run.search([])
        day_compiles = compiles(lambda: self._day(0))
        runs = self.Run.search([]) - earlier_runs
        templates = runs.workflow_id.step_ids.mail_template_id
        self.assertIn(self.env.ref("subscription_lifecycle.mail_template_reminder_30"), templates)
        self.assertGreaterEqual(len(runs), len(deadlines))
        self.assertEqual(day_compiles, len(templates), "one compile per template of the day, not per email")
        for deadline in deadlines:
            self.assertIn(f"Hello {deadline.partner_id.name},", self._mails(deadline).body_html)
        # outside the engine's batch, Odoo's rendering is left as it is: one compile per record
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_30")
        self.assertEqual(compiles(lambda: template._render_field("body_html", deadlines.ids)), 5)

    def test_one_bad_record_in_a_batch_of_100_fails_alone(self):
        deadlines = self._due_in_30_days(100)
        bad = deadlines[42]
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_30")
        template.subject = "{{ object.partner_id.name.startswith('Batch customer 42') and 1 / 0 or 'Renew' }}"
        with mute_logger(RUN_LOGGER):
            self._day(0)
        runs = self.ladder.run_ids.filtered(lambda run: run.deadline_id in deadlines)
        failed = runs.filtered(lambda run: run.state == "failed")
        self.assertEqual(failed.deadline_id, bad)
        self.assertEqual(len(runs.filtered(lambda run: run.state == "done")), 99)
        self.assertFalse(self._mails(bad) or self._reminder_messages(bad))
        for deadline in deadlines - bad:
            self.assertEqual(len(self._mails(deadline)), 1)
            self.assertEqual(len(self._reminder_messages(deadline)), 1, "nothing twice after the retry one by one")

    def test_the_scheduler_reads_what_is_due_not_the_whole_horizon(self):
        """Its queries do not grow with the deadlines that are within the ladder's reach but not due."""

        def queries_for_a_day_with_five_due(waiting):
            # ``waiting`` deadlines got their first reminder yesterday; their next one is days away
            self._due_in_30_days(waiting, date_expiry=TODAY + timedelta(days=20))
            self.env["lifecycle.deadline"]._emit_due_reminders(now=NOW - timedelta(days=1), batch_size=10)
            due = self._due_in_30_days(5)
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            events = self.env["lifecycle.deadline"]._emit_due_reminders(now=NOW, batch_size=10)
            self.env.flush_all()
            self.assertEqual(events.deadline_id, due)
            return self.env.cr.sql_log_count - before

        self.assertEqual(queries_for_a_day_with_five_due(20), queries_for_a_day_with_five_due(200))
