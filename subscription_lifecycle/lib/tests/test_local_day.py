from datetime import date, datetime

from lib.local_day import dates_in_use, local_date, timezone


def test_the_same_instant_is_a_different_day_around_the_world():
    instant = datetime(2027, 3, 31, 3, 0)
    assert local_date(instant, "America/Los_Angeles") == date(2027, 3, 30)
    assert local_date(instant, "Europe/Brussels") == date(2027, 3, 31)
    assert local_date(instant, "Pacific/Kiritimati") == date(2027, 3, 31)
    assert local_date(datetime(2027, 3, 30, 13, 30), "Australia/Sydney") == date(2027, 3, 31)


def test_daylight_saving_time_moves_midnight():
    assert local_date(datetime(2027, 1, 15, 7, 30), "America/Los_Angeles") == date(2027, 1, 14)
    assert local_date(datetime(2027, 7, 15, 7, 30), "America/Los_Angeles") == date(2027, 7, 15)


def test_the_first_known_time_zone_counts_else_utc():
    instant = datetime(2027, 3, 31, 3, 0)
    assert local_date(instant, False, "America/Los_Angeles") == date(2027, 3, 30)
    assert local_date(instant, "Mars/Olympus_Mons", "America/Los_Angeles") == date(2027, 3, 30)
    assert local_date(instant, None, "") == date(2027, 3, 31)
    assert local_date(instant) == date(2027, 3, 31)
    assert timezone(None, "Nowhere/Town").zone == "UTC"


def test_every_local_date_lies_in_the_dates_in_use():
    for instant in (datetime(2027, 3, 31, 0, 0), datetime(2027, 3, 31, 11, 59), datetime(2027, 3, 31, 23, 59)):
        earliest, latest = dates_in_use(instant)
        for name in ("Etc/GMT+12", "Pacific/Pago_Pago", "UTC", "Asia/Kolkata", "Pacific/Kiritimati"):
            assert earliest <= local_date(instant, name) <= latest, f"{instant} in {name}"
    assert dates_in_use(datetime(2027, 3, 31, 12, 0)) == (date(2027, 3, 31), date(2027, 4, 1))
    assert dates_in_use(datetime(2027, 3, 31, 9, 0)) == (date(2027, 3, 30), date(2027, 3, 31))
