"""Incoming webhooks: what a signed message asks of us, read without the ORM.

The body is a Standard Webhooks message, ``{"type": ..., "timestamp": ...,
"data": {...}}``. ``data.customer`` names the customer by ``ref`` (their
reference) or ``email``; a cancellation names the deadline by
``data.deadline_id``; a payment says ``data.amount`` and ``data.currency``,
and may say ``data.reference`` and ``data.message``.

The error messages go back to the sender; they are translated through the
``_`` the caller passes (``env._``), so this module needs no Odoo.
"""

import json
import math
import re
from dataclasses import dataclass

# Bodies are refused beyond this size, before they are read.
MAX_BODY_BYTES = 256 * 1024
# Longest webhook-id kept (Svix's are about 30 characters).
MAX_ID_LENGTH = 200
# The types every incoming endpoint accepts; each becomes the lifecycle event of the same name.
STANDARD_TYPES = ("payment_received", "payment_failed", "customer_registered", "deadline_cancelled")
PAYMENT_TYPES = ("payment_received", "payment_failed")
# A custom type: lower-case letters, digits, "_", "." and "-", like "trial.started" or "ticket_opened".
CUSTOM_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
CURRENCY = re.compile(r"[A-Z]{3}")


class MessageError(ValueError):
    """The message cannot become an event: malformed JSON, an unknown type, a field missing or of the wrong kind."""


@dataclass(frozen=True)
class Message:
    """A readable message: its type, who it is about, and its data as sent."""

    type: str
    customer_ref: str
    customer_email: str
    data: dict
    deadline_id: int = 0

    @property
    def event_type(self):
        """The lifecycle event it becomes: a standard type's own, else ``custom``."""
        return self.type if self.type in STANDARD_TYPES else "custom"

    @property
    def custom_type(self):
        return self.type if self.event_type == "custom" else False

    def payload(self, msg_id, endpoint_name):
        """The event's payload: where the message came from and its data, whole.

        Payments also carry the keys of the payment events Odoo's own
        payments emit, so that one workflow or template reads both.
        """
        payload = {"webhook": {"endpoint": endpoint_name, "id": msg_id, "type": self.type}, "data": self.data}
        if self.type in PAYMENT_TYPES:
            payload.update(
                reference=self.data.get("reference") or "",
                amount=self.data["amount"],
                currency=self.data["currency"],
                provider="webhook",
                message=self.data.get("message") or "",
            )
        return payload


def parse_custom_types(text):
    """The names in a list separated by commas, spaces or lines; ``ValueError`` lists the invalid ones."""
    names = [name for name in re.split(r"[\s,]+", text or "") if name]
    invalid = [name for name in names if not CUSTOM_TYPE.fullmatch(name) or name in STANDARD_TYPES]
    if invalid:
        raise ValueError(", ".join(invalid))
    return tuple(dict.fromkeys(names))


def parse_message(msg_id, body, custom_types, _):
    """The ``Message`` in ``body`` (bytes), or ``MessageError`` saying what is wrong with it.

    ``custom_types`` are the types the endpoint accepts besides the
    standard ones; ``_`` translates a message (``env._``).
    """
    if len(msg_id) > MAX_ID_LENGTH:
        raise MessageError(_("The webhook-id is longer than %(count)s characters.", count=MAX_ID_LENGTH))
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: "[[[[…" nested too deep
        raise MessageError(_("The body is not valid JSON.")) from error
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        raise MessageError(_('The body must be a JSON object with a "type" and a "data" object.'))
    kind, data = message.get("type"), message["data"]
    if not isinstance(kind, str) or kind not in STANDARD_TYPES + tuple(custom_types):
        raise MessageError(
            _(
                "Unknown event type %(type)s: this endpoint accepts %(types)s.",
                type=json.dumps(kind),
                types=", ".join(STANDARD_TYPES + tuple(custom_types)),
            )
        )
    customer = data.get("customer")
    ref, email = (_text(customer.get(key)) for key in ("ref", "email")) if isinstance(customer, dict) else ("", "")
    if not (ref or email):
        raise MessageError(_('Name the customer in "data.customer", by "ref" or "email".'))
    deadline_id = 0
    if kind == "deadline_cancelled":
        deadline_id = data.get("deadline_id")
        if not _is_number(deadline_id, integer=True) or deadline_id <= 0:
            raise MessageError(_('A cancellation names the deadline by its number in "data.deadline_id".'))
    if kind in PAYMENT_TYPES:
        if not _is_number(data.get("amount")) or data["amount"] < 0:
            raise MessageError(_('A payment says its amount in "data.amount", a number of at least 0.'))
        if not isinstance(data.get("currency"), str) or not CURRENCY.fullmatch(data["currency"]):
            raise MessageError(_('A payment says its currency in "data.currency", a code like "EUR".'))
    return Message(type=kind, customer_ref=ref, customer_email=email, data=data, deadline_id=deadline_id)


def _text(value):
    """A customer key as text: a string stripped, or an integer (references are often numbers); else empty."""
    if _is_number(value, integer=True):
        return str(value)
    return value.strip() if isinstance(value, str) else ""


def _is_number(value, integer=False):
    """A JSON number (an integer if asked), finite; ``true`` and ``false`` are not numbers."""
    if isinstance(value, bool):
        return False
    if integer:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)
