from datetime import date, datetime, timedelta

from lib.reminder_attribution import GRACE_DAYS, Reminder, attribute, median_days

EXPIRY = date(2027, 3, 31)
DAY_30 = datetime(2027, 3, 1, 8, 0)
DAY_14 = datetime(2027, 3, 17, 8, 0)


def test_a_renewal_after_a_click_counts_for_the_clicked_reminder():
    reminders = [Reminder(30, DAY_30, datetime(2027, 3, 2, 9), EXPIRY)]
    assert attribute(datetime(2027, 3, 2, 9, 5), reminders) == 30


def test_a_renewal_after_a_send_without_click_counts_for_the_last_sent():
    reminders = [Reminder(30, DAY_30, None, EXPIRY), Reminder(14, DAY_14, None, EXPIRY)]
    assert attribute(datetime(2027, 3, 20), reminders) == 14
    assert attribute(datetime(2027, 3, 10), reminders) == 30


def test_a_renewal_without_any_reminder_counts_for_none():
    assert attribute(datetime(2027, 3, 20), []) is None
    # the reminder was sent after the renewal
    assert attribute(datetime(2027, 2, 20), [Reminder(30, DAY_30, None, EXPIRY)]) is None


def test_two_reminders_the_click_on_the_first_wins_over_the_later_send():
    reminders = [Reminder(30, DAY_30, datetime(2027, 3, 3), EXPIRY), Reminder(14, DAY_14, None, EXPIRY)]
    assert attribute(datetime(2027, 3, 20), reminders) == 30


def test_two_clicked_reminders_the_last_click_wins():
    reminders = [
        Reminder(30, DAY_30, datetime(2027, 3, 18), EXPIRY),
        Reminder(14, DAY_14, datetime(2027, 3, 17, 10), EXPIRY),
    ]
    assert attribute(datetime(2027, 3, 20), reminders) == 30


def test_a_click_after_the_renewal_does_not_count():
    reminders = [Reminder(30, DAY_30, datetime(2027, 3, 25), EXPIRY), Reminder(14, DAY_14, None, EXPIRY)]
    assert attribute(datetime(2027, 3, 20), reminders) == 14


def test_a_renewal_outside_the_window_counts_for_none():
    reminders = [Reminder(30, DAY_30, datetime(2027, 3, 2), EXPIRY)]
    last_day = datetime.combine(EXPIRY, datetime.max.time()) + timedelta(days=GRACE_DAYS)
    assert attribute(last_day, reminders) == 30
    assert attribute(last_day + timedelta(seconds=1), reminders) is None


def test_the_median_days_from_reminder_to_renewal():
    assert median_days([1.0, 2.0, 10.0]) == 2.0
    assert median_days([0.5, 2.0]) == 1.2
    assert median_days([]) is None
