"""Phone numbers in E.164, the form SMS providers expect: ``+4915112345678``.

A number is read in the customer's country (their local form, ``0151 …``),
else in the company's; a number written with its prefix (``+49 …``,
``0049 …``) keeps its own country. A number that is not a valid number of
its country is refused: the provider would bill it and fail.
"""

import phonenumbers


def e164(number, *countries):
    """``number`` in E.164, read in the first known of ``countries`` (ISO codes); ``None`` if invalid.

    Odoo's ``phone_validation`` formats the same way with one country; this
    one also falls back to the company's country and says nothing but
    ``None`` when a number is not valid, so that a batch never stops on one.
    """
    text = (number or "").strip()
    if not text:
        return None
    if text.startswith("00"):  # the international prefix written the European way
        text = f"+{text[2:]}"
    region = next((country.upper() for country in countries if country), None)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
