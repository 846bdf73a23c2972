"""Which reminder a renewal counts for, and the figures of reminder analytics: no ORM.

A reminder belongs to one expiry of one deadline (its cycle). Its window opens
when it is sent and closes GRACE_DAYS after that expiry, the same end for
every rung of the cycle: a customer who clicked the 30-day reminder and renews
after the 14-day one was sent still counts for the 30-day one they clicked.

A renewal of that cycle counts for the last reminder *clicked* before it
among the reminders whose window holds it; failing any click, for the last
one *sent* before it; failing any, for none.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

# How long after the expiry a renewal still counts for the cycle's reminders.
GRACE_DAYS = 30


@dataclass(frozen=True)
class Reminder:
    """What attribution needs of a sent reminder: when sent, first clicked (or None), the expiry it announced."""

    key: object
    sent_at: datetime
    clicked_at: datetime | None
    date_expiry: object  # a date

    def window_end(self):
        return datetime.combine(self.date_expiry, datetime.min.time()) + timedelta(days=GRACE_DAYS + 1)

    def holds(self, renewed_at):
        return self.sent_at <= renewed_at < self.window_end()


def attribute(renewed_at, reminders):
    """The key of the reminder a renewal at ``renewed_at`` counts for, or None (see the module's rule)."""
    open_ = [reminder for reminder in reminders if reminder.holds(renewed_at)]
    clicked = [reminder for reminder in open_ if reminder.clicked_at and reminder.clicked_at <= renewed_at]
    if clicked:
        return max(clicked, key=lambda reminder: (reminder.clicked_at, reminder.sent_at)).key
    if open_:
        return max(open_, key=lambda reminder: reminder.sent_at).key
    return None


def median_days(days):
    """The median of ``days`` (from each reminder to its renewal, in days), one decimal; None without any."""
    if not days:
        return None
    return round(median(days), 1)
