from odoo import api, fields, models
from odoo.tools import SQL

from ..lib.events import EVENT_MODEL, EVENT_SELECTION, LAPSE_START_DAY, LAPSE_STARTS

# What an event says, as ``_emit_each`` writes it.
EVENT_COLUMNS = (
    "name",
    "event_type",
    "res_model",
    "res_id",
    "partner_id",
    "deadline_id",
    "company_id",
    "reminder_offset",
    "date_expiry",
    "payload",
    "custom_type",
)


class LifecycleEvent(models.Model):
    """Something that happened to a customer or a deadline.

    Events are written in the transaction of the change that causes them: a
    rolled-back change leaves none, a committed one is never lost. The engine
    cron turns pending events into workflow runs.
    """

    _name = "lifecycle.event"
    _description = "Lifecycle event"
    _order = "id desc"

    name = fields.Char(readonly=True)
    event_type = fields.Selection(EVENT_SELECTION, required=True, readonly=True, index=True)
    res_model = fields.Char(string="Model", required=True, readonly=True)
    res_id = fields.Many2oneReference(string="Record", model_field="res_model", required=True, readonly=True)
    # A customer's events go with the customer, as its chatter does, but for
    # the event saying they were deleted, which names no customer (its
    # payload says who it was).
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index=True, ondelete="cascade")
    deadline_id = fields.Many2one("lifecycle.deadline", readonly=True, index="btree_not_null", ondelete="cascade")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    reminder_offset = fields.Integer(readonly=True, help="Days before expiry, for renewal reminders.")
    date_expiry = fields.Date(readonly=True, help="Expiry date the event refers to, for deadline events.")
    payload = fields.Json(readonly=True)
    custom_type = fields.Char(readonly=True, help="For a custom event: its type, as the incoming webhook named it.")
    state = fields.Selection(
        [("pending", "Pending"), ("processed", "Processed")], default="pending", required=True, readonly=True
    )
    date_processed = fields.Datetime(readonly=True)
    run_ids = fields.One2many("lifecycle.workflow.run", "event_id", string="Workflow runs", readonly=True)
    webhook_inbound_ids = fields.One2many(
        "lifecycle.webhook.inbound",
        "event_id",
        string="Received by webhook",
        readonly=True,
        groups="subscription_lifecycle.group_lifecycle_manager",
    )
    webhook_delivery_count = fields.Integer(
        compute="_compute_webhook_delivery_count", groups="subscription_lifecycle.group_lifecycle_manager"
    )

    # One reminder per deadline, expiry date and rung; one expiry notice per
    # expiry date: duplicates are impossible, even from concurrent schedulers.
    _reminder_once = models.UniqueIndex(
        "(deadline_id, date_expiry, reminder_offset) WHERE event_type = 'reminder_due'",
        "This reminder was already sent for this expiry date.",
    )
    _expired_once = models.UniqueIndex(
        "(deadline_id, date_expiry) WHERE event_type = 'deadline_expired'",
        "This deadline already expired on that date.",
    )
    # A customer completes their registration once, at their first login.
    _registration_once = models.UniqueIndex(
        "(partner_id) WHERE event_type = 'registration_completed'",
        "This customer already completed their registration.",
    )
    # One lapse notice per customer, company and day their last service ended
    # (date_expiry): a new lapse after a new service is a new day.
    _lapse_once = models.UniqueIndex(
        "(partner_id, company_id, date_expiry) WHERE event_type = 'no_active_service'",
        "This lapse of the customer was already announced.",
    )
    # One overdue notice per customer invoice and threshold (days overdue, in
    # the payload webhooks carry); the scheduler also reads it to skip the
    # invoices already announced at their threshold.
    _invoice_overdue_once = models.UniqueIndex(
        "(res_id, ((payload->>'threshold')::int)) WHERE event_type = 'invoice_overdue'",
        "This invoice was already announced overdue at this threshold.",
    )
    # the lapse scheduler reads the services that ended on the days that make a lapse due
    _lapse_start_idx = models.Index(f"({LAPSE_START_DAY}) WHERE event_type IN {LAPSE_STARTS!r}")
    _pending_idx = models.Index("(id) WHERE state = 'pending'")

    @api.model
    def _emit(self, event_type, records, **values):
        """Record that ``event_type`` happened to each of ``records``; return the events."""
        return self._emit_each(event_type, [(record, values) for record in records])

    @api.model
    def _emit_each(self, event_type, records_values):
        """Like ``_emit`` with values of its own for each record: ``[(record, values), ...]``.

        The one way events are made, whoever makes them: they are inserted in
        one statement, and an event the unique indexes already hold (this
        reminder or this expiry was announced before, maybe by a concurrent
        scheduler) is skipped rather than failing the others. Returns the
        events made, and wakes the engine up for them.
        """
        if not records_values:
            return self.browse()
        label = dict(self._fields["event_type"]._description_selection(self.env))[event_type]
        vals_list = []
        for record, values in records_values:
            if record._name != EVENT_MODEL[event_type]:
                raise ValueError(f"{event_type} is about {EVENT_MODEL[event_type]}, not {record._name}")
            vals = {"event_type": event_type, "res_model": record._name, "res_id": record.id}
            if record._name == "lifecycle.deadline":
                # its name, customer, company and expiry date are read by the insert itself
                vals["deadline_id"] = record.id
            else:
                vals["name"] = f"{label}: {record.display_name}"
                vals["company_id"] = record.company_id.id if "company_id" in record._fields else False
                vals["partner_id"] = record.partner_id.id if record._name == "account.move" else record.id
            vals_list.append({**vals, **values})
        events = self.sudo()._insert_new(vals_list, label)
        if events:
            self.env["lifecycle.webhook.delivery"].sudo()._enqueue_subscribed(events)
            self.env["lifecycle.workflow.run"]._trigger_engine()
        return events

    def _insert_new(self, vals_list, label):
        """Insert events in one statement, leaving out those the unique indexes refuse; the inserted ones.

        Not the ORM's ``create``: it cannot leave a duplicate out (``ON
        CONFLICT DO NOTHING``), and its few hundred microseconds of Python per
        row add up to seconds when the scheduler emits a day's reminders.
        Events have no computed field, no default but the state, and nothing
        overrides their creation. A deadline's event takes its name (``label``
        and the deadline's), customer, company and expiry date from the
        deadline's row where ``vals_list`` does not give them: the scheduler's
        ten thousand reminders a day then send the database their deadline's
        id, not its name.
        """
        unknown = {name for vals in vals_list for name in vals} - set(EVENT_COLUMNS)
        if unknown:
            raise ValueError(f"an event has no say in {', '.join(sorted(unknown))}")
        self.env["lifecycle.deadline"].flush_model(["name", "partner_id", "company_id", "date_expiry"])
        fields_ = [self._fields[name] for name in EVENT_COLUMNS]
        # one array per column: a placeholder per value, let alone an SQL object per row, costs more than the row
        columns = [
            SQL(
                "%s::%s[]",
                [
                    field.convert_to_column_insert(vals[field.name], self, vals) if field.name in vals else None
                    for vals in vals_list
                ],
                SQL(field.column_type[0]),
            )
            for field in fields_
        ]
        selected = {name: SQL.identifier("new", name) for name in EVENT_COLUMNS}
        selected["name"] = SQL("COALESCE(new.name, %s || ': ' || COALESCE(deadline.name, ''))", label)
        for name in ("partner_id", "company_id", "date_expiry"):
            selected[name] = SQL("COALESCE(%s, %s)", SQL.identifier("new", name), SQL.identifier("deadline", name))
        names = SQL(", ").join(SQL.identifier(name) for name in EVENT_COLUMNS)
        self.env.cr.execute(
            SQL(
                "INSERT INTO lifecycle_event (%s, state, create_uid, write_uid, create_date, write_date)"
                " SELECT %s, 'pending', %s, %s, NOW() AT TIME ZONE 'UTC', NOW() AT TIME ZONE 'UTC'"
                " FROM UNNEST(%s) AS new(%s) LEFT JOIN lifecycle_deadline deadline ON deadline.id = new.deadline_id"
                " ON CONFLICT DO NOTHING RETURNING id",
                names,
                SQL(", ").join(selected.values()),
                self.env.uid,
                self.env.uid,
                SQL(", ").join(columns),
                names,
            )
        )
        return self.browse(sorted(row[0] for row in self.env.cr.fetchall()))

    def _compute_webhook_delivery_count(self):
        counts = dict(
            self.env["lifecycle.webhook.delivery"]._read_group(
                [("event_id", "in", self.ids)], ["event_id"], ["__count"]
            )
        )
        for event in self:
            event.webhook_delivery_count = counts.get(event, 0)

    def action_view_webhook_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.lifecycle_webhook_delivery_action"
        )
        action["domain"] = [("event_id", "=", self.id)]
        action["context"] = {}
        return action

    def _record(self):
        self.ensure_one()
        return self.env[self.res_model].browse(self.res_id).exists()

    def _run_values(self, workflow):
        """A new run of ``workflow`` for this event, with the event's customer, deadline and company it shows.

        Given here, they are not computed again after the insert, one more
        UPDATE for each batch of runs.
        """
        return {
            "workflow_id": workflow.id,
            "event_id": self.id,
            "partner_id": self.partner_id.id,
            "deadline_id": self.deadline_id.id,
            "company_id": self.company_id.id,
        }

    def _match_workflows(self, now=None):
        """Open one run per (active workflow, event) whose trigger and segment match, due at ``now``.

        Expiry events first write their status change in the chatter of their
        deadline (see ``lifecycle.deadline._log_status_change``): an event
        is taken once, so the note is written once.
        """
        expiries = self.filtered(lambda event: event.event_type == "deadline_expired")
        expiries.deadline_id._log_status_change("active", "expired")
        runs = self.env["lifecycle.workflow.run"]
        workflows = self.env["lifecycle.workflow"].search([("event_type", "in", self.mapped("event_type"))])
        now = now or fields.Datetime.now()
        vals_list, skipped_vals = [], []
        for workflow in workflows:
            events = self.filtered(workflow._accepts)
            if not events:
                continue
            records = self.env[workflow.model_name].browse(events.mapped("res_id")).exists()
            matching = set(workflow._filter_segment(records).ids)
            piloted, skipped = workflow._pilot_split(events.browse([e.id for e in events if e.res_id in matching]))
            vals_list += [{**event._run_values(workflow), "resume_at": now} for event in piloted]
            skipped_vals += [
                {**event._run_values(workflow), "state": "stopped", "pilot_skipped": True} for event in skipped
            ]
        if vals_list:
            runs = runs.create(vals_list)
        if skipped_vals:
            # kept as stopped runs, so staff see who the pilot left out and why
            runs.create(skipped_vals)._log("stop", self.env._("Not run: the customer is outside the pilot sample."))
        self.write({"state": "processed", "date_processed": now})
        return runs
