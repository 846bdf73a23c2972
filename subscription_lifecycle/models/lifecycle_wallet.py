from psycopg2.errors import UniqueViolation

from odoo import Command, api, fields, models
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
    accounting_balance = fields.Monetary(
        compute="_compute_accounting",
        currency_field="currency_id",
        help="The customer's open wallet credits on their receivable account: what the journal entries "
        "of the booked ledger lines still owe them.",
    )
    accounting_difference = fields.Monetary(
        compute="_compute_accounting",
        currency_field="currency_id",
        help="Booked balance less the accounting balance: zero when the ledger and the accounts agree.",
    )
    unbooked_balance = fields.Monetary(
        compute="_compute_accounting",
        currency_field="currency_id",
        help="What ledger lines without a journal entry (written before wallet accounting) add to the "
        "balance; the check leaves them aside.",
    )

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

    def _credited_by(self, workflow):
        """Whether ``workflow`` already credited this wallet; waits for the movements under way first.

        The wallet's lock serialises two runs crediting it at the same time:
        the second one sees the first one's line.
        """
        self._lock_balance()
        return bool(
            self.env["lifecycle.wallet.transaction"]
            .sudo()
            .search_count([("wallet_id", "=", self.id), ("workflow_run_id.workflow_id", "=", workflow.id)], limit=1)
        )

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

    # --- accounting -----------------------------------------------------

    def _has_accounting(self):
        """Whether this wallet's company keeps accounts (has a chart of accounts) to book into."""
        self.ensure_one()
        return bool(self.company_id.chart_template)

    def _post_booked(self, kind, amount, reason, **values):
        """Post a credit or correction the company gives, with its journal entry.

        A credit is an expense (the account set in the settings) owed to the
        customer: debit the expense, credit their receivable. A debit
        correction is the reverse, and settles open wallet credits. A company
        without a chart of accounts keeps the ledger alone.
        """
        self.ensure_one()
        if not self._has_accounting():
            return self._post(kind, amount, reason=reason, **values)
        move = self._book_against_expense(amount, reason)
        line = self._post(kind, amount, reason=reason, move_id=move.id, **values)
        if amount < 0:
            self._reconcile_with_credits(move)
        return line

    def _book_against_expense(self, amount, reason):
        """A posted entry moving ``amount`` (signed, for the customer) between the expense and their receivable."""
        self.ensure_one()
        company = self.company_id
        account = company.lifecycle_wallet_expense_account_id or company.expense_account_id
        journal = company.lifecycle_wallet_journal_id or (
            self.env["account.journal"]
            .sudo()
            .search([("company_id", "=", company.id), ("type", "=", "general")], limit=1)
        )
        if not account or not journal:
            raise UserError(
                self.env._(
                    "Set the wallet journal and expense account of %(company)s in the Lifecycle settings "
                    "before crediting wallets.",
                    company=company.name,
                )
            )
        partner = self.partner_id
        receivable = partner.with_company(company).property_account_receivable_id
        today = fields.Date.context_today(self)
        balance = self.currency_id._convert(amount, company.currency_id, company, today)
        move = (
            self.env["account.move"]
            .sudo()
            .with_company(company)
            .create(
                {
                    "move_type": "entry",
                    "journal_id": journal.id,
                    "date": today,
                    "ref": reason,
                    "line_ids": [
                        Command.create(
                            {
                                "name": reason,
                                "account_id": account_id,
                                "partner_id": partner.id,
                                "currency_id": self.currency_id.id,
                                "amount_currency": sign * amount,
                                "balance": sign * balance,
                            }
                        )
                        for account_id, sign in ((account.id, 1), (receivable.id, -1))
                    ],
                }
            )
        )
        move.action_post()
        return move

    def _wallet_receivable_lines(self, moves):
        """The customer's receivable lines, in this wallet's currency, of ``moves``."""
        self.ensure_one()
        return moves.sudo().line_ids.filtered(
            lambda aml: (
                aml.account_id.account_type == "asset_receivable"
                and aml.partner_id == self.partner_id
                and aml.currency_id == self.currency_id
                and aml.parent_state == "posted"
            )
        )

    def _reconcile_with_credits(self, move):
        """Settle the receivable debit of ``move`` (an invoice, a refund paid out) with the wallet's open credits."""
        self.ensure_one()
        booked = self.sudo().transaction_ids.move_id
        lines = self._wallet_receivable_lines(booked | move).filtered(lambda aml: not aml.reconciled)
        for account in lines.account_id:
            lines.filtered(lambda aml, account=account: aml.account_id == account).reconcile()

    def _accounting_figures(self):
        """``{wallet id: (booked balance, accounting balance)}`` in one query.

        The booked balance sums the ledger lines that have a journal entry;
        the accounting balance is what the customer's receivable lines of
        those entries still owe them (their open credit, in the wallet's
        currency).
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH booked AS (
                    SELECT wallet_id, SUM(amount) AS amount
                      FROM lifecycle_wallet_transaction
                     WHERE wallet_id IN %(ids)s AND move_id IS NOT NULL
                     GROUP BY wallet_id
                ), moves AS (
                    SELECT DISTINCT wallet_id, move_id
                      FROM lifecycle_wallet_transaction
                     WHERE wallet_id IN %(ids)s AND move_id IS NOT NULL
                ), open_credit AS (
                    SELECT m.wallet_id, -SUM(aml.amount_residual_currency) AS amount
                      FROM moves m
                      JOIN lifecycle_wallet w ON w.id = m.wallet_id
                      JOIN account_move_line aml ON aml.move_id = m.move_id
                                                AND aml.partner_id = w.partner_id
                                                AND aml.currency_id = w.currency_id
                                                AND aml.parent_state = 'posted'
                      JOIN account_account a ON a.id = aml.account_id AND a.account_type = 'asset_receivable'
                     GROUP BY m.wallet_id
                )
                SELECT w.id, COALESCE(b.amount, 0), COALESCE(o.amount, 0)
                  FROM lifecycle_wallet w
                  LEFT JOIN booked b ON b.wallet_id = w.id
                  LEFT JOIN open_credit o ON o.wallet_id = w.id
                 WHERE w.id IN %(ids)s
                """,
                ids=tuple(self.ids) or (0,),
            )
        )
        return {wallet_id: (booked, accounting) for wallet_id, booked, accounting in self.env.cr.fetchall()}

    @api.depends("balance", "transaction_ids")
    def _compute_accounting(self):
        figures = self._accounting_figures()
        for wallet in self:
            booked, accounting = figures.get(wallet.id, (0.0, 0.0))
            wallet.accounting_balance = accounting
            wallet.accounting_difference = wallet.currency_id.round(booked - accounting)
            wallet.unbooked_balance = wallet.currency_id.round(wallet.balance - booked)

    @api.model
    def _check_accounting(self, wallets=None):
        """``{wallet: difference}`` for the wallets whose booked balance is not their open credit in accounting.

        Checks ``wallets``, else every wallet of a company that keeps accounts.
        """
        if wallets is None:
            wallets = self.sudo().search([("company_id.chart_template", "!=", False)])
        figures = wallets._accounting_figures()
        differences = {}
        for wallet in wallets:
            booked, accounting = figures[wallet.id]
            if not wallet.currency_id.is_zero(booked - accounting):
                differences[wallet] = wallet.currency_id.round(booked - accounting)
        return differences

    @api.model
    def action_check_accounting(self):
        """The wallets whose ledger and accounts disagree, for managers."""
        mismatched = self._check_accounting()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Wallets that disagree with the accounts"),
            "res_model": "lifecycle.wallet",
            "view_mode": "list,form",
            "views": [
                (self.env.ref("subscription_lifecycle.lifecycle_wallet_view_list_accounting").id, "list"),
                (False, "form"),
            ],
            "domain": [("id", "in", [wallet.id for wallet in mismatched])],
        }

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
