from psycopg2.errors import UniqueViolation

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, float_compare, float_is_zero, format_amount, mute_logger

# Ledger line kinds and the sign their amount must have.
CREDIT_KINDS = ("deposit", "refund", "bonus")
DEBIT_KINDS = ("payment", "withdrawal")


class LifecycleWallet(models.Model):
    """A customer's prepaid balance in one company and currency.

    The balance is derived from the append-only ledger: it only changes in
    ``_post``, under a row lock, in the transaction that writes the line, and
    the database refuses a negative one.
    """

    _name = "lifecycle.wallet"
    _description = "Customer wallet"
    _order = "partner_id, currency_id"
    _rec_names_search = ["partner_id"]

    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, readonly=True, index=True, ondelete="restrict"
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    balance = fields.Monetary(readonly=True, required=True, default=0.0, currency_field="currency_id", aggregator="sum")
    transaction_ids = fields.One2many("lifecycle.wallet.transaction", "wallet_id", string="Ledger", readonly=True)

    _one_wallet = models.Constraint(
        "UNIQUE(partner_id, company_id, currency_id)",
        "A customer has one wallet per company and currency.",
    )
    _balance_not_negative = models.Constraint("CHECK(balance >= 0)", "A wallet balance cannot go below zero.")

    @api.depends("partner_id", "currency_id", "balance")
    def _compute_display_name(self):
        for wallet in self:
            wallet.display_name = f"{wallet.partner_id.name} ({wallet.currency_id.name})"

    def write(self, vals):
        if "balance" in vals and not self.env.context.get("lifecycle_wallet_posting"):
            raise UserError(self.env._("A wallet balance only changes through its ledger."))
        return super().write(vals)

    @api.model
    def _for_partner(self, partner, company, currency, create=True):
        """The wallet of ``partner``'s commercial entity; created on first use when ``create``."""
        partner = partner.commercial_partner_id
        domain = [("partner_id", "=", partner.id), ("company_id", "=", company.id), ("currency_id", "=", currency.id)]
        wallet = self.sudo().search(domain, limit=1)
        if wallet or not create:
            return wallet
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                return self.sudo().create(
                    {"partner_id": partner.id, "company_id": company.id, "currency_id": currency.id}
                )
        except UniqueViolation as error:
            # a concurrent transaction created it first and is not visible from here yet
            raise UserError(self.env._("Your wallet is being set up; please try again in a moment.")) from error

    def _post(self, kind, amount, **values):
        """Append a ledger line of ``amount`` (signed) and move the balance; return the line.

        Refuses, writing nothing, an amount of zero, a sign that does not fit
        ``kind`` and a debit larger than the balance (less the refunds under
        way, see ``_check_covers``).
        """
        self.ensure_one()
        currency = self.currency_id
        if float_is_zero(amount, precision_rounding=currency.rounding):
            raise UserError(self.env._("A wallet movement needs an amount."))
        if (kind in CREDIT_KINDS and amount < 0) or (kind in DEBIT_KINDS and amount > 0):
            raise UserError(self.env._("This kind of wallet movement cannot have that sign."))
        balance = self._lock_balance()
        if amount < 0:
            # what refunds under way will take out cannot be spent; a withdrawal is such a refund, done
            self._check_covers(-amount, balance if kind == "withdrawal" else balance - self._refunding())
        new_balance = currency.round(balance + amount)
        line = (
            self.env["lifecycle.wallet.transaction"]
            .sudo()
            .create({"wallet_id": self.id, "kind": kind, "amount": amount, "balance_after": new_balance, **values})
        )
        self.sudo().with_context(lifecycle_wallet_posting=True).write({"balance": new_balance})
        return line

    def _lock_balance(self):
        """Lock this wallet until the end of the transaction and return its balance.

        Serialises every movement of the wallet: a second debit waits here and
        then sees the balance the first one left.
        """
        self.ensure_one()
        self.flush_recordset(["balance"])
        self.env.cr.execute(SQL("SELECT balance FROM lifecycle_wallet WHERE id = %s FOR UPDATE", self.id))
        return self.env.cr.fetchone()[0]

    def _refunding(self):
        """What the refunds of this wallet's top-ups asked but not done yet will take out."""
        self.ensure_one()
        refunds = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("lifecycle_wallet_id", "=", self.id),
                    ("operation", "=", "refund"),
                    ("state", "in", ("draft", "pending", "authorized")),
                ]
            )
        )
        return -sum(refunds.mapped("amount"))  # refund amounts are negative

    def _check_covers(self, amount, available):
        """Refuse taking ``amount`` out of ``available``, saying what is missing."""
        self.ensure_one()
        currency = self.currency_id
        if float_compare(amount, available, precision_rounding=currency.rounding) > 0:
            raise UserError(
                self.env._(
                    "The balance (%(balance)s) does not cover %(amount)s: %(missing)s is missing.",
                    balance=format_amount(self.env, available, currency),
                    amount=format_amount(self.env, amount, currency),
                    missing=format_amount(self.env, amount - available, currency),
                )
            )

    def _check_ledger(self):
        """Wallets whose balance is not the sum of their ledger lines (should be none)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT w.id FROM lifecycle_wallet w
                  LEFT JOIN lifecycle_wallet_transaction t ON t.wallet_id = w.id
                 WHERE w.id IN %s
                 GROUP BY w.id, w.balance
                HAVING w.balance != COALESCE(SUM(t.amount), 0)
                """,
                tuple(self.ids) or (0,),
            )
        )
        return self.browse(row[0] for row in self.env.cr.fetchall())

    def action_adjust(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Correct the wallet"),
            "res_model": "lifecycle.wallet.adjust",
            "view_mode": "form",
            "target": "new",
            "context": {"default_wallet_id": self.id},
        }
