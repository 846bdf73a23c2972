from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Domain
from odoo.tools import email_split
from odoo.tools.safe_eval import datetime as safe_eval_datetime
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_eval_time

from ..lib.events import EVENT_MODEL, WORKFLOW_EVENT_SELECTION
from ..lib.sampling import pilot_member
from ..lib.webhook_inbound import CUSTOM_TYPE
from .account_move import OPEN_STATES


class LifecycleWorkflow(models.Model):
    """What the engine does when an event happens: trigger, segment, steps."""

    _name = "lifecycle.workflow"
    _inherit = ["mail.thread"]
    _description = "Lifecycle workflow"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", index=True, help="Leave empty to run this workflow for every company.", tracking=True
    )
    event_type = fields.Selection(WORKFLOW_EVENT_SELECTION, string="Trigger", required=True, tracking=True)
    reminder_offset = fields.Integer(
        string="Days before expiry",
        tracking=True,
        help="For renewal reminders: the rung of the reminder ladder this workflow answers (30, 14, 3, 0…).",
    )
    overdue_threshold = fields.Integer(
        string="Days overdue",
        tracking=True,
        help="For overdue invoices: the threshold this workflow answers (one of the company's overdue thresholds, "
        "e.g. 7); 0 answers every threshold.",
    )
    custom_type = fields.Char(
        tracking=True,
        help="For a custom event: the type it answers, as an incoming webhook endpoint defines it (trial.started).",
    )
    model_name = fields.Char(compute="_compute_model_name", string="Applies to")
    domain = fields.Char(
        string="Segment",
        default="[]",
        required=True,
        tracking=True,
        help="Only records matching this filter start a run, e.g. yearly products or amounts over 500.",
    )
    step_ids = fields.One2many("lifecycle.workflow.step", "workflow_id", string="Steps", copy=True)
    run_ids = fields.One2many("lifecycle.workflow.run", "workflow_id", string="Runs")
    run_count = fields.Integer(compute="_compute_run_count")
    test_mode = fields.Boolean(
        tracking=True, help="Send every email of this workflow to the test recipients instead of the customer."
    )
    test_recipients = fields.Char(
        help="Comma-separated email addresses of internal users that receive the emails in test mode."
    )
    pilot_mode = fields.Boolean(
        string="Pilot",
        tracking=True,
        help="Run this workflow for a sample of the customers only; the others are skipped, and counted.",
    )
    pilot_percent = fields.Float(
        string="Pilot sample (%)",
        default=10.0,
        tracking=True,
        help="Share of the customers in the pilot: always the same ones for this workflow, and a larger sample "
        "keeps those of a smaller one.",
    )
    pilot_skipped_count = fields.Integer(compute="_compute_run_count", string="Skipped by the pilot")
    # The dunning policy of a workflow started by a failed automatic renewal: the first matching
    # one (sequence, segment) decides the retries and final action of that renewal, the company's
    # settings when none matches; its steps run as any workflow's.
    dunning_tries = fields.Integer(string="Payment retries", default=8, tracking=True)
    dunning_days = fields.Integer(string="Retries over (days)", default=14, tracking=True)
    dunning_grace_days = fields.Integer(string="Grace days", tracking=True)
    dunning_final_action = fields.Selection(
        [
            ("cancel", "Cancel the deadline, the renewal order and its open invoice"),
            ("write_off", "Cancel the deadline and write the open invoice off to bad debt"),
            ("none", "Only notify the team"),
        ],
        string="When the retries run out",
        default="cancel",
        tracking=True,
    )

    @api.depends("event_type")
    def _compute_model_name(self):
        for workflow in self:
            workflow.model_name = EVENT_MODEL.get(workflow.event_type, "lifecycle.deadline")

    def _compute_run_count(self):
        counts = {
            (workflow, skipped): count
            for workflow, skipped, count in self.env["lifecycle.workflow.run"]._read_group(
                [("workflow_id", "in", self.ids)], ["workflow_id", "pilot_skipped"], ["__count"]
            )
        }
        for workflow in self:
            workflow.run_count = counts.get((workflow, False), 0) + counts.get((workflow, True), 0)
            workflow.pilot_skipped_count = counts.get((workflow, True), 0)

    @api.constrains("domain", "event_type")
    def _check_domain(self):
        for workflow in self:
            try:
                self.env[workflow.model_name].search_count(workflow._segment_domain(), limit=1)
            except Exception as error:
                raise ValidationError(
                    self.env._(
                        "The segment of %(workflow)s is not a valid filter: %(error)s",
                        workflow=workflow.name,
                        error=error,
                    )
                ) from error

    @api.constrains("event_type")
    def _check_steps(self):
        """Another trigger may mean another model: the steps must still fit it."""
        self.step_ids._check_settings()

    def write(self, vals):
        result = super().write(vals)
        if {"domain", "event_type", "company_id"} & vals.keys():
            # The steps now reach other records: whoever chose them answers for
            # them (an update step writes with its author's rights), and they
            # are checked again with that author.
            self.step_ids.write({})
        return result

    @api.constrains("event_type", "reminder_offset", "company_id")
    def _check_reminder_offset(self):
        for workflow in self.filtered(lambda workflow: workflow.event_type == "reminder_due"):
            companies = workflow.company_id or self.env["res.company"].search([])
            if not any(workflow.reminder_offset in company._lifecycle_ladder() for company in companies):
                raise ValidationError(
                    self.env._(
                        "No reminder is due %(days)s days before expiry: add %(days)s to the reminder ladder "
                        "in the settings, or pick one of its rungs.",
                        days=workflow.reminder_offset,
                    )
                )

    @api.constrains("event_type", "overdue_threshold", "company_id")
    def _check_overdue_threshold(self):
        for workflow in self.filtered(lambda workflow: workflow.event_type == "invoice_overdue"):
            companies = workflow.company_id or self.env["res.company"].search([])
            if workflow.overdue_threshold and not any(
                workflow.overdue_threshold in company._lifecycle_overdue_thresholds() for company in companies
            ):
                raise ValidationError(
                    self.env._(
                        "No invoice is announced %(days)s days overdue: add %(days)s to the overdue invoice "
                        "thresholds in the settings, pick one of them, or 0 for every threshold.",
                        days=workflow.overdue_threshold,
                    )
                )

    @api.constrains("event_type", "custom_type")
    def _check_custom_type(self):
        for workflow in self.filtered(lambda workflow: workflow.event_type == "custom"):
            if not CUSTOM_TYPE.fullmatch(workflow.custom_type or ""):
                raise ValidationError(
                    self.env._(
                        "A workflow started by a custom event names its type, as the incoming webhook endpoint "
                        'defines it: lower-case letters, digits, "_", "." and "-", e.g. trial.started.'
                    )
                )

    @api.constrains("event_type", "dunning_tries", "dunning_days")
    def _check_dunning_policy(self):
        for workflow in self.filtered(lambda workflow: workflow.event_type == "autorenew_failed"):
            if not 1 <= workflow.dunning_tries <= workflow.dunning_days <= 365:
                raise ValidationError(
                    self.env._(
                        "Payment retries of %(workflow)s: at least one, at most one a day, over at most 365 days.",
                        workflow=workflow.name,
                    )
                )

    def _dunning_policy(self, company):
        """``(tries, days, grace days, final action)`` of this dunning workflow, or ``company``'s without one."""
        if self:
            return self.dunning_tries, self.dunning_days, self.dunning_grace_days, self.dunning_final_action
        return (
            company.lifecycle_dunning_tries,
            company.lifecycle_dunning_days,
            company.lifecycle_dunning_grace_days,
            company.lifecycle_dunning_final_action,
        )

    @api.constrains("test_mode", "test_recipients")
    def _check_test_recipients(self):
        for workflow in self.filtered("test_mode"):
            addresses = email_split(workflow.test_recipients or "")
            if not addresses:
                raise ValidationError(self.env._("Test mode needs at least one test recipient address."))
            internal = set(
                self.env["res.users"]
                .sudo()
                .search([("share", "=", False), ("email_normalized", "in", addresses)])
                .mapped("email_normalized")
            )
            outsiders = [address for address in addresses if address.lower() not in internal]
            if outsiders:
                raise ValidationError(
                    self.env._(
                        "Test emails only go to internal users; these addresses are not: %(addresses)s",
                        addresses=", ".join(outsiders),
                    )
                )

    @api.constrains("pilot_mode", "pilot_percent")
    def _check_pilot_percent(self):
        for workflow in self.filtered("pilot_mode"):
            if not 0 < workflow.pilot_percent < 100:
                raise ValidationError(
                    self.env._(
                        "The pilot sample of %(workflow)s must be more than 0 %% and less than 100 %% of the "
                        "customers: to run it for everyone, end the pilot.",
                        workflow=workflow.name,
                    )
                )

    def _pilot_split(self, events):
        """``(in the pilot, outside it)``: the events whose customer this workflow runs for, and the others.

        Outside a pilot, every event is in. The sample is drawn per customer
        (``lib.sampling.pilot_member``): a customer in it gets every run of the
        workflow, the others none, whatever their number of deadlines.
        """
        self.ensure_one()
        if not self.pilot_mode:
            return events, events.browse()
        sample = events.filtered(
            lambda event: pilot_member(self.id, event.partner_id.commercial_partner_id.id, self.pilot_percent)
        )
        return sample, events - sample

    def action_end_pilot(self):
        """Run the workflow for everyone from now on; the customers skipped so far stay skipped."""
        self.write({"pilot_mode": False})

    def _segment_domain(self):
        self.ensure_one()
        return Domain(safe_eval(self.domain or "[]", self._domain_eval_context()))

    def _domain_eval_context(self):
        """What the domain editor may write in a domain: today, relative dates."""
        return {
            "context_today": lambda: fields.Date.context_today(self),
            "relativedelta": relativedelta,
            "datetime": safe_eval_datetime,
            "time": safe_eval_time,
            "uid": self.env.uid,
        }

    def _filter_segment(self, records):
        """The records that fall in this workflow's segment (one query)."""
        self.ensure_one()
        if not records:
            return records
        # archived records too: a customer-archived event is about one
        return records.with_context(active_test=False).search(Domain("id", "in", records.ids) & self._segment_domain())

    def _accepts(self, event):
        """Whether ``event`` triggers this workflow, segment aside."""
        self.ensure_one()
        return (
            event.event_type == self.event_type
            and (not self.company_id or event.company_id in (self.company_id, self.env["res.company"]))
            and (event.event_type != "reminder_due" or event.reminder_offset == self.reminder_offset)
            and (event.event_type != "custom" or event.custom_type == self.custom_type)
            and (
                event.event_type != "invoice_overdue"
                or not self.overdue_threshold
                or (event.payload or {}).get("threshold") == self.overdue_threshold
            )
        )

    def _following_steps(self):
        """``{(workflow, step done last): the step to run next}``, for these workflows, read once for a batch.

        The step done last is empty for a run that has done none yet; the step
        to run next is empty after the last one.
        """
        following = {}
        for workflow in self:
            steps = workflow.step_ids.sorted()
            for done, step in zip([steps.browse(), *steps], [*steps, steps.browse()], strict=True):
                following[workflow, done] = step
        return following

    def _matching_today(self, date_ref=None):
        """Records that would start a run today: the preview's audience."""
        self.ensure_one()
        domain = self._segment_domain()
        if self.model_name == "lifecycle.deadline":
            today = date_ref or fields.Date.context_today(self)
            domain &= Domain("state", "=", "active")
            if self.event_type == "reminder_due":
                domain &= Domain("date_expiry", "=", fields.Date.add(today, days=self.reminder_offset))
            elif self.event_type == "deadline_expired":
                domain &= Domain("date_expiry", "=", fields.Date.subtract(today, days=1))
        elif self.model_name == "account.move":
            domain &= Domain([("move_type", "=", "out_invoice"), ("state", "=", "posted")])
            if self.event_type == "invoice_overdue":
                # the invoices reaching the workflow's threshold (or any threshold) today
                today = date_ref or fields.Date.context_today(self)
                companies = self.company_id or self.env["res.company"].search([])
                thresholds = (
                    {self.overdue_threshold}
                    if self.overdue_threshold
                    else {threshold for company in companies for threshold in company._lifecycle_overdue_thresholds()}
                )
                domain &= Domain("payment_state", "in", OPEN_STATES) & Domain(
                    "invoice_date_due", "in", [fields.Date.subtract(today, days=days) for days in thresholds]
                )
        if self.company_id:
            domain &= Domain("company_id", "in", [self.company_id.id, False])
        return self.env[self.model_name].search(domain, limit=200)

    def action_preview(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Preview of %(workflow)s", workflow=self.name),
            "res_model": "lifecycle.workflow.preview",
            "view_mode": "form",
            "target": "new",
            "context": {"default_workflow_id": self.id},
        }

    def action_view_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_lifecycle.lifecycle_workflow_run_action")
        action["domain"] = [("workflow_id", "=", self.id)]
        return action
