from contextlib import closing
from datetime import date, datetime, timedelta

from psycopg2.errors import SerializationFailure

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError
from odoo.sql_db import db_connect
from odoo.tests import Form, tagged
from odoo.tools import SQL, mute_logger

from .common import LifecycleCommon

TODAY = date(2090, 6, 1)
NOW = datetime(2090, 6, 1, 8, 0)
LADDER = (30, 14, 3, 0)


class EngineCommon(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["lifecycle.event"]
        cls.Run = cls.env["lifecycle.workflow.run"]
        cls.ladder = cls.env["lifecycle.workflow"]
        for offset in LADDER:
            workflow = cls.env.ref(f"subscription_lifecycle.workflow_reminder_{offset}")
            workflow.active = True
            cls.ladder |= workflow
        cls.customer.email = "azure@example.com"

    def _mails(self, deadline):
        return self.env["mail.mail"].search([("model", "=", deadline._name), ("res_id", "in", deadline.ids)])

    def _reminders(self, deadline):
        return self.Event.search([("deadline_id", "=", deadline.id), ("event_type", "=", "reminder_due")])

    def _day(self, days):
        """Run the scheduler and the engine as they would run ``days`` after NOW."""
        self.env["lifecycle.deadline"]._cron_schedule(now=NOW + timedelta(days=days))
        self.Run._cron_engine(now=NOW + timedelta(days=days))

    def _workflow(self, event_type, steps, **vals):
        return self.env["lifecycle.workflow"].create(
            {
                "name": f"Test {event_type}",
                "event_type": event_type,
                "domain": f"[('partner_id', '=', {self.customer.id})]",
                "step_ids": [(0, 0, {"sequence": index, **step}) for index, step in enumerate(steps)],
                **vals,
            }
        )


@tagged("post_install", "-at_install")
class TestReminderLadder(EngineCommon):
    def test_running_the_scheduler_twice_a_day_sends_each_reminder_once(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335))
        self._day(0)
        self._day(0)
        self.assertEqual(self._reminders(deadline).mapped("reminder_offset"), [30])
        mails = self._mails(deadline)
        self.assertEqual(len(mails), 1)
        self.assertIn("up for renewal in a month", mails.subject)
        self.assertIn(deadline.partner_id, mails.recipient_ids)
        # the renew link is the reminder's tracked short link to the deadline's portal page
        tracker = self.env["lifecycle.reminder.trace"].search([("deadline_id", "=", deadline.id)]).link_tracker_id
        self.assertIn(tracker.short_url, mails.body_html)
        self.assertTrue(tracker.url.endswith(f"/my/deadlines/{deadline.id}?access_token={deadline.access_token}"))

    def test_the_whole_ladder_once_each_over_a_month(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335))
        for day in range(0, 35):
            self._day(day)
        self.assertEqual(sorted(self._reminders(deadline).mapped("reminder_offset")), [0, 3, 14, 30])
        self.assertEqual(len(self._mails(deadline)), 4)
        self.assertEqual(deadline.state, "expired")

    def test_an_idle_scheduler_sends_one_reminder_not_four(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=20), date_start=TODAY - timedelta(days=345))
        self._day(20)  # first run since long before the 30-day rung: the expiry day itself
        self.assertEqual(self._reminders(deadline).mapped("reminder_offset"), [0])
        self.assertEqual(len(self._mails(deadline)), 1)
        self.assertIn("expires today", self._mails(deadline).subject)
        late = self._deadline(expiry=TODAY + timedelta(days=10), date_start=TODAY - timedelta(days=355))
        self._day(0)
        self.assertEqual(self._reminders(late).mapped("reminder_offset"), [14])

    def test_a_renewal_between_two_rungs_stops_the_later_ones(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335))
        self._day(0)
        deadline._renew(date_ref=TODAY + timedelta(days=5))
        for day in range(5, 31):
            self._day(day)
        self.assertEqual(self._reminders(deadline).mapped("reminder_offset"), [30])
        self.assertEqual(len(self._mails(deadline)), 1)

    def test_a_renewal_after_the_event_but_before_the_email_stops_the_run(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=14), date_start=TODAY - timedelta(days=351))
        self.env["lifecycle.deadline"]._cron_schedule(now=NOW)
        deadline._renew(date_ref=TODAY)
        self.Run._cron_engine(now=NOW)
        run = self._reminders(deadline).run_ids
        self.assertEqual(run.state, "stopped")
        self.assertIn("Renewed meanwhile", run.log_ids[-1].message)
        self.assertFalse(self._mails(deadline))

    def test_a_second_reminder_for_the_same_rung_is_never_recorded(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335))
        other = self._deadline(expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335))
        self._day(0)
        first = self._reminders(deadline)
        # emitted again with a new one: the duplicate is left out, the new one is not held back
        again = self.Event._emit_each(
            "reminder_due", [(deadline, {"reminder_offset": 30}), (other, {"reminder_offset": 3})]
        )
        self.assertEqual(again.mapped("reminder_offset"), [3])
        self.assertEqual(again.deadline_id, other)
        self.assertEqual(self._reminders(deadline), first)
        # whoever writes an event some other way meets the database's own refusal
        self.assertRefused(
            "already sent for this expiry date",
            self.Event.create,
            {
                "event_type": "reminder_due",
                "res_model": deadline._name,
                "res_id": deadline.id,
                "deadline_id": deadline.id,
                "date_expiry": deadline.date_expiry,
                "reminder_offset": 30,
            },
        )

    def test_events_made_in_bulk_say_what_one_made_by_the_orm_says(self):
        deadline = self._deadline(expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335))
        self.env["ir.cron.trigger"].search([]).unlink()
        reminder = self.Event._emit_each(
            "reminder_due", [(deadline, {"reminder_offset": 30, "payload": {"days_left": 30}})]
        )
        registered = self.Event.with_user(self.lc_user)._emit("customer_registered", self.customer, company_id=False)
        self.assertRecordValues(
            reminder | registered,
            [
                {
                    "name": f"Renewal reminder due: {deadline.name}",
                    "event_type": "reminder_due",
                    "res_model": "lifecycle.deadline",
                    "res_id": deadline.id,
                    "partner_id": self.customer.id,
                    "deadline_id": deadline.id,
                    "company_id": self.company.id,
                    "reminder_offset": 30,
                    "date_expiry": deadline.date_expiry,
                    "payload": {"days_left": 30},
                    "state": "pending",
                    "create_uid": self.env.uid,
                },
                {
                    "name": f"Customer registered: {self.customer.display_name}",
                    "event_type": "customer_registered",
                    "res_model": "res.partner",
                    "res_id": self.customer.id,
                    "partner_id": self.customer.id,
                    "deadline_id": False,
                    "company_id": False,
                    "reminder_offset": 0,
                    "date_expiry": False,
                    "payload": False,
                    "state": "pending",
                    "create_uid": self.lc_user.id,
                },
            ],
        )
        self.assertTrue(reminder.create_date and reminder.write_date)
        self.env.cr.execute(
            "SELECT reminder_offset, date_expiry, payload FROM lifecycle_event WHERE id = %s", [registered.id]
        )
        self.assertEqual(self.env.cr.fetchone(), (None, None, None), "what an event does not say is left empty")
        engine = self.env.ref("subscription_lifecycle.ir_cron_lifecycle_engine")
        second = self.env.ref("subscription_lifecycle.ir_cron_lifecycle_engine_second")
        self.assertEqual(
            self.env["ir.cron.trigger"].search([]).cron_id, engine | second, "both engine jobs are woken up"
        )
        with self.assertRaisesRegex(ValueError, "no say in state"):
            self.Event._emit("customer_registered", self.customer, state="processed")

    def test_each_company_uses_its_own_ladder(self):
        self.company.lifecycle_reminder_offsets = "7"
        deadline = self._deadline(expiry=TODAY + timedelta(days=7), date_start=TODAY - timedelta(days=358))
        self._day(0)
        self.assertEqual(self._reminders(deadline).mapped("reminder_offset"), [7])
        self.assertRefused("distinct numbers of days", self.company.write, {"lifecycle_reminder_offsets": "30,x"})

    def test_a_new_ladder_never_climbs_back_above_a_rung_already_sent(self):
        reminded = self._deadline(expiry=TODAY + timedelta(days=14), date_start=TODAY - timedelta(days=351))
        untouched = self._deadline(expiry=TODAY + timedelta(days=40), date_start=TODAY - timedelta(days=325))
        self._day(0)
        self.assertEqual(self._reminders(reminded).mapped("reminder_offset"), [14])
        # 14 leaves the ladder: the customer who got it never gets the 20-day rung now reached
        row = "SELECT ctid FROM lifecycle_deadline WHERE id = %s"
        rows = {deadline: self.env.execute_query(SQL(row, deadline.id)) for deadline in (reminded, untouched)}
        self.company.lifecycle_reminder_offsets = "30,20,7,0"
        self.assertNotEqual(self.env.execute_query(SQL(row, reminded.id)), rows[reminded])
        self.assertEqual(
            self.env.execute_query(SQL(row, untouched.id)), rows[untouched], "a date that stays is not rewritten"
        )
        for day in range(1, 41):
            self._day(day)
        self.assertEqual(sorted(self._reminders(reminded).mapped("reminder_offset")), [0, 7, 14])
        self.assertEqual(sorted(self._reminders(untouched).mapped("reminder_offset")), [0, 7, 20, 30])

    def test_scheduler_queries_do_not_grow_with_batch_size(self):
        def make(count, expiry):
            for _index in range(count):
                self._deadline(expiry=expiry, date_start=expiry - timedelta(days=365))

        warm, small_at, big_at = (NOW + timedelta(days=days) for days in (50, 100, 200))
        make(1, warm.date() + timedelta(days=14))
        make(2, small_at.date() + timedelta(days=14))
        make(40, big_at.date() + timedelta(days=14))
        deadlines = self.env["lifecycle.deadline"]
        deadlines._emit_due_reminders(now=warm)  # warm the caches
        self.env.invalidate_all()
        count = self.cr.sql_log_count
        small = deadlines._emit_due_reminders(now=small_at)
        self.env.flush_all()
        small_queries = self.cr.sql_log_count - count
        self.env.invalidate_all()
        with self.assertQueryCount(small_queries):
            big = deadlines._emit_due_reminders(now=big_at)
        self.assertEqual((len(small), len(big)), (2, 40))

    def test_each_batch_of_the_scheduler_costs_the_same_queries(self):
        def queries_for(batches, at):
            deadlines = self.env["lifecycle.deadline"]
            for index in range(10 * batches):
                # customers of their own, some in another time zone, some reminded before
                customer = self.env["res.partner"].create(
                    {"name": f"Batch {at} {index}", "tz": ("Europe/Brussels", "Australia/Sydney", False)[index % 3]}
                )
                deadlines |= self._deadline(
                    expiry=at.date() + timedelta(days=(30, 14, 3)[index % 3]),
                    date_start=at.date() - timedelta(days=300),
                    partner_id=customer.id,
                )
            self.env.flush_all()
            self.env.invalidate_all()
            count = self.cr.sql_log_count
            events = self.env["lifecycle.deadline"]._emit_due_reminders(now=at, batch_size=10)
            self.env.flush_all()
            self.assertEqual(len(events), 10 * batches)
            queries = self.cr.sql_log_count - count
            deadlines.action_close()  # out of the next measure's way
            return queries

        self.env["lifecycle.deadline"]._emit_due_reminders(now=NOW)  # what the database held before is not counted
        one, two, four = (queries_for(batches, NOW + timedelta(days=100 * batches)) for batches in (1, 2, 4))
        self.assertEqual(four - two, 2 * (two - one), "each batch costs what the one before it cost")
        self.assertLessEqual(two - one, 7, "a batch reads, moves its dates and emits in a few queries")


