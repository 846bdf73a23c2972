"""The catalogue of lifecycle events: what happened, and what it is about."""

# (technical name, label, model of the record the event is about)
EVENT_CATALOG = (
    ("customer_registered", "Customer registered", "res.partner"),
    ("customer_archived", "Customer archived", "res.partner"),
    ("deadline_created", "Deadline created", "lifecycle.deadline"),
    ("deadline_activated", "Plan subscribed (deadline activated)", "lifecycle.deadline"),
    ("deadline_renewed", "Deadline renewed", "lifecycle.deadline"),
    ("deadline_cancelled", "Deadline cancelled", "lifecycle.deadline"),
    ("deadline_closed", "Deadline closed", "lifecycle.deadline"),
    ("deadline_expired", "Deadline expired", "lifecycle.deadline"),
    ("reminder_due", "Renewal reminder due", "lifecycle.deadline"),
    ("payment_received", "Payment received", "res.partner"),
    ("payment_failed", "Payment failed", "res.partner"),
    ("payment_refunded", "Payment refunded", "res.partner"),
    # a type of its own that an incoming webhook endpoint defines (the event's custom_type)
    ("custom", "Custom event", "res.partner"),
    # the customer's account and the customer's lapses (issue 12)
    ("password_reset_requested", "Password reset requested", "res.partner"),
    ("password_changed", "Password changed", "res.partner"),
    ("registration_completed", "Registration completed (first login)", "res.partner"),
    ("customer_deleted", "Customer deleted", "res.partner"),
    ("no_active_service", "No active service for a while", "res.partner"),
    # customer invoices (issue 14)
    ("invoice_overdue", "Invoice overdue", "account.move"),
    ("invoice_paid", "Invoice paid", "account.move"),
    # automatic renewal (issue 14, item 3): starts the matching dunning workflow
    ("autorenew_failed", "Automatic renewal payment failed", "lifecycle.deadline"),
)
EVENT_SELECTION = [(name, label) for name, label, _model in EVENT_CATALOG]

# The events after which a customer has no active service in a company unless
# a deadline is active again there, and the day each one starts that lapse on:
# SQL over lifecycle_event, the same text in the query and in its index.
LAPSE_STARTS = ("customer_registered", "deadline_expired", "deadline_closed", "deadline_cancelled")
LAPSE_START_DAY = "(CASE WHEN event_type = 'deadline_expired' THEN date_expiry ELSE (create_date)::date END)"
EVENT_MODEL = {name: model for name, _label, model in EVENT_CATALOG}

# Events whose record no longer exists once they are emitted: no workflow step
# has anything to act on, so they start no workflow; webhook subscriptions
# carry them, with what the payload kept of the record.
RECORDLESS_EVENTS = frozenset({"customer_deleted"})
WORKFLOW_EVENT_SELECTION = [(name, label) for name, label in EVENT_SELECTION if name not in RECORDLESS_EVENTS]

_PAYMENT = {
    "reference": "the payment's reference",
    "amount": "the amount, positive (a refund says how much went back)",
    "currency": "ISO code of the currency",
    "provider": "the payment provider's code, or webhook for a payment another system reported",
    "message": "the provider's message, if any",
}

