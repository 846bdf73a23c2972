from odoo import fields, models
from odoo.tools import format_amount

# The operations that bring the customer's money in: not card checks, not refunds.
INCOMING_OPERATIONS = ("online_redirect", "online_direct", "online_token", "offline")


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    lifecycle_wallet_id = fields.Many2one(
        "lifecycle.wallet",
        string="Wallet",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="The wallet this top-up, or this capture or refund of a top-up, moves money of.",
    )

    def _create_child_transaction(self, amount, is_refund=False, **custom_create_values):
        # Partial captures, voids and refunds of a top-up, whether asked from
        # Odoo or made at the provider (Stripe's charge.refunded), belong to
        # its wallet too.
        if self.lifecycle_wallet_id:
            custom_create_values.setdefault("lifecycle_wallet_id", self.lifecycle_wallet_id.id)
        return super()._create_child_transaction(amount, is_refund=is_refund, **custom_create_values)

    def _post_process(self):
        """Move the wallet money of done payments and refunds, once each whatever the notification timing.

        ``super`` (``account_payment``) has booked the customer payment of each
        done transaction by then: the ledger line links to its entry.

        An incoming payment credits what was captured, when it was: one
        captured in parts credits each captured part, and nothing more when the
        rest is voided (see ``_lifecycle_deposit``). A refund of a top-up takes
        the money out when it is done, and only then.
        """
        result = super()._post_process()
        for tx in self.filtered(lambda tx: tx.state == "done"):
            if tx.operation == "refund":
                if tx.lifecycle_wallet_id and tx._lifecycle_is_new_movement(tx.lifecycle_wallet_id):
                    tx._lifecycle_withdraw_refund()
            elif tx.operation in INCOMING_OPERATIONS and not tx._lifecycle_captured_in_parts():
                tx._lifecycle_deposit()
        return result

    def _lifecycle_is_new_movement(self, wallet):
        """Whether this transaction may still move ``wallet``'s money: same currency, not in its ledger yet."""
        self.ensure_one()
        ledger = self.env["lifecycle.wallet.transaction"].sudo()
        return self.currency_id == wallet.currency_id and not ledger.search_count(
            [("payment_transaction_id", "=", self.id)], limit=1
        )

    def _lifecycle_deposit(self):
        """Credit a done incoming payment to the wallet it belongs to, if any.

        A top-up credits its wallet. A payment of an order that was paid from
        a wallet meanwhile (the customer was at their bank when they paid with
        their balance) is a second payment of the order: the order is
        confirmed once, and the money goes to the wallet that paid it.
        """
        self.ensure_one()
        wallet, order = self.lifecycle_wallet_id, self.env["sale.order"]
        if not wallet:
            # partial captures carry no order: their source transaction does
            paid = (self.sale_order_ids or self.source_transaction_id.sale_order_ids)._lifecycle_wallet_paid()
            if not paid:
                return
            order, wallet, _amount = paid[0]
        if not self._lifecycle_is_new_movement(wallet):
            return
        reason = self.reference
        if order:
            reason = self.env._(
                "%(reference)s: %(order)s was already paid from the balance", reference=reason, order=order.name
            )
        # the customer payment Odoo's account_payment booked for this transaction (see _post_process)
        wallet._post(
            "deposit", self.amount, payment_transaction_id=self.id, move_id=self.payment_id.move_id.id, reason=reason
        )
        if order:
            order.message_post(
                body=self.env._(
                    "The payment %(reference)s of %(amount)s came in after this order was paid from the wallet "
                    "balance: it was added to the customer's wallet balance.",
                    reference=self.reference,
                    amount=format_amount(self.env, self.amount, wallet.currency_id),
                )
            )

    def _lifecycle_captured_in_parts(self):
        """Whether child transactions captured or voided this one (they credit what they capture)."""
        self.ensure_one()
        return any(
            child.state in ("done", "cancel") and child.operation == self.operation
            for child in self.child_transaction_ids
        )

    def _lifecycle_withdraw_refund(self):
        """Take a done refund out of the wallet of the top-up it refunds.

        A refund made at the provider can exceed what is left of the top-up:
        the wallet gives what it holds (it never goes negative) and the
        customer's record says what was already spent.
        """
        self.ensure_one()
        wallet = self.lifecycle_wallet_id
        currency = wallet.currency_id
        refunded = -self.amount  # refund transactions have negative amounts
        # the balance under the wallet's lock: a debit made meanwhile is counted
        taken = min(refunded, wallet._lock_balance())
        if currency.compare_amounts(taken, refunded) < 0:
            wallet.partner_id.message_post(
                body=self.env._(
                    "The refund %(reference)s paid back %(refunded)s, but the wallet held only %(taken)s: "
                    "the rest had already been spent.",
                    reference=self.reference,
                    refunded=format_amount(self.env, refunded, currency),
                    taken=format_amount(self.env, taken, currency),
                )
            )
        if not currency.is_zero(taken):
            move = self.payment_id.move_id
            wallet._post(
                "withdrawal",
                -taken,
                payment_transaction_id=self.id,
                move_id=move.id,
                reason=self.env._("Refund of %(reference)s", reference=self.source_transaction_id.reference),
            )
            if move:
                wallet._reconcile_with_credits(move)

    def _refund(self, amount_to_refund=None):
        """Refunding a top-up is refused, before anything is sent, beyond what is left of it.

        The wallet keeps what it has spent; the money leaves it when the refund
        is done (see ``_post_process``).
        """
        wallet = self.lifecycle_wallet_id
        if wallet and self.operation != "refund":
            wallet._check_covers(amount_to_refund or self.amount, wallet._lock_balance() - wallet._refunding())
        return super()._refund(amount_to_refund=amount_to_refund)

    def _set_done(self, *, state_message=None, extra_allowed_states=()):
        # _set_done returns only the transactions whose state really changed,
        # so a provider notifying twice emits one event.
        done = super()._set_done(state_message=state_message, extra_allowed_states=extra_allowed_states)
        self._lifecycle_emit("payment_received", done.filtered(lambda tx: tx.operation in INCOMING_OPERATIONS))
        self._lifecycle_emit("payment_refunded", done.filtered(lambda tx: tx.operation == "refund"))
        return done

    def _set_error(self, state_message, extra_allowed_states=()):
        failed = super()._set_error(state_message, extra_allowed_states=extra_allowed_states)
        self._lifecycle_emit("payment_failed", failed.filtered(lambda tx: tx.operation in INCOMING_OPERATIONS))
        return failed

    def _lifecycle_emit(self, event_type, transactions):
        self.env["lifecycle.event"]._emit_each(
            event_type,
            [
                (
                    tx.partner_id.commercial_partner_id,
                    {
                        "company_id": tx.company_id.id,
                        "payload": {
                            "reference": tx.reference,
                            # refunds have negative amounts: the event says how much
                            "amount": abs(tx.amount),
                            "currency": tx.currency_id.name,
                            "provider": tx.provider_id.code,
                            "message": tx.state_message or "",
                        },
                    },
                )
                for tx in transactions
            ],
        )