@tagged("post_install", "-at_install")
class TestEvents(EngineCommon):
    def test_business_changes_emit_events_in_their_transaction(self):
        deadline = self._deadline(state="draft")
        deadline.action_activate()
        deadline._renew()
        deadline.action_close()
        types = self.Event.search([("deadline_id", "=", deadline.id)], order="id").mapped("event_type")
        self.assertEqual(types, ["deadline_created", "deadline_activated", "deadline_renewed", "deadline_closed"])

    def test_a_rolled_back_change_leaves_no_event(self):
        before = self.Event.search_count([])
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            self._deadline(state="draft").action_cancel()
            _ = 1 / 0
        self.env.invalidate_all()
        self.assertEqual(self.Event.search_count([]), before)

    def test_expiry_gives_one_notice_and_one_warning(self):
        notice = self.env.ref("subscription_lifecycle.workflow_expiry_notice")
        notice.active = True
        deadline = self._deadline(expiry=TODAY - timedelta(days=1), date_start=TODAY - timedelta(days=366))
        self._day(0)
        self._day(0)
        self._day(1)
        expired = self.Event.search([("deadline_id", "=", deadline.id), ("event_type", "=", "deadline_expired")])
        self.assertEqual(len(expired), 1)
        self.assertEqual(len(self._mails(deadline)), 1)
        self.assertIn("has expired", self._mails(deadline).subject)
        warning = self.env.ref("mail.mail_activity_data_warning")
        self.assertEqual(deadline.activity_ids.activity_type_id, warning)
        self.assertEqual(deadline.activity_ids.user_id, deadline.user_id)

    def test_customer_events(self):
        self.customer.customer_rank = 1
        self.customer.action_archive()
        archived = self.Event.search([("partner_id", "=", self.customer.id), ("event_type", "=", "customer_archived")])
        self.assertEqual(len(archived), 1)
        portal = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            ._create_user_from_template(
                {"login": "new.customer@example.com", "name": "New Customer", "email": "new.customer@example.com"}
            )
        )
        registered = self.Event.search([("event_type", "=", "customer_registered")])
        self.assertIn(portal.partner_id.id, registered.mapped("res_id"))


