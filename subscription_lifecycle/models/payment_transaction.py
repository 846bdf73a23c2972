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
        for tx in self.filtered(lambda tx: tx.state == "done" and tx.lifecycle_wallet_id):
            if not ledger.search_count([("payment_transaction_id", "=", tx.id)], limit=1):
                tx.lifecycle_wallet_id._post("deposit", tx.amount, payment_transaction_id=tx.id, reason=tx.reference)
        return result

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
