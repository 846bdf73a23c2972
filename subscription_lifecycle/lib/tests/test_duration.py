from datetime import date

import pytest
from babel import Locale
from lib.duration import add_duration, anchor_day, relative_days, renewal_start


def test_days_and_weeks_are_plain_arithmetic():
    assert add_duration(date(2026, 12, 30), 5, "day") == date(2027, 1, 4)
    assert add_duration(date(2028, 2, 28), 1, "day") == date(2028, 2, 29)
    assert add_duration(date(2026, 12, 28), 2, "week") == date(2027, 1, 11)
    assert add_duration(date(2026, 1, 1), 0, "week") == date(2026, 1, 1)


def test_month_end_anchor_is_kept_across_a_year():
    expiry, anchor, seen = (date(2027, 1, 31), 31, [])
    for _month in range(12):
        expiry = add_duration(expiry, 1, "month", anchor)
        seen.append(expiry)
    assert seen == [
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
    ]


def test_leap_years():
    assert add_duration(date(2028, 1, 31), 1, "month") == date(2028, 2, 29)
    assert add_duration(date(2028, 2, 29), 1, "year") == date(2029, 2, 28)
    assert add_duration(date(2028, 2, 29), 4, "year") == date(2032, 2, 29)
    assert add_duration(date(2029, 2, 28), 3, "year", anchor_day=29) == date(2032, 2, 29)
    assert add_duration(date(2100, 1, 29), 1, "month") == date(2100, 2, 28)


def test_days_29_and_30():
    assert add_duration(date(2027, 1, 29), 1, "month") == date(2027, 2, 28)
    assert add_duration(date(2027, 2, 28), 1, "month", anchor_day=29) == date(2027, 3, 29)
    assert add_duration(date(2027, 1, 30), 1, "month") == date(2027, 2, 28)
    assert add_duration(date(2027, 2, 28), 1, "month", anchor_day=30) == date(2027, 3, 30)
    assert add_duration(date(2027, 5, 31), 1, "month") == date(2027, 6, 30)


def test_months_cross_year_boundaries():
    assert add_duration(date(2026, 11, 15), 3, "month") == date(2027, 2, 15)
    assert add_duration(date(2026, 12, 31), 14, "month") == date(2028, 2, 29)
    assert add_duration(date(2026, 3, 31), 2, "year") == date(2028, 3, 31)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        add_duration(date(2026, 1, 1), 1, "fortnight")
    with pytest.raises(ValueError):
        add_duration(date(2026, 1, 1), -1, "day")
    with pytest.raises(ValueError):
        add_duration(date(2026, 1, 1), 1, "month", anchor_day=32)


def test_renewal_start():
    today = date(2026, 11, 21)
    assert renewal_start(date(2026, 12, 1), today, "today") == date(2026, 12, 1)
    assert renewal_start(today, today, "today") == today
    assert renewal_start(date(2026, 11, 1), today, "today") == today
    assert renewal_start(date(2026, 11, 1), today, "expiry") == date(2026, 11, 1)
    with pytest.raises(ValueError):
        renewal_start(today, today, "tomorrow")


def test_the_start_day_is_kept_when_the_expiry_falls_on_it():
    assert anchor_day(date(2027, 1, 31), date(2027, 2, 28)) == 31
    assert anchor_day(date(2027, 1, 30), date(2027, 2, 28)) == 30
    assert anchor_day(date(2028, 2, 29), date(2029, 2, 28)) == 29
    assert anchor_day(date(2027, 1, 15), date(2027, 2, 15)) == 15


def test_an_expiry_on_another_day_keeps_its_own():
    assert anchor_day(date(2026, 4, 1), date(2027, 3, 31)) == 31
    assert anchor_day(date(2026, 11, 1), date(2026, 11, 30)) == 30
    assert anchor_day(date(2027, 2, 28), date(2027, 3, 31)) == 31


@pytest.mark.parametrize(
    ("lang", "days", "words"),
    [
        ("en_US", 1, "in 1 day"),
        ("en_US", 28, "in 28 days"),  # days, never "in 4 weeks"
        ("en_US", -45, "45 days ago"),  # nor "1 month ago"
        ("de_DE", 3, "in 3 Tagen"),
        ("de_DE", -2, "vor 2 Tagen"),
        ("ru_RU", 1, "через 1 день"),
        ("ru_RU", 3, "через 3 дня"),
        ("ru_RU", 21, "через 21 день"),
        ("ru_RU", -5, "5 дней назад"),
        ("es_ES", -1, "hace 1 día"),
        ("fr_FR", 14, "dans 14 jours"),
    ],
)
def test_days_from_today_read_right_in_each_language_with_its_plural_forms(lang, days, words):
    assert relative_days(days, Locale.parse(lang)) == words
