import base64

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib.xlsx import build_workbook


class LifecycleDeadlineReport(models.TransientModel):
    """Deadlines filtered by start and expiry dates, printed or exported."""

    _name = "lifecycle.deadline.report"
    _description = "Deadline report"

    expiry_from = fields.Date(string="Expiring from")
    expiry_to = fields.Date(string="Expiring until")
    start_from = fields.Date(string="Started from")
    start_to = fields.Date(string="Started until")
    state_filter = fields.Selection(
        [("open", "Active and expired"), ("all", "All but cancelled")],
        string="Deadlines",
        default="open",
        required=True,
    )
    xlsx_file = fields.Binary(readonly=True, attachment=False)
    xlsx_filename = fields.Char(readonly=True)

    @api.constrains("expiry_from", "expiry_to", "start_from", "start_to")
    def _check_ranges(self):
        for report in self:
            for low, high in ((report.expiry_from, report.expiry_to), (report.start_from, report.start_to)):
                if low and high and low > high:
                    raise ValidationError(self.env._("A date range ends before it starts."))

    def _get_deadlines(self):
        self.ensure_one()
        states = ("active", "expired") if self.state_filter == "open" else ("draft", "active", "expired", "closed")
        domain = [("state", "in", states)]
        for field, operator, value in (
            ("date_expiry", ">=", self.expiry_from),
            ("date_expiry", "<=", self.expiry_to),
            ("date_start", ">=", self.start_from),
            ("date_start", "<=", self.start_to),
        ):
            if value:
                domain.append((field, operator, value))
        deadlines = self.env["lifecycle.deadline"].search(domain)
        if not deadlines:
            raise UserError(self.env._("No deadline matches these dates."))
        return deadlines

    def action_print_pdf(self):
        return self.env.ref("subscription_lifecycle.action_report_lifecycle_deadline").report_action(
            self._get_deadlines()
        )

    def action_export_xlsx(self):
        deadlines = self._get_deadlines()
        _ = self.env._
        columns = [
            (_("Customer"), "text"),
            (_("Service"), "text"),
            (_("Quantity"), "number"),
            (_("Start"), "date"),
            (_("Expiry"), "date"),
            (_("Status"), "text"),
            (_("Salesperson"), "text"),
            (_("Amount"), "money"),
            (_("Currency"), "text"),
        ]
        states = dict(deadlines._fields["state"]._description_selection(self.env))
        rows = [
            [
                deadline.partner_id.display_name,
                deadline.product_id.display_name,
                deadline.quantity,
                deadline.date_start,
                deadline.date_expiry,
                states[deadline.state],
                deadline.user_id.name,
                deadline.amount,
                deadline.currency_id.name,
            ]
            for deadline in deadlines
        ]
        totals = [
            (_("Total %(currency)s", currency=currency.name), {7: amount})
            for currency, amount in deadlines._totals_by_currency()
        ]
        content = build_workbook(_("Deadlines"), columns, rows, totals)
        self.write({"xlsx_file": base64.b64encode(content), "xlsx_filename": _("deadlines.xlsx")})
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/xlsx_file/{self.xlsx_filename}?download=true",
            "target": "self",
        }
