"""What a translation must keep of its source: placeholders, tags, outer whitespace.

A translated term is text for people around things for machines: ``%(days)s``,
``{{ object.partner_id.name }}``, ``<a t-att-href="...">``. Those must come out
of the translation byte for byte (in any order: a language may need another
one), or the term breaks when it is formatted or rendered. Only the attributes
that people read (``title``, ``alt``, ``placeholder``…) may be translated.
"""

import re
from collections import Counter

# Python %-formatting as Odoo's terms use it; no space flag, so that the
# "10% off" of a mail body is not read as a "% o" conversion.
PERCENT = re.compile(r"%(?:\([^)]+\))?[#0+-]?\d*(?:\.\d+)?[sdifr%]")
JINJA = re.compile(r"\{\{.*?\}\}", re.DOTALL)  # inline templates, {{ object.name }}
DOLLAR = re.compile(r"\$\{[^}]*\}")
BRACES = re.compile(r"\{[A-Za-z_]\w*\}")  # str.format: {name}
TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'))?)*)\s*(/?)>")
ATTRIBUTE = re.compile(r"([^\s=>/]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'))?")
# Attributes people read: their values are translated, their presence is kept.
HUMAN_ATTRIBUTES = frozenset({"title", "alt", "placeholder", "string", "aria-label", "help", "confirm", "label"})


def _tag(match):
    closing, name, attributes, self_closing = match.groups()
    kept = []
    for attribute, value in ATTRIBUTE.findall(attributes):
        kept.append(f"{attribute}=…" if attribute.lower() in HUMAN_ATTRIBUTES else f"{attribute}={value}")
    return f"<{closing}{' '.join([name, *kept])}{self_closing}>"


def markup(text):
    """The placeholders and tags of ``text``, counted (human attribute values left out)."""
    found = Counter()
    for match in JINJA.finditer(text):
        found[match.group()] += 1
    rest = JINJA.sub(" ", text)
    for pattern in (DOLLAR, BRACES, PERCENT):
        for match in pattern.finditer(rest):
            found[match.group()] += 1
        rest = pattern.sub(" ", rest)
    for match in TAG.finditer(rest):
        found[_tag(match)] += 1
    return found


def _outer_whitespace(text):
    stripped = text.strip()
    if not stripped:
        return text, ""
    start = text.index(stripped)
    return text[:start], text[start + len(stripped) :]


def problems(msgid, msgstr):
    """What ``msgstr`` lost or added of ``msgid``'s markup, as readable lines; [] when intact.

    An empty ``msgstr`` (not translated) has no problem of this kind.
    """
    if not msgstr:
        return []
    source, translation = markup(msgid), markup(msgstr)
    found = [f"missing {token}" for token in sorted((source - translation).elements())]
    found += [f"added {token}" for token in sorted((translation - source).elements())]
    if _outer_whitespace(msgid) != _outer_whitespace(msgstr):
        found.append("leading or trailing whitespace differs")
    return found
