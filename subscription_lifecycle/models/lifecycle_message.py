import json
import logging
from dataclasses import replace
from datetime import timedelta, timezone
from urllib.parse import quote

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..lib import telegram, whatsapp
from ..lib.messaging import FAILED, RETRY, SENT, UNKNOWN, Result, classify
from ..lib.telegram import bot_request, redact
from ..lib.webhook_delivery import parse_retry_after
from ..lib.webhook_http import Outgoing, Sender
from ..lib.whatsapp import DEFAULT_API_URL, STATUS_RANK, message_reference, referenced_message

_logger = logging.getLogger(__name__)

# A claimed message is the claiming worker's for this long. A message still
# being sent when its lease is over was sent by a worker that died before
# recording the answer: it may have reached the customer, so it becomes
# unknown and is never sent again by itself. Longer than a batch can take:
# BATCH_SIZE requests of at most 10 s each, 8 at a time; or SMS_PER_BATCH SMS,
# which Odoo's providers send one after the other (Twilio: at most 10 s each).
LEASE = timedelta(minutes=5)
BATCH_SIZE = 50
SMS_PER_BATCH = 20
SENDER_CRON = "subscription_lifecycle.ir_cron_lifecycle_message_send"
WHATSAPP_API_URL = "subscription_lifecycle.whatsapp_api_url"  # system parameter: the Graph API's base URL


