"""The overview dashboard's calendar and arithmetic: no ORM, no database.

Every figure of the dashboard is read over a window of days on the user's
calendar and compared with the window of the same length just before it:
the 30 days ahead (today included) against the 30 days behind, or the last 30
days against the 30 before them.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytz

from .local_day import timezone

# The length of a dashboard period, in days.
PERIOD_DAYS = 30
# How far ahead the "Upcoming renewals" list looks, in days (today included).
UPCOMING_DAYS = 7


@dataclass(frozen=True)
class Window:
    """The days from ``first`` to ``last``, both included, on the calendar of the time zone ``tz``."""

    first: date
    last: date
    tz: str | None = None

    def before(self):
        """The window of the same length that ends the day before this one starts."""
        length = self.last - self.first + timedelta(days=1)
        return Window(self.first - length, self.first - timedelta(days=1), self.tz)

    def instants(self):
        """``(start, end)``: the naive UTC datetimes this window starts and ends at (the end excluded)."""
        return utc_midnight(self.first, self.tz), utc_midnight(self.last + timedelta(days=1), self.tz)


@dataclass(frozen=True)
class Periods:
    """The windows of the dashboard on ``today`` in the time zone ``tz``."""

    today: date
    tz: str | None = None

    def _window(self, first_offset, days):
        first = self.today + timedelta(days=first_offset)
        return Window(first, first + timedelta(days=days - 1), self.tz)

    @property
    def ahead(self):
        """The next ``PERIOD_DAYS`` days, today included: what falls due."""
        return self._window(0, PERIOD_DAYS)

    @property
    def recent(self):
        """The last ``PERIOD_DAYS`` days, today included: what was done."""
        return self._window(1 - PERIOD_DAYS, PERIOD_DAYS)

    @property
    def behind(self):
        """The last ``PERIOD_DAYS`` finished days, today excluded: what lapsed."""
        return self._window(-PERIOD_DAYS, PERIOD_DAYS)

    @property
    def upcoming(self):
        """The days the "Upcoming renewals" list shows: today and the next ``UPCOMING_DAYS``."""
        return self._window(0, UPCOMING_DAYS + 1)


def utc_midnight(day, tz_name):
    """The naive UTC datetime at which ``day`` begins in ``tz_name`` (UTC when unknown)."""
    local = timezone(tz_name).localize(datetime.combine(day, time.min))
    return local.astimezone(pytz.utc).replace(tzinfo=None)


def trend(current, previous):
    """How ``current`` compares with ``previous``: ``{"previous", "delta", "percent"}``.

    ``percent`` is the change in percent of ``previous``, rounded to a whole
    number, or None when there is nothing to compare with (``previous`` is
    None or zero).
    """
    if previous is None:
        return None
    delta = current - previous
    percent = round(delta * 100 / previous) if previous else None
    return {"previous": previous, "delta": delta, "percent": percent}


def rate(part, whole):
    """``part`` in percent of ``whole`` (one decimal), or None when ``whole`` is zero."""
    return round(part * 100 / whole, 1) if whole else None
