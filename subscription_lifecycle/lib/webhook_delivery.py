"""Outgoing webhooks, the rules without the database: when to retry, whom we may call, which headers.

- ``retry_delay``: the retry ladder (about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
  14 h, 20 h, 24 h: three days in all) with jitter, so that a receiver coming
  back from an outage is not hit by every delivery at the same second;
- ``parse_retry_after``: a ``Retry-After`` header, in seconds or as an HTTP date;
- ``address_kind`` / ``check_url``: the SSRF guard's rules on URLs and on the
  addresses a host name resolves to;
- ``parse_headers``: the endpoint's custom headers, which never replace ours;
- ``template_texts`` / ``fill_template``: a JSON body template, whose strings
  are rendered one by one (so a rendered value can never break the JSON).
"""

import ipaddress
import uuid
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

# Seconds to wait after the n-th failed attempt (n = 1 … 9); after the 10th, the delivery has failed for good.
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
# A delay is moved by up to this fraction either way.
JITTER = 0.2
# The longest wait a Retry-After header may ask for: the ladder's longest step.
MAX_RETRY_AFTER = RETRY_DELAYS[-1]
# The statuses whose Retry-After header is followed.
RETRY_AFTER_STATUSES = (429, 503)

# Address kinds refused unless the company allows private addresses, and those refused always.
PRIVATE_KINDS = ("loopback", "private")
ALWAYS_REFUSED_KINDS = ("unspecified", "link-local", "multicast", "reserved")

# The first test an address passes names its kind (a loopback address is private too, for instance).
KIND_TESTS = (
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
)

# Header names only the sender sets: the signature's and the body's type.
RESERVED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length", "host")
HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def new_message_id():
    """A ``webhook-id``: ``msg_`` and 32 hex digits (the database writes the same form in bulk)."""
    return "msg_" + uuid.uuid4().hex


def retry_delay(failed_attempts, random_fraction):
    """Seconds before the next attempt after ``failed_attempts`` failures; None when we give up.

    ``random_fraction`` in [0, 1) places the delay within its jitter band.
    """
    if not 1 <= failed_attempts <= len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[failed_attempts - 1] * (1 - JITTER + 2 * JITTER * random_fraction)


def parse_retry_after(value, now):
    """Seconds a ``Retry-After`` header asks us to wait, at most a day; None when unreadable.

    ``value`` is a number of seconds or an HTTP date; ``now`` an aware datetime.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP date is in GMT
            return None
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0), MAX_RETRY_AFTER)


def address_kind(address):
    """What an IP address (text) is: ``public``, or the reason it is not one we call blindly.

    An IPv4 address written as IPv6 (``::ffff:127.0.0.1``) is judged as IPv4.
    Kinds: public, loopback, private (RFC 1918, unique local, shared and
    other non-global ranges), link-local (incl. 169.254.169.254, the cloud
    metadata service), multicast, reserved, unspecified.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind, attribute in KIND_TESTS:
        if getattr(ip, attribute):
            return kind
    return "public" if ip.is_global else "private"


def address_allowed(address, allow_private):
    kind = address_kind(address)
    return kind == "public" or (allow_private and kind in PRIVATE_KINDS)


def check_url(url, allow_http):
    """Raise ValueError unless ``url`` is an https URL with a host (or http when ``allow_http``)."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError as error:
        raise ValueError("unreadable URL") from error
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise ValueError("scheme")
    if not parts.hostname or parts.username or parts.password or port == 0:
        raise ValueError("host")


class ReservedHeaderError(ValueError):
    """A custom header would replace one the sender sets (its argument: the header's name)."""


def parse_headers(text):
    """``[(name, value), ...]`` from ``Name: value`` lines.

    Blank lines are skipped. A name must be an HTTP token (else ValueError
    with the line) and not one of the ``RESERVED_HEADERS``, the signature's
    and the body's, which are ours (else ReservedHeaderError with the name).
    """
    headers = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name or not set(name) <= HEADER_NAME_CHARS or "\r" in value:
            raise ValueError(line)
        if name.lower() in RESERVED_HEADERS:
            raise ReservedHeaderError(name)
        headers.append((name, value))
    return headers


def template_texts(value):
    """The strings of a parsed JSON body template, where its placeholders are."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in template_texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in template_texts(item)]
    return []


def fill_template(value, rendered):
    """``value`` (parsed JSON) with each string replaced by ``rendered[string]``."""
    if isinstance(value, str):
        return rendered[value]
    if isinstance(value, dict):
        return {key: fill_template(item, rendered) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_template(item, rendered) for item in value]
    return value
