import time
from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.misc import hmac as odoo_hmac

from ..lib.phone import e164
from ..lib.telegram import (
    START_SCOPE,
    START_TTL,
    read_start_token,
    reply,
    start_command,
    start_token,
    start_token_valid,
)

# The channels a customer may prefer for lifecycle messages. A channel is
# usable once ``res.partner._lifecycle_reach_<channel>`` exists. The field is
# not required: customers inserted in SQL (imports, other modules) have none,
# and count as preferring email.
LIFECYCLE_CHANNELS = [("email", "Email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"), ("telegram", "Telegram")]

# Deadline states whose amounts the customer card sums up.
CAPITAL_STATES = ("active", "closed")


class ResPartner(models.Model):
    _inherit = "res.partner"

    lifecycle_deadline_ids = fields.One2many("lifecycle.deadline", "partner_id", string="Deadlines")
    lifecycle_deadline_count = fields.Integer(string="Deadline count", compute="_compute_lifecycle_deadline_stats")
    lifecycle_summary_html = fields.Html(
        string="Deadline capital", compute="_compute_lifecycle_deadline_stats", sanitize=False
    )
    # A customer's money is for Lifecycle staff, not for every employee.
    lifecycle_wallet_ids = fields.One2many(
        "lifecycle.wallet",
        "partner_id",
        string="Wallets",
        readonly=True,
        groups="subscription_lifecycle.group_lifecycle_user",
    )
    lifecycle_wallet_balance = fields.Monetary(
        string="Wallet balance",
        compute="_compute_lifecycle_wallet_balance",
        currency_field="lifecycle_wallet_currency_id",
        groups="subscription_lifecycle.group_lifecycle_user",
    )
    lifecycle_wallet_currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_lifecycle_wallet_balance",
        groups="subscription_lifecycle.group_lifecycle_user",
    )
    # what other systems said about the customer: managers, who own the endpoints
    lifecycle_webhook_inbound_count = fields.Integer(
        string="Webhook calls",
        compute="_compute_lifecycle_webhook_inbound_count",
        groups="subscription_lifecycle.group_lifecycle_manager",
    )
    lifecycle_callback_date = fields.Date(
        string="Callback date",
        readonly=True,
        copy=False,
        index=True,
        help="Date of the last completed callback with this customer.",
    )

    # Where the bot writes to the customer. Only managers read the chat id; the
    # customer (portal) and other staff see whether Telegram is linked.
    lifecycle_telegram_chat_id = fields.Char(
        string="Telegram chat", readonly=True, copy=False, groups="subscription_lifecycle.group_lifecycle_manager"
    )
    lifecycle_telegram_company_id = fields.Many2one(
        "res.company",
        string="Telegram bot of",
        readonly=True,
        copy=False,
        groups="subscription_lifecycle.group_lifecycle_manager",
        help="A chat is with one company's bot: another company's bot cannot write to it.",
    )
    # Moves on at every link and unlink: a start token signs it, so it is used once.
    lifecycle_telegram_counter = fields.Integer(readonly=True, copy=False, groups="base.group_system")
    lifecycle_telegram_linked = fields.Boolean(
        string="Telegram linked", compute="_compute_lifecycle_telegram_linked", compute_sudo=True
    )

    @api.depends("lifecycle_telegram_chat_id")
    def _compute_lifecycle_telegram_linked(self):
        for partner in self:
            partner.lifecycle_telegram_linked = bool(partner.lifecycle_telegram_chat_id)

    lifecycle_channel = fields.Selection(
        LIFECYCLE_CHANNELS,
        string="Preferred channel",
        default="email",
        help="Where workflow messages reach the customer first (email when empty); "
        "the step's fallback order decides the others.",
    )

    @api.depends("lifecycle_deadline_ids.state", "lifecycle_deadline_ids.amount", "lifecycle_deadline_ids.currency_id")
    def _compute_lifecycle_deadline_stats(self):
        """Count and per-currency capital of the deadlines of the commercial entity.

        Like invoiced totals, a contact shows the figures of its company.
        """
        entities = self.commercial_partner_id._origin
        groups = []
        if entities and self.env["lifecycle.deadline"].has_access("read"):
            groups = self.env["lifecycle.deadline"]._read_group(
                [("commercial_partner_id", "in", entities.ids)],
                ["commercial_partner_id", "currency_id", "state"],
                ["__count", "amount:sum"],
            )
        counts = defaultdict(int)
        capital = defaultdict(lambda: defaultdict(lambda: dict.fromkeys(CAPITAL_STATES, 0.0)))
        for entity, currency, state, count, amount in groups:
            counts[entity] += count
            if state in CAPITAL_STATES:
                capital[entity][currency][state] += amount
        for partner in self:
            entity = partner.commercial_partner_id._origin
            partner.lifecycle_deadline_count = counts[entity]
            partner.lifecycle_summary_html = self.env["ir.qweb"]._render(
                "subscription_lifecycle.partner_deadline_summary",
                {"capital": sorted(capital[entity].items(), key=lambda item: item[0].name)},
            )

    @api.depends("lifecycle_wallet_ids.balance")
    @api.depends_context("company")
    def _compute_lifecycle_wallet_balance(self):
        """Balance of the commercial entity's wallet in the current company's currency."""
        company = self.env.company
        wallets = (
            self.env["lifecycle.wallet"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.commercial_partner_id._origin.ids),
                    ("company_id", "=", company.id),
                    ("currency_id", "=", company.currency_id.id),
                ]
            )
        )
        balances = {wallet.partner_id: wallet.balance for wallet in wallets}
        for partner in self:
            partner.lifecycle_wallet_currency_id = company.currency_id
            partner.lifecycle_wallet_balance = balances.get(partner.commercial_partner_id._origin, 0.0)

    def _compute_lifecycle_webhook_inbound_count(self):
        counts = dict(
            self.env["lifecycle.webhook.inbound"]._read_group(
                [("partner_id", "in", self.commercial_partner_id._origin.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.lifecycle_webhook_inbound_count = counts.get(partner.commercial_partner_id._origin, 0)

    def action_view_lifecycle_webhook_inbound(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.lifecycle_webhook_inbound_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        return action

    def action_view_lifecycle_wallets(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.lifecycle_wallet_transaction_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        return action

    def write(self, vals):
        archived = self.filtered("active") if vals.get("active") is False else self.browse()
        result = super().write(vals)
        self.env["lifecycle.event"]._emit("customer_archived", archived._lifecycle_customers())
        return result

    def unlink(self):
        """A deleted customer is announced with what identifies them, in an event that outlives them.

        The event names no customer (the partner is gone, and with it, by
        cascade, its other events): its payload keeps the id, name, email
        and reference for the systems that must forget the customer too.
        """
        self.env["lifecycle.event"]._emit_each(
            "customer_deleted",
            [
                (
                    partner,
                    {
                        "partner_id": False,
                        "payload": {
                            "id": partner.id,
                            "name": partner.name,
                            "email": partner.email or None,
                            "ref": partner.ref or None,
                        },
                    },
                )
                for partner in self._lifecycle_customers()
            ],
        )
        return super().unlink()

    def _lifecycle_customers(self):
        """These partners that are lifecycle customers: a customer rank, deadlines or lifecycle events.

        In sudo: whoever may archive or delete a customer records the fact,
        whatever they may read of deadlines and events.
        """
        partners = self.sudo()
        if not partners:
            return partners
        self.env["lifecycle.event"].flush_model(["partner_id"])
        self.env.cr.execute(
            SQL("SELECT DISTINCT partner_id FROM lifecycle_event WHERE partner_id = ANY(%s)", partners.ids)
        )
        with_events = {row[0] for row in self.env.cr.fetchall()}
        return partners.filtered(
            lambda partner: partner.customer_rank or partner.lifecycle_deadline_ids or partner.id in with_events
        )

    def _lifecycle_reach_whatsapp(self, company):
        """``(number in E.164, "")`` where ``company`` can write to this customer on WhatsApp, else ``(False, why)``.

        The phone number is read with the customer's country, else the
        company's, as for SMS.
        """
        self.ensure_one()
        if not company._lifecycle_whatsapp_ready():
            return False, self.env._(
                "%(company)s has no WhatsApp account set up in the Lifecycle settings.", company=company.name
            )
        if not self.phone:
            return False, self.env._("%(customer)s has no phone number.", customer=self.display_name)
        country = self.country_id or company.country_id
        number = e164(self.phone, country.code)
        if not number:
            return False, self.env._(
                "%(number)s, the phone number of %(customer)s, is not a valid number%(country)s.",
                number=self.phone,
                customer=self.display_name,
                country=self.env._(" in %(country)s", country=country.name) if country else "",
            )
        return number, ""

    def action_view_lifecycle_webhook_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.lifecycle_webhook_delivery_action"
        )
        action["domain"] = [("partner_id", "child_of", self.commercial_partner_id.id)]
        action["context"] = {}
        return action

    def action_view_lifecycle_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_lifecycle.lifecycle_workflow_run_action")
        action["domain"] = [("partner_id", "=", self.id)]
        return action

    def action_view_lifecycle_deadlines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_lifecycle.lifecycle_deadline_action")
        action["domain"] = [("commercial_partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    # ------------------------------------------------------------------
    # Telegram: linking from the portal, reaching the customer
    # ------------------------------------------------------------------
    def _lifecycle_telegram_sign(self, message):
        return odoo_hmac(self.env(su=True), START_SCOPE, message)

    def _lifecycle_telegram_start_url(self, company, now=None):
        """The t.me link that makes ``company``'s bot link this customer; valid a day, once."""
        self.ensure_one()
        partner = self.sudo()
        expires = (now or time.time()) + START_TTL
        token = start_token(
            self._lifecycle_telegram_sign, partner.id, company.id, partner.lifecycle_telegram_counter, expires
        )
        return f"https://t.me/{company.lifecycle_telegram_bot_username}?start={token}"

    @api.model
    def _lifecycle_telegram_receive(self, company, update):
        """The answer to an Update ``company``'s bot received: a reply to ``/start``, else nothing to do."""
        start = start_command(update)
        if not start:
            return {}
        chat_id, token = start
        partner = self._lifecycle_telegram_start(company, chat_id, token)
        _ = self.with_context(lang=partner.lang or company.partner_id.lang).env._
        if partner:
            text = _(
                "Hello %(name)s, you will now get our messages here. To stop them, disconnect Telegram"
                " in your customer portal.",
                name=partner.name,
            )
        elif token:
            text = _(
                "Sorry, this link is no longer valid: it was used already or is more than a day old."
                " Open Connect Telegram in your customer portal again."
            )
        else:
            text = _("Hello! To get our messages here, open Connect Telegram in your customer portal.")
        return reply(chat_id, text)

    @api.model
    def _lifecycle_telegram_start(self, company, chat_id, token, now=None):
        """Link the customer ``token`` names to ``chat_id`` with ``company``'s bot; the customer linked, or none.

        The token must be signed for the customer's current link counter, for
        this company, and not expired. The counter moves on in one
        compare-and-set UPDATE, so two updates carrying the same token (a
        retry, two workers) link once.
        """
        now = now or time.time()
        read = read_start_token(token)
        partner = self.sudo().browse(read[0] if read else ()).exists()
        if not partner or read[1] != company.id:
            return self.browse()
        counter = partner.lifecycle_telegram_counter
        if not start_token_valid(token, self._lifecycle_telegram_sign, counter, now):
            return self.browse()
        self.env.cr.execute(
            SQL(
                # NULL until a first link: the ORM reads it as 0
                "UPDATE res_partner SET lifecycle_telegram_counter = COALESCE(lifecycle_telegram_counter, 0) + 1"
                " WHERE id = %s AND COALESCE(lifecycle_telegram_counter, 0) = %s RETURNING id",
                partner.id,
                counter,
            )
        )
        if not self.env.cr.fetchone():
            return self.browse()
        partner.invalidate_recordset(["lifecycle_telegram_counter"])
        partner.write({"lifecycle_telegram_chat_id": str(chat_id), "lifecycle_telegram_company_id": company.id})
        partner._message_log(
            body=self.env._("Telegram linked by the customer with the bot of %(company)s.", company=company.name)
        )
        return partner

    def _lifecycle_telegram_unlink(self, reason):
        """Forget the customers' Telegram chats, saying why on each."""
        for partner in self.sudo().filtered("lifecycle_telegram_chat_id"):
            partner.write(
                {
                    "lifecycle_telegram_chat_id": False,
                    "lifecycle_telegram_company_id": False,
                    "lifecycle_telegram_counter": partner.lifecycle_telegram_counter + 1,
                }
            )
            partner._message_log(body=reason)

    def _lifecycle_reach_telegram(self, company):
        """``(chat_id, "")`` where ``company``'s bot writes to this customer, or ``(False, why not)``.

        The customer's own chat, else that of the first of its contacts who
        linked Telegram (a company's portal users are its contacts).
        """
        self.ensure_one()
        partner = self.sudo()
        if not company.sudo().lifecycle_telegram_bot_token:
            return False, self.env._("%(company)s has no Telegram bot.", company=company.name)
        linked = (partner | partner.child_ids).filtered("lifecycle_telegram_chat_id")
        chats = linked.filtered(lambda contact: contact.lifecycle_telegram_company_id == company)
        if chats:
            return chats[0].lifecycle_telegram_chat_id, ""
        if linked:
            return False, self.env._(
                "%(customer)s linked Telegram with the bot of %(other)s, not of %(company)s.",
                customer=partner.display_name,
                other=linked[0].lifecycle_telegram_company_id.name,
                company=company.name,
            )
        return False, self.env._("%(customer)s has not linked Telegram.", customer=partner.display_name)

    def _lifecycle_reach(self, channel, company):
        """``(address, "")`` when the customer can be reached on ``channel`` for ``company``, else ``(False, reason)``.

        Each channel answers through ``_lifecycle_reach_<channel>(company)``;
        a channel without one (its module is not there) is "not available".
        """
        self.ensure_one()
        reach = getattr(self, f"_lifecycle_reach_{channel}", None)
        if reach is None:
            return False, self.env._("not available")
        return reach(company)

    def _lifecycle_reach_email(self, company):
        partner = self.sudo()  # the blacklist is for employees only; the engine asks for any of them
        if not partner.email_normalized:
            return False, self.env._("no valid email address")
        if partner.is_blacklisted:
            return False, self.env._("%(email)s is on the blacklist", email=partner.email_normalized)
        return partner.email_normalized, ""

    def _lifecycle_reach_sms(self, company):
        return self._lifecycle_sms_numbers(company)[self]

    def _lifecycle_sms_numbers(self, company):
        """``{partner: (E.164 number, "") or (False, reason)}`` for SMS from ``company``, in one blacklist query.

        A local number is read in the customer's country, else in the
        company's.
        """
        numbers = {partner: e164(partner.phone, partner.country_id.code, company.country_id.code) for partner in self}
        valid = [number for number in numbers.values() if number]
        blacklist = self.env["phone.blacklist"].sudo()
        blacklisted = set(blacklist.search([("number", "in", valid)]).mapped("number")) if valid else set()
        reach = {}
        for partner, number in numbers.items():
            if not partner.phone:
                reach[partner] = (False, self.env._("no phone number"))
            elif not number:
                reach[partner] = (False, self.env._("%(phone)s is not a valid phone number", phone=partner.phone))
            elif number in blacklisted:
                reach[partner] = (False, self.env._("%(number)s is on the blacklist", number=number))
            else:
                reach[partner] = (number, "")
        return reach