@tagged("post_install", "-at_install")
class TestWorkflowRuns(EngineCommon):
    def test_segment_filter_limits_who_gets_a_run(self):
        workflow = self._workflow(
            "deadline_created",
            [{"step_type": "activity", "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id}],
            domain=f"[('partner_id', '=', {self.customer.id}), ('amount', '>', 500)]",
        )
        big = self._deadline(amount=1200, state="draft")
        small = self._deadline(amount=100, state="draft")
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.deadline_id, big)
        self.assertEqual(workflow.run_ids.state, "done")
        self.assertTrue(big.activity_ids)
        self.assertFalse(small.activity_ids)

    def test_a_wait_step_resumes_on_the_right_day(self):
        todo = self.env.ref("mail.mail_activity_data_todo")
        workflow = self._workflow(
            "deadline_activated",
            [
                {"step_type": "wait", "wait_amount": 2, "wait_unit": "days"},
                {"step_type": "condition", "condition_domain": "[('state', '=', 'active')]"},
                {"step_type": "activity", "activity_type_id": todo.id, "activity_summary": "Check in"},
            ],
        )
        deadline = self._deadline(state="draft")
        deadline.action_activate()
        self.Run._cron_engine(now=NOW)
        run = workflow.run_ids
        self.assertEqual((run.state, run.resume_at), ("waiting", NOW + timedelta(days=2)))
        trigger = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.env.ref("subscription_lifecycle.ir_cron_lifecycle_engine").id)],
            order="call_at desc",
            limit=1,
        )
        self.assertEqual(trigger.call_at, NOW + timedelta(days=2), "the engine wakes itself when the wait ends")
        self.Run._cron_engine(now=NOW + timedelta(days=1, hours=23))
        self.assertEqual(run.state, "waiting")
        self.assertFalse(deadline.activity_ids)
        self.Run._cron_engine(now=NOW + timedelta(days=2))
        self.assertEqual(run.state, "done")
        self.assertEqual(deadline.activity_ids.summary, "Check in")
        self.assertEqual(run.log_ids.mapped("outcome"), ["wait", "next", "next"])

    def test_a_failing_step_fails_its_run_and_the_batch_goes_on(self):
        quantity = self.env["ir.model.fields"]._get("lifecycle.deadline", "quantity")
        broken = self._workflow(
            "deadline_created", [{"step_type": "update", "update_field_id": quantity.id, "update_value": "0"}]
        )
        working = self._workflow(
            "deadline_created",
            [{"step_type": "update", "update_field_id": quantity.id, "update_value": "7"}],
            sequence=99,
        )
        first, second = self._deadline(state="draft"), self._deadline(state="draft")
        with mute_logger("odoo.addons.subscription_lifecycle.models.lifecycle_workflow_run", "odoo.sql_db"):
            self.Run._cron_engine(now=NOW)
        self.assertEqual(set(broken.run_ids.mapped("state")), {"failed"})
        self.assertEqual(set(working.run_ids.mapped("state")), {"done"})
        self.assertEqual((first.quantity, second.quantity), (7, 7))
        self.assertIn("quantity must be greater than zero", broken.run_ids[0].log_ids[-1].message)
        # staff fix the step and retry
        broken.step_ids.update_value = "3"
        broken.run_ids.with_user(self.lc_user).action_retry()
        self.Run._cron_engine(now=NOW)
        self.assertEqual(set(broken.run_ids.mapped("state")), {"done"})

    def test_staff_cancel_a_waiting_run(self):
        workflow = self._workflow("deadline_created", [{"step_type": "wait", "wait_amount": 1, "wait_unit": "hours"}])
        self._deadline(state="draft")
        self.Run._cron_engine(now=NOW)
        run = workflow.run_ids.with_user(self.lc_user)
        run.action_cancel()
        self.assertEqual(run.state, "stopped")
        self.assertIn("Cancelled by", run.log_ids[-1].message)
        with self.assertRaises(UserError):
            run.action_retry()

    def test_test_mode_sends_only_to_internal_test_recipients(self):
        template = self.env.ref("subscription_lifecycle.mail_template_cancelled")
        self.lc_manager.email = "max@yourcompany.example"
        self.assertRefused(
            "not: customer@example.com",
            self._workflow,
            "deadline_cancelled",
            [{"step_type": "email", "mail_template_id": template.id}],
            test_mode=True,
            test_recipients="customer@example.com",
        )
        self._workflow(
            "deadline_cancelled",
            [{"step_type": "email", "mail_template_id": template.id}],
            test_mode=True,
            test_recipients="max@yourcompany.example",
        )
        deadline = self._deadline()
        deadline.action_cancel()
        self.Run._cron_engine(now=NOW)
        mail = self._mails(deadline)
        self.assertEqual(mail.email_to, "max@yourcompany.example")
        self.assertFalse(mail.recipient_ids)

    def test_preview_lists_todays_audience_and_renders_without_sending(self):
        workflow = self.env.ref("subscription_lifecycle.workflow_reminder_14")
        deadline = self._deadline(expiry=date.today() + timedelta(days=14))
        self._deadline(expiry=date.today() + timedelta(days=15))
        workflow.step_ids.filtered(lambda step: step.step_type == "email").offer_text = "Renew now: 10% off"
        mails_before = self.env["mail.mail"].search_count([])
        preview = Form(
            self.env["lifecycle.workflow.preview"]
            .with_user(self.lc_manager)
            .with_context(default_workflow_id=workflow.id)
        )
        self.assertIn(deadline, preview.deadline_ids)
        self.assertEqual(preview.deadline_id, preview.deadline_ids[:1])
        preview.deadline_id = deadline
        self.assertEqual(preview.preview_subject, "Two weeks left on your Maintenance contract")
        self.assertIn("Azure Interior", preview.preview_body)
        self.assertIn("Renew now: 10% off", preview.preview_body)
        self.assertEqual(self.env["mail.mail"].search_count([]), mails_before)

    def test_user_reads_runs_but_cannot_change_workflows(self):
        workflow = self.ladder[0].with_user(self.lc_user)
        self.assertTrue(workflow.name)
        with self.assertRaises(AccessError):
            workflow.write({"active": False})
        workflow.with_user(self.lc_manager).write({"active": False})
        self.assertFalse(self.ladder[0].active)


