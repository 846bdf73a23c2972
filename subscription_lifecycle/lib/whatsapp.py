"""WhatsApp Business Cloud API, the rules without the database. No ORM.

- ``parse_variables``: a step's template variables, field paths separated by commas;
- ``template_message``: the JSON body of a template message (``POST /{phone-number-id}/messages``);
- ``message_reference`` / ``referenced_message``: our name for a message, which its statuses bring back;
- ``read_answer``: what the Graph API answered to it: the message's id, or its error;
- ``signature_valid``: Meta's ``X-Hub-Signature-256`` on a webhook call;
- ``read_statuses``: the delivery statuses a webhook call carries.
"""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
# The largest webhook call read; Meta batches statuses, far below this.
MAX_BODY_BYTES = 1024 * 1024
# Graph API error codes saying "too many requests, for now": the message did
# not leave, it is tried again later (Meta answers them with a 400 or a 429).
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
# The order statuses follow: a status never moves a message back (a late "delivered" after "read").
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}
FIELD_PATH = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*")


def parse_variables(text):
    """``["partner_id.name", "date_expiry"]`` from ``"partner_id.name, date_expiry"``; ValueError on a bad path.

    Each path is one template variable, in order: the first fills {{1}}, the
    second {{2}}, and so on. An empty text means a template without variables.
    """
    paths = [path.strip() for path in (text or "").split(",")]
    if paths == [""]:
        return []
    for path in paths:
        if not FIELD_PATH.fullmatch(path):
            raise ValueError(path)
    return paths


def template_message(to, template, language, texts):
    """The body of a template message to ``to`` (E.164), its body variables filled with ``texts`` in order.

    A variable may hold no line break, tab or run of spaces (Meta refuses
    the message): each run of white space becomes one space.
    """
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.lstrip("+"),
        "type": "template",
        "template": {"name": template, "language": {"code": language}},
    }
    if texts:
        body["template"]["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": " ".join(text.split())} for text in texts]}
        ]
    return body


def message_reference(database, message_id):
    """What a message's request carries as ``biz_opaque_callback_data``, and its statuses bring back.

    It names the message even when the answer to the request, which holds
    Meta's id for it, was lost; with the database's uuid, so that a copy of
    the database (a staging server on the same WhatsApp account) never takes
    another's statuses for its own.
    """
    return f"lifecycle:{database}:{message_id}"


def referenced_message(reference, database):
    """The id of the message ``reference`` names in ``database``; None when it names none of its."""
    prefix = f"lifecycle:{database}:"
    number = reference[len(prefix) :] if reference.startswith(prefix) else ""
    return int(number) if number.isdigit() else None


@dataclass(frozen=True)
class Answer:
    """The Graph API's answer: the message's id (``wamid.…``), or an error, its code, whether to wait."""

    message_id: str = ""
    error: str = ""
    code: int = 0
    rate_limited: bool = False


def read_answer(text):
    """Read a Graph API answer body (JSON, maybe cut short); an unreadable one gives an empty Answer."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return Answer()
    if not isinstance(data, dict):
        return Answer()
    error = data.get("error")
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), int) else 0
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
        message = error.get("message") or error.get("error_user_msg") or ""
        if details and details not in message:
            message = f"{message} {details}".strip()
        text = f"(#{code}) {message}" if code and not message.startswith(f"(#{code})") else message
        return Answer(error=text, code=code, rate_limited=code in RATE_LIMIT_CODES)
    messages = data.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return Answer(message_id=str(messages[0].get("id") or ""))
    return Answer()


def signature_valid(body, header, secret):
    """Whether ``header`` (``sha256=<hex>``) is the HMAC-SHA256 of the raw ``body`` with the app ``secret``."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


@dataclass(frozen=True)
class Status:
    """One delivery status: Meta's id of the message, our reference to it, the status, why it failed."""

    message_id: str
    reference: str
    status: str
    error: str = ""


def read_statuses(body):
    """The statuses of a webhook call (``entry[].changes[].value.statuses[]``); ValueError if it is no JSON object.

    Statuses without an id or of a kind not followed here are left out.
    """
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    statuses = []
    for entry in _list(data.get("entry")):
        for change in _list(entry.get("changes")):
            value = change.get("value") if isinstance(change.get("value"), dict) else {}
            for status in _list(value.get("statuses")):
                kind = status.get("status")
                if kind not in (*STATUS_RANK, "failed") or not status.get("id"):
                    continue
                statuses.append(
                    Status(
                        message_id=str(status["id"]),
                        reference=str(status.get("biz_opaque_callback_data") or ""),
                        status=kind,
                        error=_status_error(status) if kind == "failed" else "",
                    )
                )
    return statuses


def _status_error(status):
    """Meta's words for why a message failed: the first error's title, its code and details."""
    errors = _list(status.get("errors"))
    if not errors:
        return "failed"
    error = errors[0]
    title = error.get("title") or error.get("message") or "failed"
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
    text = f"(#{error['code']}) {title}" if isinstance(error.get("code"), int) else title
    return f"{text}: {details}" if details and details != title else text


def _list(value):
    """The dict items of ``value`` when it is a list, else none: a webhook body is outside input."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