class LifecycleMessage(models.Model):
    """One message to one person on a messaging channel: the outbox row, then its log.

    Odoo's own queue carries email (mail.mail); this one carries the
    channels Odoo Community has no queue for, and SMS, whose ``sms.sms``
    Odoo's SMS cron would send again after a worker died between the
    provider's answer and its commit (``_send_sms``). A message is written in
    the transaction of the workflow step that sends it, so a rolled-back step
    sends nothing, and the sender cron sends it once that is committed
    (``_cron_send``).

    Channel interface: ``_outgoing_<channel>()`` returns the requests
    (``lib.webhook_http.Outgoing``, keyed by message id) of these messages;
    a message it cannot build one for gets its ``error`` written and no
    request, and fails. ``_result_<channel>(outcome)`` reads the service's
    answer to one message into a ``lib.messaging.Result`` (``_classify``
    does the generic part). SMS leave through Odoo's SMS providers instead
    (``_send_sms``).
    """

    _name = "lifecycle.message"
    _description = "Message to a customer"
    _order = "id desc"
    _rec_name = "recipient"

    channel = fields.Selection(
        [("whatsapp", "WhatsApp"), ("telegram", "Telegram"), ("sms", "SMS")], required=True, readonly=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    workflow_run_id = fields.Many2one(
        "lifecycle.workflow.run", readonly=True, index="btree_not_null", ondelete="set null"
    )
    recipient = fields.Char(required=True, readonly=True, help="Where it goes: a phone number, a chat.")
    body = fields.Text(readonly=True, help="What the customer reads, or the template it is sent with.")
    payload = fields.Json(readonly=True, help="The request's content, fixed when the message is queued.")
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("sending", "Sending"),
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("read", "Read"),
            ("failed", "Failed"),
            ("unknown", "Outcome unknown"),
        ],
        default="queued",
        required=True,
        readonly=True,
        index=True,
        help="Outcome unknown: the service may or may not have taken the message. "
        "It is never sent again by itself: check with the customer, then send it again or leave it.",
    )
    next_attempt_at = fields.Datetime(string="Next attempt", readonly=True, default=fields.Datetime.now)
    attempt_count = fields.Integer(string="Attempts", readonly=True)
    provider_message_id = fields.Char(string="Service's id", readonly=True, index="btree_not_null", copy=False)
    error = fields.Char(readonly=True)
    date_sent = fields.Datetime(string="Sent on", readonly=True)
    # Odoo's SMS, shown in the chatter with its delivery status; sent SMS are deleted by Odoo's autovacuum
    sms_id = fields.Many2one(
        "sms.sms", string="SMS", readonly=True, index="btree_not_null", ondelete="set null", groups="base.group_system"
    )

    _due_idx = models.Index("(next_attempt_at) WHERE state IN ('queued', 'sending')")

    # ------------------------------------------------------------------
    # Queueing (the outbox)
    # ------------------------------------------------------------------
    @api.model
    def _enqueue(self, vals_list):
        """Queue messages; the sender sends them once the transaction is committed."""
        messages = self.sudo().create(vals_list)
        if messages:
            self._trigger_sender()
        return messages

    @api.model
    def _trigger_sender(self, at=None):
        cron = self.env.ref(SENDER_CRON, raise_if_not_found=False)
        if cron:
            cron._trigger(at)

    # ------------------------------------------------------------------
    # Staff decisions
    # ------------------------------------------------------------------
    def action_send_again(self):
        """Send these failed or unknown messages again: a person decided the customer did not get them."""
        self._check_decision()
        if any(message.state not in ("failed", "unknown") for message in self):
            raise UserError(self.env._("Only a failed message or one whose outcome is unknown can be sent again."))
        self.sudo().write(
            {"state": "queued", "next_attempt_at": fields.Datetime.now(), "attempt_count": 0, "error": False}
        )
        sms = self.sudo().sms_id
        sms.sms_tracker_id._action_update_from_sms_state("outgoing")  # the chatter shows it waiting again
        sms.write({"state": "process", "failure_type": False})
        self._trigger_sender()

    def action_mark_sent(self):
        """Record that the customer did get these messages whose outcome was unknown."""
        self._check_decision()
        if any(message.state != "unknown" for message in self):
            raise UserError(self.env._("Only a message whose outcome is unknown can be marked as sent."))
        self.sudo().write(
            {"state": "sent", "error": self.env._("Confirmed as received by %(user)s.", user=self.env.user.name)}
        )
        self.sudo().sms_id._update_sms_state_and_trackers("pending")  # "Sent", as Odoo says of a sent SMS

    def _check_decision(self):
        """Managers decide, on the messages of their companies: messages are read-only to everyone else."""
        if not self.env.user.has_group("subscription_lifecycle.group_lifecycle_manager"):
            raise AccessError(self.env._("Only Lifecycle managers decide what happens to a message."))
        self.check_access("read")

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------
    @api.model
    def _cron_send(self, now=None, batch_size=BATCH_SIZE):
        """Send the due messages, a batch at a time, after commit; outcomes never in doubt are retried.

        First, messages a dead worker left in ``sending`` past their lease
        become unknown. Then each batch is claimed (``FOR UPDATE SKIP
        LOCKED``), marked as being sent with a lease, and committed before any
        request leaves; the answers are recorded and committed afterwards.
        """
        now = now or fields.Datetime.now()
        outbox = self.sudo()  # the sender writes messages whoever the cron's user is
        outbox._expire_leases(now)
        crons = self.env["ir.cron"]
        crons._commit_progress()
        due = SQL("state = 'queued' AND next_attempt_at <= %s", now)
        with Sender() as http:
            while ids := self.env["lifecycle.workflow.run"]._claim("lifecycle_message", due, batch_size, True):
                messages = outbox.browse(ids)
                # Odoo's providers send SMS one by one: the batch's SMS stay few enough for the lease,
                # the rest stay queued (never marked, never sent) for the next claim
                sms = messages.filtered(lambda message: message.channel == "sms")
                messages -= sms[SMS_PER_BATCH:]
                sms = sms[:SMS_PER_BATCH]
                # one UPDATE per attempt count in the batch, not one per message
                for count, group in messages.grouped("attempt_count").items():
                    group.write({"state": "sending", "attempt_count": count + 1, "next_attempt_at": now + LEASE})
                # should this worker die, the sender wakes up when the lease ends, not an hour later
                outbox._trigger_sender(now + LEASE)
                outgoing = []
                for channel, group in (messages - sms).grouped("channel").items():
                    outgoing += getattr(group, f"_outgoing_{channel}")()
                crons._commit_progress()  # the claim: nothing leaves before it is committed
                messages._record(http.send_all(outgoing), now, sms._send_sms())
                if not crons._commit_progress(len(messages)):
                    break
        outbox._schedule_wake_up()

    def _expire_leases(self, now):
        """Make the messages a dead worker left being sent unknown, and say so where staff look."""
        self.env.flush_all()
        reason = self.env._("The sending stopped before the service answered: it may or may not have been sent.")
        self.env.cr.execute(
            SQL(
                "UPDATE lifecycle_message SET state = 'unknown', next_attempt_at = NULL, error = %s"
                " WHERE state = 'sending' AND next_attempt_at <= %s RETURNING id",
                reason,
                now,
            )
        )
        lost = self.browse([row[0] for row in self.env.cr.fetchall()])
        if lost:
            self.invalidate_model(["state", "next_attempt_at", "error"])
            _logger.warning("%s message(s) left being sent by a stopped worker are now unknown", len(lost))
            lost.filtered(lambda message: message.channel == "sms")._sms_unknown(reason)
            lost._report_problems()

    def _record(self, outcomes, now, results=None):
        """Move each message on from its channel's reading of the answer (``lib.messaging``).

        ``results`` are the ``Result`` of messages sent another way than by
        ``outcomes`` (SMS), by message id. One write per message costs no
        query more than one per distinct outcome: the ORM's flush updates all
        the rows that changed the same columns in one UPDATE.
        """
        messages = {message.id: message for message in self}
        results = dict(results or {})
        for outcome in outcomes:
            message = messages[outcome.key]
            results[outcome.key] = getattr(message, f"_result_{message.channel}")(outcome)
        # a message its channel could not even build a request for failed at once
        for message in self:
            results.setdefault(message.id, message._build_error())
        problems = self.browse()
        for key, result in results.items():
            message = messages[key]
            values = {"error": result.error or False}
            if result.state == SENT:
                values.update(state="sent", provider_message_id=result.provider_id or False, date_sent=now)
            elif result.state == RETRY:
                values.update(state="queued", next_attempt_at=now + timedelta(seconds=result.retry_in))
            else:
                values.update(state=result.state, next_attempt_at=False)
                problems |= message
            message.write(values)
        problems._report_problems()

    def _classify(self, outcome, error=""):
        """The generic reading of ``outcome`` for this message (``lib.messaging.classify``)."""
        now = fields.Datetime.now().replace(tzinfo=timezone.utc)
        return classify(
            outcome.status,
            outcome.reached,
            self.attempt_count,
            parse_retry_after(outcome.retry_after, now),
            error or outcome.error,
        )

    def _build_error(self):
        return Result(FAILED, error=self.error or self.env._("The message could not be prepared."))

    def _report_problems(self):
        """Tell staff about failed and unknown messages: on the run's log and on the customer."""
        self.env["lifecycle.workflow.run.log"].create(
            [
                {"run_id": message.workflow_run_id.id, "outcome": "error", "message": message._problem_text()}
                for message in self
                if message.workflow_run_id
            ]
        )
        bodies = {}
        for message in self.filtered("partner_id"):
            text = Markup("<p>%s</p>") % message._problem_text()
            bodies[message.partner_id.id] = bodies.get(message.partner_id.id, Markup()) + text
        if bodies:
            self.env["res.partner"].browse(list(bodies))._message_log_batch(bodies)

    def _problem_text(self):
        channel = dict(self._fields["channel"]._description_selection(self.env)).get(self.channel, self.channel)
        if self.state == UNKNOWN:
            return self.env._(
                "%(channel)s message to %(recipient)s: outcome unknown (%(error)s). It will not be sent again"
                " unless someone decides to.",
                channel=channel,
                recipient=self.recipient,
                error=self.error,
            )
        return self.env._(
            "%(channel)s message to %(recipient)s failed: %(error)s",
            channel=channel,
            recipient=self.recipient,
            error=self.error,
        )

    @api.model
    def _schedule_wake_up(self):
        """Trigger the sender for the earliest message still to send, or a lease still running."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL("SELECT MIN(next_attempt_at) FROM lifecycle_message WHERE state IN ('queued', 'sending')")
        )
        next_at = self.env.cr.fetchone()[0]
        if next_at:
            self._trigger_sender(next_at)
        return next_at

    # ------------------------------------------------------------------
    # WhatsApp (Business Cloud API)
    # ------------------------------------------------------------------
    def _outgoing_whatsapp(self):
        """``POST {base}/{phone-number-id}/messages`` with the company's token, for each of these messages.

        The body was fixed when the message was queued; the address and the
        token are the company's at the time of sending (a renewed token is
        used at once). The base URL is a system parameter, set by system
        administrators only: it is trusted with private addresses (tests).
        """
        parameters = self.env["ir.config_parameter"].sudo()
        base = (parameters.get_param(WHATSAPP_API_URL) or DEFAULT_API_URL).rstrip("/")
        database = parameters.get_param("database.uuid")
        outgoing = []
        for message in self:
            company = message.company_id.sudo()
            if not company._lifecycle_whatsapp_ready():
                message.error = self.env._(
                    "%(company)s has no WhatsApp account set up in the Lifecycle settings.", company=company.name
                )
                continue
            body = {**message.payload, "biz_opaque_callback_data": message_reference(database, message.id)}
            outgoing.append(
                Outgoing(
                    key=message.id,
                    url=f"{base}/{quote(company.lifecycle_whatsapp_phone_number_id.strip(), safe='')}/messages",
                    headers={
                        "Authorization": f"Bearer {company.lifecycle_whatsapp_access_token.strip()}",
                        "Content-Type": "application/json",
                    },
                    body=json.dumps(body).encode(),
                    allow_private=True,
                )
            )
        return outgoing

    def _result_whatsapp(self, outcome):
        """Read the Graph API's answer: Meta's id of the message, or its error in Meta's words.

        Meta says "too many requests" with error codes (with a 400 as often as
        a 429): the message did not leave, so it waits and goes again like
        after a 429.
        """
        answer = whatsapp.read_answer(outcome.response)
        if answer.rate_limited:
            outcome = replace(outcome, status=429)
        error = answer.error
        if not outcome.status:
            error = (
                self.env._(
                    "The connection broke after the message left, before WhatsApp answered (%(error)s).",
                    error=outcome.error,
                )
                if outcome.reached
                else self.env._("WhatsApp could not be reached (%(error)s).", error=outcome.error)
            )
        elif answer.code == 190:
            error = self.env._(
                "Meta refused the WhatsApp access token (%(error)s): set a valid one in the Lifecycle settings.",
                error=answer.error,
            )
        result = self._classify(outcome, error)
        return replace(result, provider_id=answer.message_id) if result.state == SENT else result

    @api.model
    def _whatsapp_statuses(self, company, statuses):
        """Store the delivery statuses Meta sent for ``company``'s messages; False when some must come again later.

        A message is found by Meta's id, or by the reference its request
        carried (``lib.whatsapp.message_reference``): a message whose outcome
        was unknown learns it that way. A status never moves a message back
        (a late "delivered" after "read"); "failed" ends a message not yet
        delivered, and is reported like the sender's failures. A message
        still being sent is the sender's until it records the answer: its
        statuses are left for Meta to send again (it retries for days).
        """
        messages = self.sudo().with_context(active_test=False)
        database = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        domain = [("channel", "=", "whatsapp"), ("company_id", "=", company.id)]
        by_id = {
            message.provider_message_id: message
            for message in messages.search(
                [*domain, ("provider_message_id", "in", [status.message_id for status in statuses])]
            )
        }
        referenced = {referenced_message(status.reference, database) for status in statuses} - {None}
        by_reference = {message.id: message for message in messages.search([*domain, ("id", "in", list(referenced))])}
        later, problems = False, messages.browse()
        for status in statuses:
            message = by_id.get(status.message_id) or by_reference.get(
                referenced_message(status.reference, database), messages.browse()
            )
            if not message or message.provider_message_id not in (False, status.message_id):
                continue
            if message.state in ("queued", "sending"):
                later = True
                continue
            rank = STATUS_RANK.get(message.state, 0)
            if status.status == "failed":
                if message.state in ("delivered", "read", "failed"):
                    continue
                message.write({"state": "failed", "error": status.error, "provider_message_id": status.message_id})
                problems |= message
            elif message.state != "failed" and STATUS_RANK[status.status] > rank:
                message.write({"state": status.status, "error": False, "provider_message_id": status.message_id})
        problems._report_problems()
        return not later

    # ------------------------------------------------------------------
    # SMS (Odoo's sms.sms and the company's provider)
    # ------------------------------------------------------------------
    def _send_sms(self):
        """Send these messages' SMS with Odoo's SMS machinery; their ``Result`` by message id.

        The workflow step queued each ``sms.sms`` as *Processing*, a state
        Odoo's SMS cron and ``sms.sms.send`` never take (they send *In Queue*
        SMS only, and commit after the provider answered: a worker killed in
        between would send them again). Here they go, already claimed and
        committed, through Odoo's own split by provider (IAP, or Twilio per
        company with sms_twilio) and batch size, and ``_send``: the provider,
        the SMS's state, failure type and chatter notification are Odoo's.
        """
        sms = self.sms_id
        for sms_api, group in sms._split_by_api():
            for batch_ids in group._split_batch():
                sms.browse(batch_ids).with_context(sms_api=sms_api)._send(unlink_failed=False)
        results = {}
        for message in self:
            if message.sms_id:
                results[message.id] = message._result_sms()
            else:
                message.error = self.env._("The SMS was deleted before it could be sent.")
        return results

    def _result_sms(self):
        """Read the state Odoo gave the SMS: the provider took it, refused it, or did not answer (unknown)."""
        sms = self.sms_id
        if sms.state != "error":
            return Result(SENT, provider_id=sms["sms_twilio_sid"] if "sms_twilio_sid" in sms._fields else "")
        labels = dict(sms._fields["failure_type"]._description_selection(self.env))
        reason = sms.sms_tracker_id.mail_notification_id.failure_reason or labels.get(sms.failure_type, "")
        if sms.failure_type == "sms_server":  # no answer, or not one Odoo could read: it may have left
            return Result(
                UNKNOWN,
                error=self.env._(
                    "The SMS provider did not answer clearly (%(error)s): it may or may not have been sent.",
                    error=reason,
                ),
            )
        return Result(FAILED, error=reason)

    def _sms_unknown(self, reason):
        """Show these messages' SMS as errors for ``reason`` (in the chatter too): Odoo never sends them again."""
        self.sms_id.write({"state": "error", "failure_type": "unknown"})
        self.sms_id.sms_tracker_id._action_update_from_sms_state("error", failure_type="unknown", failure_reason=reason)

    # ------------------------------------------------------------------
    # Telegram (lib.telegram)
    # ------------------------------------------------------------------
    def _outgoing_telegram(self):
        outgoing = []
        for message in self:
            company = message.company_id.sudo()
            if not company.lifecycle_telegram_bot_token:
                message.error = self.env._("%(company)s has no Telegram bot any more.", company=company.name)
                continue
            url, headers, body = bot_request(
                company._lifecycle_telegram_api_url(),
                company.lifecycle_telegram_bot_token,
                "sendMessage",
                message.payload,
            )
            # the Bot API's address is a system parameter that only administrators set (a local Bot API server)
            outgoing.append(Outgoing(message.id, url, headers, body, allow_private=True))
        return outgoing

    def _result_telegram(self, outcome):
        """Read the Bot API's answer; a chat Telegram says is gone for good unlinks the customer."""
        answer = telegram.read_answer(outcome.response) if outcome.status else None
        if answer and answer.ok:
            return Result(SENT, provider_id=answer.message_id)
        if answer and answer.retry_after:  # Telegram says how long to wait in the body
            outcome = replace(outcome, retry_after=str(answer.retry_after))
        # the bot's token is in the URL, so in network errors: never in what staff read
        error = (
            answer.description if answer else redact(outcome.error, self.company_id.sudo().lifecycle_telegram_bot_token)
        )
        if answer and answer.chat_gone:
            error = self.env._(
                "Telegram no longer lets the bot write to this customer (%(error)s): their Telegram link was removed.",
                error=error,
            )
            # whoever holds this chat (the customer or its contact), not a chat linked since
            holders = (
                self.env["res.partner"]
                .sudo()
                .search(
                    [
                        ("lifecycle_telegram_chat_id", "=", self.recipient),
                        ("lifecycle_telegram_company_id", "=", self.company_id.id),
                        ("id", "child_of", self.partner_id.commercial_partner_id.id),
                    ]
                )
            )
            if holders:
                holders._lifecycle_telegram_unlink(
                    self.env._(
                        "Telegram unlinked: the customer blocked the bot or left the chat (%(error)s).",
                        error=answer.description,
                    )
                )
        return self._classify(outcome, error)
