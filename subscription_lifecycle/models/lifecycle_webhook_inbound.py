from datetime import timezone

from psycopg2.errors import UniqueViolation

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain
from odoo.tools import SQL, email_normalize

from ..lib.webhook_inbound import MessageError, parse_message
from ..lib.webhook_signature import SignatureError, TimestampError, verify


class _Refused(Exception):
    """The message is refused with this HTTP status and message; what was written for it is rolled back."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class LifecycleWebhookInbound(models.Model):
    """A message an incoming endpoint accepted: one per endpoint and ``webhook-id``.

    Written only by the webhook route (``_receive``), in the transaction of
    the event it creates; read-only to managers. A refused message leaves
    no trace here: the sender's own log is where refusals show.
    """

    _name = "lifecycle.webhook.inbound"
    _description = "Incoming webhook call"
    _order = "id desc"
    _rec_name = "webhook_id"

    endpoint_id = fields.Many2one("lifecycle.webhook.endpoint", required=True, readonly=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    webhook_id = fields.Char(string="Message id", required=True, readonly=True, help="The sender's webhook-id.")
    received_at = fields.Datetime(required=True, readonly=True)
    message_type = fields.Char(string="Type", readonly=True, help="The type the sender gave the message.")
    partner_id = fields.Many2one(
        "res.partner", string="Customer", readonly=True, index="btree_not_null", ondelete="set null"
    )
    deadline_id = fields.Many2one("lifecycle.deadline", readonly=True, index="btree_not_null", ondelete="set null")
    event_id = fields.Many2one("lifecycle.event", readonly=True, index="btree_not_null", ondelete="set null")
    result = fields.Selection(
        [("accepted", "Event created"), ("unchanged", "Nothing to change")],
        readonly=True,
        help="Nothing to change: the deadline was already cancelled.",
    )

    # A webhook-id is accepted once per endpoint, even from two requests at the
    # same time: the second waits for the first at this index (see _claim).
    _webhook_id_once = models.UniqueIndex(
        "(endpoint_id, webhook_id)", "This endpoint already received a message with this id."
    )

    @api.model
    def _receive(self, endpoint, msg_id, timestamp, signature, body):
        """Check the message ``body`` (bytes) sent to ``endpoint`` with these headers, and act on it.

        Returns ``(HTTP status, answer)``. A refusal writes nothing: the
        checks that need no database come first, and what follows runs in a
        savepoint rolled back on refusal. A ``webhook-id`` already accepted
        answers 200 and changes nothing.
        """
        _ = self.env._
        now = fields.Datetime.now()
        try:
            verify(
                endpoint._signing_secrets(now),
                msg_id,
                timestamp,
                signature,
                body,
                now=now.replace(tzinfo=timezone.utc).timestamp(),
            )
        except TimestampError:
            return 400, {"error": _("The webhook-timestamp is missing or more than 5 minutes away from our clock.")}
        except SignatureError:
            return 401, {"error": _("The webhook-signature does not match this endpoint's secret.")}
        try:
            message = parse_message(msg_id, body, endpoint._custom_types(), _)
        except MessageError as error:
            return 400, {"error": str(error)}
        try:
            with self.env.cr.savepoint():
                return self._accept(endpoint, msg_id, message, now)
        except _Refused as refusal:
            return refusal.status, {"error": str(refusal)}

    def _accept(self, endpoint, msg_id, message, now):
        call = self._claim(endpoint, msg_id, message.type, now)
        if not call:
            return 200, {"status": "duplicate"}
        customer = self._find_customer(endpoint, message)
        values = {"partner_id": customer.id, "result": "accepted"}
        payload = message.payload(msg_id, endpoint.name)
        Event = self.env["lifecycle.event"]
        if message.event_type == "deadline_cancelled":
            deadline = self._find_deadline(endpoint, customer, message.deadline_id)
            values["deadline_id"] = deadline.id
            if deadline.state == "cancelled":
                call.write({**values, "result": "unchanged"})
                return 200, {"status": "unchanged"}
            try:
                # through the deadline's guarded transitions, as a user's Cancel button: it emits
                # deadline_cancelled, and stops the reminders a cancelled plan must not get
                deadline.action_cancel()
            except UserError as error:
                raise _Refused(409, error.args[0]) from error
            event = Event.search(
                [
                    ("deadline_id", "=", deadline.id),
                    ("event_type", "=", "deadline_cancelled"),
                    ("state", "=", "pending"),
                ],
                order="id desc",
                limit=1,
            )
            # the event was emitted in this transaction by the cancellation; it keeps what the sender said
            event.payload = payload
        else:
            extra = {}
            if message.custom_type:
                extra = {"custom_type": message.custom_type, "name": f"{message.custom_type}: {customer.display_name}"}
            event = Event._emit(
                message.event_type, customer, company_id=endpoint.company_id.id, payload=payload, **extra
            )
        call.write({**values, "event_id": event.id})
        return 202, {"status": "accepted"}

    def _claim(self, endpoint, msg_id, message_type, now):
        """The new call for ``msg_id``, or an empty recordset when the endpoint already has it.

        A plain INSERT, not a read first: the unique index makes a second
        request with the same id wait for the first one's transaction, and
        fail if it committed. Not the ORM's ``create``, which would log that
        expected failure as an error; nor ``ON CONFLICT DO NOTHING``, which
        in repeatable read fails with a serialization error that Odoo
        retries with the request's body already read.
        """
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        """
                        INSERT INTO lifecycle_webhook_inbound (endpoint_id, company_id, webhook_id, message_type,
                                                               received_at, create_uid, create_date, write_uid,
                                                               write_date)
                        VALUES (%(endpoint)s, %(company)s, %(msg_id)s, %(type)s, %(now)s, %(uid)s, %(now)s,
                                %(uid)s, %(now)s)
                        RETURNING id
                        """,
                        endpoint=endpoint.id,
                        company=endpoint.company_id.id,
                        msg_id=msg_id,
                        type=message_type,
                        now=now,
                        uid=self.env.uid,
                    ),
                    log_exceptions=False,
                )
                return self.browse(self.env.cr.fetchone()[0])
        except UniqueViolation:
            return self.browse()

    def _find_customer(self, endpoint, message):
        """The one customer (commercial entity) of the endpoint's company that ``message`` names.

        By reference if the message gives one, else by email. Several
        contacts of one customer may share an address (a company and its
        accountant): that customer is meant. Contacts of different customers
        sharing it are refused rather than guessed between: the sender can
        name the customer by reference instead.
        """
        _ = self.env._
        if message.customer_ref:
            domain = Domain("ref", "=", message.customer_ref)
            named = _("reference %(ref)s", ref=message.customer_ref)
        else:
            email = email_normalize(message.customer_email) or message.customer_email
            domain = Domain("email_normalized", "=", email)
            named = _("email %(email)s", email=message.customer_email)
        partners = self.env["res.partner"].search(domain & Domain("company_id", "in", [endpoint.company_id.id, False]))
        customers = partners.commercial_partner_id
        if not customers:
            raise _Refused(422, _("No customer has the %(named)s.", named=named))
        if len(customers) > 1:
            raise _Refused(422, _("Several customers have the %(named)s: name the customer by reference.", named=named))
        return customers

    def _find_deadline(self, endpoint, customer, deadline_id):
        deadline = self.env["lifecycle.deadline"].search(
            [
                ("id", "=", deadline_id),
                ("commercial_partner_id", "=", customer.id),
                ("company_id", "=", endpoint.company_id.id),
            ]
        )
        if not deadline:
            raise _Refused(
                422,
                self.env._(
                    "The customer %(customer)s has no deadline number %(number)s.",
                    customer=customer.display_name,
                    number=deadline_id,
                ),
            )
        return deadline
