"""Date arithmetic for renewals: no ORM, no database.

Months and years keep the *anchor day*: a service that expires on the 31st
expires on the last day of every shorter month and goes back to the 31st as
soon as the month has one (Jan 31 -> Feb 28 -> Mar 31 -> Apr 30).
"""

import calendar
from datetime import date, timedelta

from babel.dates import format_timedelta

UNITS = ("day", "week", "month", "year")
# babel turns 14 days into "2 weeks" from a threshold on; deadlines count days
_DAYS_ONLY = 1_000_000


def add_duration(start: date, amount: int, unit: str, anchor_day: int | None = None) -> date:
    """Return ``start`` moved forward by ``amount`` ``unit``\\ s.

    ``anchor_day`` is the day of month the schedule is pinned to (default: the
    day of ``start``); it only matters for months and years.
    """
    if unit not in UNITS:
        raise ValueError(f"unknown duration unit {unit!r}")
    if amount < 0:
        raise ValueError("a duration cannot be negative")
    if unit == "day":
        return start + timedelta(days=amount)
    if unit == "week":
        return start + timedelta(weeks=amount)
    months = amount * 12 if unit == "year" else amount
    anchor = anchor_day or start.day
    if not 1 <= anchor <= 31:
        raise ValueError(f"anchor day {anchor} is not a day of a month")
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def anchor_day(start: date, expiry: date) -> int:
    """The day of month a deadline's renewals keep, read from its first period.

    It is the start date's day whenever the expiry falls on it, shortened to a
    shorter month or not: a monthly service sold on Jan 31 expires on Feb 28
    and renews to Mar 31. An expiry entered on another day (a contract from
    Apr 1 to Mar 31) keeps its own day.
    """
    if expiry.day == min(start.day, calendar.monthrange(expiry.year, expiry.month)[1]):
        return start.day
    return expiry.day


def renewal_start(expiry: date, today: date, late_base: str) -> date:
    """Where a renewal counts from.

    Renewed on or before its expiry, a service continues from its expiry.
    Renewed after it, it continues from today (``late_base == "today"``) or,
    when the company charges the lapsed period, from the old expiry
    (``late_base == "expiry"``).
    """
    if late_base not in ("today", "expiry"):
        raise ValueError(f"unknown late renewal base {late_base!r}")
    if expiry >= today or late_base == "expiry":
        return expiry
    return today


def relative_days(days: int, locale) -> str:
    """``days`` from today in words of ``locale`` (a babel Locale), with its plural
    forms and word order: "in 3 days", "vor 2 Tagen", "через 21 день", "hace 1 día"."""
    return format_timedelta(
        timedelta(days=days), granularity="day", threshold=_DAYS_ONLY, add_direction=True, locale=locale
    )
