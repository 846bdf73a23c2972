import logging
import sys
from collections import defaultdict

from psycopg2 import IntegrityError
from psycopg2.errors import SerializationFailure

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .lifecycle_workflow_step import STOP, WAIT

_logger = logging.getLogger(__name__)
# How often a cron worker claims again after meeting another worker's fresh commit.
CLAIM_ATTEMPTS = 5
# The cron jobs that run the engine (see ``_trigger_engine``).
ENGINE_CRONS = (
    "subscription_lifecycle.ir_cron_lifecycle_engine",
    "subscription_lifecycle.ir_cron_lifecycle_engine_second",
)


class LifecycleWorkflowRun(models.Model):
    """One workflow answering one event: where it is, and what it did.

    Runs, their logs and events are read-only to every user (access rights):
    the engine writes them in sudo, and staff steer a run only through
    ``action_cancel`` and ``action_retry``, checked here whatever the context.
    """

    _name = "lifecycle.workflow.run"
    _description = "Workflow run"
    _order = "id desc"

    workflow_id = fields.Many2one("lifecycle.workflow", required=True, index=True, ondelete="cascade", readonly=True)
    event_id = fields.Many2one("lifecycle.event", required=True, index=True, ondelete="cascade", readonly=True)
    event_type = fields.Selection(related="event_id.event_type")
    partner_id = fields.Many2one(related="event_id.partner_id", store=True, index=True, string="Customer")
    deadline_id = fields.Many2one(related="event_id.deadline_id", store=True, index="btree_not_null")
    company_id = fields.Many2one(related="event_id.company_id", store=True)
    step_id = fields.Many2one(
        "lifecycle.workflow.step", string="Last step", readonly=True, ondelete="set null", help="Last step executed."
    )
    state = fields.Selection(
        [
            ("running", "Running"),
            ("waiting", "Waiting"),
            ("done", "Done"),
            ("stopped", "Stopped"),
            ("failed", "Failed"),
        ],
        default="running",
        required=True,
        readonly=True,
        index=True,
    )
    resume_at = fields.Datetime(readonly=True, help="When the run goes on.")
    pilot_skipped = fields.Boolean(
        readonly=True, help="Not run: its workflow was in pilot and the customer outside the sample."
    )
    log_ids = fields.One2many("lifecycle.workflow.run.log", "run_id", readonly=True)

    _one_run_per_event = models.Constraint(
        "UNIQUE(workflow_id, event_id)", "This workflow already answered this event."
    )
    _due_idx = models.Index("(resume_at) WHERE state IN ('running', 'waiting')")

    # ------------------------------------------------------------------
    # Staff actions
    # ------------------------------------------------------------------
    def action_cancel(self):
        self._check_staff_action()
        if any(run.state not in ("running", "waiting") for run in self):
            raise UserError(self.env._("Only running or waiting runs can be cancelled."))
        runs = self.sudo()  # checked above: the only way staff stop a run
        runs._log("stop", self.env._("Cancelled by %(user)s.", user=self.env.user.name))
        runs.write({"state": "stopped", "resume_at": False})

    def action_retry(self):
        self._check_staff_action()
        if any(run.state != "failed" for run in self):
            raise UserError(self.env._("Only failed runs can be retried."))
        runs = self.sudo()  # checked above: only a failed run goes again, from its failed step
        runs._log("info", self.env._("Retried by %(user)s.", user=self.env.user.name))
        runs.write({"state": "running", "resume_at": fields.Datetime.now()})
        self._trigger_engine()

    def _check_staff_action(self):
        """Cancel and retry are for Lifecycle staff, on the runs their companies let them see."""
        if not (self.env.su or self.env.user.has_group("subscription_lifecycle.group_lifecycle_user")):
            raise AccessError(self.env._("Only Lifecycle users can cancel or retry a workflow run."))
        self.check_access("read")

    def _log(self, outcome, message, step=None):
        self.env["lifecycle.workflow.run.log"].create(
            [
                {"run_id": run.id, "step_id": step.id if step else False, "outcome": outcome, "message": message}
                for run in self
            ]
        )

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------
    @api.model
    def _cron_engine(self, now=None, batch_size=100):
        """Turn pending events into runs, then execute the runs that are due.

        Work is claimed with ``FOR UPDATE SKIP LOCKED``, so two workers never
        take the same event or run; each batch is committed inside the cron.
        The cron wakes itself up when the next wait ends.
        """
        now = now or fields.Datetime.now()
        in_cron = bool(self.env.context.get("cron_id"))
        engine = self.sudo()  # the only writer of events, runs and logs, whoever the cron's user is
        pending = SQL("state = 'pending'")
        while events := engine._claim("lifecycle_event", pending, batch_size, in_cron):
            engine.env["lifecycle.event"].browse(events)._match_workflows(now)
            if in_cron and not engine._commit_batch(len(events), "lifecycle_event", pending):
                return
        due = SQL("state IN ('running', 'waiting') AND resume_at <= %s", now)
        while runs := engine._claim("lifecycle_workflow_run", due, batch_size, in_cron):
            engine.browse(runs)._execute_all(now)
            if in_cron and not engine._commit_batch(len(runs), "lifecycle_workflow_run", due):
                return
        engine._schedule_wake_up(now)

    def _commit_batch(self, done, table, condition):
        """Commit a batch as the cron's progress, saying what is left; False once the cron's time is up.

        Odoo then runs the job again at once for what remains, rather than
        letting a large backlog run past the cron's time limit.
        """
        self.env.flush_all()
        self.env.cr.execute(SQL("SELECT COUNT(*) FROM %s WHERE %s", SQL.identifier(table), condition))
        return self.env["ir.cron"]._commit_progress(done, remaining=self.env.cr.fetchone()[0]) > 0

    @api.model
    def _trigger_engine(self, at=None):
        """Wake the engine's cron jobs up, now or ``at``.

        Odoo runs a cron job in one worker at a time (it locks the job's row),
        so the engine ships two jobs running the same code: with two cron
        workers, both share a large backlog through the claims.
        """
        for xmlid in ENGINE_CRONS:
            # the job's id is cached, where ``env.ref`` would also ask the database whether it exists
            cron_id = self.env["ir.model.data"]._xmlid_to_res_id(xmlid, raise_if_not_found=False)
            if cron_id:
                self.env["ir.cron"].browse(cron_id)._trigger(at)

    def _claim(self, table, condition, limit, fresh_transaction=False):
        """Lock up to ``limit`` rows of ``table`` meeting ``condition`` that no other worker holds; their ids.

        With ``fresh_transaction`` (the cron, which commits each batch before
        claiming the next), a claim that meets a row another worker committed
        since this transaction's snapshot (PostgreSQL's serialization failure
        under Odoo's REPEATABLE READ) is made again in a new transaction:
        there is nothing of ours to lose, and the other workers go on.
        """
        self.env.flush_all()
        query = SQL(
            "SELECT id FROM %s WHERE %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            SQL.identifier(table),
            condition,
            limit,
        )
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                self.env.cr.execute(query, log_exceptions=False)
            except SerializationFailure:
                if not fresh_transaction or attempt == CLAIM_ATTEMPTS - 1:
                    raise
                self.env.cr.rollback()
                continue
            return [row[0] for row in self.env.cr.fetchall()]
        return []

    def _execute_all(self, now):
        """Execute these runs step by step, the runs standing before the same step together.

        A step runs all its runs at once where its type can (an email step
        renders and queues its emails in one go); when that fails, its runs
        are tried one by one, so a bad record fails its own run and no other.
        """
        records = self._records()
        gone = self.filtered(lambda run: not records[run])
        if gone:
            gone._log("stop", self.env._("The record is gone: run stopped."))
            gone.write({"state": "stopped", "resume_at": False})
        todo = self - gone
        following = todo.workflow_id._following_steps()
        none_done = self.env["lifecycle.workflow.step"]

        def next_step(run):
            # a run whose last step is no longer its workflow's starts again at the first one
            done = run.step_id if (run.workflow_id, run.step_id) in following else none_done
            return following[run.workflow_id, done]

        while todo:
            by_step = todo.grouped(next_step)
            todo = self.browse()
            for step, runs in by_step.items():
                if step:
                    todo |= runs._run_step(step, records, now)
                else:
                    runs.write({"state": "done", "resume_at": False})

    def _records(self):
        """``{run: record}``: the record each run's event is about (empty when it is gone), read per model."""
        ids_by_model = defaultdict(set)
        for run in self:
            ids_by_model[run.event_id.res_model].add(run.event_id.res_id)
        existing = {
            (model, record.id): record
            for model, ids in ids_by_model.items()
            for record in self.env[model].browse(ids).exists()
        }
        return {
            run: existing.get((run.event_id.res_model, run.event_id.res_id), self.env[run.event_id.res_model])
            for run in self
        }

    def _run_step(self, step, records, now):
        """Run ``step`` for these runs; return the runs that go on to their next step."""
        try:
            with self.env.cr.savepoint():
                outcomes = step._run_many(self, records, now)
        except Exception:  # a bad record must not fail the others: one by one below
            if len(self) == 1:
                self._fail(step)
                return self.browse()
            _logger.info("Step %s failed for a batch of %s runs: running them one by one", step.id, len(self))
            outcomes = {}
            for run in self:
                try:
                    # the savepoint flushes when it closes: a refused write fails here too
                    with self.env.cr.savepoint():
                        outcome = step._run_many(run, records, now)
                except Exception:  # logged and kept on the run
                    run._fail(step)
                else:
                    outcomes.update(outcome)
        return self._record_outcomes(step, outcomes)

    def _fail(self, step):
        """Mark this run failed at ``step``, with what went wrong in words staff can read."""
        error = sys.exc_info()[1]
        _logger.exception("Lifecycle workflow run %s failed", self.id)
        self.env.invalidate_all(flush=False)
        self._log("error", self._error_message(error), step=step)
        self.write({"state": "failed", "resume_at": False})

    def _record_outcomes(self, step, outcomes):
        """Log each run's outcome at ``step`` and move it on; return the runs that go on."""
        self.env["lifecycle.workflow.run.log"].create(
            [
                {"run_id": run.id, "step_id": step.id, "outcome": outcome, "message": message}
                for run, (outcome, message, _resume_at) in outcomes.items()
            ]
        )
        runs = self.browse([run.id for run in outcomes])
        runs.step_id = step
        go_on = runs.browse([run.id for run, (outcome, _m, _r) in outcomes.items() if outcome not in (WAIT, STOP)])
        waiting = runs.filtered(lambda run: outcomes[run][0] == WAIT)
        for resume_at, group in waiting.grouped(lambda run: outcomes[run][2]).items():
            group.write({"state": "waiting", "resume_at": resume_at})
        runs.filtered(lambda run: outcomes[run][0] == STOP).write({"state": "stopped", "resume_at": False})
        return go_on

    def _error_message(self, error):
        """What staff read in the run log: a constraint's own message rather than SQL."""
        if isinstance(error, IntegrityError):
            table = error.diag.table_name
            model = next((self.env[name] for name, cls in self.env.registry.items() if cls._table == table), None)
            if model is not None:
                return model._sql_error_to_message(error)
        return str(error) or error.__class__.__name__

    @api.model
    def _schedule_wake_up(self, now):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT MIN(resume_at) FROM lifecycle_workflow_run"
                " WHERE state IN ('running', 'waiting') AND resume_at > %s",
                now,
            )
        )
        next_at = self.env.cr.fetchone()[0]
        if next_at:
            self._trigger_engine(next_at)
        return next_at
