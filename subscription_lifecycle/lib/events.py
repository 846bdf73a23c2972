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
)
EVENT_SELECTION = [(name, label) for name, label, _model in EVENT_CATALOG]
EVENT_MODEL = {name: model for name, _label, model in EVENT_CATALOG}
