"""When a customer invoice is overdue enough to say so: no ORM, no database."""

from .reminders import parse_days

DEFAULT_THRESHOLDS = (1, 7, 30)


def parse_thresholds(text):
    """``"1, 7,30"`` -> ``(1, 7, 30)``, smallest first: days after the due
    date, 1 to 3650 (an invoice is overdue the day after its due date at the
    earliest)."""
    return tuple(sorted(parse_days(text, 1, 3650)))