@tagged("post_install", "-at_install")
class TestConcurrentWorkers(EngineCommon):
    def _committed_runs(self):
        """Five running runs, committed; ``(dbname, run ids)``.

        Two workers are two database connections: the data has to be
        committed for the second one to see it, and is removed afterwards.
        """
        dbname = self.env.cr.dbname
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partner = env["res.partner"].create({"name": "Concurrent Customer"})
            product = env["product.product"].create(
                {"name": "Concurrent service", "lifecycle_is_deadline": True, "lifecycle_duration": 1}
            )
            workflow = env["lifecycle.workflow"].create(
                {
                    "name": "Concurrent test",
                    "event_type": "deadline_created",
                    "domain": f"[('partner_id', '=', {partner.id})]",
                    "step_ids": [
                        (
                            0,
                            0,
                            {"step_type": "activity", "activity_type_id": env.ref("mail.mail_activity_data_todo").id},
                        )
                    ],
                }
            )
            deadlines = env["lifecycle.deadline"].create(
                [
                    {"partner_id": partner.id, "product_id": product.id, "date_start": TODAY, "date_expiry": TODAY}
                    for _index in range(5)
                ]
            )
            env["lifecycle.event"].search([("deadline_id", "in", deadlines.ids)])._match_workflows()
            run_ids = workflow.run_ids.ids
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_committed, dbname, workflow.id, deadlines.ids, partner.id, product.id)
        self.assertEqual(len(run_ids), 5)
        return dbname, run_ids

    def test_two_cursors_never_execute_the_same_step(self):
        dbname, run_ids = self._committed_runs()

        with closing(db_connect(dbname).cursor()) as cr_a, closing(db_connect(dbname).cursor()) as cr_b:
            runs_a = api.Environment(cr_a, SUPERUSER_ID, {})["lifecycle.workflow.run"]
            runs_b = api.Environment(cr_b, SUPERUSER_ID, {})["lifecycle.workflow.run"]
            due = SQL("id IN %s AND state = 'running'", tuple(run_ids))
            claimed_a = runs_a._claim("lifecycle_workflow_run", due, 100)
            claimed_b = runs_b._claim("lifecycle_workflow_run", due, 100)
            self.assertEqual(sorted(claimed_a), sorted(run_ids))
            self.assertEqual(claimed_b, [], "rows locked by the first worker are skipped, not waited for")
            runs_a.browse(claimed_a)._execute_all(NOW)
            cr_a.commit()  # pylint: disable=invalid-commit
            cr_b.rollback()
            claimed_b = runs_b._claim("lifecycle_workflow_run", due, 100)
            self.assertEqual(claimed_b, [], "once done, nothing is left to claim")
            cr_b.execute(
                "SELECT run_id, COUNT(*) FROM lifecycle_workflow_run_log WHERE run_id IN %s GROUP BY run_id",
                [tuple(run_ids)],
            )
            self.assertEqual(dict(cr_b.fetchall()), dict.fromkeys(run_ids, 1))

    def test_a_cron_worker_claims_past_the_rows_another_worker_just_finished(self):
        """Under REPEATABLE READ, locking a row committed since one's snapshot fails: the cron claims again."""
        dbname, run_ids = self._committed_runs()
        with closing(db_connect(dbname).cursor()) as cr_a, closing(db_connect(dbname).cursor()) as cr_b:
            runs_a = api.Environment(cr_a, SUPERUSER_ID, {})["lifecycle.workflow.run"]
            runs_b = api.Environment(cr_b, SUPERUSER_ID, {})["lifecycle.workflow.run"]
            due = SQL("id IN %s AND state = 'running'", tuple(run_ids))
            cr_b.execute("SELECT 1")  # worker B's snapshot: all five runs still running
            claimed_a = runs_a._claim("lifecycle_workflow_run", due, 2)
            runs_a.browse(claimed_a)._execute_all(NOW)
            cr_a.commit()  # pylint: disable=invalid-commit
            with self.assertRaises(SerializationFailure), mute_logger("odoo.sql_db"):
                runs_b._claim("lifecycle_workflow_run", due, 100)
            cr_b.rollback()
            cr_b.execute("SELECT 1")
            claimed_a = runs_a._claim("lifecycle_workflow_run", due, 1)
            runs_a.browse(claimed_a)._execute_all(NOW)
            cr_a.commit()  # pylint: disable=invalid-commit
            claimed_b = runs_b._claim("lifecycle_workflow_run", due, 100, fresh_transaction=True)
            self.assertEqual(len(claimed_b), 2, "the two runs nobody did yet, in a new transaction")
            self.assertFalse(set(claimed_b) & set(claimed_a))

    @staticmethod
    def _drop_committed(dbname, workflow_id, deadline_ids, partner_id, product_id):
        """Remove what the test had to commit for other connections to see it."""
        with closing(db_connect(dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            deadlines = env["lifecycle.deadline"].browse(deadline_ids)
            deadlines.activity_ids.unlink()
            env["lifecycle.workflow"].browse(workflow_id).unlink()
            env["lifecycle.event"].search([("deadline_id", "in", deadline_ids)]).unlink()
            deadlines.unlink()
            env["res.partner"].browse(partner_id).unlink()
            env["product.product"].browse(product_id).unlink()
            cr.commit()  # pylint: disable=invalid-commit


@tagged("post_install", "-at_install")
class TestEngineEdges(EngineCommon):
    def test_an_expiry_announced_for_that_date_is_not_announced_again(self):
        deadline = self._deadline(expiry=TODAY - timedelta(days=1), date_start=TODAY - timedelta(days=366))
        other = self._deadline(expiry=TODAY - timedelta(days=1), date_start=TODAY - timedelta(days=366))
        self._day(0)
        deadline.action_cancel()
        deadline.action_draft()
        deadline.action_activate()
        self._day(0)  # expires again on the same date: no second notice, the batch goes on
        self.assertEqual(deadline.state, "expired")
        expired = self.Event.search(
            [("deadline_id", "in", (deadline | other).ids), ("event_type", "=", "deadline_expired")]
        )
        self.assertEqual(len(expired), 2)

    def test_archived_customers_start_their_workflow(self):
        workflow = self.env["lifecycle.workflow"].create(
            {
                "name": "Win back",
                "event_type": "customer_archived",
                "domain": f"[('id', '=', {self.customer.id})]",
                "step_ids": [
                    (
                        0,
                        0,
                        {"step_type": "activity", "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id},
                    )
                ],
            }
        )
        self.customer.customer_rank = 1
        self.customer.action_archive()
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.state, "done")

    def test_segments_written_by_the_domain_editor_evaluate(self):
        workflow = self._workflow(
            "deadline_created",
            [
                {
                    "step_type": "condition",
                    "condition_domain": "[('date_expiry', '>=', context_today().strftime('%Y-%m-%d'))]",
                }
            ],
            domain=f"[('partner_id', '=', {self.customer.id}),"
            " ('date_expiry', '<=', (context_today() + relativedelta(years=200)).strftime('%Y-%m-%d'))]",
        )
        deadline = self._deadline(expiry=date.today() + timedelta(days=3), state="draft")
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.deadline_id, deadline)
        self.assertEqual(workflow.run_ids.state, "done")

    def test_a_reminder_workflow_needs_a_rung_of_the_ladder(self):
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_30")
        self.assertRefused(
            "add 7 to the reminder ladder",
            self._workflow,
            "reminder_due",
            [{"step_type": "email", "mail_template_id": template.id}],
            reminder_offset=7,
        )
