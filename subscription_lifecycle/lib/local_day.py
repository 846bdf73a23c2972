"""Which calendar day it is for a customer: no ORM, no database.

Deadlines expire, reminders fall due and days are counted on the customer's
own calendar: an instant (a naive UTC datetime, as Odoo stores them) is read
in the first known time zone of the customer, their company, else UTC.
"""

from datetime import date, datetime, timedelta

import pytz

# The time zones furthest behind and ahead of UTC (Baker Island, Kiribati):
# at any instant every calendar date in use lies between these two.
EARLIEST_OFFSET = timedelta(hours=-12)
LATEST_OFFSET = timedelta(hours=14)


def timezone(*names):
    """The first of ``names`` that is a known time zone, else UTC."""
    for name in names:
        if not name:
            continue
        try:
            return pytz.timezone(name)
        except pytz.UnknownTimeZoneError:
            continue
    return pytz.utc


def local_date(instant: datetime, *tz_names) -> date:
    """The date at ``instant`` (naive, UTC) in the first known time zone of ``tz_names``."""
    return pytz.utc.localize(instant).astimezone(timezone(*tz_names)).date()


def dates_in_use(instant: datetime) -> tuple[date, date]:
    """The earliest and the latest date some time zone is on at ``instant`` (naive, UTC).

    A database query for "today" in every customer's time zone reads this
    range, then keeps each row whose own local date matches.
    """
    return (instant + EARLIEST_OFFSET).date(), (instant + LATEST_OFFSET).date()
