"""The engine run by real worker processes: one killed by SIGKILL in the middle of a batch, two side by side.

A worker is a separate Odoo process (``engine_worker.py``) running one of the
engine's two cron jobs through Odoo's cron loop on the test database, as two
cron workers would, so everything it has to see is
committed by the test, and removed again by SQL afterwards. Work already
waiting in the database (the demo data's events) is held by row locks in the
test's own transaction for the test's duration: the workers' ``SKIP LOCKED``
claims pass it by, as they would pass by a batch another worker holds, so
they only do this test's work and leave the rest of the database as it was.
"""

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL, config

from ..models.lifecycle_workflow_run import ENGINE_CRONS

# Far from the demo data's dates: on that day the scheduler finds this test's deadlines only.
NOW = datetime(2090, 6, 1, 8, 0)
EXPIRY = NOW.date() + timedelta(days=30)  # the 30-day rung is due at NOW
WORKER = Path(__file__).with_name("engine_worker.py")
# A worker still busy after this long is stuck: the test stops waiting (no speed is asserted).
STUCK = 1800
POLL = 0.05

_logger = logging.getLogger(__name__)


class EngineWorkersCommon(TransactionCase):
    """Committed backlogs of due 30-day reminders, worker processes, and what they left in the database."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        # the demo data's pending events and due runs stay out of the workers' reach (see the module docstring)
        self.env.cr.execute("SELECT id FROM lifecycle_event WHERE state = 'pending' FOR UPDATE")
        self.env.cr.execute("SELECT id FROM lifecycle_workflow_run WHERE state IN ('running', 'waiting') FOR UPDATE")
        self.watch_cr = self.enterContext(closing(db_connect(self.dbname).cursor()))

    def _observe(self, query, *args):
        """The first row of ``query``, read from the database as it is now (committed data only)."""
        self.watch_cr.rollback()  # a new snapshot: the cursor reads in repeatable read
        self.watch_cr.execute(query, args)
        return self.watch_cr.fetchone()

    def _commit_backlog(self, count):
        """Commit ``count`` active deadlines of as many customers, each with its 30-day reminder event pending.

        Only the 30-day reminder workflow is switched on meanwhile. Returns
        the deadlines' ids; everything is removed when the test ends.
        """
        marks = self._marks()
        with closing(db_connect(self.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            reminders = (
                env["lifecycle.workflow"].with_context(active_test=False).search([("event_type", "=", "reminder_due")])
            )
            was_active = reminders.filtered("active")
            self.addCleanup(self._restore_workflows, reminders.ids, was_active.ids)
            reminders.active = False
            env.ref("subscription_lifecycle.workflow_reminder_30").active = True
            # customers by bulk SQL, each its own commercial entity
            cr.execute(
                """
                INSERT INTO res_partner (id, commercial_partner_id, name, complete_name, email, email_normalized,
                                         type, active, is_company, partner_share, autopost_bills,
                                         create_uid, write_uid, create_date, write_date)
                SELECT id, id, name, name, email, email, 'contact', TRUE, FALSE, TRUE, 'ask',
                       %(uid)s, %(uid)s, NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC'
                  FROM (SELECT NEXTVAL('res_partner_id_seq') AS id,
                               'Worker test customer ' || n AS name,
                               'worker-test-' || n || '@example.com' AS email
                          FROM GENERATE_SERIES(1, %(count)s) n) AS customer
                RETURNING id
                """,
                {"uid": SUPERUSER_ID, "count": count},
            )
            partner_ids = sorted(row[0] for row in cr.fetchall())
            product = env["product.product"].create(
                {
                    "name": "Worker test service",
                    "type": "service",
                    "lifecycle_is_deadline": True,
                    "lifecycle_duration": 1,
                    "lifecycle_duration_unit": "year",
                }
            )
            quiet = env(context={**env.context, "mail_create_nolog": True, "mail_create_nosubscribe": True})
            deadline_ids = []
            for start in range(0, count, 1000):
                deadline_ids += (
                    quiet["lifecycle.deadline"]
                    .create(
                        [
                            {
                                "partner_id": partner_id,
                                "product_id": product.id,
                                "amount": 100.0,
                                "date_start": EXPIRY - timedelta(days=365),
                                "date_expiry": EXPIRY,
                                "state": "active",
                            }
                            for partner_id in partner_ids[start : start + 1000]
                        ]
                    )
                    .ids
                )
            # their creation was announced long ago: the backlog is the day's reminders
            env["lifecycle.event"].search(
                [("deadline_id", "in", deadline_ids), ("event_type", "=", "deadline_created")]
            )._match_workflows()
            env["lifecycle.deadline"]._emit_due_reminders(now=NOW)
            reminded = env["lifecycle.event"].search([("event_type", "=", "reminder_due"), ("state", "=", "pending")])
            self.assertEqual(
                sorted(event.deadline_id.id for event in reminded), deadline_ids, "one 30-day reminder per deadline"
            )
            self.assertEqual(set(reminded.mapped("reminder_offset")), {30})
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._drop_committed, marks, deadline_ids, partner_ids, product.id)
        return deadline_ids

    def _marks(self):
        """The last ids of the tables a worker adds to on the side, to remove what it added there.

        The engine's cron jobs are put back as they were too: running them
        reschedules them.
        """
        jobs = self.env["ir.cron"].browse(self.env.ref(xmlid).id for xmlid in ENGINE_CRONS)
        self.addCleanup(
            self._restore_jobs, jobs.read(["nextcall", "lastcall", "failure_count", "first_failure_date", "active"])
        )
        return dict(
            zip(
                ("ir_cron_progress", "ir_cron_trigger"),
                self._observe(
                    "SELECT (SELECT COALESCE(MAX(id), 0) FROM ir_cron_progress),"
                    " (SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger)"
                ),
                strict=True,
            )
        )

    def _restore_jobs(self, values_list):
        with closing(db_connect(self.dbname).cursor()) as cr:
            jobs = api.Environment(cr, SUPERUSER_ID, {})["ir.cron"]
            for values in values_list:
                jobs.browse(values.pop("id")).write(values)
            cr.commit()  # pylint: disable=invalid-commit

    def _restore_workflows(self, workflow_ids, active_ids):
        with closing(db_connect(self.dbname).cursor()) as cr:
            workflows = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})["lifecycle.workflow"].browse(
                workflow_ids
            )
            for workflow in workflows:
                workflow.active = workflow.id in active_ids
            cr.commit()  # pylint: disable=invalid-commit

    def _drop_committed(self, marks, deadline_ids, partner_ids, product_id):
        """Remove what the test committed and what the workers made of it, in bulk."""
        with closing(db_connect(self.dbname).cursor()) as cr:
            # their mails, notifications and recipients go with the messages
            cr.execute(
                "DELETE FROM mail_message WHERE model = 'lifecycle.deadline' AND res_id = ANY(%s)", [deadline_ids]
            )
            cr.execute(
                "DELETE FROM mail_followers WHERE res_model = 'lifecycle.deadline' AND res_id = ANY(%s)",
                [deadline_ids],
            )
            # their events go with them, the events' runs and the runs' logs with the events
            cr.execute("DELETE FROM lifecycle_deadline WHERE id = ANY(%s)", [deadline_ids])
            cr.execute("DELETE FROM res_partner WHERE id = ANY(%s)", [partner_ids])
            for table, last_id in marks.items():
                cr.execute(SQL("DELETE FROM %s WHERE id > %s", SQL.identifier(table), last_id))
            api.Environment(cr, SUPERUSER_ID, {})["product.product"].browse(product_id).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    # ------------------------------------------------------------------
    # Workers
    # ------------------------------------------------------------------
    def _start_workers(self, jobs, **environ):
        """A worker process for each cron job of ``jobs`` (xmlids), their registry loaded, waiting for ``_go``.

        ``environ``: variables added to the workers' environment.
        """
        options = [
            f"--addons-path={','.join(config['addons_path'])}",
            f"--data-dir={config['data_dir']}",
            f"--database={self.dbname}",
            "--db_app_name=odoo-{pid}",  # its connections show as odoo-<its pid> in pg_stat_activity
            "--http-interface=127.0.0.1",
            "--log-level=warn",
        ]
        options += [f"--{name}={config[name]}" for name in ("db_host", "db_port", "db_user") if config[name]]
        environ = {**os.environ, **environ}
        if config["db_password"]:
            environ["PGPASSWORD"] = config["db_password"]  # kept out of the command line
        workers = []
        for job in jobs:
            log = self.enterContext(tempfile.TemporaryFile("w+"))
            worker = subprocess.Popen(  # noqa: S603  (this Python, this addon's script)
                [sys.executable, str(WORKER), job, *options],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=environ,
            )
            worker.log = log
            self.addCleanup(self._end, worker)
            workers.append(worker)
        for worker in workers:
            line = worker.stdout.readline()
            self.assertEqual(line, "ready\n", f"the worker did not start:\n{self._log_of(worker)}")
        return workers

    def _go(self, worker):
        worker.stdin.write("go\n")
        worker.stdin.flush()

    def _finish(self, worker):
        """Wait for ``worker`` to end its job."""
        try:
            worker.communicate(timeout=STUCK)
        except subprocess.TimeoutExpired:
            self.fail(f"the worker is stuck:\n{self._log_of(worker)}")
        log = self._log_of(worker)
        self.assertEqual(worker.returncode, 0, f"the worker failed:\n{log}")
        self.assertNotRegex(log, r" (ERROR|CRITICAL) ", "the worker logged an error")

    def _log_of(self, worker):
        worker.log.seek(0)
        return worker.log.read()

    def _end(self, worker):
        """Whatever happened to the test, no worker outlives it."""
        if worker.poll() is None:
            worker.kill()
        with worker:  # closes its pipes and waits for it
            pass

    def _wait_until(self, condition, what):
        """Poll ``condition`` until it holds; a test still waiting after ``STUCK`` seconds is stuck."""
        stuck_at = time.monotonic() + STUCK
        while not condition():
            if time.monotonic() > stuck_at:
                self.fail(f"stuck waiting for {what}")
            time.sleep(POLL)

    def _sessions(self, worker):
        """How many database sessions ``worker`` has open."""
        (count,) = self._observe(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s", f"odoo-{worker.pid}"
        )
        return count

    # ------------------------------------------------------------------
    # What the customers got
    # ------------------------------------------------------------------
    def assertEachRemindedOnce(self, deadline_ids):
        """Each deadline has one queued email and one chatter message, addressed to its customer, and no more."""
        self.watch_cr.rollback()
        self.watch_cr.execute(
            """
            SELECT (SELECT COUNT(*) FROM mail_mail mail JOIN mail_message message ON message.id = mail.mail_message_id
                     WHERE message.model = 'lifecycle.deadline' AND message.res_id = deadline.id),
                   (SELECT COUNT(*) FROM mail_message message
                     WHERE message.model = 'lifecycle.deadline' AND message.res_id = deadline.id
                       AND message.message_type = 'comment'),
                   (SELECT COUNT(*) FROM mail_message message
                      JOIN mail_notification notification ON notification.mail_message_id = message.id
                     WHERE message.model = 'lifecycle.deadline' AND message.res_id = deadline.id
                       AND message.message_type = 'comment'
                       AND notification.res_partner_id = deadline.partner_id)
              FROM lifecycle_deadline deadline
             WHERE deadline.id = ANY(%s)
            """,
            [deadline_ids],
        )
        # (emails, chatter messages, messages notifying the customer) per deadline
        self.assertEqual(Counter(self.watch_cr.fetchall()), {(1, 1, 1): len(deadline_ids)})

    def assertEachStepLoggedOnce(self, deadline_ids):
        """The run of each deadline logged each step of the 30-day workflow once."""
        steps = self.env.ref("subscription_lifecycle.workflow_reminder_30").step_ids
        self.watch_cr.rollback()
        self.watch_cr.execute(
            """
            SELECT log.step_id, COUNT(*), COUNT(DISTINCT log.run_id)
              FROM lifecycle_workflow_run_log log JOIN lifecycle_workflow_run run ON run.id = log.run_id
             WHERE run.deadline_id = ANY(%s)
          GROUP BY log.step_id
            """,
            [deadline_ids],
        )
        # per step: (log lines, runs logged)
        self.assertEqual(
            {step_id: (lines, runs) for step_id, lines, runs in self.watch_cr.fetchall()},
            dict.fromkeys(steps.ids, (len(deadline_ids), len(deadline_ids))),
        )

    def _runs_by_state(self, deadline_ids):
        self.watch_cr.rollback()
        self.watch_cr.execute(
            "SELECT state, COUNT(*) FROM lifecycle_workflow_run WHERE deadline_id = ANY(%s) GROUP BY state",
            [deadline_ids],
        )
        return dict(self.watch_cr.fetchall())


@tagged("post_install", "-at_install")
class TestWorkerKilledMidBatch(EngineWorkersCommon):
    def test_a_worker_killed_mid_batch_then_restarted_reminds_each_customer_exactly_once(self):
        deadline_ids = self._commit_backlog(10_000)
        for _attempt in range(5):
            lost = self._kill_between_queuing_and_commit(deadline_ids)
            if lost:
                break
        else:
            self.fail("no worker was caught between queuing a batch's emails and committing them")
        done = self._runs_by_state(deadline_ids).get("done", 0)
        _logger.info("worker killed with %s runs done and the %s emails of a batch queued", done, lost)
        self.assertTrue(100 <= done < 10_000, f"killed after some batches, before the last: {done} runs done")

        (worker,) = self._start_workers(ENGINE_CRONS[:1])
        self._go(worker)
        self._finish(worker)
        self.assertEqual(self._runs_by_state(deadline_ids), {"done": 10_000})
        self.assertEachStepLoggedOnce(deadline_ids)
        self.assertEachRemindedOnce(deadline_ids)

    def _kill_between_queuing_and_commit(self, deadline_ids):
        """Start a worker, SIGKILL it once a batch is committed and the next one's emails are queued.

        An email's id comes from a sequence, which a rollback does not give
        back: ids handed out beyond the emails committed since the worker
        started are emails of a batch in progress. Returns how many emails
        the kill rolled back: none when their batch was committed in between.
        """
        last_id = self._observe("SELECT last_value FROM mail_mail_id_seq")[0]

        def uncommitted_emails():
            handed_out, committed = self._observe(
                "SELECT last_value - %s, (SELECT COUNT(*) FROM mail_mail WHERE id > %s) FROM mail_mail_id_seq",
                last_id,
                last_id,
            )
            return handed_out - committed

        def mid_batch():
            self.assertIsNone(worker.poll(), f"the worker ended before it could be killed:\n{self._log_of(worker)}")
            done = self._observe(
                "SELECT COUNT(*) FROM lifecycle_workflow_run WHERE deadline_id = ANY(%s) AND state = 'done'",
                deadline_ids,
            )[0]
            return done and uncommitted_emails()

        (worker,) = self._start_workers(ENGINE_CRONS[:1])
        self._go(worker)
        self._wait_until(mid_batch, "a batch in progress after a committed one")
        self.assertTrue(self._sessions(worker), "the worker's database sessions are known by name")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        self.assertEqual(worker.returncode, -signal.SIGKILL)
        # the database ends the killed worker's sessions, rolling back their transaction
        self._wait_until(lambda: not self._sessions(worker), "the end of the killed worker's sessions")
        return uncommitted_emails()


@tagged("post_install", "-at_install")
class TestTwoWorkers(EngineWorkersCommon):
    def test_two_workers_share_a_backlog_and_never_run_a_step_twice(self):
        deadline_ids = self._commit_backlog(2_000)
        with closing(db_connect(self.dbname).cursor()) as cr:
            # the events become runs first, so that the workers' progress counts runs only
            events = api.Environment(cr, SUPERUSER_ID, {})["lifecycle.event"].search(
                [("deadline_id", "in", deadline_ids), ("state", "=", "pending")]
            )
            self.assertEqual(len(events._match_workflows()), 2_000)
            cr.commit()  # pylint: disable=invalid-commit

        (last_progress,) = self._observe("SELECT COALESCE(MAX(id), 0) FROM ir_cron_progress")
        workers = self._start_workers(ENGINE_CRONS)
        for worker in workers:
            self._go(worker)
        for worker in workers:
            self._finish(worker)

        # each job's progress records count the runs its worker executed, committed with them
        executed = [
            self._observe(
                "SELECT COALESCE(SUM(done), 0) FROM ir_cron_progress WHERE id > %s AND cron_id = %s",
                last_progress,
                self.env.ref(xmlid).id,
            )[0]
            for xmlid in ENGINE_CRONS
        ]
        _logger.info("runs executed by each cron job: %s", executed)
        self.assertTrue(all(executed), f"both workers executed runs: {executed}")
        self.assertEqual(sum(executed), 2_000, f"no run executed twice: {executed}")
        self.assertEqual(self._runs_by_state(deadline_ids), {"done": 2_000})
        self.assertEachStepLoggedOnce(deadline_ids)
        self.assertEachRemindedOnce(deadline_ids)
