"""Deterministic samples of customers: pilots and A/B variants, no ORM.

A customer's place is a hash of a salt (what is sampled: a workflow's pilot,
a step's variants) and the customer's id, so it is the same at every run and
in every worker, independent from the others' and from the order events come
in. SHA-256 rather than Python's ``hash`` which changes per process.
"""

import hashlib

# Buckets per 100 %: a percentage with two decimals has its exact share.
BUCKETS = 10_000


def bucket(salt, key):
    """The bucket (0 to BUCKETS - 1) of ``key`` for ``salt``, the same everywhere and every time."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_sample(salt, key, percent):
    """Whether ``key`` falls in the ``percent`` % sample of ``salt``; a larger sample keeps the smaller one's keys."""
    return bucket(salt, key) < round(percent * BUCKETS / 100)


def pilot_member(workflow_id, partner_id, percent):
    """Whether a customer is in the pilot sample of ``percent`` % of a workflow."""
    return in_sample(f"pilot:{workflow_id}", partner_id, percent)


def variant(step_id, partner_id, split_b):
    """``"a"`` or ``"b"``: the variant of an email step a customer gets, ``split_b`` % of them getting ``"b"``."""
    return "b" if in_sample(f"variant:{step_id}", partner_id, split_b) else "a"


# Below this many sends per variant, a comparison says there is not enough data.
MIN_SENDS_PER_VARIANT = 100


def compare_variants(sent_a, renewed_a, sent_b, renewed_b, minimum=MIN_SENDS_PER_VARIANT):
    """``(rate_a, rate_b, leader)``: each variant's renewal rate in % (None unsent), and which leads.

    ``leader`` is ``"a"``, ``"b"`` or ``"tie"``, or None while either variant
    has fewer than ``minimum`` sends: nobody crowns a winner on 12 emails.
    """
    rate_a = 100.0 * renewed_a / sent_a if sent_a else None
    rate_b = 100.0 * renewed_b / sent_b if sent_b else None
    if min(sent_a, sent_b) < minimum:
        return rate_a, rate_b, None
    return rate_a, rate_b, "a" if rate_a > rate_b else "b" if rate_b > rate_a else "tie"
