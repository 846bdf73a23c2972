from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL

from ..lib.whatsapp import e164

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
        company's. (The SMS channel normalises numbers too; one helper for
        both is for the merge.)
        """
        self.ensure_one()
        if not company._lifecycle_whatsapp_ready():
            return False, self.env._(
                "%(company)s has no WhatsApp account set up in the Lifecycle settings.", company=company.name
            )
        if not self.phone:
            return False, self.env._("%(customer)s has no phone number.", customer=self.display_name)
        country = self.country_id or company.country_id
        try:
            return e164(self.phone, country.code), ""
        except ValueError:
            return False, self.env._(
                "%(number)s, the phone number of %(customer)s, is not a valid number%(country)s.",
                number=self.phone,
                customer=self.display_name,
                country=self.env._(" in %(country)s", country=country.name) if country else "",
            )

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
