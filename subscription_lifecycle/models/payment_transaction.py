from odoo import fields, models


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    lifecycle_wallet_id = fields.Many2one(
        "lifecycle.wallet", string="Wallet top-up", readonly=True, index="btree_not_null", ondelete="restrict"
    )

    def _post_process(self):
        """A done top-up credits its wallet, once whatever the notification timing."""
        result = super()._post_process()
        ledger = self.env["lifecycle.wallet.transaction"].sudo()
        top_ups = self.filtered(
            lambda tx: (
                tx.state == "done"
                and tx.lifecycle_wallet_id
                and tx.operation not in ("validation", "refund")
                and tx.currency_id == tx.lifecycle_wallet_id.currency_id
            )
        )
        for tx in top_ups:
            if not ledger.search_count([("payment_transaction_id", "=", tx.id)], limit=1):
                tx.lifecycle_wallet_id._post("deposit", tx.amount, payment_transaction_id=tx.id, reason=tx.reference)
        return result

    def _refund(self, amount_to_refund=None):
        """Refunding a top-up takes the money back out of the wallet first.

        A top-up whose balance was already spent cannot be refunded: the
        wallet would go negative, or the customer be paid twice.
        """
        wallet = self.lifecycle_wallet_id
        if wallet and self.operation != "refund":
            wallet._post(
                "withdrawal",
                -(amount_to_refund or self.amount),
                reason=self.env._("Refund of %(reference)s", reference=self.reference),
            )
        return super()._refund(amount_to_refund=amount_to_refund)

    def _set_done(self, *, state_message=None, extra_allowed_states=()):
        # _set_done returns only the transactions whose state really changed,
        # so a provider notifying twice emits one event.
        done = super()._set_done(state_message=state_message, extra_allowed_states=extra_allowed_states)
        self._lifecycle_emit("payment_received", done)
        return done

    def _set_error(self, state_message, extra_allowed_states=()):
        failed = super()._set_error(state_message, extra_allowed_states=extra_allowed_states)
        self._lifecycle_emit("payment_failed", failed)
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
                            "amount": tx.amount,
                            "currency": tx.currency_id.name,
                            "provider": tx.provider_id.code,
                            "message": tx.state_message or "",
                        },
                    },
                )
                for tx in transactions
            ],
        )
