import logging

from psycopg2 import IntegrityError

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .lifecycle_workflow_step import STOP, WAIT

_logger = logging.getLogger(__name__)


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
        self.env.ref("subscription_lifecycle.ir_cron_lifecycle_engine")._trigger()

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
        while events := engine._claim("lifecycle_event", SQL("state = 'pending'"), batch_size):
            engine.env["lifecycle.event"].browse(events)._match_workflows(now)
            if in_cron:
                self.env["ir.cron"]._commit_progress(len(events))
        while runs := engine._claim(
            "lifecycle_workflow_run", SQL("state IN ('running', 'waiting') AND resume_at <= %s", now), batch_size
        ):
            engine.browse(runs)._execute_all(now)
            if in_cron:
                self.env["ir.cron"]._commit_progress(len(runs))
        engine._schedule_wake_up(now)

    def _claim(self, table, condition, limit):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM %s WHERE %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                SQL.identifier(table),
                condition,
                limit,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _execute_all(self, now):
        """Execute each run; a failing run is marked failed and the others go on."""
        for run in self:
            try:
                with self.env.cr.savepoint():
                    run._execute(now)
            except Exception as error:  # one bad run must not block the batch
                _logger.exception("Lifecycle workflow run %s failed", run.id)
                self.env.invalidate_all(flush=False)
                run._log("error", run._error_message(error), step=run._next_steps()[:1])
                run.write({"state": "failed", "resume_at": False})

    def _error_message(self, error):
        """What staff read in the run log: a constraint's own message rather than SQL."""
        if isinstance(error, IntegrityError):
            table = error.diag.table_name
            model = next((self.env[name] for name, cls in self.env.registry.items() if cls._table == table), None)
            if model is not None:
                return model._sql_error_to_message(error)
        return str(error) or error.__class__.__name__

    def _next_steps(self):
        steps = self.workflow_id.step_ids.sorted()
        if self.step_id in steps:
            return steps[list(steps).index(self.step_id) + 1 :]
        return steps

    def _execute(self, now):
        self.ensure_one()
        record = self.event_id._record()
        if not record:
            self._log("stop", self.env._("The record is gone: run stopped."))
            self.write({"state": "stopped", "resume_at": False})
            return
        for step in self._next_steps():
            outcome, message, resume_at = step._run(self, record, now)
            self._log(outcome, message, step=step)
            self.step_id = step
            if outcome == WAIT:
                self.write({"state": "waiting", "resume_at": resume_at})
                return
            if outcome == STOP:
                self.write({"state": "stopped", "resume_at": False})
                return
        self.write({"state": "done", "resume_at": False})

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
            self.env.ref("subscription_lifecycle.ir_cron_lifecycle_engine")._trigger(next_at)
        return next_at
