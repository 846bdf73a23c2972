from odoo import models


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

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
