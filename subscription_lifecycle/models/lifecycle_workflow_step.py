from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

# The result of a step, returned by every ``_run_<step_type>`` method:
# ``(outcome, message, resume_at)`` with outcome ``next`` (go on with the next
# step), ``wait`` (resume the run at ``resume_at``) or ``stop`` (end the run).
NEXT, WAIT, STOP = "next", "wait", "stop"

# The field types an update step sets from its text value: plain values, no
# relation (so never a record of another company, nor the company itself).
UPDATE_TYPES = ("char", "text", "boolean", "integer", "float", "selection", "date")
# Fields an update step never sets, even when its author may set them by hand:
# a step writes one constant on every record of its segment, unattended, for
# as long as the workflow is on.
# - state: a deadline changes status through its guarded transitions only
#   (the cancel step);
# - active: archiving hides customers and deadlines from the rest of Odoo;
# - email: where password resets, portal invitations and every message to the
#   customer go: one address for a whole segment hands their accounts and
#   their mail to whoever reads it;
# - access_token, signup_type: the portal link and signup credentials.
PROTECTED_FIELDS = frozenset({"state", "active", "email", "access_token", "signup_type"})


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
            ("webhook", "Send webhook"),
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
        domain=f"[('model', '=', model_name), ('store', '=', True), ('readonly', '=', False),"
        f" ('ttype', 'in', {UPDATE_TYPES!r}), ('name', 'not in', {tuple(sorted(PROTECTED_FIELDS))!r})]",
        ondelete="cascade",
    )
    update_value = fields.Char(string="New value")
    author_id = fields.Many2one(
        "res.users",
        string="Saved by",
        readonly=True,
        copy=False,
        help="Whoever saved the step last: an update step writes with this user's rights.",
    )
    wait_amount = fields.Integer(string="Wait", default=1)
    wait_unit = fields.Selection([("hours", "Hours"), ("days", "Days")], default="days")
    condition_domain = fields.Char(
        string="Continue only if",
        default="[]",
        help="The run stops unless the record still matches, e.g. the deadline is still active. "
        "For a deadline event the run also stops when the deadline was renewed since the event.",
    )

    webhook_endpoint_id = fields.Many2one(
        "lifecycle.webhook.endpoint",
        string="Webhook endpoint",
        domain="[('direction', '=', 'outbound')]",
        ondelete="restrict",
        help="Receives the event the run answers, signed, retried and logged.",
    )
    wallet_amount = fields.Float(string="Credit", help="Amount credited, in the company's currency.")
    wallet_reason = fields.Char(string="Reason", translate=True)

    @api.depends("step_type", "mail_template_id", "activity_type_id", "webhook_endpoint_id", "wait_amount", "wait_unit")
    def _compute_name(self):
        labels = dict(self._fields["step_type"]._description_selection(self.env))
        for step in self:
            detail = step.mail_template_id.name or step.activity_type_id.name or step.webhook_endpoint_id.name or ""
            if step.step_type == "wait":
                units = dict(self._fields["wait_unit"]._description_selection(self.env))
                detail = f"{step.wait_amount} {units.get(step.wait_unit, '')}"
            step.name = f"{labels.get(step.step_type, '')}: {detail}" if detail else labels.get(step.step_type, "")

    @api.model_create_multi
    def create(self, vals_list):
        return super().create([{**vals, "author_id": self.env.uid} for vals in vals_list])

    def write(self, vals):
        # whoever saves the step becomes its author, whatever the values say
        return super().write({**vals, "author_id": self.env.uid})

    @api.constrains(
        "step_type",
        "mail_template_id",
        "activity_type_id",
        "update_field_id",
        "update_value",
        "wait_amount",
        "author_id",
        "webhook_endpoint_id",
    )
    def _check_settings(self):
        for step in self:
            missing = {
                "email": not step.mail_template_id,
                "activity": not step.activity_type_id,
                "update": not step.update_field_id,
                "wait": step.wait_amount <= 0,
                "wallet_credit": step.wallet_amount <= 0 or not step.wallet_reason,
                "webhook": step.webhook_endpoint_id.direction != "outbound",
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
                step._check_update(step.author_id)
            if step.step_type == "condition":
                step._condition()

    def _check_update(self, author):
        """Refuse an update this step may not make as ``author``, saying why.

        Checked when the step is saved and again before each write: the field
        must be a plain, writable field of the workflow's own model, not in
        PROTECTED_FIELDS, and one its author may write today (access rights
        and field groups; the record rules apply when the step writes).
        """
        if self.update_field_id.name == "state":
            raise ValidationError(self.env._("A workflow changes a deadline's status with the cancel step only."))
        model = self.env[self.model_name]
        description = self.env["ir.model"]._get(self.model_name).name
        field = model._fields.get(self.update_field_id.name) if self.update_field_id.model == self.model_name else None
        if (
            field is None
            or field.type not in UPDATE_TYPES
            or not field.store
            or field.readonly
            or field.name in PROTECTED_FIELDS
        ):
            raise ValidationError(
                self.env._(
                    "A workflow cannot change %(field)s: choose a text, number, date or choice field of %(model)s.",
                    field=self.update_field_id.field_description,
                    model=description,
                )
            )
        if not author:  # its user was deleted, or it was saved before steps had authors
            raise ValidationError(
                self.env._(
                    "Nobody answers for the step %(step)s: save it again to give it your rights.", step=self.name
                )
            )
        as_author = model.with_user(author)
        if not (as_author.has_access("write") and as_author._has_field_access(field, "write")):
            raise ValidationError(self._update_refused(author, description))
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

    def _run_many(self, runs, records, now):
        """Execute this step for ``runs``; ``records`` maps each run to its record.

        Returns ``{run: (outcome, message, resume_at)}``. A step type whose
        work is cheaper together has a ``_run_<step_type>_batch(runs, records,
        now)`` method, used here; the others run one record at a time.
        """
        self.ensure_one()
        batch = getattr(self, f"_run_{self.step_type}_batch", None)
        if batch:
            return batch(runs, records, now)
        return {run: self._run(run, records[run], now) for run in runs}

    def _run_email(self, run, record, now):
        return self._run_email_batch(run, {run: record}, now)[run]

    def _run_email_batch(self, runs, records, now):
        """Render and queue the emails of all ``runs`` at once, each posted in its record's chatter.

        ``message_post`` posts one record at a time, about ten queries each.
        This is its batch form on Odoo's own batch sender: ``send_mail_batch``
        renders the template for every record together and creates the
        outgoing emails in bulk. Given a comment's values, each email's message
        is a message of the record's chatter, kept once the email is sent
        (``is_notification``), to which the customer's replies come back; its
        notifications show the delivery status, as the mass mail composer
        records them. Test mode sends to the test recipients only, outside
        the chatter.
        """
        workflow = self.workflow_id
        template = self.mail_template_id.with_context(lifecycle_offer=self.offer_text or "")
        if workflow.test_mode:
            email_values = {"email_to": workflow.test_recipients, "recipient_ids": [], "email_cc": False}
        else:
            email_values = {
                "message_type": "comment",
                "subtype_id": self.env.ref("mail.mt_comment").id,
                "is_notification": True,
            }
        outcomes = {}
        pending = runs
        while pending:
            # one email per run: a record met twice (two events) gets its second one in the next pass
            firsts = {}
            for run in pending:
                firsts.setdefault(records[run], run)
            batch = runs.browse([run.id for run in firsts.values()])
            pending -= batch
            mails = template.send_mail_batch([record.id for record in firsts], email_values=email_values)
            if not workflow.test_mode:
                self._post_in_chatter(mails, list(firsts))
            for run, mail in zip(batch, mails, strict=True):
                to = workflow.test_recipients if workflow.test_mode else ", ".join(mail.recipient_ids.mapped("name"))
                outcomes[run] = (NEXT, self.env._("Email %(mail)s queued for %(to)s.", mail=mail.id, to=to), None)
        return outcomes

    def _post_in_chatter(self, mails, records):
        """Sign ``mails`` (one per record, in order) as the record's salesperson, reply-to the record, notify.

        The reply-to is the record's (its alias, else the catchall), computed
        for the whole batch as the mass mail composer does, so that answers
        come back to the record's chatter.
        """
        authors = {
            record.id: (record.user_id.partner_id if "user_id" in record._fields else record.browse())
            or record.company_id.partner_id
            or self.env.user.partner_id
            for record in records
        }
        targets = records[0].browse(list(authors))
        replies = targets._notify_get_reply_to_batch(
            defaults={mail.res_id: mail.email_from for mail in mails},
            author_ids={res_id: author.id for res_id, author in authors.items()},
        )
        notifications = [
            {**values, "author_id": authors[mail.res_id].id, "res_partner_id": partner.id}
            for mail, values in zip(mails, mails._get_notification_values(), strict=True)
            for partner in mail.recipient_ids
        ]
        # One UPDATE for the batch: through the ORM each email writes its own
        # message (its author and reply-to are the message's), a millisecond each.
        messages = mails.mail_message_id
        messages.flush_recordset(["author_id", "reply_to"])
        self.env.cr.execute(
            SQL(
                "UPDATE mail_message AS message SET author_id = signed.author_id, reply_to = signed.reply_to"
                " FROM (VALUES %s) AS signed(id, author_id, reply_to) WHERE message.id = signed.id",
                SQL(", ").join(
                    SQL("(%s, %s::int, %s::varchar)", message.id, authors[res_id].id, replies[res_id])
                    for message, res_id in zip(messages, mails.mapped("res_id"), strict=True)
                ),
            )
        )
        messages.invalidate_recordset(["author_id", "reply_to"])
        mails.invalidate_recordset(["author_id", "reply_to"])
        self.env["mail.notification"].sudo().create(notifications)

    def _run_activity(self, run, record, now):
        user = self.activity_user_id or (record.user_id if "user_id" in record._fields else False) or self.env.user
        activity = record.activity_schedule(
            activity_type_id=self.activity_type_id.id,
            summary=self.activity_summary or False,
            user_id=user.id,
            date_deadline=fields.Date.add(fields.Date.context_today(self, now), days=self.activity_days),
        )
        return NEXT, self.env._("Activity scheduled for %(user)s.", user=activity.user_id.name), None

    def _update_refused(self, author, target):
        return self.env._(
            "%(user)s may not change %(field)s of %(target)s, so neither may a workflow step they saved.",
            user=author.name,
            field=self.update_field_id.field_description,
            target=target,
        )

    def _run_update(self, run, record, now):
        """Write as the step's author: their rights, record rules and field groups apply."""
        author = self.author_id
        self._check_update(author)
        field = record._fields[self.update_field_id.name]
        value = self._typed_value(field)
        try:
            record.with_user(author).write({field.name: value})
        except AccessError as error:
            raise ValidationError(self._update_refused(author, record.display_name)) from error
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
        # The event's company decides: the deadline's, the paid transaction's,
        # the one the customer registered with. An event without one (a
        # customer shared by every company was archived) credits in the
        # workflow's company, else in the company the engine runs in (the
        # main company of a single-company database).
        company = run.event_id.company_id or self.workflow_id.company_id or self.env.company
        wallet = self.env["lifecycle.wallet"]._for_partner(partner, company, company.currency_id)
        line = wallet._post_booked(
            "bonus",
            self.wallet_amount,
            self.wallet_reason,
            workflow_run_id=run.id,
            deadline_id=record.id if record._name == "lifecycle.deadline" else False,
        )
        return NEXT, self.env._("Wallet credited: %(line)s.", line=line.display_name), None

    def _run_webhook(self, run, record, now):
        return self._run_webhook_batch(run, {run: record}, now)[run]

    def _run_webhook_batch(self, runs, records, now):
        """Queue one delivery of each run's event to the step's endpoint; the sender sends them after commit.

        As for subscriptions, an event of another company than the
        endpoint's is not sent there: a workflow shared by every company
        must not hand one company's customers to another's system.
        """
        endpoint = self.webhook_endpoint_id
        foreign = runs.filtered(
            lambda run: run.event_id.company_id not in (endpoint.company_id, self.env["res.company"])
        )
        sent = runs - foreign
        deliveries = self.env["lifecycle.webhook.delivery"].create(
            [
                {
                    "endpoint_id": endpoint.id,
                    "event_id": run.event_id.id,
                    "workflow_run_id": run.id,
                    "partner_id": run.event_id.partner_id.id,
                    "company_id": endpoint.company_id.id,
                    "event_type": run.event_id.event_type,
                }
                for run in sent
            ]
        )
        deliveries._trigger_sender()
        outcomes = {
            run: (
                NEXT,
                self.env._("Webhook %(id)s queued for %(endpoint)s.", id=delivery.msg_id, endpoint=endpoint.name),
                None,
            )
            for run, delivery in zip(sent, deliveries, strict=True)
        }
        for run in foreign:
            outcomes[run] = (
                NEXT,
                self.env._(
                    "No webhook sent: the event belongs to %(company)s and %(endpoint)s to %(endpoint_company)s.",
                    company=run.event_id.company_id.name,
                    endpoint=endpoint.name,
                    endpoint_company=endpoint.company_id.name,
                ),
                None,
            )
        return outcomes

    def _run_cancel(self, run, record, now):
        if record._name != "lifecycle.deadline" or record.state not in ("draft", "active", "expired"):
            return NEXT, self.env._("Nothing to cancel."), None
        record.action_cancel()
        return NEXT, self.env._("Deadline cancelled."), None
