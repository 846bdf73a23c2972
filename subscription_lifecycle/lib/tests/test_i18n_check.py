from lib.i18n_check import markup, problems

MAIL = (
    "<p>Hello <t t-out=\"object.partner_id.name or ''\">Azure Interior</t>,</p>\n"
    '<p><a t-att-href="object.get_portal_url()" style="color: #fff;">Renew now</a></p>\n'
)


def test_a_faithful_translation_has_no_problem():
    german = (
        "<p>Guten Tag <t t-out=\"object.partner_id.name or ''\">Azure Interior</t>,</p>\n"
        '<p><a t-att-href="object.get_portal_url()" style="color: #fff;">Jetzt verlängern</a></p>\n'
    )
    assert problems(MAIL, german) == []
    assert problems("%(days)s days late", "%(days)s Tg. überfällig") == []


def test_an_untranslated_term_is_not_a_markup_problem():
    assert problems("%(days)s days", "") == []


def test_a_lost_or_renamed_placeholder_is_named():
    assert problems("%(count)s renewed", "verlängert") == ["missing %(count)s"]
    assert problems("%(count)s renewed", "%(anzahl)s verlängert") == ["missing %(count)s", "added %(anzahl)s"]
    assert problems("Hello {{ object.name }}", "Hallo {{object.name}}") == [
        "missing {{ object.name }}",
        "added {{object.name}}",
    ]
    assert problems("Total %s", "Gesamt") == ["missing %s"]
    assert problems("Hi {name}", "Hallo {Name}") == ["missing {name}", "added {Name}"]
    assert problems("Pay ${amount}", "Zahlen") == ["missing ${amount}"]


def test_placeholders_may_change_order():
    assert problems("%(a)s of %(b)s", "%(b)s: %(a)s") == []


def test_a_changed_tag_attribute_is_named():
    broken = MAIL.replace('t-att-href="object.get_portal_url()"', 't-att-href="object.get_portal()"')
    assert problems(MAIL, broken) == [
        """missing <a t-att-href="object.get_portal_url()" style="color: #fff;">""",
        """added <a t-att-href="object.get_portal()" style="color: #fff;">""",
    ]


def test_a_dropped_closing_tag_is_named():
    assert problems("<strong>today</strong> only", "<strong>heute nur") == ["missing </strong>"]


def test_human_attributes_may_be_translated_but_not_dropped():
    source = '<i class="fa fa-telegram" title="Telegram chat" aria-label="Chat"/>'
    assert problems(source, '<i class="fa fa-telegram" title="Telegram-Chat" aria-label="Chat"/>') == []
    assert problems(source, '<i class="fa fa-telegram" aria-label="Chat"/>') == [
        """missing <i class="fa fa-telegram" title=… aria-label=…/>""",
        """added <i class="fa fa-telegram" aria-label=…/>""",
    ]


def test_a_percent_sign_in_prose_is_not_a_placeholder():
    assert not markup("10% off if you come back, click rate (%)")
    assert problems("Share between 1 and 99 %%.", "Anteil zwischen 1 und 99 %.") == ["missing %%"]


def test_outer_whitespace_is_kept():
    assert problems(" in %(country)s", "in %(country)s") == ["leading or trailing whitespace differs"]
    assert problems("<div>x</div>\n        ", "<div>y</div>\n        ") == []
