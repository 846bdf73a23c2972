"""When a customer invoice is overdue enough to say so: no ORM, no database."""

DEFAULT_THRESHOLDS = (1, 7, 30)


def parse_thresholds(text):
    """``"1, 7,30"`` -> ``(1, 7, 30)``, smallest first.

    Raises ValueError on anything but distinct whole numbers of days from 1
    to 3650: an invoice is overdue the day after its due date at the earliest.
    """
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise ValueError("no threshold is given")
    thresholds = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= 3650:
            raise ValueError(f"{part!r} is not a number of days from 1 to 3650")
        thresholds.append(int(part))
    if len(set(thresholds)) != len(thresholds):
        raise ValueError("a threshold appears twice")
    return tuple(sorted(thresholds))
