import base64
import io
from datetime import date

import openpyxl

from odoo.tests import tagged

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestReport(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        usd, eur = cls.env.ref("base.USD"), cls.env.ref("base.EUR")
        (usd | eur).active = True
        # the demo's closed deadlines stay: the report's default "open" filter leaves them out
        cls.env["lifecycle.deadline"].search([("state", "in", ("draft", "active", "expired"))]).action_cancel()
        cls.march = cls._make(date(2027, 3, 31), 1200.0)
        cls.april = cls._make(date(2027, 4, 15), 300.0)
        cls.april_usd = cls._make(date(2027, 4, 20), 99.5, currency_id=usd.id)
        cls.june = cls._make(date(2027, 6, 30), 5000.0)

    @classmethod
    def _make(cls, expiry, amount, **vals):
        return cls.env["lifecycle.deadline"].create(
            {
                "partner_id": cls.customer.id,
                "product_id": cls.yearly.id,
                "amount": amount,
                "date_start": date(2026, 4, 1),
                "date_expiry": expiry,
                "state": "active",
                "currency_id": cls.env.ref("base.EUR").id,
                **vals,
            }
        )

    def _wizard(self, **vals):
        return self.env["lifecycle.deadline.report"].with_user(self.lc_user).create(vals)

    def test_wizard_filters_by_expiry_and_start_dates(self):
        wizard = self._wizard(expiry_from=date(2027, 4, 1), expiry_to=date(2027, 4, 30))
        self.assertEqual(wizard._get_deadlines(), self.april | self.april_usd)
        wizard = self._wizard(start_from=date(2026, 4, 1), start_to=date(2026, 4, 1), expiry_to=date(2027, 3, 31))
        self.assertEqual(wizard._get_deadlines(), self.march)

    def test_pdf_lists_the_filtered_deadlines_with_totals_per_currency(self):
        wizard = self._wizard(expiry_from=date(2027, 3, 1), expiry_to=date(2027, 4, 30))
        action = wizard.action_print_pdf()
        self.assertEqual(action["report_name"], "subscription_lifecycle.report_lifecycle_deadline")
        html, _kind = (
            self.env["ir.actions.report"]
            .with_user(self.lc_user)
            ._render_qweb_html("subscription_lifecycle.report_lifecycle_deadline", action["context"]["active_ids"])
        )
        html = html.decode()
        self.assertEqual(html.count("Maintenance contract"), 3)
        self.assertRegex(html, r"Total\s*USD")
        self.assertIn("1,500.00", html)
        self.assertIn("99.50", html)
        self.assertNotIn("5,000.00", html)

    def test_xlsx_export_has_rows_and_totals(self):
        wizard = self._wizard(expiry_from=date(2027, 3, 1), expiry_to=date(2027, 4, 30))
        action = wizard.action_export_xlsx()
        self.assertIn(f"/web/content/lifecycle.deadline.report/{wizard.id}/xlsx_file/", action["url"])
        sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(wizard.xlsx_file))).active
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual(rows[0][:2], ("Customer", "Service"))
        self.assertEqual(
            [row[4].date() for row in rows[1:4]], [date(2027, 3, 31), date(2027, 4, 15), date(2027, 4, 20)]
        )
        totals = {row[0]: row[7] for row in rows[4:] if row[0]}
        self.assertEqual(totals, {"Total EUR": 1500.0, "Total USD": 99.5})

    def test_bad_ranges_and_empty_results_are_explained(self):
        wizards = self.env["lifecycle.deadline.report"]
        count = wizards.search_count([])
        self.assertRefused(
            "ends before it starts", self._wizard, expiry_from=date(2027, 5, 1), expiry_to=date(2027, 4, 1)
        )
        self.assertEqual(wizards.search_count([]), count)
        self.assertRefused("No deadline matches", self._wizard(expiry_from=date(2030, 1, 1)).action_export_xlsx)
