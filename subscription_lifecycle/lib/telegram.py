"""The Telegram Bot API, as the Telegram channel speaks it: requests, answers, start tokens. No ORM.

A bot cannot write to a phone number: the customer opens
``https://t.me/<bot>?start=<token>`` and Telegram sends the bot ``/start
<token>`` from the customer's chat. The token names the customer and the
company, expires, and is signed; it is one-time because it also signs the
customer's link counter, which every link and unlink moves on. Telegram
allows a start parameter of at most 64 characters of ``A-Za-z0-9_-``.
"""

import hmac
import json
import re
from dataclasses import dataclass

START_SCOPE = "subscription_lifecycle.telegram_start"
START_TTL = 24 * 3600  # seconds a start token stays valid
START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SIGNATURE_CHARS = 32  # hex characters of the signature kept in a token: 128 bits


def start_token(sign, partner_id, company_id, counter, expires):
    """The start parameter for ``partner_id``, valid until ``expires`` (Unix seconds).

    ``sign(message)`` returns a hex HMAC of ``message`` with a secret of the
    database (Odoo's ``tools.misc.hmac``).
    """
    head = f"{partner_id:x}-{company_id:x}-{int(expires):x}"
    return f"{head}-{sign((head, counter))[:SIGNATURE_CHARS]}"


def read_start_token(token):
    """``(partner_id, company_id, expires)`` of a token's readable part, or None when it is no token of ours."""
    if not START_PARAMETER.match(token or ""):
        return None
    parts = token.split("-")
    if len(parts) != 4 or len(parts[3]) != SIGNATURE_CHARS:
        return None
    try:
        return int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None


def start_token_valid(token, sign, counter, now):
    """Whether ``token`` (readable, see ``read_start_token``) is signed for ``counter`` and not expired at ``now``."""
    head, _dash, signature = token.rpartition("-")
    expected = sign((head, counter))[:SIGNATURE_CHARS]
    return hmac.compare_digest(signature, expected) and now <= int(head.rsplit("-", 1)[1], 16)


def secret_matches(received, secret):
    """Whether the ``X-Telegram-Bot-Api-Secret-Token`` header equals the company's secret (constant time)."""
    return bool(secret) and hmac.compare_digest((received or "").encode(), secret.encode())


def start_command(update):
    """``(chat_id, token)`` of an Update carrying ``/start [token]`` in a private chat, else None.

    ``token`` is "" when the customer opened the bot without one.
    """
    message = update.get("message") if isinstance(update, dict) else None
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") or {}
    text = message.get("text")
    if not isinstance(text, str) or chat.get("type") != "private" or not isinstance(chat.get("id"), int):
        return None
    command, _space, argument = text.strip().partition(" ")
    # in a chat, a command may name the bot: /start@my_bot
    if command.split("@", 1)[0] != "/start":
        return None
    return chat["id"], argument.strip()


def reply(chat_id, text):
    """A sendMessage Telegram makes itself from the webhook's answer: a reply needs no request of ours."""
    return {"method": "sendMessage", "chat_id": chat_id, "text": text}


def send_message_payload(chat_id, text, parse_mode=""):
    payload = {"chat_id": chat_id, "text": text}
    if parse_mode:
        payload["parse_mode"] = parse_mode
    return payload


def bot_request(api_url, bot_token, method, payload):
    """``(url, headers, body)`` of a call of the Bot API ``method`` (sendMessage, setWebhook)."""
    url = f"{api_url.rstrip('/')}/bot{bot_token}/{method}"
    return url, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def redact(text, bot_token):
    """``text`` without the bot token, which travels in the URL and so in network error messages."""
    return text.replace(bot_token, "<token>") if bot_token and text else text


@dataclass(frozen=True)
class Answer:
    """What the Bot API said: the message's id, or its error and whether the chat is gone for good."""

    ok: bool
    message_id: str = ""
    description: str = ""
    retry_after: int = 0
    chat_gone: bool = False


def read_answer(body):
    """Read a Bot API answer body; None when it is no Bot API answer (a proxy's error page)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "ok" not in answer:
        return None
    if answer["ok"]:
        result = answer.get("result") or {}
        return Answer(True, message_id=str(result.get("message_id", "")) if isinstance(result, dict) else "")
    code = answer.get("error_code")
    description = str(answer.get("description") or "")
    parameters = answer.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    # 403: the user blocked the bot or deleted their account; 400 chat not found: the chat is no more
    gone = code == 403 or (code == 400 and "chat not found" in description.lower())
    return Answer(
        False,
        description=description,
        retry_after=retry_after if isinstance(retry_after, int) and retry_after > 0 else 0,
        chat_gone=gone,
    )
