"""Dunning: when to try a failed automatic payment again, and which failures never to retry."""

import hashlib

# What a provider says when the card or account can never be charged again as it is: retrying
# the same payment method only piles up declines (and card network fees). Matched in lower case
# on the transaction's state message. Everything else (insufficient funds, a network error, a
# bank that is down, "do not honor") may pass another day, as Stripe's smart retries assume.
HARD_DECLINE_MARKERS = (
    "lost",
    "stolen",
    "fraud",
    "pickup",
    "pick up",
    "revoked",
    "closed account",
    "account closed",
    "invalid account",
    "expired card",
    "card expired",
    "incorrect number",
    "not supported",
)


def is_hard_decline(state, message):
    """Whether a failed payment must not be tried again with the same payment method.

    ``state`` is the transaction's state: ``cancel`` is a refusal (the demo provider's
    "cancelled" status, a customer or bank that voids the payment), never a glitch. An
    ``error`` is hard when its message names a card that can never pay (see the markers).
    """
    if state == "cancel":
        return True
    text = (message or "").lower()
    return any(marker in text for marker in HARD_DECLINE_MARKERS)


def retry_days(tries, days, seed):
    """The days, counted from the first failure, of the ``tries`` retries spread over ``days`` days.

    Evenly spread, each moved by up to a quarter of the spacing either way (the jitter, so that
    a whole day's failures do not hit the provider again at the same moment), drawn from ``seed``
    (e.g. the deadline's id): the same seed always gives the same days. Strictly increasing, the
    first on day 1 at the earliest, the last on day ``days``.
    """
    if tries < 1 or days < tries:
        raise ValueError("at least one retry, and no more retries than days")
    step = days / tries
    result = []
    previous = 0
    for number in range(1, tries + 1):
        if number == tries:
            day = days
        else:
            draw = hashlib.sha256(f"{seed}:{number}".encode()).digest()[0] / 255  # 0..1
            day = round(step * number + (draw - 0.5) * step / 2)
        # room for the retries still to come, one day each at least
        day = min(max(day, previous + 1), days - (tries - number))
        result.append(day)
        previous = day
    return result
