import json
import logging
import random
import time
from datetime import timedelta, timezone

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..lib.events import RECORDLESS_EVENTS
from ..lib.webhook_delivery import (
    RETRY_AFTER_STATUSES,
    check_url,
    fill_template,
    new_message_id,
    parse_headers,
    parse_retry_after,
    retry_delay,
    template_texts,
)
from ..lib.webhook_http import Outcome, Outgoing, Sender
from ..lib.webhook_signature import signature_header

_logger = logging.getLogger(__name__)

# A claimed delivery is the claiming worker's for this long: if it dies before
# recording the outcome, the delivery is due again once the lease is over.
# Longer than a batch can take: BATCH_SIZE requests of at most 10 s each, 8 at a time.
LEASE = timedelta(minutes=5)
BATCH_SIZE = 100
SENDER_CRON = "subscription_lifecycle.ir_cron_lifecycle_webhook_send"
TEST_EVENT_TYPE = "webhook.test"


class LifecycleWebhookDelivery(models.Model):
    """One message to one outgoing endpoint: the outbox row, then its log.

    Deliveries are written in the transaction of the event or workflow step
    that causes them, so a rolled-back change sends nothing, and sent by the
    sender cron once committed (``_cron_send``). The ``webhook-id`` stays the
    same through every retry and resend: receivers deduplicate on it.
    """

    _name = "lifecycle.webhook.delivery"
    _description = "Webhook delivery"
    _order = "id desc"
    _rec_name = "msg_id"

    endpoint_id = fields.Many2one(
        "lifecycle.webhook.endpoint", required=True, readonly=True, index=True, ondelete="cascade"
    )
    event_id = fields.Many2one("lifecycle.event", readonly=True, index="btree_not_null", ondelete="cascade")
    workflow_run_id = fields.Many2one(
        "lifecycle.workflow.run", readonly=True, index="btree_not_null", ondelete="set null"
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", readonly=True, index="btree_not_null", ondelete="cascade"
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    event_type = fields.Char(string="Type", required=True, readonly=True)
    msg_id = fields.Char(
        string="Webhook id",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: new_message_id(),
        help="Sent as webhook-id with every attempt: the receiver's key to ignore a message it already has.",
    )
    body = fields.Text(readonly=True, help="The JSON sent; fixed at the first attempt, so retries send the same.")
    state = fields.Selection(
        [("pending", "Pending"), ("sending", "Sending"), ("delivered", "Delivered"), ("failed", "Failed")],
        default="pending",
        required=True,
        readonly=True,
        index=True,
    )
    next_attempt_at = fields.Datetime(string="Next attempt", readonly=True, default=fields.Datetime.now)
    attempt_count = fields.Integer(string="Attempts", readonly=True, help="Attempts since it was queued or resent.")
    last_status = fields.Integer(readonly=True, help="HTTP status of the last answer; 0 when there was none.")
    last_error = fields.Char(readonly=True)
    date_delivered = fields.Datetime(string="Delivered on", readonly=True)
    attempt_ids = fields.One2many("lifecycle.webhook.attempt", "delivery_id", string="Attempts log", readonly=True)

    _msg_id_unique = models.Constraint("UNIQUE(msg_id)", "Two deliveries cannot share a webhook id.")
    _due_idx = models.Index("(next_attempt_at) WHERE state IN ('pending', 'sending')")

    # ------------------------------------------------------------------
    # Queueing (the outbox)
    # ------------------------------------------------------------------
    @api.model
    def _enqueue_subscribed(self, events):
        """Queue a delivery of each of ``events`` to every active outgoing endpoint subscribed to its type.

        One INSERT … SELECT for the whole batch, and no query at all when no
        endpoint subscribes to these events' types (the usual case).
        """
        subscribed = self.env["lifecycle.webhook.endpoint"]._subscribed_event_types()
        if not subscribed or not subscribed & set(events.mapped("event_type")):
            return
        events.flush_recordset()
        self.env["lifecycle.webhook.endpoint"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO lifecycle_webhook_delivery
                       (endpoint_id, event_id, partner_id, company_id, event_type, msg_id, state,
                        next_attempt_at, attempt_count, create_uid, create_date, write_uid, write_date)
                SELECT endpoint.id, event.id, event.partner_id, endpoint.company_id, event.event_type,
                       'msg_' || REPLACE(GEN_RANDOM_UUID()::TEXT, '-', ''), 'pending',
                       %(now)s, 0, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM lifecycle_event event
                  JOIN ir_model_fields field ON field.model = 'lifecycle.event' AND field.name = 'event_type'
                  JOIN ir_model_fields_selection selection
                    ON selection.field_id = field.id AND selection.value = event.event_type
                  JOIN lifecycle_webhook_endpoint_event_type_rel rel ON rel.selection_id = selection.id
                  JOIN lifecycle_webhook_endpoint endpoint ON endpoint.id = rel.endpoint_id
                 WHERE event.id = ANY(%(ids)s) AND endpoint.active AND endpoint.direction = 'outbound'
                   AND (event.company_id IS NULL OR event.company_id = endpoint.company_id)
                """,
                now=fields.Datetime.now(),  # whole seconds, as the ORM stores datetimes and the sender compares
                uid=self.env.uid,
                ids=events.ids,
            )
        )
        if self.env.cr.rowcount:
            self._trigger_sender()

    @api.model
    def _create_test(self, endpoint):
        """Queue a test event to ``endpoint``."""
        delivery = self.sudo().create(
            {"endpoint_id": endpoint.id, "company_id": endpoint.company_id.id, "event_type": TEST_EVENT_TYPE}
        )
        self._trigger_sender()
        return delivery

    @api.model
    def _trigger_sender(self, at=None):
        cron = self.env.ref(SENDER_CRON, raise_if_not_found=False)
        if cron:
            cron._trigger(at)

    # ------------------------------------------------------------------
    # Staff actions
    # ------------------------------------------------------------------
    def action_resend(self):
        """Send these deliveries again, with the same webhook id, through the whole retry ladder."""
        self.check_access("read")  # managers only (access rights), in their companies (record rules)
        if any(not delivery.endpoint_id.active for delivery in self):
            raise UserError(self.env._("Switch the endpoint on again before resending its deliveries."))
        # checked above: the one change staff make to a delivery (deliveries are read-only to everyone)
        self.sudo().write({"state": "pending", "next_attempt_at": fields.Datetime.now(), "attempt_count": 0})
        self._trigger_sender()

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------
    @api.model
    def _cron_send(self, now=None, batch_size=BATCH_SIZE):
        """Send the due deliveries, a batch at a time, and wake up again when the next retry is due.

        Each batch is claimed (``FOR UPDATE SKIP LOCKED``), marked as being
        sent with a lease, and committed before any request leaves; the
        requests go out several at once, outside any transaction; the
        outcomes are recorded and committed in a new transaction. A worker
        that dies in between leaves its batch to whoever comes after the
        lease, and the same webhook ids go out again.
        """
        now = now or fields.Datetime.now()
        sender = self.sudo()  # the sender writes deliveries and attempts whoever the cron's user is
        due = SQL(
            "state IN ('pending', 'sending') AND next_attempt_at <= %s"
            " AND endpoint_id IN (SELECT id FROM lifecycle_webhook_endpoint WHERE active)",
            now,
        )
        crons = self.env["ir.cron"]
        with Sender() as http:
            while ids := self.env["lifecycle.workflow.run"]._claim("lifecycle_webhook_delivery", due, batch_size, True):
                deliveries = sender.browse(ids)
                outgoing, outcomes = deliveries._prepare(now)
                crons._commit_progress()  # the claim: nothing leaves before it is committed
                outcomes += http.send_all(outgoing)
                deliveries._record(outcomes, now)
                if not crons._commit_progress(len(ids)):
                    break
        sender._schedule_wake_up()

    def _prepare(self, now):
        """Lease these deliveries and build their requests: ``([Outgoing], [Outcome])``.

        Those that cannot be sent (an endpoint's URL the settings no longer
        allow, a body template that fails) get their failed outcome at once.
        """
        self.write({"state": "sending", "next_attempt_at": now + LEASE})
        errors = {delivery.id: delivery._render_body() for delivery in self if not delivery.body}
        outcomes = [Outcome(key=key, error=error) for key, error in errors.items() if error]
        outgoing = []
        sent_at = int(time.time())  # the receiver compares it with its own clock
        for delivery in self.filtered(lambda delivery: not errors.get(delivery.id)):
            endpoint = delivery.endpoint_id
            company = endpoint.company_id
            try:
                check_url(endpoint.url, company.lifecycle_webhook_allow_http)
            except ValueError:
                outcomes.append(
                    Outcome(key=delivery.id, error=f"refused: {endpoint.url} is not a URL the settings allow")
                )
                continue
            body = delivery.body.encode()
            outgoing.append(
                Outgoing(
                    key=delivery.id,
                    url=endpoint.url,
                    headers={
                        **dict(parse_headers(endpoint.custom_headers)),
                        "Content-Type": "application/json",
                        "webhook-id": delivery.msg_id,
                        "webhook-timestamp": str(sent_at),
                        "webhook-signature": signature_header(
                            endpoint._signing_secrets(now), delivery.msg_id, sent_at, body
                        ),
                    },
                    body=body,
                    allow_private=company.lifecycle_webhook_allow_private,
                )
            )
        return outgoing, outcomes

    def _render_body(self):
        """Write the JSON this delivery sends; return an error message when it cannot be made."""
        self.ensure_one()
        endpoint = self.endpoint_id
        if not endpoint.body_template:
            self.body = json.dumps(
                {"type": self.event_type, "timestamp": self._timestamp(), "data": self._data(endpoint.payload_style)}
            )
            return ""
        try:
            with self.env.cr.savepoint():
                template = json.loads(endpoint.body_template)
                render = self.env["mail.render.mixin"]
                rendered = {
                    text: render._render_template(text, self._name, self.ids, engine="inline_template")[self.id]
                    for text in template_texts(template)
                }
        except Exception as error:  # whatever the template does wrong is the endpoint's error, logged on it
            return f"body template: {error}"
        self.body = json.dumps(fill_template(template, rendered))
        return ""

    def _timestamp(self):
        when = self.event_id.create_date or self.create_date
        return when.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")

    def _data(self, style):
        """The ``data`` of the standard body: ids only (thin), or the customer, deadline and event (full)."""
        event = self.event_id
        if not event:  # a test event
            return {"endpoint": self.endpoint_id.name, "test": True}
        data = {
            "event_id": event.id,
            # a deleted customer's event names no customer: the id it had is the event's record
            "customer_id": event.partner_id.id or (event.res_id if event.event_type in RECORDLESS_EVENTS else None),
            "deadline_id": event.deadline_id.id or None,
        }
        if style == "thin":
            return data
        partner, deadline = event.partner_id, event.deadline_id
        data["customer"] = partner and {
            "id": partner.id,
            "name": partner.name,
            "email": partner.email or None,
            "reference": partner.ref or None,
        }
        data["customer"] = data["customer"] or None
        data["deadline"] = deadline and {
            "id": deadline.id,
            "name": deadline.name,
            "product": deadline.product_id.display_name,
            "state": deadline.state,
            "date_start": fields.Date.to_string(deadline.date_start),
            "date_expiry": fields.Date.to_string(deadline.date_expiry),
            "amount": deadline.amount,
            "currency": deadline.currency_id.name,
        }
        data["deadline"] = data["deadline"] or None
        data["reminder_offset"] = event.reminder_offset if event.event_type == "reminder_due" else None
        data["details"] = event.payload or {}
        return data

    def _record(self, outcomes, now):
        """Log each outcome as an attempt and move its delivery on: delivered, retried later, or failed."""
        self.env["lifecycle.webhook.attempt"].create(
            [
                {
                    "delivery_id": outcome.key,
                    "date": now,
                    "status_code": outcome.status,
                    "latency_ms": outcome.latency_ms,
                    "response": outcome.response,
                    "error": outcome.error or False,
                }
                for outcome in outcomes
            ]
        )
        by_values = {}
        gone, succeeded, failing = set(), set(), set()
        deliveries = {delivery.id: delivery for delivery in self}  # read together, not one by one
        for outcome in outcomes:
            delivery = deliveries[outcome.key]
            count = delivery.attempt_count + 1
            values = {"attempt_count": count, "last_status": outcome.status, "last_error": outcome.error or False}
            if 200 <= outcome.status < 300:
                values.update(state="delivered", date_delivered=now, next_attempt_at=False)
                succeeded.add(delivery.endpoint_id.id)
            elif outcome.status == 410:
                values.update(state="failed", next_attempt_at=False)
                gone.add(delivery.endpoint_id.id)
            else:
                failing.add(delivery.endpoint_id.id)
                delay = retry_delay(count, random.random())  # noqa: S311  (jitter, not a secret)
                if outcome.status in RETRY_AFTER_STATUSES and delay is not None:
                    asked = parse_retry_after(outcome.retry_after, now.replace(tzinfo=timezone.utc))
                    delay = delay if asked is None else asked
                if delay is None:
                    values.update(state="failed", next_attempt_at=False)
                else:
                    values.update(state="pending", next_attempt_at=now + timedelta(seconds=delay))
            by_values.setdefault(tuple(sorted(values.items())), []).append(delivery.id)
        for values, ids in by_values.items():  # one UPDATE per distinct outcome
            self.browse(ids).write(dict(values))
        self.env["lifecycle.webhook.endpoint"]._record_health(succeeded, failing, gone, now)

    @api.model
    def _schedule_wake_up(self):
        """Trigger the sender for the earliest delivery still to send: a retry, a lease that may expire,
        or what a run cut short by the cron's time limit left behind."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT MIN(next_attempt_at) FROM lifecycle_webhook_delivery"
                " WHERE state IN ('pending', 'sending')"
                " AND endpoint_id IN (SELECT id FROM lifecycle_webhook_endpoint WHERE active)"
            )
        )
        next_at = self.env.cr.fetchone()[0]
        if next_at:
            self._trigger_sender(next_at)
        return next_at
