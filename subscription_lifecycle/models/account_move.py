from odoo import models
from odoo.exceptions import UserError


class AccountMove(models.Model):
    _inherit = "account.move"

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
