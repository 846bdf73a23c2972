from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_date
from odoo.tools.misc import babel_locale_parse

from ..lib.duration import add_duration, anchor_day, relative_days, renewal_start
from ..lib.events import LAPSE_START_DAY, LAPSE_STARTS
from ..lib.local_day import dates_in_use
from ..lib.reminders import DEFAULT_LADDER, due_offset, next_offset

# The state changes ``write`` accepts from anyone: the buttons, any RPC call.
TRANSITIONS = {
    "draft": {"active", "cancelled"},
    "active": {"closed", "cancelled"},
    "expired": {"closed", "cancelled"},
    "closed": set(),
    "cancelled": {"draft"},
}
# The state changes only this module's own code makes, where it checks them:
# the scheduler expires a deadline once its date is past on the customer's
# calendar (``_cron_expire``), a renewal brings an expired one back
# (``_renew``).
PRIVATE_TRANSITIONS = {("active", "expired"), ("expired", "active")}
# The (deadline id, new state) pairs of the private transitions under way. A
# Python context variable, out of reach of RPC callers, who can put anything
# in the environment's context.
_PRIVATE = ContextVar("lifecycle_private_transitions", default=frozenset())
# What the scheduler reads of a deadline, in the query that finds it (the name for its events' names).
SCHEDULER_FIELDS = ["name", "partner_id", "company_id", "date_expiry", "reminder_date"]
# How many days late the scheduler still announces a lapse it missed (it was stopped).
LAPSE_CATCH_UP_DAYS = 7
# The lifecycle event each state change emits.
STATE_EVENTS = {
    "active": "deadline_activated",
    "expired": "deadline_expired",
    "closed": "deadline_closed",
    "cancelled": "deadline_cancelled",
}


@contextmanager
def _private_transition(deadlines, new_state):
    """Let ``deadlines`` make their private transition to ``new_state`` inside the block."""
    token = _PRIVATE.set(_PRIVATE.get() | {(deadline_id, new_state) for deadline_id in deadlines.ids})
    try:
        yield
    finally:
        _PRIVATE.reset(token)