# For integrators: (when the event is emitted, {payload key: meaning}). Every
# event also names its customer (partner_id), its company and, for deadline
# events, its deadline and expiry date; the payload holds the rest. The
# README's "Event catalog" is ``catalog_table()``.
EVENT_DOCS = {
    "customer_registered": ("A portal account is created: signup, or portal access granted.", {}),
    "customer_archived": ("A customer (customer rank, deadlines or lifecycle events) is archived.", {}),
    "deadline_created": ("A deadline is created, in any state.", {}),
    "deadline_activated": ("A deadline becomes active (not through a renewal).", {}),
    "deadline_renewed": (
        "A deadline is renewed: button, paid order, portal or wallet.",
        {
            "from": "the old expiry date",
            "to": "the new expiry date",
            "source": "manual, sale, portal or wallet",
            "amount": "the renewal's amount",
        },
    ),
    "deadline_cancelled": ("A deadline is cancelled.", {}),
    "deadline_closed": ("A deadline is closed.", {}),
    "deadline_expired": ("The scheduler expires an active deadline past its date, once per expiry date.", {}),
    "reminder_due": (
        "A rung of the reminder ladder falls due, once per deadline, expiry date and rung.",
        {"days_left": "days until expiry on the customer's calendar"},
    ),
    "payment_received": ("An online payment of the customer is done.", _PAYMENT),
    "payment_failed": ("An online payment of the customer fails.", _PAYMENT),
    "payment_refunded": ("A refund to the customer is done.", _PAYMENT),
    "custom": (
        "An incoming webhook reports an event of a type its endpoint defines.",
        {"webhook": "endpoint, id and type of the message", "data": "the message's data, whole"},
    ),
    "password_reset_requested": (
        "A portal user asks for a password reset (login page or staff), once the reset email is sent.",
        {"user_id": "the portal user", "login": "their login"},
    ),
    "password_changed": (
        "A portal user's password is changed (by them, by a reset link or by staff); not when it is first set.",
        {"user_id": "the portal user", "login": "their login"},
    ),
    "registration_completed": (
        "A portal user logs in for the first time, once per customer.",
        {"user_id": "the portal user", "login": "their login"},
    ),
    "customer_deleted": (
        "A customer (customer rank, deadlines or lifecycle events) is deleted; the event has no customer "
        "any more, the payload keeps who it was.",
        {"id": "the deleted customer's id", "name": "their name", "email": "their email", "ref": "their reference"},
    ),
    "no_active_service": (
        "The scheduler finds a customer without an active deadline in the company for the company's number of "
        "days since their last deadline ended or since they registered; once per lapse.",
        {
            "inactive_since": "the day the last service ended (or the customer registered)",
            "days": "the number of days set in the company",
        },
    ),
    # customer invoices (issue 14)
    "invoice_overdue": (
        "The daily scheduler finds a posted customer invoice not fully paid whose due date passed a threshold of "
        "the company's overdue thresholds (default 1, 7 and 30 days); once per invoice and threshold, the highest "
        "one reached only.",
        {
            "amount": "the invoice's total",
            "amount_due": "what is left to pay",
            "currency": "ISO code of the currency",
            "date_due": "the due date",
            "days_overdue": "days since the due date, on the company's calendar",
            "threshold": "the threshold reached, in days",
        },
    ),
    "invoice_paid": (
        "A posted customer invoice becomes paid (or in payment: paid, the bank not matched yet); once per "
        "payment that settles it, not when it is only recomputed, nor when a credit note reverses it.",
        {
            "amount": "the invoice's total",
            "currency": "ISO code of the currency",
            "payment_state": "paid or in_payment",
        },
    ),
    # automatic renewal (issue 14, item 3)
    "autorenew_failed": (
        "The first automatic payment of a deadline's renewal fails, once per deadline and expiry date; the "
        "matching workflow's dunning policy (retries, grace, final action) applies to it.",
        {
            "order": "the renewal order",
            "amount": "its total",
            "currency": "its currency",
            "message": "what the provider answered",
            "hard_decline": "whether it is never retried",
        },
    ),
}


def catalog_table():
    """The catalogue as a reStructuredText list table: type, record, when, payload."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 12 38 30",
        "",
        "   * - Type",
        "     - About",
        "     - Emitted when",
        "     - Payload",
    ]
    for name, _label, model in EVENT_CATALOG:
        when, payload = EVENT_DOCS[name]
        keys = "; ".join(f"``{key}``: {meaning}" for key, meaning in payload.items()) or "—"
        lines += [f"   * - ``{name}``", f"     - ``{model}``", f"     - {when}", f"     - {keys}"]
    return "\n".join(lines) + "\n"
