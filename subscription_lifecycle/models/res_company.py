from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..lib.local_day import local_date
from ..lib.reminders import DEFAULT_LADDER, parse_ladder


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

    @api.constrains("lifecycle_renewal_window")
    def _check_lifecycle_renewal_window(self):
        if any(not 0 <= company.lifecycle_renewal_window <= 365 for company in self):
            raise ValidationError(self.env._("The portal renewal window is a number of days from 0 to 365."))

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

    def write(self, vals):
        result = super().write(vals)
        if "lifecycle_reminder_offsets" in vals:
            self._lifecycle_restart_reminders()
        return result

    def _lifecycle_restart_reminders(self):
        """Start the reminder ladder again from its first rung for these companies' active deadlines.

        The scheduler then skips the rungs already sent for each expiry and
        moves on. One UPDATE per company rather than the ORM's recompute: a
        company may hold a million deadlines, and nothing but this date moves.
        """
        self.env["lifecycle.deadline"].flush_model(["date_expiry", "state", "company_id", "reminder_date"])
        for company in self:
            self.env.cr.execute(
                SQL(
                    "UPDATE lifecycle_deadline SET reminder_date = date_expiry - %s"
                    " WHERE company_id = %s AND state = 'active'",
                    max(company._lifecycle_ladder()),
                    company.id,
                )
            )
        self.env["lifecycle.deadline"].invalidate_model(["reminder_date"])

    def _lifecycle_ladder(self):
        self.ensure_one()
        return parse_ladder(self.lifecycle_reminder_offsets)

    def _lifecycle_local_date(self, instant, partner):
        """The date at ``instant`` (naive UTC) on ``partner``'s calendar.

        The customer's time zone counts, else this company's, else UTC: the
        one rule for expiries, reminders, days left and sale start dates.
        """
        return local_date(instant, partner.tz, self.partner_id.tz)
