from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# The payment states of an invoice the customer has paid: "in payment" is
# paid, the bank statement not matched yet.
PAID_STATES = ("paid", "in_payment")
# The payment states of a posted invoice with something left to pay.
OPEN_STATES = ("not_paid", "partial")


class AccountMove(models.Model):
    """Customer invoices emit lifecycle events: overdue at each threshold, and paid."""

    _inherit = "account.move"

    lifecycle_days_overdue = fields.Integer(
        string="Days overdue",
        compute="_compute_lifecycle_days_overdue",
        help="Days since the due date of a posted customer invoice not fully paid, on the company's calendar; "
        "0 otherwise. Workflow messages can show it: {{ object.lifecycle_days_overdue }}.",
    )

    # the overdue scan reads each company's open customer invoices by due date
    _lifecycle_overdue_idx = models.Index(
        f"(company_id, invoice_date_due) WHERE move_type = 'out_invoice' AND state = 'posted'"
        f" AND payment_state IN {OPEN_STATES!r}"
    )

    @api.depends("move_type", "state", "payment_state", "invoice_date_due", "company_id")
    def _compute_lifecycle_days_overdue(self):
        now = fields.Datetime.now()
        for move in self:
            open_invoice = (
                move.move_type == "out_invoice"
                and move.state == "posted"
                and move.payment_state in OPEN_STATES
                and move.invoice_date_due
            )
            today = move.company_id._lifecycle_local_date(now, move.company_id.partner_id)
            move.lifecycle_days_overdue = max((today - move.invoice_date_due).days, 0) if open_invoice else 0

    def _compute_payment_state(self):
        """Emit ``invoice_paid`` for the posted customer invoices this computation makes paid.

        Only on the change from unpaid (or partly paid) to paid or in
        payment: recomputing a paid invoice, or its moving on from in payment
        to paid when the bank statement is matched, says nothing new. An
        invoice whose payment is undone and that is paid again is paid again
        (a new payment, a new event). A credit note that reverses the invoice
        makes it "reversed", not paid: no event.
        """
        # Odoo's own computation reads the previous state the same way (legacy, blocked)
        before = {move.id: move.payment_state for move in self if move.id and move.move_type == "out_invoice"}
        result = super()._compute_payment_state()
        paid = self.filtered(
            lambda move: (
                move.id in before
                and move.state == "posted"
                and move.payment_state in PAID_STATES
                and before[move.id] not in PAID_STATES
            )
        )
        if paid:
            self.env["lifecycle.event"]._emit_each(
                "invoice_paid",
                [
                    (
                        move,
                        {
                            "payload": {
                                "amount": move.amount_total,
                                "currency": move.currency_id.name,
                                "payment_state": move.payment_state,
                            }
                        },
                    )
                    for move in paid
                ],
            )
        return result

    @api.model
    def _lifecycle_emit_overdue(self, now=None, batch_size=1000):
        """Emit ``invoice_overdue`` for the open customer invoices that reached a threshold of their company.

        Daily (any more often changes nothing): ``now`` (naive UTC, default:
        the clock) is read on each company's calendar. Each invoice is
        announced at the highest threshold it reached, once: the unique
        index on events makes a second notice impossible, and the query
        leaves out the invoices already announced at that threshold or a
        higher one (after an outage, the thresholds passed meanwhile are not
        caught up). One query per company and batch, on the partial index of
        open invoices by due date and the events' index: the invoices that
        are paid or not yet overdue enough are never read.
        """
        now = now or fields.Datetime.now()
        in_cron = bool(self.env.context.get("cron_id"))
        self.flush_model(["company_id", "move_type", "state", "payment_state", "invoice_date_due"])
        emitted = self.env["lifecycle.event"]
        for company in self.env["res.company"].sudo().search([]):
            thresholds = company._lifecycle_overdue_thresholds()
            today = company._lifecycle_local_date(now, company.partner_id)
            last_id = 0
            while found := self._lifecycle_overdue_batch(company, thresholds, today, last_id, batch_size):
                last_id = found[-1][0]
                moves = self.sudo().browse([move_id for move_id, _threshold in found])
                moves.fetch(["amount_total", "amount_residual", "currency_id", "invoice_date_due", "partner_id"])
                emitted |= self.env["lifecycle.event"]._emit_each(
                    "invoice_overdue",
                    [
                        (move, {"payload": move._lifecycle_overdue_payload(today, threshold)})
                        for move, (_id, threshold) in zip(moves, found, strict=True)
                    ],
                )
                if in_cron:
                    self.env["ir.cron"]._commit_progress(len(found))
        return emitted

    def _lifecycle_overdue_batch(self, company, thresholds, today, last_id, limit):
        """``[(invoice id, threshold reached)]``: the next ``limit`` invoices of ``company`` to announce overdue."""
        self.env.cr.execute(
            SQL(
                """
                SELECT move.id, reached.threshold
                  FROM account_move move
                 CROSS JOIN LATERAL (
                       SELECT MAX(threshold) AS threshold
                         FROM UNNEST(%(thresholds)s::int[]) AS threshold
                        WHERE threshold <= %(today)s::date - move.invoice_date_due
                       ) AS reached
                 WHERE move.company_id = %(company)s
                   AND move.move_type = 'out_invoice' AND move.state = 'posted'
                   AND move.payment_state IN %(open)s
                   AND move.invoice_date_due <= %(latest_due)s
                   AND move.id > %(last_id)s
                   AND NOT EXISTS (
                       SELECT 1 FROM lifecycle_event event
                        WHERE event.event_type = 'invoice_overdue' AND event.res_id = move.id
                          AND (event.payload->>'threshold')::int >= reached.threshold
                   )
                 ORDER BY move.id
                 LIMIT %(limit)s
                """,
                thresholds=list(thresholds),
                today=today,
                company=company.id,
                open=OPEN_STATES,
                latest_due=fields.Date.subtract(today, days=min(thresholds)),
                last_id=last_id,
                limit=limit,
            )
        )
        return self.env.cr.fetchall()

    def _lifecycle_overdue_payload(self, today, threshold):
        self.ensure_one()
        return {
            "amount": self.amount_total,
            "amount_due": self.amount_residual,
            "currency": self.currency_id.name,
            "date_due": fields.Date.to_string(self.invoice_date_due),
            "days_overdue": (today - self.invoice_date_due).days,
            "threshold": threshold,
        }

    def _lifecycle_write_off(self, reason):
        """Credit these unpaid invoices in full to the company's bad-debt account; each credit note settles one.

        The credit note is the invoice's reversal (taxes given back as well) whose product lines go to the
        bad-debt expense instead of the income; booked by the system at the end of dunning.
        """
        for invoice in self.sudo():
            company = invoice.company_id
            account = company.lifecycle_bad_debt_account_id or company.expense_account_id
            if not account:
                raise UserError(
                    self.env._(
                        "Set the bad-debt account of %(company)s in the Lifecycle settings to write invoices off.",
                        company=company.name,
                    )
                )
            credit_note = invoice._reverse_moves([{"ref": reason}])
            credit_note.invoice_line_ids.filtered(lambda line: line.display_type == "product").account_id = account
            credit_note.action_post()
            lines = (invoice | credit_note).line_ids.filtered(
                lambda line: line.account_id.account_type == "asset_receivable" and not line.reconciled
            )
            for receivable in lines.account_id:
                lines.filtered(lambda line, receivable=receivable: line.account_id == receivable).reconcile()
