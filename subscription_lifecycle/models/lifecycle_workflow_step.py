import re
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Command, Domain
from odoo.tools import SQL, format_amount, format_date, format_datetime, formatLang, plaintext2html
from odoo.tools.safe_eval import safe_eval

from odoo.addons.sms.tools.sms_tools import sms_content_to_rendered_html

from ..lib.sampling import MIN_SENDS_PER_VARIANT, compare_variants, variant
from ..lib.telegram import send_message_payload
from ..lib.whatsapp import parse_variables, template_message
from .ir_qweb import compiled_once
from .res_partner import LIFECYCLE_CHANNELS

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
# Meta's rules for a message template's name and language code.
TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(_[A-Z]{2,4})?")


class LifecycleWorkflowStep(models.Model):
    """One step of a workflow.

    Step interface: a step type is a value of ``step_type`` plus a method
    ``_run_<step_type>(self, run, record, now)`` returning ``(outcome, message,
    resume_at)``. Other modules add a type with ``selection_add`` (and
    ``ondelete``) and the matching method; the engine needs nothing else.
    """

    _name = "lifecycle.workflow.step"
    _inherit = ["mail.render.mixin"]
    _description = "Lifecycle workflow step"
    _order = "sequence, id"
    # The alert text renders as a mail.template's body does: saving a
    # placeholder beyond plain field paths needs the Mail Template Editor
    # group, and the saved text is then trusted when the engine renders it.
    _unrestricted_rendering = True

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
            ("discuss", "Post in a Discuss channel"),
            ("notify_users", "Email internal users"),
            ("tag_add", "Add a tag to the customer"),
            ("tag_remove", "Remove a tag from the customer"),
            ("whatsapp", "Send WhatsApp message"),
            ("telegram", "Send Telegram message"),
            ("sms", "Send SMS"),
            ("message", "Message on the preferred channel"),
        ],
        required=True,
        default="email",
    )
    sms_template_id = fields.Many2one(
        "sms.template", string="SMS template", domain="[('model', '=', model_name)]", ondelete="restrict"
    )
    channel_fallback = fields.Char(
        string="Fallback order",
        default="email",
        help="Channels tried in this order, separated by commas, when the customer cannot be reached "
        "on their preferred channel, e.g. whatsapp, sms, email.",
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
    whatsapp_template = fields.Char(
        string="WhatsApp template",
        help="The name of a message template Meta approved for the company's WhatsApp account, e.g. renewal_reminder.",
    )
    whatsapp_language = fields.Char(
        string="Template language", default="en", help="The language code of the approved template, e.g. en, de, fr_FR."
    )
    whatsapp_variables = fields.Char(
        string="Template variables",
        help="The fields that fill the template's variables {{1}}, {{2}}, ... in order, separated by commas, "
        "e.g. partner_id.name, date_expiry, amount. Dates and amounts are written the way the customer's language "
        "writes them; an empty value is sent as a dash.",
    )
    telegram_body = fields.Text(
        string="Telegram message",
        translate=True,
        help="Sent in the customer's language; placeholders like {{ object.partner_id.name }} are filled in.",
    )
    mail_template_b_id = fields.Many2one(
        "mail.template",
        string="Variant B template",
        domain="[('model', '=', model_name)]",
        ondelete="restrict",
        help="A/B test: this share of the customers gets this template instead, always the same customers.",
    )
    variant_split = fields.Integer(string="Variant B share (%)", default=50)
    variant_summary = fields.Char(string="A/B results", compute="_compute_variant_summary")
    wallet_amount = fields.Float(string="Credit", help="Amount credited, in the company's currency.")
    wallet_reason = fields.Char(string="Reason", translate=True)
    wallet_once = fields.Boolean(
        string="Once per customer",
        help="Credit each customer once only, however many times the workflow runs for them (a sign-up credit).",
    )
    discuss_channel_id = fields.Many2one(
        "discuss.channel",
        string="Channel",
        domain="[('channel_type', '=', 'channel')]",
        ondelete="restrict",
        help="Staff who follow this channel in Discuss see the alert.",
    )
    alert_user_ids = fields.Many2many(
        "res.users",
        "lifecycle_workflow_step_alert_user_rel",
        "step_id",
        "user_id",
        string="Users",
        domain="[('share', '=', False)]",
        help="Internal users notified by email (or in Odoo, if that is their notification preference).",
    )
    alert_body = fields.Text(
        string="Message",
        translate=True,
        help="Rendered for each record, e.g. {{ object.partner_id.name }} cancelled {{ object.display_name }}. "
        "A link to the record follows it.",
    )
    partner_category_id = fields.Many2one(
        "res.partner.category",
        string="Tag",
        ondelete="restrict",
        help="Set on the customer's company (its commercial entity), or on the customer if a private person.",
    )

    @api.depends(
        "step_type",
        "mail_template_id",
        "sms_template_id",
        "activity_type_id",
        "webhook_endpoint_id",
        "whatsapp_template",
        "wait_amount",
        "wait_unit",
        "channel_fallback",
    )
    def _compute_name(self):
        labels = dict(self._fields["step_type"]._description_selection(self.env))
        for step in self:
            detail = (
                step.mail_template_id.name
                or step.sms_template_id.name
                or step.activity_type_id.name
                or step.webhook_endpoint_id.name
                or (step.step_type == "whatsapp" and step.whatsapp_template)
                or ""
            )
            if step.step_type == "message":
                detail = step.channel_fallback or ""
            if step.step_type == "wait":
                units = dict(self._fields["wait_unit"]._description_selection(self.env))
                detail = f"{step.wait_amount} {units.get(step.wait_unit, '')}"
            step.name = f"{labels.get(step.step_type, '')}: {detail}" if detail else labels.get(step.step_type, "")

    def _compute_variant_summary(self):
        groups = self.env["lifecycle.reminder.trace"]._read_group(
            [("step_id", "in", self.ids)], ["step_id", "variant"], ["sent_count:sum", "renewed_count:sum"]
        )
        figures = {(step, key): (sent, renewed) for step, key, sent, renewed in groups}
        for step in self:
            (sent_a, renewed_a), (sent_b, renewed_b) = (figures.get((step, key), (0, 0)) for key in "ab")
            rate_a, rate_b, leader = compare_variants(sent_a, renewed_a, sent_b, renewed_b)
            detail = self.env._(
                "A: %(sent_a)s sent, %(rate_a)s renewed; B: %(sent_b)s sent, %(rate_b)s renewed.",
                sent_a=sent_a,
                rate_a=f"{rate_a:.1f} %" if rate_a is not None else "—",
                sent_b=sent_b,
                rate_b=f"{rate_b:.1f} %" if rate_b is not None else "—",
            )
            verdict = {
                None: self.env._(
                    "Not enough data: fewer than %(minimum)s sends per variant.", minimum=MIN_SENDS_PER_VARIANT
                ),
                "a": self.env._("A leads."),
                "b": self.env._("B leads."),
                "tie": self.env._("No difference."),
            }[leader]
            step.variant_summary = f"{detail} {verdict}"

    @api.constrains("mail_template_b_id", "variant_split")
    def _check_variant(self):
        for step in self.filtered("mail_template_b_id"):
            if step.mail_template_b_id.model != step.model_name or not 0 < step.variant_split < 100:
                raise ValidationError(
                    self.env._(
                        "Variant B of %(step)s needs a template for %(model)s and a share between 1 and 99 %%.",
                        step=step.name,
                        model=step.model_name,
                    )
                )

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
        "wallet_amount",
        "wallet_reason",
        "author_id",
        "webhook_endpoint_id",
        "discuss_channel_id",
        "alert_user_ids",
        "alert_body",
        "partner_category_id",
        "whatsapp_template",
        "whatsapp_language",
        "whatsapp_variables",
        "telegram_body",
        "sms_template_id",
        "channel_fallback",
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
                "discuss": step.discuss_channel_id.channel_type != "channel" or not step.alert_body,
                "notify_users": not step.alert_user_ids or not step.alert_body,
                "tag_add": not step.partner_category_id,
                "tag_remove": not step.partner_category_id,
                "whatsapp": not step.whatsapp_template or not step.whatsapp_language,
                "telegram": not step.telegram_body,
                "sms": not step.sms_template_id,
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
            if step.sms_template_id and step.sms_template_id.model != step.model_name:
                raise ValidationError(
                    self.env._(
                        "The SMS template %(template)s is not for %(model)s.",
                        template=step.sms_template_id.name,
                        model=step.model_name,
                    )
                )
            if step.step_type == "message":
                step._channel_order()
            if step.step_type == "update":
                step._check_update(step.author_id)
            if step.step_type == "condition":
                step._condition()
            if step.step_type == "whatsapp":
                step._whatsapp_paths()

    @api.constrains("alert_user_ids")
    def _check_alert_users(self):
        for step in self:
            outsiders = step.alert_user_ids.filtered("share")
            if outsiders:
                raise ValidationError(
                    self.env._(
                        "Alerts go to internal users only; these are not: %(users)s",
                        users=", ".join(outsiders.mapped("name")),
                    )
                )

    @api.depends("workflow_id.event_type")
    def _compute_render_model(self):
        for step in self:
            step.render_model = step.model_name

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
            mails, variants = self._send_variants(list(firsts), email_values)
            if not workflow.test_mode:
                self._post_in_chatter(mails, list(firsts))
                self.env["lifecycle.reminder.trace"]._record_sent(self, batch, list(firsts), mails, variants)
            for run, mail in zip(batch, mails, strict=True):
                to = workflow.test_recipients if workflow.test_mode else ", ".join(mail.recipient_ids.mapped("name"))
                outcomes[run] = (NEXT, self.env._("Email %(mail)s queued for %(to)s.", mail=mail.id, to=to), None)
        return outcomes

    def _send_variants(self, records, email_values):
        """Queue one email per record; ``(mails, variants)``, both in the order of ``records``.

        With a variant B template, the customers the split gives to B (drawn
        per commercial entity, as a pilot's sample, ``lib.sampling.variant``)
        get it, the others variant A. Each template's body is compiled once
        for all its records (``ir_qweb.compiled_once``).
        """
        customers = [self._customer(record).commercial_partner_id for record in records]
        variants = [
            variant(self.id, customer.id, self.variant_split) if self.mail_template_b_id else "a"
            for customer in customers
        ]
        mail_by_record = {}
        for key, template in (("a", self.mail_template_id), ("b", self.mail_template_b_id)):
            ids = [record.id for record, assigned in zip(records, variants, strict=True) if assigned == key]
            if ids:
                with compiled_once():
                    mails = template.with_context(lifecycle_offer=self.offer_text or "").send_mail_batch(
                        ids, email_values=email_values
                    )
                mail_by_record.update(zip(ids, mails, strict=True))
        mails = self.env["mail.mail"].union(*(mail_by_record[record.id] for record in records))
        return mails, variants

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
        return self._run_condition_batch(run, {run: record}, now)[run]

    def _run_condition_batch(self, runs, records, now):
        """Stop the runs whose deadline was renewed meanwhile or whose record no longer meets the condition.

        The condition is read and checked once for the batch's records, not
        once per run.
        """
        met = self.env[self.model_name].browse({records[run].id for run in runs}).filtered_domain(self._condition())
        still, no_longer = self.env._("Condition still met."), self.env._("Condition no longer met: run stopped.")
        outcomes = {}
        for run in runs:
            record, expiry = records[run], run.event_id.date_expiry
            if record._name == "lifecycle.deadline" and expiry and record.date_expiry != expiry:
                outcomes[run] = (
                    STOP,
                    self.env._("Renewed meanwhile (now until %(date)s): run stopped.", date=record.date_expiry),
                    None,
                )
            else:
                outcomes[run] = (NEXT, still, None) if record in met else (STOP, no_longer, None)
        return outcomes

    def _run_wallet_credit(self, run, record, now):
        partner = self._customer(record)
        # The event's company decides: the deadline's, the paid transaction's,
        # the one the customer registered with. An event without one (a
        # customer shared by every company was archived) credits in the
        # workflow's company, else in the company the engine runs in (the
        # main company of a single-company database).
        company = run.event_id.company_id or self.workflow_id.company_id or self.env.company
        wallet = self.env["lifecycle.wallet"]._for_partner(partner, company, company.currency_id)
        if self.wallet_once and wallet._credited_by(self.workflow_id):
            return NEXT, self.env._("Not credited: this workflow already credited the customer's wallet."), None
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

    def _whatsapp_paths(self):
        """The step's variables as field paths, each checked on the workflow's model; ValidationError if not.

        A path must name fields of the records it walks through, and fields
        the step's author may read: a customer must never receive what its
        author could not see (an access token, say).
        """
        example = self.env._("write field names separated by commas, e.g. partner_id.name, date_expiry, amount")
        if not TEMPLATE_NAME.fullmatch(self.whatsapp_template or "") or not LANGUAGE_CODE.fullmatch(
            self.whatsapp_language or ""
        ):
            raise ValidationError(
                self.env._(
                    "A WhatsApp template is named in lower-case letters, digits and underscores "
                    "(e.g. renewal_reminder), and its language by its code (e.g. en, de, pt_BR)."
                )
            )
        try:
            paths = parse_variables(self.whatsapp_variables)
        except ValueError as error:
            raise ValidationError(
                self.env._("%(path)s is not a field path: %(example)s.", path=error.args[0], example=example)
            ) from error
        author = self.author_id or self.env.user
        for path in paths:
            model = self.env[self.model_name]
            for name in path.split("."):
                field = model._fields.get(name) if model is not None else None
                if field is None or not model.with_user(author)._has_field_access(field, "read"):
                    raise ValidationError(
                        self.env._(
                            "%(path)s does not name a field of %(model)s you may read: %(example)s.",
                            path=path,
                            model=self.env["ir.model"]._get(self.model_name).name,
                            example=example,
                        )
                    )
                model = self.env[field.comodel_name] if field.relational else None
        return paths

    def _whatsapp_texts(self, record, partner):
        """The values of the step's variables on ``record``, written for ``partner`` (their language, their time)."""
        lang = partner.lang or self.env.lang
        record = record.with_context(lang=lang)
        texts = []
        for path in self._whatsapp_paths():
            *names, last = path.split(".")
            owner = record
            for name in names:
                owner = owner[name]
            texts.append(self._whatsapp_text(owner, owner._fields[last], partner, lang) or "-")
        return texts

    def _whatsapp_text(self, records, field, partner, lang):
        """One variable: the value of ``field`` on ``records`` (none, one, or several joined by commas)."""
        env = records.env
        texts = []
        for record in records:
            value = record[field.name]
            if field.relational:
                text = ", ".join(value.mapped("display_name"))
            elif not value and field.type != "boolean":
                text = ""
            elif field.type == "date":
                text = format_date(env, value, lang_code=lang)
            elif field.type == "datetime":
                text = format_datetime(env, value, tz=partner.tz, lang_code=lang)
            elif field.type == "monetary":
                text = format_amount(env, value, record[field.get_currency_field(record)], lang_code=lang)
            elif field.type == "float":
                text = formatLang(env, value)
            elif field.type == "selection":
                text = dict(field._description_selection(env)).get(value, value)
            elif field.type == "boolean":
                text = env._("Yes") if value else env._("No")
            else:
                text = str(value)
            texts.append(text)
        return ", ".join(text for text in texts if text)

    def _run_whatsapp(self, run, record, now):
        return self._run_whatsapp_batch(run, {run: record}, now)[run]

    def _run_whatsapp_batch(self, runs, records, now):
        """Queue one WhatsApp template message to each run's customer; the sender sends them after commit.

        A customer who cannot be reached on WhatsApp (no valid phone number,
        no WhatsApp account for the company) gets nothing, and the run says
        why and goes on. A workflow in test mode sends no WhatsApp message:
        there is no test recipient to send it to instead.
        """
        workflow = self.workflow_id
        outcomes, queued, values_list = {}, [], []
        for run in runs:
            partner = run.event_id.partner_id
            company = run.event_id.company_id or workflow.company_id or self.env.company
            if workflow.test_mode:
                number, reason = False, self.env._("the workflow is in test mode")
            elif not partner:
                number, reason = False, self.env._("the event has no customer")
            else:
                number, reason = partner._lifecycle_reach_whatsapp(company)
            if not number:
                outcomes[run] = (NEXT, self.env._("No WhatsApp message sent: %(reason)s", reason=reason), None)
                continue
            texts = self._whatsapp_texts(records[run], partner)
            queued.append(run)
            values_list.append(
                {
                    "channel": "whatsapp",
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "workflow_run_id": run.id,
                    "recipient": number,
                    "body": self.env._(
                        "Template %(template)s (%(language)s): %(values)s",
                        template=self.whatsapp_template,
                        language=self.whatsapp_language,
                        values=" | ".join(texts),
                    ),
                    "payload": template_message(number, self.whatsapp_template, self.whatsapp_language, texts),
                }
            )
        messages = self.env["lifecycle.message"]._enqueue(values_list)
        for run, message in zip(queued, messages, strict=True):
            outcomes[run] = (
                NEXT,
                self.env._("WhatsApp message %(id)s queued for %(number)s.", id=message.id, number=message.recipient),
                None,
            )
        return outcomes

    def _run_cancel(self, run, record, now):
        if record._name != "lifecycle.deadline" or record.state not in ("draft", "active", "expired"):
            return NEXT, self.env._("Nothing to cancel."), None
        record.action_cancel()
        return NEXT, self.env._("Deadline cancelled."), None

    def _alert_texts(self, runs, records, lang):
        """``{record id: the alert text rendered for it}`` in ``lang``, for the records of ``runs`` at once."""
        targets = self.env[self.model_name].browse({records[run].id for run in runs})
        return self._render_field("alert_body", targets.ids, set_lang=lang)

    def _alert_html(self, record, text):
        url = f"{record.get_base_url()}/odoo/{record._name}/{record.id}"
        return Markup('{}<p><a href="{}">{}</a></p>').format(plaintext2html(text), url, record.display_name)

    def _run_discuss(self, run, record, now):
        return self._run_discuss_batch(run, {run: record}, now)[run]

    def _run_discuss_batch(self, runs, records, now):
        """Post one message per run in the channel, as OdooBot; the texts are rendered together.

        Rendered in the language of the workflow's company (else the
        engine's): a channel has no language of its own.
        """
        channel = self.discuss_channel_id
        lang = (self.workflow_id.company_id or self.env.company).partner_id.lang
        texts = self._alert_texts(runs, records, lang)
        odoobot = self.env.ref("base.partner_root")
        outcomes = {}
        for run in runs:
            record = records[run]
            channel.message_post(
                body=self._alert_html(record, texts[record.id]),
                author_id=odoobot.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            outcomes[run] = (NEXT, self.env._("Posted in #%(channel)s.", channel=channel.name), None)
        return outcomes

    def _run_notify_users(self, run, record, now):
        return self._run_notify_users_batch(run, {run: record}, now)[run]

    def _run_notify_users_batch(self, runs, records, now):
        """Notify the step's users about each run's record, each in their language, never anyone else.

        ``message_notify`` on the record: Odoo's notification to chosen
        partners only (no follower, not in the chatter the customer may
        read), sent as an email, or kept in the user's Odoo inbox when that
        is the notification preference they chose.
        """
        users = self.alert_user_ids.filtered(lambda user: not user.share)
        author = (self.workflow_id.company_id or self.env.company).partner_id
        for lang, group in users.grouped("lang").items():
            texts = self._alert_texts(runs, records, lang)
            for record in {records[run] for run in runs}:
                record.message_notify(
                    partner_ids=group.partner_id.ids,
                    author_id=author.id,
                    subject=f"{self.workflow_id.name}: {record.display_name}",
                    body=self._alert_html(record, texts[record.id]),
                    email_layout_xmlid="mail.mail_notification_light",
                )
        message = self.env._("Sent to %(users)s.", users=", ".join(users.mapped("name")))
        return dict.fromkeys(runs, (NEXT, message, None))

    def _run_tag_add(self, run, record, now):
        return self._run_tag_add_batch(run, {run: record}, now)[run]

    def _run_tag_add_batch(self, runs, records, now):
        customers = self._tag_customers(runs, records, Command.link)
        tag = self.partner_category_id.name
        return {
            run: (NEXT, self.env._("Tag %(tag)s added to %(customer)s.", tag=tag, customer=customer.name), None)
            for run, customer in customers.items()
        }

    def _run_tag_remove(self, run, record, now):
        return self._run_tag_remove_batch(run, {run: record}, now)[run]

    def _run_tag_remove_batch(self, runs, records, now):
        customers = self._tag_customers(runs, records, Command.unlink)
        tag = self.partner_category_id.name
        return {
            run: (NEXT, self.env._("Tag %(tag)s removed from %(customer)s.", tag=tag, customer=customer.name), None)
            for run, customer in customers.items()
        }

    def _tag_customers(self, runs, records, command):
        """Link or unlink the step's tag on the customers of ``runs`` in one write; ``{run: customer}``.

        The tag goes on the commercial entity (the company, or the private
        person), where marketing segments customers: a deadline's customer
        may be one contact of a company.
        """
        customers = {run: self._customer(records[run]).commercial_partner_id for run in runs}
        tag = self.partner_category_id
        self.env["res.partner"].union(*customers.values()).write({"category_id": [command(tag.id)]})
        return customers

    def _run_telegram(self, run, record, now):
        return self._run_telegram_batch(run, {run: record}, now)[run]

    def _run_telegram_batch(self, runs, records, now):
        """Queue the step's text, in each customer's language, to the customers who linked Telegram.

        The outbox (``lifecycle.message``) sends it after commit. A customer
        the company's bot cannot reach gets no message, and the run goes on
        with the reason in its log; test mode logs the text and sends nothing.
        """
        outcomes = {}
        reached = {}
        for run in runs:
            customer = self._customer(records[run])
            company = run.event_id.company_id or self.workflow_id.company_id or self.env.company
            chat_id, reason = customer._lifecycle_reach_telegram(company)
            if chat_id:
                reached[run] = (customer, company, chat_id)
            else:
                outcomes[run] = (NEXT, self.env._("No Telegram message: %(reason)s", reason=reason), None)
        texts = self._render_per_language(
            "telegram_body", {run: (records[run], customer.lang) for run, (customer, *_rest) in reached.items()}
        )
        if self.workflow_id.test_mode:
            for run in reached:
                outcomes[run] = (
                    NEXT,
                    self.env._("Test mode: Telegram message not sent: %(text)s", text=texts[run]),
                    None,
                )
            return outcomes
        messages = self.env["lifecycle.message"]._enqueue(
            [
                {
                    "channel": "telegram",
                    "partner_id": customer.id,
                    "company_id": company.id,
                    "workflow_run_id": run.id,
                    "recipient": chat_id,
                    "body": texts[run],
                    "payload": send_message_payload(int(chat_id), texts[run]),
                }
                for run, (customer, company, chat_id) in reached.items()
            ]
        )
        for run, message in zip(reached, messages, strict=True):
            outcomes[run] = (
                NEXT,
                self.env._(
                    "Telegram message %(id)s queued for %(customer)s.", id=message.id, customer=message.partner_id.name
                ),
                None,
            )
        return outcomes

    @api.model
    def _customer(self, record):
        """The customer a step acts on: the one the event is about, or the deadline's or invoice's."""
        return record if record._name == "res.partner" else record.partner_id

    def _render_per_language(self, field, targets):
        """``{key: text}``: this step's ``field``, an inline template, rendered for each ``(record, lang)``.

        Each language's translation of the template is rendered for all its
        records at once, with Odoo's mail rendering (``mail.render.mixin``).
        """
        texts = {}
        by_lang = defaultdict(list)
        for key, (record, lang) in targets.items():
            by_lang[lang or self.env.lang].append((key, record))
        for lang, items in by_lang.items():
            source = self.with_context(lang=lang)[field]
            records = items[0][1].browse(list(dict.fromkeys(record.id for _key, record in items)))
            rendered = (
                self.env["mail.render.mixin"]
                .with_context(lang=lang)
                ._render_template(source, records._name, records.ids, engine="inline_template")
            )
            texts.update({key: rendered[record.id] for key, record in items})
        return texts

    def _recipient(self, run, record):
        """The customer ``run`` writes to on ``record``, and the company it writes for.

        The event's company decides, else the record's, the workflow's, the
        engine's: its SMS provider sends, its country reads local numbers.
        """
        partner = self._customer(record)
        company = (
            run.event_id.company_id
            or (record.company_id if "company_id" in record._fields else False)
            or self.workflow_id.company_id
            or self.env.company
        )
        return partner, company

    def _run_sms(self, run, record, now):
        return self._run_sms_batch(run, {run: record}, now)[run]

    def _run_sms_batch(self, runs, records, now):
        """Queue one SMS per run in Odoo's outgoing SMS, logged in the record's chatter with its delivery status.

        The customer's number in E.164 (``lib.phone``); a missing, invalid or
        blacklisted number skips the SMS of that run with the reason in its
        log, and the run goes on. The rest is queued together: the template
        renders every record at once in its customer's language, one batch
        of chatter logs, one batch of ``sms.sms`` and of their notifications,
        as ``_notify_thread_by_sms`` links them, so the chatter shows each
        SMS's delivery status as the provider reports it. The mass composer
        does not fit: it reads numbers its own way, loads the whole blacklist
        and leaves no delivery status in the chatter.

        Each SMS leaves through the outbox (``lifecycle.message``, channel
        ``sms``), not Odoo's SMS cron: that cron commits only after the
        provider answered, so a worker killed in between would send the SMS
        again. The ``sms.sms`` is queued as *Processing*, which Odoo's cron
        never takes; the outbox's sender claims it, commits, then sends it
        with Odoo's SMS machinery and the provider of the message's company
        (IAP, or Twilio with sms_twilio): sent once at most, an outcome lost
        with a worker is *unknown* and left to staff.
        """
        reach = {}
        targets = {run: self._recipient(run, records[run]) for run in runs}
        for company, group in runs.grouped(lambda run: targets[run][1]).items():
            partners = self.env["res.partner"].union(*(targets[run][0] for run in group))
            for partner, found in partners._lifecycle_sms_numbers(company).items():
                reach[partner, company] = found
        outcomes, numbers = {}, {}
        for run in runs:
            partner, company = targets[run]
            number, reason = reach[partner, company]
            if not number:
                outcomes[run] = (
                    NEXT,
                    self.env._("No SMS to %(customer)s: %(reason)s.", customer=partner.display_name, reason=reason),
                    None,
                )
            elif self.workflow_id.test_mode:
                outcomes[run] = (NEXT, self.env._("Test mode: no SMS sent to %(number)s.", number=number), None)
            else:
                numbers[run] = number
        if numbers:
            outcomes.update(self._queue_sms(runs.browse([run.id for run in numbers]), records, targets, numbers))
        return outcomes

    def _queue_sms(self, runs, records, targets, numbers):
        model = self.env[self.model_name]
        bodies = self.sms_template_id._render_field("body", list({records[run].id for run in runs}), compute_lang=True)
        outcomes = {}
        pending = runs
        while pending:
            # one log per record and pass: a record met twice (two events) gets its second SMS in the next pass
            firsts = {}
            for run in pending:
                firsts.setdefault(records[run], run)
            batch = runs.browse([run.id for run in firsts.values()])
            pending -= batch
            messages = model.browse([record.id for record in firsts])._message_log_batch(
                bodies={record.id: sms_content_to_rendered_html(bodies[record.id]) for record in firsts},
                message_type="sms",
            )
            # the outbox sends each SMS with the provider of its message's company
            by_company = defaultdict(list)
            for run, message in zip(batch, messages, strict=True):
                by_company[targets[run][1]].append(message.id)
            for company, message_ids in by_company.items():
                messages.browse(message_ids).record_company_id = company
            sms_values = [
                {
                    "body": bodies[records[run].id],
                    "number": numbers[run],
                    "partner_id": targets[run][0].id,
                    "mail_message_id": message.id,
                    "state": "process",  # the outbox's, never Odoo's SMS cron's (see _run_sms_batch)
                }
                for run, message in zip(batch, messages, strict=True)
            ]
            if "record_company_id" in self.env["sms.sms"]._fields:  # sms_twilio's own copy of it
                for values, run in zip(sms_values, batch, strict=True):
                    values["record_company_id"] = targets[run][1].id
            sms = self.env["sms.sms"].sudo().create(sms_values)
            self.env["mail.notification"].sudo().create(
                [
                    {
                        "author_id": message.author_id.id,
                        "mail_message_id": message.id,
                        "res_partner_id": one.partner_id.id,
                        "sms_number": one.number,
                        "notification_type": "sms",
                        "sms_id_int": one.id,
                        "sms_tracker_ids": [Command.create({"sms_uuid": one.uuid})],
                        "is_read": True,
                        "notification_status": "ready",
                    }
                    for one, message in zip(sms, messages, strict=True)
                ]
            )
            self.env["lifecycle.message"]._enqueue(
                [
                    {
                        "channel": "sms",
                        "partner_id": one.partner_id.id,
                        "company_id": targets[run][1].id,
                        "workflow_run_id": run.id,
                        "recipient": one.number,
                        "body": one.body,
                        "sms_id": one.id,
                    }
                    for run, one in zip(batch, sms, strict=True)
                ]
            )
            for run, one in zip(batch, sms, strict=True):
                outcomes[run] = (
                    NEXT,
                    self.env._("SMS %(sms)s queued for %(number)s.", sms=one.id, number=one.number),
                    None,
                )
        return outcomes

    def _channel_order(self):
        """The step's fallback channels, in order; a ValidationError names what is not a channel."""
        known = dict(LIFECYCLE_CHANNELS)
        order = [name.strip().lower() for name in (self.channel_fallback or "").split(",") if name.strip()]
        unknown = [name for name in order if name not in known]
        if unknown or not order:
            raise ValidationError(
                self.env._(
                    "The fallback order %(order)s is not a list of channels: write some of %(channels)s,"
                    " separated by commas.",
                    order=self.channel_fallback or "",
                    channels=", ".join(known),
                )
            )
        return list(dict.fromkeys(order))

    def _channel_ready(self, channel):
        """``""`` when this step can send on ``channel``, else why not."""
        if not hasattr(self, f"_run_{channel}_batch"):
            return self.env._("not available")
        if channel == "email" and not self.mail_template_id:
            return self.env._("the step has no email template")
        if channel == "sms" and not self.sms_template_id:
            return self.env._("the step has no SMS template")
        if channel == "whatsapp" and not (self.whatsapp_template and self.whatsapp_language):
            return self.env._("the step has no WhatsApp template")
        if channel == "telegram" and not self.telegram_body:
            return self.env._("the step has no Telegram message")
        return ""

    def _run_message(self, run, record, now):
        return self._run_message_batch(run, {run: record}, now)[run]

    def _run_message_batch(self, runs, records, now):
        """Send each run's message on its customer's preferred channel, else the first reachable of the fallback order.

        Each channel sends through its own step code, ``_run_<channel>_batch``,
        for all the runs it serves at once. A customer reachable on no
        channel is logged with every reason and the run goes on: the
        customer's missing address is not a fault of the workflow, and its
        next steps (a call for the salesperson) are the way left to reach them.
        """
        labels = dict(self.env["res.partner"]._fields["lifecycle_channel"]._description_selection(self.env))
        order = self._channel_order()
        chosen, skipped = {}, {}
        for run in runs:
            partner, company = self._recipient(run, records[run])
            skipped[run] = []
            for channel in dict.fromkeys([partner.lifecycle_channel or "email", *order]):
                reason = self._channel_ready(channel) or partner._lifecycle_reach(channel, company)[1]
                if not reason:
                    chosen[run] = channel
                    break
                skipped[run].append(
                    self.env._("%(channel)s: %(reason)s", channel=labels.get(channel, channel), reason=reason)
                )
        outcomes = {
            run: (
                NEXT,
                self.env._(
                    "No message sent, the customer cannot be reached: %(reasons)s.", reasons="; ".join(skipped[run])
                ),
                None,
            )
            for run in runs
            if run not in chosen
        }
        for channel, group in runs.filtered(lambda run: run in chosen).grouped(lambda run: chosen[run]).items():
            sent = getattr(self, f"_run_{channel}_batch")(group, records, now)
            for run, (outcome, message, resume_at) in sent.items():
                via = self.env._("By %(channel)s.", channel=labels[channel])
                if skipped[run]:
                    via = self.env._(
                        "By %(channel)s; not by %(reasons)s.", channel=labels[channel], reasons="; ".join(skipped[run])
                    )
                outcomes[run] = (outcome, f"{via} {message}", resume_at)
        return outcomes
