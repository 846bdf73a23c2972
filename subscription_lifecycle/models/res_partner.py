from collections import defaultdict

from odoo import api, fields, models

from ..lib.phone import e164

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
        # sudo: whoever may archive a customer records the fact, deadlines or not
        customers = archived.sudo().filtered(lambda partner: partner.customer_rank or partner.lifecycle_deadline_ids)
        self.env["lifecycle.event"]._emit("customer_archived", customers)
        return result

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
