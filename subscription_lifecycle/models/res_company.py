import secrets

import requests

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..lib.local_day import local_date
from ..lib.overdue import DEFAULT_THRESHOLDS, parse_thresholds
from ..lib.reminders import DEFAULT_LADDER, parse_ladder
from ..lib.telegram import bot_request, read_answer, redact
from ..lib.webhook_http import TIMEOUT

TELEGRAM_API_URL = "https://api.telegram.org"
TELEGRAM_API_PARAM = "subscription_lifecycle.telegram_api_url"


class ResCompany(models.Model):
    _inherit = "res.company"

    lifecycle_late_renewal_base = fields.Selection(
        [("today", "The renewal date"), ("expiry", "The old expiry date")],
        string="Late renewals count from",
        default="today",
        required=True,
        help="A deadline renewed after it expired runs one period from the day it is renewed, "
        "or from its old expiry date when the lapsed days are charged too.",
    )
    lifecycle_reminder_offsets = fields.Char(
        string="Reminder ladder",
        default=",".join(map(str, DEFAULT_LADDER)),
        required=True,
        help="Days before expiry at which a renewal reminder is due, e.g. 30,14,3,0. "
        "Each is sent once per expiry date; after an outage only the latest one reached is sent.",
    )

    lifecycle_renewal_window = fields.Integer(
        string="Portal renewal window",
        default=30,
        help="Customers can renew a service from the portal this many days before it expires (and after).",
    )

    lifecycle_lapse_days = fields.Integer(
        string="No active service after",
        default=30,
        help="A customer without an active deadline in this company for this many days, since their last one "
        "ended or since they registered, gets a no-active-service event (once per lapse).",
    )

    lifecycle_overdue_thresholds = fields.Char(
        string="Overdue invoice thresholds",
        default=",".join(map(str, DEFAULT_THRESHOLDS)),
        required=True,
        help="Days after its due date at which an unpaid customer invoice gets an invoice-overdue event, "
        "e.g. 1,7,30: once per invoice and threshold, the highest one reached only.",
    )

    lifecycle_wallet_max_deposit = fields.Monetary(
        string="Largest wallet top-up",
        currency_field="currency_id",
        default=10000.0,
        help="The most a customer can add to their wallet in one payment from the portal.",
    )

    lifecycle_wallet_journal_id = fields.Many2one(
        "account.journal",
        string="Wallet journal",
        domain="[('type', '=', 'general'), ('company_id', '=', id)]",
        help="The miscellaneous journal of the entries of wallet credits and corrections; "
        "when empty, the first miscellaneous journal.",
    )
    lifecycle_wallet_expense_account_id = fields.Many2one(
        "account.account",
        string="Wallet credits expense account",
        domain="[('account_type', 'in', ('expense', 'expense_other'))]",
        help="Debited by the bonuses and goodwill credits given to wallets (a marketing expense, say), "
        "against the customer's receivable; when empty, the company's default expense account.",
    )

    lifecycle_webhook_allow_http = fields.Boolean(
        string="Webhooks over plain http",
        help="Let outgoing webhook endpoints use http:// URLs: their deliveries travel unencrypted.",
    )
    lifecycle_webhook_allow_private = fields.Boolean(
        string="Webhooks to private addresses",
        help="Let outgoing webhooks reach loopback and private network addresses, for on-premise systems. "
        "Link-local (cloud metadata), multicast and reserved addresses stay refused.",
    )

    # WhatsApp Business Cloud API: the sending number and the app's secrets (system administrators only)
    lifecycle_whatsapp_phone_number_id = fields.Char(
        string="WhatsApp phone number ID",
        help="The ID Meta gives the business phone number messages are sent from (WhatsApp Manager, API setup).",
    )
    lifecycle_whatsapp_access_token = fields.Char(
        string="WhatsApp access token",
        groups="base.group_system",
        copy=False,
        help="A system user's permanent access token with the whatsapp_business_messaging permission.",
    )
    lifecycle_whatsapp_app_secret = fields.Char(
        string="WhatsApp app secret",
        groups="base.group_system",
        copy=False,
        help="The Meta app's secret: it proves that status callbacks come from Meta.",
    )
    lifecycle_whatsapp_verify_token = fields.Char(
        string="WhatsApp verify token",
        groups="base.group_system",
        copy=False,
        help="Any secret text, given to Meta with the callback URL: Meta sends it back when it checks the URL.",
    )

    # The bot's token lets whoever holds it write as the bot: administrators only.
    lifecycle_telegram_bot_token = fields.Char(
        string="Telegram bot token", groups="base.group_system", copy=False, help="Given by @BotFather."
    )
    lifecycle_telegram_bot_username = fields.Char(
        string="Telegram bot username", help="The bot's @username, without the @: the portal links to it."
    )
    # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token on every update:
    # made when the bot token is set (1-256 characters of A-Za-z0-9_-).
    lifecycle_telegram_secret = fields.Char(
        string="Telegram webhook secret", groups="base.group_system", copy=False, readonly=True
    )
    # Automatic renewal and dunning (issue 14, items 2 and 3): the policy is the company's, as the
    # reminder ladder is; one failed charge is one record (lifecycle.autorenewal) that carries its
    # own retries and final actions, exactly once, which an event-triggered workflow run cannot.
    lifecycle_autorenew_days = fields.Integer(
        string="Auto-renew days before expiry",
        default=3,
        help="Deadlines set to renew automatically are renewed and charged this many days before they expire.",
    )
    lifecycle_dunning_tries = fields.Integer(
        string="Payment retries",
        default=8,
        help="How many times a failed automatic payment is tried again (never after a hard decline).",
    )
    lifecycle_dunning_days = fields.Integer(
        string="Retries over (days)",
        default=14,
        help="The retries are spread over this many days after the first failure, with a little jitter.",
    )
    lifecycle_dunning_grace_days = fields.Integer(
        string="Grace days",
        default=0,
        help="Days after the last failed retry before the final actions run.",
    )
    lifecycle_dunning_final_action = fields.Selection(
        [
            ("cancel", "Cancel the deadline, the renewal order and its open invoice"),
            ("write_off", "Cancel the deadline and write the open invoice off to bad debt"),
            ("none", "Only notify the team"),
        ],
        string="When the retries run out",
        default="cancel",
        required=True,
        help="When no dunning workflow matches the deadline; the team is notified in every case.",
    )
    lifecycle_bad_debt_account_id = fields.Many2one(
        "account.account",
        string="Bad-debt account",
        domain="[('account_type', 'in', ('expense', 'expense_other'))]",
        help="Debited by the credit notes that write off the unpaid invoices of failed automatic renewals; "
        "when empty, the company's default expense account.",
    )

    @api.constrains("lifecycle_renewal_window")
    def _check_lifecycle_renewal_window(self):
        if any(not 0 <= company.lifecycle_renewal_window <= 365 for company in self):
            raise ValidationError(self.env._("The portal renewal window is a number of days from 0 to 365."))

    @api.constrains("lifecycle_lapse_days")
    def _check_lifecycle_lapse_days(self):
        if any(not 1 <= company.lifecycle_lapse_days <= 3650 for company in self):
            raise ValidationError(self.env._("The days without active service are a number from 1 to 3650."))

    @api.constrains("lifecycle_autorenew_days", "lifecycle_dunning_tries", "lifecycle_dunning_days")
    def _check_lifecycle_autorenew_policy(self):
        for company in self:
            if not 0 <= company.lifecycle_autorenew_days <= 365:
                raise ValidationError(self.env._("Auto-renewal happens from 0 to 365 days before expiry."))
            if not 1 <= company.lifecycle_dunning_tries <= company.lifecycle_dunning_days <= 365:
                raise ValidationError(
                    self.env._(
                        "Payment retries: at least one, at most one a day, over at most 365 days "
                        "(%(tries)s over %(days)s days).",
                        tries=company.lifecycle_dunning_tries,
                        days=company.lifecycle_dunning_days,
                    )
                )

    @api.constrains("lifecycle_reminder_offsets")
    def _check_lifecycle_reminder_offsets(self):
        for company in self:
            try:
                parse_ladder(company.lifecycle_reminder_offsets)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "The reminder ladder must list distinct numbers of days from 0 to 365, "
                        "separated by commas (like 30,14,3,0): %(error)s",
                        error=error,
                    )
                ) from error

    @api.constrains("lifecycle_overdue_thresholds")
    def _check_lifecycle_overdue_thresholds(self):
        for company in self:
            try:
                parse_thresholds(company.lifecycle_overdue_thresholds)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "The overdue invoice thresholds must list distinct numbers of days from 1 to 3650, "
                        "separated by commas (like 1,7,30): %(error)s",
                        error=error,
                    )
                ) from error

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies._lifecycle_telegram_make_secret()
        return companies

    def write(self, vals):
        result = super().write(vals)
        if "lifecycle_reminder_offsets" in vals:
            self._lifecycle_restart_reminders()
        if vals.get("lifecycle_telegram_bot_token"):
            self._lifecycle_telegram_make_secret()
        return result

    def _lifecycle_telegram_make_secret(self):
        for company in self.sudo().filtered(
            lambda company: company.lifecycle_telegram_bot_token and not company.lifecycle_telegram_secret
        ):
            company.lifecycle_telegram_secret = secrets.token_urlsafe(32)

    def _lifecycle_telegram_api_url(self):
        return self.env["ir.config_parameter"].sudo().get_param(TELEGRAM_API_PARAM) or TELEGRAM_API_URL

    def _lifecycle_telegram_webhook_url(self):
        self.ensure_one()
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        return f"{base}/lifecycle/telegram/{self.id}/webhook"

    def _lifecycle_telegram_register_webhook(self):
        """Tell Telegram where to send this company's bot updates, with the secret it must send back."""
        self.ensure_one()
        company = self.sudo()
        if not company.lifecycle_telegram_bot_token:
            raise UserError(self.env._("Set the Telegram bot token first."))
        url, headers, body = bot_request(
            company._lifecycle_telegram_api_url(),
            company.lifecycle_telegram_bot_token,
            "setWebhook",
            {
                "url": company._lifecycle_telegram_webhook_url(),
                "secret_token": company.lifecycle_telegram_secret,
                "allowed_updates": ["message"],
            },
        )
        try:
            response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT)
            answer = read_answer(response.text)
        except requests.RequestException as error:
            raise UserError(
                self.env._(
                    "Telegram could not be reached: %(error)s",
                    error=redact(str(error), company.lifecycle_telegram_bot_token),
                )
            ) from error
        if not answer or not answer.ok:
            raise UserError(
                self.env._(
                    "Telegram refused the webhook: %(error)s",
                    error=answer.description if answer else response.text[:200],
                )
            )

    def _lifecycle_restart_reminders(self):
        """Start the reminder ladder again for these companies' active deadlines, below what was sent.

        Each deadline's next reminder date becomes the highest rung of the new
        ladder below every rung already sent for its expiry date (the first
        rung when none was): the scheduler never sends a rung above one the
        customer already got, and reads nothing but that date. One UPDATE per
        company rather than the ORM's recompute, and of the deadlines whose
        date moves only: a company may hold a million deadlines, most of them
        still waiting for the first rung, which a new ladder seldom changes.
        """
        self.env["lifecycle.deadline"].flush_model(["date_expiry", "state", "company_id", "reminder_date"])
        self.env["lifecycle.event"].flush_model(["deadline_id", "date_expiry", "event_type", "reminder_offset"])
        for company in self:
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE lifecycle_deadline deadline
                       SET reminder_date = restarted.day
                      FROM (SELECT active.id, active.date_expiry - (
                                   SELECT MAX(rung) FROM UNNEST(%s::int4[]) AS rung
                                    WHERE rung < ALL (
                                          SELECT event.reminder_offset FROM lifecycle_event event
                                           WHERE event.event_type = 'reminder_due' AND event.deadline_id = active.id
                                             AND event.date_expiry = active.date_expiry)) AS day
                              FROM lifecycle_deadline active
                             WHERE active.company_id = %s AND active.state = 'active') AS restarted
                     WHERE deadline.id = restarted.id AND deadline.reminder_date IS DISTINCT FROM restarted.day
                    """,
                    list(company._lifecycle_ladder()),
                    company.id,
                )
            )
        self.env["lifecycle.deadline"].invalidate_model(["reminder_date"])

    def _lifecycle_whatsapp_ready(self):
        """Whether this company can send WhatsApp messages: a phone number ID and an access token."""
        self.ensure_one()
        company = self.sudo()  # the token is for system administrators; whether there is one is not
        return bool(company.lifecycle_whatsapp_phone_number_id and company.lifecycle_whatsapp_access_token)

    def _lifecycle_ladder(self):
        self.ensure_one()
        return parse_ladder(self.lifecycle_reminder_offsets)

    def _lifecycle_overdue_thresholds(self):
        self.ensure_one()
        return parse_thresholds(self.lifecycle_overdue_thresholds)

    def _lifecycle_local_date(self, instant, partner):
        """The date at ``instant`` (naive UTC) on ``partner``'s calendar.

        The customer's time zone counts, else this company's, else UTC: the
        one rule for expiries, reminders, days left and sale start dates.
        """
        return local_date(instant, partner.tz, self.partner_id.tz)
