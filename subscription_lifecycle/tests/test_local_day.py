from datetime import date, datetime

from odoo.tests import BaseCase, tagged

from ..lib.local_day import dates_in_use, local_date, timezone


@tagged("post_install", "-at_install")
class TestTimeLocalDay(BaseCase):
    def test_the_same_instant_is_a_different_day_around_the_world(self):
        instant = datetime(2027, 3, 31, 3, 0)  # 03:00 UTC
        self.assertEqual(local_date(instant, "America/Los_Angeles"), date(2027, 3, 30))
        self.assertEqual(local_date(instant, "Europe/Brussels"), date(2027, 3, 31))
        self.assertEqual(local_date(instant, "Pacific/Kiritimati"), date(2027, 3, 31))
        self.assertEqual(local_date(datetime(2027, 3, 30, 13, 30), "Australia/Sydney"), date(2027, 3, 31))

    def test_daylight_saving_time_moves_midnight(self):
        # Los Angeles is UTC-8 in winter and UTC-7 in summer
        self.assertEqual(local_date(datetime(2027, 1, 15, 7, 30), "America/Los_Angeles"), date(2027, 1, 14))
        self.assertEqual(local_date(datetime(2027, 7, 15, 7, 30), "America/Los_Angeles"), date(2027, 7, 15))

    def test_the_first_known_time_zone_counts_else_utc(self):
        instant = datetime(2027, 3, 31, 3, 0)
        self.assertEqual(local_date(instant, False, "America/Los_Angeles"), date(2027, 3, 30))
        self.assertEqual(local_date(instant, "Mars/Olympus_Mons", "America/Los_Angeles"), date(2027, 3, 30))
        self.assertEqual(local_date(instant, None, ""), date(2027, 3, 31))
        self.assertEqual(local_date(instant), date(2027, 3, 31))
        self.assertEqual(timezone(None, "Nowhere/Town").zone, "UTC")

    def test_every_local_date_lies_in_the_dates_in_use(self):
        for instant in (datetime(2027, 3, 31, 0, 0), datetime(2027, 3, 31, 11, 59), datetime(2027, 3, 31, 23, 59)):
            earliest, latest = dates_in_use(instant)
            for name in ("Etc/GMT+12", "Pacific/Pago_Pago", "UTC", "Asia/Kolkata", "Pacific/Kiritimati"):
                with self.subTest(instant=instant, tz=name):
                    self.assertTrue(earliest <= local_date(instant, name) <= latest)
        self.assertEqual(dates_in_use(datetime(2027, 3, 31, 12, 0)), (date(2027, 3, 31), date(2027, 4, 1)))
        self.assertEqual(dates_in_use(datetime(2027, 3, 31, 9, 0)), (date(2027, 3, 30), date(2027, 3, 31)))