class LifecycleDeadline(models.Model):
    """A customer's service that expires: a contract, licences, a plan."""

    _name = "lifecycle.deadline"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _description = "Customer deadline"
    _order = "date_expiry, id"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True, readonly=True)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, tracking=True, check_company=True
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index=True, string="Commercial entity"
    )
    product_id = fields.Many2one(
        "product.product",
        string="Service",
        required=True,
        tracking=True,
        check_company=True,
        domain=[("lifecycle_is_deadline", "=", True)],
    )
    quantity = fields.Float(default=1.0, digits="Product Unit", tracking=True)
    currency_id = fields.Many2one(
        "res.currency", required=True, default=lambda self: self.env.company.currency_id, tracking=True
    )
    amount = fields.Monetary(currency_field="currency_id", tracking=True, help="Price of one renewal period.")
    note = fields.Html(string="Notes", groups="base.group_user", help="Internal: never shown to the customer.")
    date_start = fields.Date(string="Start", required=True, default=fields.Date.context_today, tracking=True)
    date_expiry = fields.Date(string="Expiry", required=True, index=True, tracking=True)
    reminder_date = fields.Date(
        string="Next reminder",
        compute="_compute_reminder_date",
        store=True,
        copy=False,
        help="The customer's date on which the next rung of the reminder ladder falls due; empty once the "
        "last one went out. The scheduler reads nothing else to find the day's reminders.",
    )
    anchor_day = fields.Integer(
        compute="_compute_anchor_day",
        store=True,
        readonly=False,
        help="Day of the month the renewals stay on, the start date's day unless the expiry was set on another "
        "day (31 keeps the last day of shorter months).",
    )
    renewal_price = fields.Monetary(
        compute="_compute_renewal_price",
        currency_field="renewal_currency_id",
        help="What renewing costs the customer, taxes included, at their pricelist and fiscal position.",
    )
    renewal_currency_id = fields.Many2one("res.currency", compute="_compute_renewal_price")
    days_left = fields.Integer(compute="_compute_days_left", help="Days until expiry; negative once expired.")
    portal_can_renew = fields.Boolean(
        compute="_compute_portal_can_renew", help="Whether the customer may renew it from the portal today."
    )
    origin_id = fields.Many2one("lifecycle.origin", check_company=True)
    institution_id = fields.Many2one("lifecycle.institution", check_company=True)
    user_id = fields.Many2one(
        "res.users", string="Salesperson", default=lambda self: self.env.user, tracking=True, index=True
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("expired", "Expired"),
            ("closed", "Closed"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Sale order line",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The order line that created this deadline or renewed it last.",
    )
    renewal_ids = fields.One2many("lifecycle.deadline.renewal", "deadline_id", string="Renewals", readonly=True)
    renewal_count = fields.Integer(compute="_compute_counts")
    autorenew = fields.Boolean(
        string="Renew automatically",
        tracking=True,
        help="Renewed and charged by the scheduler the company's number of days before expiry.",
    )
    autorenew_token_id = fields.Many2one(
        "payment.token",
        string="Payment method",
        tracking=True,
        domain="[('partner_id', 'child_of', commercial_partner_id), ('company_id', '=', company_id)]",
        help="A payment method the customer saved; charged off-session when the balance does not cover it.",
    )
    autorenew_wallet_first = fields.Boolean(
        string="Use the balance first", tracking=True, help="Pay from the customer's wallet balance when it covers it."
    )
    autorenewal_id = fields.Many2one(
        "lifecycle.autorenewal", string="Last automatic renewal", readonly=True, copy=False, index="btree_not_null"
    )
    autorenew_state = fields.Selection(
        related="autorenewal_id.state", store=True, string="Automatic payment", help="Past due: the charge failed."
    )
    run_count = fields.Integer(compute="_compute_counts")

    # Enforced by the database itself; at the RPC boundary Odoo turns a
    # violation into a ValidationError that shows the message below.
    _quantity_positive = models.Constraint("CHECK(quantity > 0)", "The quantity must be greater than zero.")
    _amount_not_negative = models.Constraint("CHECK(amount >= 0)", "The amount cannot be negative.")
    # What the hourly scheduler reads: a day's work is what falls due that day.
    _reminder_due_idx = models.Index("(reminder_date) WHERE state = 'active'")
    _expiry_due_idx = models.Index("(date_expiry) WHERE state = 'active'")
    _autorenew_due_idx = models.Index("(date_expiry) WHERE state = 'active' AND autorenew")
    _dates_ordered = models.Constraint(
        "CHECK(date_expiry >= date_start)", "The expiry date cannot be before the start date."
    )

    @api.depends("product_id.name", "partner_id.name", "date_expiry")
    def _compute_name(self):
        for deadline in self:
            deadline.name = self.env._(
                "%(service)s — %(customer)s, until %(expiry)s",
                service=deadline.product_id.name or self.env._("Service"),
                customer=deadline.partner_id.name or "",
                expiry=deadline.date_expiry or "",
            )

    @api.depends("date_start", "date_expiry")
    def _compute_anchor_day(self):
        for deadline in self:
            expiry = deadline.date_expiry
            deadline.anchor_day = anchor_day(deadline.date_start or expiry, expiry) if expiry else 0

    @api.depends("date_expiry")
    def _compute_reminder_date(self):
        """A new expiry starts the ladder again from its first rung.

        The scheduler moves the date on as rungs go out (``_emit_due_reminders``);
        a change of ladder starts it again for the company's deadlines
        (``res.company._lifecycle_restart_reminders``).
        """
        for deadline in self:
            ladder = deadline.company_id._lifecycle_ladder() if deadline.company_id else DEFAULT_LADDER
            expiry = deadline.date_expiry
            deadline.reminder_date = fields.Date.subtract(expiry, days=max(ladder)) if expiry else False

    @api.depends("date_expiry", "partner_id.tz", "company_id.partner_id.tz")
    def _compute_days_left(self):
        # counted on the customer's calendar, whoever reads them
        now = fields.Datetime.now()
        for deadline in self:
            expiry = deadline.date_expiry
            deadline.days_left = (expiry - deadline._lifecycle_today(now)).days if expiry else 0

    def _expiry_label(self):
        """When the deadline expires, on the customer's calendar, in the reader's
        language: "Expires in 3 days", "Expires today", "Expired 2 days ago"."""
        self.ensure_one()
        if not self.days_left:
            return self.env._("Expires today")
        when = relative_days(self.days_left, babel_locale_parse(self.env.lang))
        if self.days_left < 0:
            return self.env._("Expired %(when)s", when=when)
        return self.env._("Expires %(when)s", when=when)

    @api.depends(
        "state", "date_expiry", "partner_id.tz", "company_id.partner_id.tz", "company_id.lifecycle_renewal_window"
    )
    def _compute_portal_can_renew(self):
        for deadline in self:
            deadline.portal_can_renew = (
                deadline.state in ("active", "expired")
                and deadline.days_left <= deadline.company_id.lifecycle_renewal_window
            )

    @api.depends("renewal_ids")
    def _compute_counts(self):
        renewals = dict(
            self.env["lifecycle.deadline.renewal"]._read_group(
                [("deadline_id", "in", self.ids)], ["deadline_id"], ["__count"]
            )
        )
        runs = dict(
            self.env["lifecycle.workflow.run"]._read_group(
                [("deadline_id", "in", self.ids)], ["deadline_id"], ["__count"]
            )
        )
        for deadline in self:
            deadline.renewal_count = renewals.get(deadline, 0)
            deadline.run_count = runs.get(deadline, 0)

    def _compute_access_url(self):
        for deadline in self:
            deadline.access_url = f"/my/deadlines/{deadline.id}"

    @api.model_create_multi
    def create(self, vals_list):
        deadlines = super().create(vals_list)
        self.env["lifecycle.event"]._emit("deadline_created", deadlines)
        return deadlines

    @api.constrains("product_id")
    def _check_product_duration(self):
        for deadline in self:
            template = deadline.product_id.product_tmpl_id
            if not template.lifecycle_is_deadline or template.lifecycle_duration <= 0:
                raise ValidationError(
                    self.env._(
                        "The product %(product)s has no renewal duration: set one on the product "
                        "(Sales tab, Deadline) before using it on a deadline.",
                        product=deadline.product_id.display_name,
                    )
                )

    @api.constrains("autorenew", "autorenew_token_id", "autorenew_wallet_first", "partner_id", "company_id")
    def _check_autorenew(self):
        for deadline in self.sudo():
            token = deadline.autorenew_token_id
            if token and token.partner_id.commercial_partner_id != deadline.commercial_partner_id:
                raise ValidationError(
                    self.env._("%(method)s is not a payment method of this customer.", method=token.display_name)
                )
            if token and token.company_id != deadline.company_id:
                raise ValidationError(
                    self.env._(
                        "%(method)s belongs to %(company)s, not to %(deadline_company)s.",
                        method=token.display_name,
                        company=token.company_id.name,
                        deadline_company=deadline.company_id.name,
                    )
                )
            if not deadline.autorenew:
                continue
            if not (token or deadline.autorenew_wallet_first):
                raise ValidationError(
                    self.env._(
                        "Automatic renewal needs a saved payment method or the balance to pay with (%(deadline)s).",
                        deadline=deadline.display_name,
                    )
                )
            deadline._check_autorenew_currency()

    def _check_autorenew_currency(self):
        """The renewal order's currency must be the deadline's, the wallet's and one the token's provider takes."""
        currency = self.renewal_currency_id
        token = self.autorenew_token_id
        wallets = self.env["lifecycle.wallet"].search(
            [("partner_id", "=", self.commercial_partner_id.id), ("company_id", "=", self.company_id.id)]
        )
        if (
            currency != self.currency_id
            or (
                token
                and token.provider_id.available_currency_ids
                and currency not in token.provider_id.available_currency_ids
            )
            or (self.autorenew_wallet_first and wallets and currency not in wallets.currency_id)
        ):
            raise ValidationError(
                self.env._(
                    "%(deadline)s cannot renew automatically: it is in %(currency)s but the renewal, the balance "
                    "or the payment method is in another currency.",
                    deadline=self.display_name,
                    currency=self.currency_id.name,
                )
            )

    @api.constrains("anchor_day")
    def _check_anchor_day(self):
        if any(not 1 <= deadline.anchor_day <= 31 for deadline in self):
            raise ValidationError(self.env._("The anchor day must be a day of the month, from 1 to 31."))

    def write(self, vals):
        """Check every state change against ``TRANSITIONS`` and announce it, whoever writes it.

        ``create`` may set any state (imports); after that the state only
        moves along ``TRANSITIONS``, plus the ``PRIVATE_TRANSITIONS`` this
        module's own code makes.
        """
        if "state" not in vals:
            return super().write(vals)
        new_state = vals["state"]
        private = self.filtered(
            lambda deadline: (
                (deadline.id, new_state) in _PRIVATE.get() and (deadline.state, new_state) in PRIVATE_TRANSITIONS
            )
        )
        for deadline in self - private:
            if new_state == "expired":
                raise UserError(
                    self.env._(
                        "%(deadline)s expires by itself once %(expiry)s is past.",
                        deadline=deadline.display_name,
                        expiry=format_date(self.env, deadline.date_expiry),
                    )
                )
            if new_state not in TRANSITIONS[deadline.state]:
                raise UserError(
                    self.env._(
                        "%(deadline)s is %(current)s: it cannot become %(new)s.",
                        deadline=deadline.display_name,
                        current=self._state_label(deadline.state),
                        new=self._state_label(new_state),
                    )
                )
        result = super().write(vals)
        if new_state in STATE_EVENTS:
            # a renewal announces itself (deadline_renewed), not as a fresh activation
            announced = self - private if new_state == "active" else self
            self.env["lifecycle.event"]._emit(STATE_EVENTS[new_state], announced._not_yet_announced(new_state))
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_only_draft_or_cancelled(self):
        if any(deadline.state not in ("draft", "cancelled") for deadline in self):
            raise UserError(self.env._("Only draft or cancelled deadlines can be deleted; close the others."))

    # ------------------------------------------------------------------
    # State machine
    # ------------------------------------------------------------------
    def _state_label(self, state):
        return dict(self._fields["state"]._description_selection(self.env)).get(state, str(state))

    def _not_yet_announced(self, new_state):
        """The deadlines whose change to ``new_state`` has no event yet.

        An expiry is announced once per expiry date (a unique index says so):
        a deadline reactivated and expiring again on the same date is not
        announced twice, and never blocks the batch it is in.
        """
        if new_state != "expired":
            return self
        announced = self.env["lifecycle.event"].search(
            [("event_type", "=", "deadline_expired"), ("deadline_id", "in", self.ids)]
        )
        seen = {(event.deadline_id, event.date_expiry) for event in announced}
        return self.filtered(lambda deadline: (deadline, deadline.date_expiry) not in seen)

    def action_activate(self):
        return self.write({"state": "active"})

    def action_close(self):
        return self.write({"state": "closed"})

    def action_cancel(self):
        return self.write({"state": "cancelled"})

    def action_draft(self):
        return self.write({"state": "draft"})

    def _lifecycle_today(self, now=None):
        """The customer's date at ``now`` (naive UTC, default: the clock), see ``res.company``."""
        self.ensure_one()
        return self.company_id._lifecycle_local_date(now or fields.Datetime.now(), self.partner_id)

    def _lifecycle_todays(self, now):
        """``{deadline: the customer's date at now}`` for these deadlines, worked out once per time zone."""
        # the customers' time zone only: reading a partner reads its hundred other columns
        self.partner_id.fetch(["tz"])
        dates, todays = {}, {}
        for deadline in self:
            key = (deadline.company_id, deadline.partner_id.tz)
            if key not in dates:
                dates[key] = deadline._lifecycle_today(now)
            todays[deadline] = dates[key]
        return todays

    @api.model
    def _cron_expire(self, now=None, batch_size=500):
        """Active deadlines whose expiry is before the customer's date at ``now`` (UTC) become expired.

        The query reads every expiry that is past somewhere on Earth; each
        deadline is then checked on its customer's calendar. Inside the cron
        each batch is committed with ``_commit_progress``; called from
        elsewhere (tests, a button) the caller owns the transaction.
        """
        now = now or fields.Datetime.now()
        domain = [("state", "=", "active"), ("date_expiry", "<", dates_in_use(now)[1])]
        expired = self.browse()
        for batch, remaining in self._scheduler_batches(domain, batch_size):
            todays = batch._lifecycle_todays(now)
            past = batch.browse([deadline.id for deadline in batch if deadline.date_expiry < todays[deadline]])
            # the status change reaches the chatter when the engine takes the expiry event (``lifecycle.event``)
            with _private_transition(past, "expired"):
                past.with_context(mail_notrack=True).write({"state": "expired"})
            expired |= past
            if self.env.context.get("cron_id"):
                self.env["ir.cron"]._commit_progress(len(batch), remaining=remaining)
        return expired

    @api.model
    def _scheduler_batches(self, domain, batch_size):
        """Yield ``(batch, how many are left after it)``: the deadlines of ``domain`` by id, read for the scheduler.

        Their ids are found first, in one query that a partial index on the
        date answers; each batch is then read by id, ``domain`` checked again
        (a committed batch may have changed the next). Paging through
        ``domain`` itself (``id > last``, ``LIMIT``) lets PostgreSQL walk the
        primary key over the whole book for each batch, a day's dates being
        spread over all the ids.
        """
        ids = self.search(domain, order="id").ids
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            batch = self.search_fetch([("id", "in", chunk), *domain], SCHEDULER_FIELDS, order="id")
            yield batch, len(ids) - start - len(chunk)

    def _log_status_change(self, old_state, new_state):
        """Log in the chatter of these deadlines that their status went from ``old_state`` to ``new_state``.

        What tracking logs, in one go: tracking logs each deadline on its own,
        a few milliseconds and two queries each, when a day expires thousands.
        Even in one go, Odoo's ``mail.message`` create costs about half a
        millisecond a message: the scheduler leaves the expiries' notes to
        the engine, which writes them as it takes the expiry events, in its
        own committed batches, so that the hourly run stays short.
        """
        if not self:
            return
        field_info = self.fields_get(["state"], attributes=("string", "type", "selection"))["state"]
        tracking = self.env["mail.tracking.value"]._create_tracking_values(
            old_state, new_state, "state", field_info, self[:1]
        )
        messages = self._message_log_batch(dict.fromkeys(self.ids, ""))
        self.env["mail.tracking.value"].sudo().create(
            [{**tracking, "mail_message_id": message.id} for message in messages]
        )

    @api.model
    def _cron_schedule(self, now=None):
        """Hourly, to catch each time zone's midnight: expire what is past, renew automatically, emit reminders.

        ``now`` (naive UTC, default: the clock) is the instant to run at; each
        customer's date at that instant decides. Running it again the same
        day changes nothing (the event indexes see to that).
        """
        now = now or fields.Datetime.now()
        self._cron_expire(now=now)
        # before the reminders: a deadline renewed automatically gets no reminder for the old expiry
        self.env["lifecycle.autorenewal"]._cron_autorenew(now=now)
        self._emit_due_reminders(now=now)
        self._emit_no_active_service(now=now)

    @api.model
    def _emit_due_reminders(self, now=None, batch_size=1000):
        """Emit at most one reminder-due event per active deadline, the most relevant one.

        A rung is due on the customer's date at ``now`` (naive UTC, default:
        the clock). A rung is sent once per (deadline, expiry date, offset):
        the unique index on events makes a second one impossible. After a
        scheduler outage only the latest reached rung goes out, never the
        stale ones. Each batch costs the same few queries, whatever it holds.

        The next reminder date is all the scheduler reads of a deadline's
        reminders: it is always a rung below every rung already sent for the
        expiry date (the scheduler moves it down as rungs go out, a new expiry
        starts it at the top with nothing sent for that date, and a new
        ladder starts it below what was sent, see
        ``res.company._lifecycle_restart_reminders``). So the rung due is the
        lowest one reached, and it was never sent.
        """
        now = now or fields.Datetime.now()
        latest = dates_in_use(now)[1]
        ladders = {company: company._lifecycle_ladder() for company in self.env["res.company"].search([])}
        # a reminder falls due on the customer's date: read every one due somewhere on Earth
        domain = [("state", "=", "active"), ("reminder_date", "<=", latest)]
        emitted = self.env["lifecycle.event"]
        for batch, _remaining in self._scheduler_batches(domain, batch_size):
            todays = batch._lifecycle_todays(now)
            due, moved = [], {}
            for deadline in batch:
                today = todays[deadline]
                if deadline.reminder_date > today:
                    continue  # due later today, in a time zone further west
                ladder = ladders[deadline.company_id]
                days_left = (deadline.date_expiry - today).days
                offset = due_offset(days_left, ladder, ())
                if offset is not None:
                    due.append((deadline, {"reminder_offset": offset, "payload": {"days_left": days_left}}))
                upcoming = next_offset(days_left, ladder, () if offset is None else (offset,))
                # a timedelta: fields.Date.subtract's relativedelta costs ten times more, for each deadline
                moved[deadline.id] = deadline.date_expiry - timedelta(days=upcoming) if upcoming is not None else None
            batch._move_reminder_dates(moved)
            emitted |= self.env["lifecycle.event"]._emit_each("reminder_due", due)
            if self.env.context.get("cron_id"):
                self.env["ir.cron"]._commit_progress(len(batch))
        return emitted

    @api.model
    def _emit_no_active_service(self, now=None, batch_size=1000):
        """Emit a no-active-service event for each customer whose service lapsed long enough ago.

        A customer lapses in a company when they have no active deadline
        there: since the day their last deadline there expired (its expiry
        date), closed or was cancelled, or since they registered with it if
        nothing happened since. After the company's ``lifecycle_lapse_days``
        (counted in UTC days at ``now``, default: the clock) the scheduler
        announces the lapse, once: the unique index on (customer, company,
        day it began) refuses a second one, and a customer who takes a
        service again and lets it go again lapses on another day.

        One query finds them, reading only the services that ended on the
        days that make a lapse due now (an index on that day), whatever the
        number of customers and the length of the history. A lapse the
        scheduler missed for more than LAPSE_CATCH_UP_DAYS (it was stopped)
        is not announced that late.
        """
        today = (now or fields.Datetime.now()).date()
        lapse_days = self.env["res.company"].sudo().search([]).mapped("lifecycle_lapse_days")
        if not lapse_days:
            return self.env["lifecycle.event"]
        self.env["lifecycle.event"].flush_model()
        self.flush_model(["partner_id", "company_id", "state"])
        self.env.cr.execute(
            SQL(
                """
                WITH due AS (
                    SELECT DISTINCT partner_id, company_id
                      FROM lifecycle_event
                     WHERE event_type IN %(ends)s AND %(day)s BETWEEN %(first)s AND %(last)s
                       AND partner_id IS NOT NULL AND company_id IS NOT NULL
                ), ends AS (
                    SELECT event.partner_id, event.company_id, MAX(%(day)s) AS since
                      FROM lifecycle_event event
                      JOIN due ON due.partner_id = event.partner_id AND due.company_id = event.company_id
                     WHERE event.event_type IN %(ends)s
                     GROUP BY event.partner_id, event.company_id
                )
                SELECT ends.partner_id, ends.company_id, ends.since, company.lifecycle_lapse_days
                  FROM ends
                  JOIN res_company company ON company.id = ends.company_id
                  JOIN res_partner partner ON partner.id = ends.partner_id AND partner.active
                 WHERE ends.since + company.lifecycle_lapse_days BETWEEN %(catch_up)s AND %(today)s
                   AND NOT EXISTS (
                       SELECT 1 FROM lifecycle_deadline deadline
                        WHERE deadline.partner_id = ends.partner_id AND deadline.company_id = ends.company_id
                          AND deadline.state = 'active')
                   AND NOT EXISTS (
                       SELECT 1 FROM lifecycle_event lapse
                        WHERE lapse.event_type = 'no_active_service' AND lapse.partner_id = ends.partner_id
                          AND lapse.company_id = ends.company_id AND lapse.date_expiry = ends.since)
                 ORDER BY ends.partner_id, ends.company_id
                """,
                ends=LAPSE_STARTS,
                day=SQL(LAPSE_START_DAY),
                first=today - timedelta(days=max(lapse_days) + LAPSE_CATCH_UP_DAYS),
                last=today - timedelta(days=min(lapse_days)),
                catch_up=today - timedelta(days=LAPSE_CATCH_UP_DAYS),
                today=today,
            )
        )
        lapses = self.env.cr.fetchall()
        # read together: the events' names show the customers' names
        partners = self.env["res.partner"].browse([row[0] for row in lapses])
        emitted = self.env["lifecycle.event"]
        for start in range(0, len(lapses), batch_size):
            emitted |= self.env["lifecycle.event"]._emit_each(
                "no_active_service",
                [
                    (
                        partner,
                        {
                            "company_id": company_id,
                            "date_expiry": since,
                            "payload": {"inactive_since": fields.Date.to_string(since), "days": days},
                        },
                    )
                    for partner, (_id, company_id, since, days) in zip(
                        partners[start : start + batch_size], lapses[start : start + batch_size], strict=True
                    )
                ],
            )
            if self.env.context.get("cron_id"):
                self.env["ir.cron"]._commit_progress(min(batch_size, len(lapses) - start))
        return emitted

    def _move_reminder_dates(self, dates):
        """Set the next reminder date of deadlines in one UPDATE: ``{deadline id: date or None}``.

        A date only the scheduler moves, for a whole batch at once: the ORM's
        write would go through tracking and followers for every deadline.
        """
        if not dates:
            return
        self.flush_recordset(["reminder_date"])
        self.env.cr.execute(
            SQL(
                "UPDATE lifecycle_deadline AS deadline SET reminder_date = moved.day"
                " FROM UNNEST(%s::int4[], %s::date[]) AS moved(id, day) WHERE deadline.id = moved.id",
                list(dates),
                list(dates.values()),
            )
        )
        self.browse(list(dates)).invalidate_recordset(["reminder_date"])

    # ------------------------------------------------------------------
    # Renewal
    # ------------------------------------------------------------------
    def action_renew(self):
        """Renew by one product period (the Renew button).

        The button sends the expiry date the user saw; a second click on the
        same screen finds the deadline already moved on and is refused.
        """
        self.ensure_one()
        expected = self.env.context.get("lifecycle_expected_expiry")
        self._renew(source="manual", expected_expiry=fields.Date.to_date(expected) if expected else None)
        return True

    def _renew(self, source="manual", amount=None, sale_line=None, expected_expiry=None, date_ref=None):
        """Renew by one period of the product and return the renewal line.

        Shared by the Renew button, sale order confirmation, the portal and
        the wallet. The deadline row is locked for the rest of the transaction
        so two renewals never interleave. ``date_ref`` is the day it is
        renewed on (default: the customer's today).
        """
        self.ensure_one()
        if self.state not in ("active", "expired"):
            raise UserError(
                self.env._(
                    "%(deadline)s is %(state)s and cannot be renewed.",
                    deadline=self.display_name,
                    state=self._state_label(self.state),
                )
            )
        template = self.product_id.product_tmpl_id
        if template.lifecycle_duration <= 0:
            raise UserError(
                self.env._("The product %(product)s has no renewal duration.", product=self.product_id.display_name)
            )
        self._lock_for_renewal()
        if expected_expiry and self.date_expiry != expected_expiry:
            raise UserError(
                self.env._(
                    "This deadline was already renewed: it now runs until %(expiry)s.",
                    expiry=format_date(self.env, self.date_expiry),
                )
            )
        today = date_ref or self._lifecycle_today()
        old_expiry = self.date_expiry
        start = renewal_start(old_expiry, today, self.company_id.lifecycle_late_renewal_base)
        anchor = self.anchor_day if start == old_expiry else start.day
        new_expiry = add_duration(start, template.lifecycle_duration, template.lifecycle_duration_unit, anchor)
        currency = sale_line.currency_id if sale_line else self.currency_id
        # sudo: renewal lines are history that only this method writes (users have no create right)
        renewals_sudo = self.env["lifecycle.deadline.renewal"].sudo()
        renewal = renewals_sudo.create(
            {
                "deadline_id": self.id,
                "date_from": old_expiry,
                "date_to": new_expiry,
                "amount": self.amount if amount is None else amount,
                "currency_id": currency.id,
                "source": source,
                "sale_line_id": sale_line.id if sale_line else False,
            }
        )
        vals = {"date_expiry": new_expiry, "anchor_day": anchor}
        if sale_line:
            vals.update(sale_line_id=sale_line.id, quantity=sale_line.product_uom_qty, currency_id=currency.id)
            vals["amount"] = sale_line.price_subtotal
        if self.state == "expired":
            vals["state"] = "active"
        with _private_transition(self, "active"):
            self.write(vals)
        self.env["lifecycle.event"]._emit(
            "deadline_renewed",
            self,
            date_expiry=new_expiry,
            payload={"from": str(old_expiry), "to": str(new_expiry), "source": source, "amount": renewal.amount},
        )
        self.message_post(
            body=self.env._(
                "Renewed from %(old)s to %(new)s (%(how)s).",
                old=format_date(self.env, old_expiry),
                new=format_date(self.env, new_expiry),
                how=dict(renewal._fields["source"]._description_selection(self.env))[source],
            )
        )
        return renewal

    def _portal_renewal_order(self, preview=False):
        """The quotation that renews this deadline from the portal: the open one, or a new one.

        Only the portal's own quotation is reused, while it still is one: a
        single line renewing this deadline, for this customer; never a
        salesperson's quotation that happens to renew it too. Priced at the
        customer's pricelist; confirming it (usually through its online
        payment) renews the deadline, see ``sale.order.line``. With
        ``preview``, a new one that is not saved, to price the renewal.
        """
        self.ensure_one()
        orders = self.env["sale.order"]
        if not preview:
            open_order = orders.search(
                [
                    ("lifecycle_portal_renewal_deadline_id", "=", self.id),
                    ("partner_id", "=", self.partner_id.id),
                    ("state", "in", ("draft", "sent")),
                ],
                order="id desc",
            ).filtered(
                lambda order: (
                    not order.is_expired
                    and len(order.order_line) == 1
                    and order.order_line.lifecycle_renewed_deadline_id == self
                )
            )[:1]
            if open_order:
                return open_order
        values = {
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "user_id": self.user_id.id,
            "origin": self.name,
            "require_signature": False,
            "require_payment": True,
            "lifecycle_portal_renewal_deadline_id": self.id,
            "order_line": [
                Command.create(
                    {
                        "product_id": self.product_id.id,
                        "product_uom_qty": self.quantity,
                        "lifecycle_renewed_deadline_id": self.id,
                    }
                )
            ],
        }
        return orders.new(values) if preview else orders.create(values)

    def _portal_autorenew_tokens(self):
        """The payment methods the customer saved that may pay this deadline (sudo: the portal shows them)."""
        self.ensure_one()
        return (
            self.env["payment.token"]
            .sudo()
            .search(
                [
                    ("partner_id", "child_of", self.commercial_partner_id.id),
                    ("company_id", "=", self.company_id.id),
                    ("active", "=", True),
                ]
            )
        )

    def _portal_set_autorenew(self, enabled, token, wallet_first):
        """The customer's choice from the portal: checked as the back office's (see ``_check_autorenew``)."""
        self.ensure_one()
        if self.state not in ("active", "expired"):
            raise UserError(
                self.env._("%(deadline)s is not running: it cannot renew automatically.", deadline=self.display_name)
            )
        if token and token not in self._portal_autorenew_tokens():
            raise UserError(self.env._("Choose one of your saved payment methods."))
        self.write({"autorenew": enabled, "autorenew_token_id": token.id, "autorenew_wallet_first": wallet_first})

    def _renewal_price(self):
        """``(amount, currency)``: what renewing costs the customer, taxes included."""
        self.ensure_one()
        return self.renewal_price, self.renewal_currency_id

    @api.depends("partner_id", "company_id", "product_id", "quantity")
    @api.depends_context("company")
    def _compute_renewal_price(self):
        """The total of the quotation the portal would make, in its currency.

        Their pricelist, fiscal position and taxes: what reminders and the
        wallet quote is what the customer pays. Computed for a whole batch of
        deadlines (a template renders its records together): one priced
        quotation per company, pricelist, fiscal position, product and
        quantity, the fiscal position found once per customer and delivery
        address, as sale orders do.
        """
        positions, prices = {}, {}
        for deadline in self:
            # the price only: readable whatever the rights of who renders it
            deadline_sudo = deadline.sudo().with_company(deadline.company_id)
            partner, company = deadline_sudo.partner_id, deadline_sudo.company_id
            if not (partner and company and deadline_sudo.product_id):
                deadline.renewal_price, deadline.renewal_currency_id = 0.0, deadline.currency_id
                continue
            delivery = partner.address_get(["delivery"])["delivery"]
            if (company, partner, delivery) not in positions:
                positions[company, partner, delivery] = (
                    self.env["account.fiscal.position"]
                    .sudo()
                    .with_company(company)
                    # the customer themselves, read with all the batch's customers, rather than one query each
                    ._get_fiscal_position(partner, partner if delivery == partner.id else partner.browse(delivery))
                )
            pricelist = partner.property_product_pricelist
            key = (
                company,
                pricelist,
                positions[company, partner, delivery],
                deadline_sudo.product_id,
                deadline_sudo.quantity,
            )
            if key not in prices:
                order = deadline_sudo._portal_renewal_order(preview=True)
                prices[key] = (order.amount_total, order.currency_id)
            deadline.renewal_price, deadline.renewal_currency_id = prices[key]

    def _lock_for_renewal(self):
        """Hold the deadline for the rest of the transaction, or fail at once if another one holds it.

        The ``LockNotAvailable`` is left to Odoo's request and RPC layer
        (``odoo.service.model.retrying``), which rolls back and replays the
        whole call: turned into a UserError, it would be shown from inside an
        aborted transaction.
        """
        self.env.cr.execute("SELECT id FROM lifecycle_deadline WHERE id = %s FOR NO KEY UPDATE NOWAIT", [self.id])
        # another transaction may have renewed it before we got the lock
        self.invalidate_recordset(["date_expiry", "state", "anchor_day"])

    def _totals_by_currency(self):
        """``[(currency, total amount), ...]`` of these deadlines, by currency name."""
        totals = defaultdict(float)
        for deadline in self:
            totals[deadline.currency_id] += deadline.amount
        return sorted(totals.items(), key=lambda item: item[0].name)

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------
    def action_view_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_lifecycle.lifecycle_workflow_run_action")
        action["domain"] = [("deadline_id", "=", self.id)]
        return action

    def action_view_renewals(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.lifecycle_deadline_renewal_action"
        )
        action["domain"] = [("deadline_id", "=", self.id)]
        action["context"] = {"create": False}
        return action
