from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Domain
from odoo.tools.safe_eval import safe_eval

# The result of a step, returned by every ``_run_<step_type>`` method:
# ``(outcome, message, resume_at)`` with outcome ``next`` (go on with the next
# step), ``wait`` (resume the run at ``resume_at``) or ``stop`` (end the run).
NEXT, WAIT, STOP = "next", "wait", "stop"


class LifecycleWorkflowStep(models.Model):
    """One step of a workflow.

    Step interface: a step type is a value of ``step_type`` plus a method
    ``_run_<step_type>(self, run, record, now)`` returning ``(outcome, message,
    resume_at)``. Other modules add a type with ``selection_add`` (and
    ``ondelete``) and the matching method; the engine needs nothing else.
    """

    _name = "lifecycle.workflow.step"
    _description = "Lifecycle workflow step"
    _order = "sequence, id"

    workflow_id = fields.Many2one("lifecycle.workflow", required=True, index=True, ondelete="cascade")
    model_name = fields.Char(related="workflow_id.model_name")
    sequence = fields.Integer(default=10)
    name = fields.Char(compute="_compute_name", store=True, readonly=False)
    step_type = fields.Selection(
        [
            ("email", "Send email"),
            ("activity", "Schedule activity"),
            ("update", "Update record"),
            ("wait", "Wait"),
            ("condition", "Check condition"),
            ("cancel", "Cancel the deadline"),
            ("wallet_credit", "Credit the wallet"),
        ],
        required=True,
        default="email",
    )
    mail_template_id = fields.Many2one(
        "mail.template", string="Email template", domain="[('model', '=', model_name)]", ondelete="restrict"
    )
    offer_text = fields.Char(
        string="Offer line", translate=True, help="Optional line added to the email, e.g. a discount for renewing now."
    )
    activity_type_id = fields.Many2one("mail.activity.type", ondelete="restrict")
    activity_summary = fields.Char(translate=True)
    activity_user_id = fields.Many2one(
        "res.users", string="Assign to", help="Leave empty to assign the deadline's salesperson."
    )
    activity_days = fields.Integer(string="Due in (days)", default=0)
    update_field_id = fields.Many2one(
        "ir.model.fields",
        string="Field to update",
        domain="[('model', '=', model_name), ('store', '=', True), ('readonly', '=', False),"
        " ('ttype', 'in', ('char', 'text', 'boolean', 'integer', 'float', 'selection', 'date'))]",
        ondelete="cascade",
    )
    update_value = fields.Char(string="New value")
    wait_amount = fields.Integer(string="Wait", default=1)
    wait_unit = fields.Selection([("hours", "Hours"), ("days", "Days")], default="days")
    condition_domain = fields.Char(
        string="Continue only if",
        default="[]",
        help="The run stops unless the record still matches, e.g. the deadline is still active. "
        "For a deadline event the run also stops when the deadline was renewed since the event.",
    )

    wallet_amount = fields.Float(string="Credit", help="Amount credited, in the company's currency.")
    wallet_reason = fields.Char(string="Reason", translate=True)

    @api.depends("step_type", "mail_template_id", "activity_type_id", "wait_amount", "wait_unit")
    def _compute_name(self):
        labels = dict(self._fields["step_type"]._description_selection(self.env))
        for step in self:
            detail = step.mail_template_id.name or step.activity_type_id.name or ""
            if step.step_type == "wait":
                units = dict(self._fields["wait_unit"]._description_selection(self.env))
                detail = f"{step.wait_amount} {units.get(step.wait_unit, '')}"
            step.name = f"{labels.get(step.step_type, '')}: {detail}" if detail else labels.get(step.step_type, "")

    @api.constrains("step_type", "mail_template_id", "activity_type_id", "update_field_id", "wait_amount")
    def _check_settings(self):
        for step in self:
            missing = {
                "email": not step.mail_template_id,
                "activity": not step.activity_type_id,
                "update": not step.update_field_id,
                "wait": step.wait_amount <= 0,
                "wallet_credit": step.wallet_amount <= 0 or not step.wallet_reason,
            }.get(step.step_type)
            if missing:
                raise ValidationError(
                    self.env._(
                        "The step %(step)s of %(workflow)s is not complete.",
                        step=step.name,
                        workflow=step.workflow_id.name,
                    )
                )
            if step.mail_template_id and step.mail_template_id.model != step.model_name:
                raise ValidationError(
                    self.env._(
                        "The email template %(template)s is not for %(model)s.",
                        template=step.mail_template_id.name,
                        model=step.model_name,
                    )
                )
            if step.step_type == "update":
                step._check_update_value()
            if step.step_type == "condition":
                step._condition()

    def _check_update_value(self):
        if self.update_field_id.name == "state":
            raise ValidationError(self.env._("A workflow changes a deadline's status with the cancel step only."))
        field = self.env[self.model_name]._fields[self.update_field_id.name]
        try:
            value = self._typed_value(field)
            if field.type == "date" and value:
                fields.Date.to_date(value)
        except ValueError as error:
            raise ValidationError(
                self.env._(
                    "%(value)s is not a valid value for %(field)s.",
                    value=self.update_value,
                    field=self.update_field_id.field_description,
                )
            ) from error
        if field.type == "selection" and value and value not in dict(field._description_selection(self.env)):
            raise ValidationError(
                self.env._("%(value)s is not one of the choices of %(field)s.", value=value, field=field.string)
            )

    def _condition(self):
        try:
            return Domain(safe_eval(self.condition_domain or "[]", self.workflow_id._domain_eval_context()))
        except Exception as error:
            raise ValidationError(self.env._("The condition is not a valid filter: %(error)s", error=error)) from error

    def _run(self, run, record, now):
        """Execute this step for ``run`` on ``record``; see the class docstring."""
        self.ensure_one()
        return getattr(self, f"_run_{self.step_type}")(run, record, now)

    def _run_email(self, run, record, now):
        workflow = self.workflow_id
        email_values = None
        if workflow.test_mode:
            email_values = {"email_to": workflow.test_recipients, "recipient_ids": [], "email_cc": False}
        template = self.mail_template_id.with_context(lifecycle_offer=self.offer_text or "")
        mail_id = template.send_mail(record.id, email_values=email_values)
        recipients = workflow.test_recipients if workflow.test_mode else record.display_name
        return NEXT, self.env._("Email %(mail)s queued for %(to)s.", mail=mail_id, to=recipients), None

    def _run_activity(self, run, record, now):
        user = self.activity_user_id or (record.user_id if "user_id" in record._fields else False) or self.env.user
        activity = record.activity_schedule(
            activity_type_id=self.activity_type_id.id,
            summary=self.activity_summary or False,
            user_id=user.id,
            date_deadline=fields.Date.add(fields.Date.context_today(self, now), days=self.activity_days),
        )
        return NEXT, self.env._("Activity scheduled for %(user)s.", user=activity.user_id.name), None

    def _run_update(self, run, record, now):
        field = record._fields[self.update_field_id.name]
        value = self._typed_value(field)
        record.write({field.name: value})
        return (
            NEXT,
            self.env._("%(field)s set to %(value)s.", field=self.update_field_id.field_description, value=value),
            None,
        )

    def _typed_value(self, field):
        text = self.update_value or ""
        if field.type == "boolean":
            return text.strip().lower() in ("1", "true", "yes")
        if field.type in ("integer", "float"):
            return float(text) if field.type == "float" else int(text)
        return text or False

    def _run_wait(self, run, record, now):
        resume_at = now + timedelta(**{self.wait_unit: self.wait_amount})
        return WAIT, self.env._("Waiting until %(date)s.", date=fields.Datetime.to_string(resume_at)), resume_at

    def _run_condition(self, run, record, now):
        expiry = run.event_id.date_expiry
        if record._name == "lifecycle.deadline" and expiry and record.date_expiry != expiry:
            return (
                STOP,
                self.env._("Renewed meanwhile (now until %(date)s): run stopped.", date=record.date_expiry),
                None,
            )
        if record.filtered_domain(self._condition()):
            return NEXT, self.env._("Condition still met."), None
        return STOP, self.env._("Condition no longer met: run stopped."), None

    def _run_wallet_credit(self, run, record, now):
        partner = record.partner_id if record._name == "lifecycle.deadline" else record
        company = record.company_id or self.env.company
        wallet = self.env["lifecycle.wallet"]._for_partner(partner, company, company.currency_id)
        line = wallet._post(
            "bonus",
            self.wallet_amount,
            reason=self.wallet_reason,
            workflow_run_id=run.id,
            deadline_id=record.id if record._name == "lifecycle.deadline" else False,
        )
        return NEXT, self.env._("Wallet credited: %(line)s.", line=line.display_name), None

    def _run_cancel(self, run, record, now):
        if record._name != "lifecycle.deadline" or record.state not in ("draft", "active", "expired"):
            return NEXT, self.env._("Nothing to cancel."), None
        record.action_cancel()
        return NEXT, self.env._("Deadline cancelled."), None
