from datetime import date, datetime

from lib.cockpit import Periods, Window, rate, trend, utc_midnight


def test_the_dashboard_periods_on_a_given_day():
    periods = Periods(date(2027, 3, 31))
    assert periods.ahead == Window(date(2027, 3, 31), date(2027, 4, 29))
    assert periods.recent == Window(date(2027, 3, 2), date(2027, 3, 31))
    assert periods.behind == Window(date(2027, 3, 1), date(2027, 3, 30))
    assert periods.upcoming == Window(date(2027, 3, 31), date(2027, 4, 7))


def test_each_period_is_compared_with_the_same_number_of_days_just_before():
    window = Periods(date(2027, 3, 31), "Europe/Brussels").ahead
    assert window.before() == Window(date(2027, 3, 1), date(2027, 3, 30), "Europe/Brussels")
    assert window.before().before() == Window(date(2027, 1, 30), date(2027, 2, 28), "Europe/Brussels")


def test_a_window_starts_and_ends_at_the_users_midnight():
    window = Window(date(2027, 3, 1), date(2027, 3, 30), "Europe/Brussels")
    # winter time on March 1st, summer time from March 28th
    assert window.instants() == (datetime(2027, 2, 28, 23, 0), datetime(2027, 3, 30, 22, 0))
    assert utc_midnight(date(2027, 3, 1), None) == datetime(2027, 3, 1)
    assert utc_midnight(date(2027, 3, 1), "America/Los_Angeles") == datetime(2027, 3, 1, 8, 0)


def test_a_trend_says_how_much_up_or_down_in_percent():
    assert trend(12, 10) == {"previous": 10, "delta": 2, "percent": 20}
    assert trend(5, 10) == {"previous": 10, "delta": -5, "percent": -50}
    assert trend(7.5, 7.5)["percent"] == 0


def test_no_percentage_against_nothing():
    assert trend(3, 0) == {"previous": 0, "delta": 3, "percent": None}
    assert trend(3, None) is None


def test_a_rate_is_a_percentage_with_one_decimal_or_nothing_on_an_empty_base():
    assert rate(2, 3) == 66.7
    assert rate(0, 4) == 0.0
    assert rate(0, 0) is None
