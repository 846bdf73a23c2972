import logging
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, format_amount, format_date

from ..lib.dunning import is_hard_decline, retry_days
from ..lib.local_day import dates_in_use

_logger = logging.getLogger(__name__)


class LifecycleAutorenewal(models.Model):
    """The automatic renewal of one deadline period: its order, its charges, its dunning.

    One per deadline and expiry date (a unique key): a period is never charged twice,
    whatever the number of cron workers or runs. Written by the scheduler only.
    """

    _name = "lifecycle.autorenewal"
    _description = "Automatic renewal"
    _order = "id desc"
    _rec_name = "deadline_id"

    deadline_id = fields.Many2one("lifecycle.deadline", required=True, index=True, ondelete="cascade", readonly=True)
    date_expiry = fields.Date(required=True, readonly=True, help="The expiry date this automatic renewal renews.")
    partner_id = fields.Many2one(related="deadline_id.partner_id", store=True, string="Customer")
    company_id = fields.Many2one(related="deadline_id.company_id", store=True, index=True)
    sale_order_id = fields.Many2one("sale.order", string="Renewal order", readonly=True)
    transaction_id = fields.Many2one("payment.transaction", string="Last payment", readonly=True)
    state = fields.Selection(
        [
            ("paid", "Paid"),
            ("pending", "Payment pending"),
            ("not_charged", "Not charged"),
            ("past_due", "Past due"),
            ("ended", "Dunning ended"),
        ],
        required=True,
        readonly=True,
        index=True,
    )
    method = fields.Selection([("wallet", "Wallet balance"), ("token", "Saved payment method")], readonly=True)
    try_count = fields.Integer(string="Failed tries", readonly=True)
    first_failure_date = fields.Date(readonly=True)
    next_try_date = fields.Date(string="Next try", readonly=True, index="btree_not_null")
    final_date = fields.Date(
        string="Final actions on", readonly=True, help="The day the final actions run once the retries ran out."
    )
    hard_decline = fields.Boolean(readonly=True, help="The provider refused for good: never tried again as is.")
    dunning_workflow_id = fields.Many2one(
        "lifecycle.workflow",
        string="Dunning policy",
        readonly=True,
        help="The workflow whose policy the retries follow, chosen at the first failure; "
        "the company's settings when empty.",
    )
    last_error = fields.Char(readonly=True)

    _one_per_period = models.Constraint(
        "UNIQUE(deadline_id, date_expiry)", "This deadline period was already renewed automatically."
    )

    # ------------------------------------------------------------------
    # Scheduler
    # ------------------------------------------------------------------
    @api.model
    def _cron_autorenew(self, now=None):
        """The scheduler's auto-renewal step: new periods due, then pending payments and retries due.

        Each deadline is claimed with ``FOR UPDATE SKIP LOCKED`` (two workers never charge the
        same one) and, inside the cron, committed before and after its charge: the charge
        reaches the provider outside the transaction that decided it.
        """
        now = now or fields.Datetime.now()
        latest = dates_in_use(now)[1]
        # the companies' longest lead bounds the expiry dates read, so that a partial index answers each claim
        lead = max(self.env["res.company"].sudo().search([]).mapped("lifecycle_autorenew_days"), default=0)
        horizon = fields.Date.add(latest, days=lead)
        last_id = 0
        while deadline := self._claim_due_deadline(latest, horizon, last_id):
            last_id = deadline.id
            today = deadline._lifecycle_today(now)
            # the query reads what is due somewhere on Earth: due on the customer's calendar?
            if fields.Date.subtract(deadline.date_expiry, days=deadline.company_id.lifecycle_autorenew_days) <= today:
                self._start(deadline, today)
        last_id = 0
        while autorenewal := self._claim_follow_up(latest, last_id):
            last_id = autorenewal.id
            autorenewal._follow_up(autorenewal.deadline_id._lifecycle_today(now))

    def _claim_due_deadline(self, latest, horizon, last_id):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT deadline.id FROM lifecycle_deadline deadline
                     JOIN res_company company ON company.id = deadline.company_id
                    WHERE deadline.state = 'active' AND deadline.autorenew AND deadline.id > %(last_id)s
                      AND deadline.date_expiry <= %(horizon)s
                      AND deadline.date_expiry - company.lifecycle_autorenew_days <= %(latest)s
                      AND NOT EXISTS (SELECT 1 FROM lifecycle_autorenewal done
                                       WHERE done.deadline_id = deadline.id
                                         AND done.date_expiry = deadline.date_expiry)
                    ORDER BY deadline.id LIMIT 1 FOR UPDATE OF deadline SKIP LOCKED""",
                last_id=last_id,
                latest=latest,
                horizon=horizon,
            )
        )
        row = self.env.cr.fetchone()
        return self.env["lifecycle.deadline"].browse(row and row[0])

    def _claim_follow_up(self, latest, last_id):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """SELECT id FROM lifecycle_autorenewal
                    WHERE id > %(last_id)s AND (state = 'pending' OR (state = 'past_due'
                          AND (next_try_date <= %(latest)s OR final_date <= %(latest)s)))
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                last_id=last_id,
                latest=latest,
            )
        )
        row = self.env.cr.fetchone()
        return self.browse(row and row[0])

    def _commit(self):
        if self.env.context.get("cron_id"):
            self.env["ir.cron"]._commit_progress(1)

    @api.model
    def _start(self, deadline, today):
        """Renew ``deadline``'s current period: create its order and pay it, wallet first if chosen."""
        autorenewal = self.create({"deadline_id": deadline.id, "date_expiry": deadline.date_expiry, "state": "pending"})
        order = deadline._portal_renewal_order()
        autorenewal.sale_order_id = order
        deadline.autorenewal_id = autorenewal
        self._commit()
        if deadline.autorenew_wallet_first and autorenewal._pay_from_wallet():
            return autorenewal
        if not deadline.autorenew_token_id:
            autorenewal.state = "not_charged"
            deadline.message_post(
                body=self.env._(
                    "Not renewed automatically: the balance does not cover %(amount)s and there is no saved "
                    "payment method. The renewal reminders go on.",
                    amount=format_amount(self.env, order.amount_total, order.currency_id),
                )
            )
            return autorenewal
        autorenewal._charge_token(today)
        return autorenewal

    def _pay_from_wallet(self):
        """Pay the order from the customer's balance if it covers it all; whether it was paid."""
        order = self.sale_order_id
        wallet = order._lifecycle_wallet()
        if not wallet or wallet.currency_id.compare_amounts(wallet.balance, order.amount_total) < 0:
            return False
        try:
            order._lifecycle_pay_with_wallet()
        except UserError as error:
            self.last_error = str(error)
            return False
        self.write({"state": "paid", "method": "wallet"})
        self._commit()
        return True

    def _charge_token(self, today):
        """Charge the saved payment method off-session, through Odoo's payment flow."""
        order, token = self.sale_order_id, self.deadline_id.autorenew_token_id
        if order.transaction_ids.filtered(lambda tx: tx.state in ("pending", "authorized")):
            self.state = "pending"  # a payment under way is never doubled
            return
        tx = (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": token.provider_id.id,
                    "payment_method_id": token.payment_method_id.id,
                    "reference": self.env["payment.transaction"]._compute_reference(
                        token.provider_id.code, sale_order_ids=[Command.set(order.ids)]
                    ),
                    "amount": order.amount_total,
                    "currency_id": order.currency_id.id,
                    "partner_id": order.partner_id.id,
                    "token_id": token.id,
                    "operation": "offline",
                    "sale_order_ids": [Command.set(order.ids)],
                    # an invoice staff made meanwhile is paid by the charge (account_payment reconciles it)
                    "invoice_ids": [Command.set(self._open_invoices().ids)],
                }
            )
        )
        self.write({"transaction_id": tx.id, "method": "token", "state": "pending"})
        self._commit()  # the transaction exists before the provider hears of it
        tx._charge_with_token()
        self._settle(today)

    def _settle(self, today):
        """Follow the last transaction: done confirms the order (renewing), a failure starts dunning."""
        tx = self.transaction_id
        if tx.state in ("done", "authorized"):
            if not tx.is_post_processed:
                tx._post_process()  # confirms the order, which renews the deadline
            self.write({"state": "paid", "next_try_date": False, "final_date": False})
        elif tx.state in ("error", "cancel"):
            self._fail(today, tx.state, tx.state_message)
        self._commit()

    def _fail(self, today, tx_state, message):
        hard = is_hard_decline(tx_state, message)
        if not self.try_count:
            self._start_dunning(tx_state, message, hard)
        tries_allowed, days, grace, _final = self.dunning_workflow_id._dunning_policy(self.company_id)
        first = self.first_failure_date or today
        tries = self.try_count + 1
        vals = {
            "state": "past_due",
            "try_count": tries,
            "first_failure_date": first,
            "hard_decline": hard,
            "last_error": message or tx_state,
            "next_try_date": False,
        }
        # the first failure is not a retry: the retries follow it
        schedule = retry_days(tries_allowed, days, self.deadline_id.id)
        if not hard and tries <= len(schedule):
            vals["next_try_date"] = first + timedelta(days=schedule[tries - 1])
        else:
            vals["final_date"] = today + timedelta(days=grace)
        self.write(vals)
        self.deadline_id.message_post(
            body=self.env._(
                "Automatic payment failed (%(error)s).%(next)s",
                error=self.last_error,
                next=self.env._(" Next try on %(day)s.", day=format_date(self.env, vals["next_try_date"]))
                if vals["next_try_date"]
                else "",
            )
        )
        self.env.ref("subscription_lifecycle.mail_template_autorenew_failed").send_mail(self.id)

    def _start_dunning(self, tx_state, message, hard):
        """The first failure: emit its event and pick the dunning workflow that matches the deadline."""
        deadline, order = self.deadline_id, self.sale_order_id
        event = self.env["lifecycle.event"]._emit(
            "autorenew_failed",
            deadline,
            payload={
                "order": order.name,
                "amount": order.amount_total,
                "currency": order.currency_id.name,
                "message": message or tx_state,
                "hard_decline": hard,
            },
        )
        workflows = self.env["lifecycle.workflow"].search([("event_type", "=", "autorenew_failed")])
        self.dunning_workflow_id = workflows.filtered(
            lambda workflow: workflow._accepts(event) and workflow._filter_segment(deadline)
        )[:1]

    def _follow_up(self, today):
        """A pending payment that settled, a retry due, or the final actions once retries ran out."""
        if self._is_paid():  # meanwhile: the customer's pay link, a late notification
            self.write({"state": "paid", "next_try_date": False, "final_date": False})
            return
        if self.state == "pending":
            self._settle(today)
        elif self.final_date and self.final_date <= today:
            self._final_actions()
        elif self.next_try_date and self.next_try_date <= today and self.deadline_id.autorenew_token_id:
            self._charge_token(today)

    def _open_invoices(self):
        return self.sale_order_id.invoice_ids.filtered(
            lambda move: move.state == "posted" and move.payment_state in ("not_paid", "partial")
        )

    def _is_paid(self):
        """Confirmed, and nothing of it left to pay (staff may confirm and invoice an unpaid renewal)."""
        order = self.sale_order_id
        return order.state == "sale" and not self._open_invoices()

    def _retry_now(self):
        """A new payment method was saved: try the past-due renewals of its customer at once."""
        # a hard decline or retries that ran out too: the new method was never tried
        for autorenewal in self.filtered(lambda a: a.state == "past_due"):
            autorenewal._charge_token(autorenewal.deadline_id._lifecycle_today())

    def _final_actions(self):
        """Run once: the record leaves ``past_due``, so it is never claimed again.

        Only invoices with nothing paid on them are cancelled or written off in full; a partly paid
        one is left to the team, whom the to-do tells in every case.
        """
        deadline, order = self.deadline_id, self.sale_order_id
        final_action = self.dunning_workflow_id._dunning_policy(self.company_id)[3]
        self.write({"state": "ended", "next_try_date": False})
        if final_action in ("cancel", "write_off"):
            invoices = self._open_invoices().filtered(lambda move: move.payment_state == "not_paid")
            if final_action == "write_off":
                invoices._lifecycle_write_off(
                    self.env._("Bad debt: automatic renewal of %(deadline)s unpaid", deadline=deadline.display_name)
                )
            else:
                invoices.button_draft()
                invoices.button_cancel()
            if order.state in ("draft", "sent"):
                order._action_cancel()
            if deadline.state in ("active", "expired"):
                deadline.action_cancel()
        deadline.activity_schedule(
            "mail.mail_activity_data_todo",
            user_id=deadline.user_id.id or self.env.user.id,
            summary=self.env._("Automatic renewal unpaid: dunning ended"),
            note=self.env._(
                "%(tries)s failed payments (last: %(error)s).", tries=self.try_count, error=self.last_error
            ),
        )
