"""When a renewal reminder is due: no ORM, no database."""

DEFAULT_LADDER = (30, 14, 3, 0)


def parse_days(text, low, high):
    """``"30, 14,3"`` -> ``[30, 14, 3]``: a list of days written in a setting.

    Raises ValueError on an empty list, on anything but whole numbers of days
    from ``low`` to ``high``, and on a number given twice.
    """
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise ValueError("no number of days is given")
    days = []
    for part in parts:
        if not part.isdigit() or not low <= int(part) <= high:
            raise ValueError(f"{part!r} is not a number of days from {low} to {high}")
        days.append(int(part))
    if len(set(days)) != len(days):
        raise ValueError("a number of days appears twice")
    return days


def parse_ladder(text):
    """``"30, 14,3,0"`` -> ``(30, 14, 3, 0)``, largest first: days before expiry, 0 to 365."""
    return tuple(sorted(parse_days(text, 0, 365), reverse=True))


def due_offset(days_left, ladder, sent):
    """The one reminder to send now, or None.

    ``days_left`` is the number of days until expiry, ``ladder`` the offsets
    in days before expiry, ``sent`` the offsets already sent for this expiry.
    Only the most relevant rung is due: the closest one to expiry that has
    been reached. Earlier rungs that were missed (the scheduler did not run)
    are stale and never sent, and nothing is due once a rung at or below it
    was sent.
    """
    if days_left < 0:
        return None
    reached = [offset for offset in ladder if days_left <= offset]
    if not reached:
        return None
    offset = min(reached)
    if any(done <= offset for done in sent):
        return None
    return offset


def next_offset(days_left, ladder, sent):
    """The next rung that can still fall due after today, or None.

    ``sent`` are the offsets sent for this expiry, today's included. A rung
    is still to come when it is closer to expiry than today (``days_left``)
    and than every rung already sent (the ladder never climbs back). Its date
    is the expiry minus the offset: the scheduler looks at nothing else
    until then.
    """
    floor = min(sent, default=days_left)
    later = [offset for offset in ladder if offset < days_left and offset < floor]
    return max(later, default=None)
