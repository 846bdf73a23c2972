from datetime import date

from odoo.tests import BaseCase, tagged

from ..lib.duration import add_duration, renewal_start


@tagged("post_install", "-at_install")
class TestDuration(BaseCase):
    def test_days_and_weeks_are_plain_arithmetic(self):
        self.assertEqual(add_duration(date(2026, 12, 30), 5, "day"), date(2027, 1, 4))
        self.assertEqual(add_duration(date(2028, 2, 28), 1, "day"), date(2028, 2, 29))
        self.assertEqual(add_duration(date(2026, 12, 28), 2, "week"), date(2027, 1, 11))
        self.assertEqual(add_duration(date(2026, 1, 1), 0, "week"), date(2026, 1, 1))

    def test_month_end_anchor_is_kept_across_a_year(self):
        expiry, anchor, seen = date(2027, 1, 31), 31, []
        for _month in range(12):
            expiry = add_duration(expiry, 1, "month", anchor)
            seen.append(expiry)
        self.assertEqual(
            seen,
            [
                date(2027, 2, 28),
                date(2027, 3, 31),
                date(2027, 4, 30),
                date(2027, 5, 31),
                date(2027, 6, 30),
                date(2027, 7, 31),
                date(2027, 8, 31),
                date(2027, 9, 30),
                date(2027, 10, 31),
                date(2027, 11, 30),
                date(2027, 12, 31),
                date(2028, 1, 31),
            ],
        )

    def test_leap_years(self):
        self.assertEqual(add_duration(date(2028, 1, 31), 1, "month"), date(2028, 2, 29))
        self.assertEqual(add_duration(date(2028, 2, 29), 1, "year"), date(2029, 2, 28))
        self.assertEqual(add_duration(date(2028, 2, 29), 4, "year"), date(2032, 2, 29))
        # back on the 29th once February has one again
        self.assertEqual(add_duration(date(2029, 2, 28), 3, "year", anchor_day=29), date(2032, 2, 29))
        self.assertEqual(add_duration(date(2100, 1, 29), 1, "month"), date(2100, 2, 28))  # 2100 is no leap year

    def test_days_29_and_30(self):
        self.assertEqual(add_duration(date(2027, 1, 29), 1, "month"), date(2027, 2, 28))
        self.assertEqual(add_duration(date(2027, 2, 28), 1, "month", anchor_day=29), date(2027, 3, 29))
        self.assertEqual(add_duration(date(2027, 1, 30), 1, "month"), date(2027, 2, 28))
        self.assertEqual(add_duration(date(2027, 2, 28), 1, "month", anchor_day=30), date(2027, 3, 30))
        self.assertEqual(add_duration(date(2027, 5, 31), 1, "month"), date(2027, 6, 30))

    def test_months_cross_year_boundaries(self):
        self.assertEqual(add_duration(date(2026, 11, 15), 3, "month"), date(2027, 2, 15))
        self.assertEqual(add_duration(date(2026, 12, 31), 14, "month"), date(2028, 2, 29))
        self.assertEqual(add_duration(date(2026, 3, 31), 2, "year"), date(2028, 3, 31))

    def test_bad_arguments_are_refused(self):
        with self.assertRaises(ValueError):
            add_duration(date(2026, 1, 1), 1, "fortnight")
        with self.assertRaises(ValueError):
            add_duration(date(2026, 1, 1), -1, "day")
        with self.assertRaises(ValueError):
            add_duration(date(2026, 1, 1), 1, "month", anchor_day=32)

    def test_renewal_start(self):
        today = date(2026, 11, 21)
        self.assertEqual(renewal_start(date(2026, 12, 1), today, "today"), date(2026, 12, 1))
        self.assertEqual(renewal_start(today, today, "today"), today)
        self.assertEqual(renewal_start(date(2026, 11, 1), today, "today"), today)
        self.assertEqual(renewal_start(date(2026, 11, 1), today, "expiry"), date(2026, 11, 1))
        with self.assertRaises(ValueError):
            renewal_start(today, today, "tomorrow")
