from datetime import datetime, timedelta, timezone

import pytest
from lib.webhook_delivery import (
    RETRY_DELAYS,
    ReservedHeaderError,
    address_allowed,
    address_kind,
    check_url,
    fill_template,
    parse_headers,
    parse_retry_after,
    retry_delay,
    template_texts,
)

NOW = datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)


def test_retries_follow_the_ladder_within_their_jitter_for_about_three_days():
    expected = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    assert list(RETRY_DELAYS) == expected
    for failed, seconds in enumerate(expected, start=1):
        assert retry_delay(failed, 0.5) == seconds
        assert retry_delay(failed, 0.0) == seconds * 0.8
        assert retry_delay(failed, 0.999999) == pytest.approx(seconds * 1.2, abs=0.1)
    assert 3 < sum(expected) / 86400 < 3.2, "about three days in all"


def test_after_the_tenth_failure_we_give_up():
    assert retry_delay(10, 0.5) is None
    assert retry_delay(0, 0.5) is None


def test_retry_after_in_seconds_or_as_an_http_date():
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after(" 0 ", NOW) == 0
    in_ten_minutes = (NOW + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(in_ten_minutes, NOW) == 600
    assert parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", NOW) == 0, "a date past is now"


def test_retry_after_is_capped_at_a_day_and_nonsense_is_ignored():
    assert parse_retry_after("9999999", NOW) == 86400
    for value in ("", None, "soon", "-5", "1.5", "Fri, 15 Jan 2027 07:00:00"):
        assert parse_retry_after(value, NOW) is None, value


def test_addresses_are_classified_in_ipv4_and_ipv6():
    kinds = {
        "8.8.8.8": "public",
        "2001:4860:4860::8888": "public",
        "127.0.0.1": "loopback",
        "127.8.9.10": "loopback",
        "::1": "loopback",
        "::ffff:127.0.0.1": "loopback",
        "10.1.2.3": "private",
        "172.16.0.1": "private",
        "192.168.1.1": "private",
        "100.64.0.1": "private",
        "fd12:3456::1": "private",
        "::ffff:10.0.0.1": "private",
        "169.254.169.254": "link-local",
        "::ffff:169.254.169.254": "link-local",
        "fe80::1": "link-local",
        "fe80::1%eth0": "link-local",
        "224.0.0.1": "multicast",
        "ff02::1": "multicast",
        "240.0.0.1": "reserved",
        "0.0.0.0": "unspecified",  # noqa: S104  (an address under test, not a bind)
        "::": "unspecified",
    }
    assert {address: address_kind(address) for address in kinds} == kinds


def test_private_addresses_only_when_allowed_and_metadata_never():
    assert address_allowed("8.8.8.8", False)
    for address in ("127.0.0.1", "10.0.0.1", "::ffff:192.168.0.1", "::1"):
        assert not address_allowed(address, False), address
        assert address_allowed(address, True), address
    for address in ("169.254.169.254", "224.0.0.1", "0.0.0.0", "240.0.0.1"):  # noqa: S104
        assert not address_allowed(address, True), address


def test_urls_must_be_https_unless_http_is_allowed():
    check_url("https://hooks.example.com/in", False)
    check_url("http://hooks.example.com:8080/in", True)
    for url, allow_http in (
        ("http://hooks.example.com/in", False),
        ("ftp://hooks.example.com/in", True),
        ("https:///in", False),
        ("https://user:pass@hooks.example.com/in", False),
        ("https://hooks.example.com:99999/in", False),
        ("", True),
        (False, True),
    ):
        with pytest.raises(ValueError):
            check_url(url, allow_http)


def test_custom_headers_never_replace_the_signature_or_content_type():
    assert parse_headers("Authorization: Bearer abc\n\nX-Team:  billing \n") == [
        ("Authorization", "Bearer abc"),
        ("X-Team", "billing"),
    ]
    for name in ("webhook-signature", "Webhook-Id", "WEBHOOK-TIMESTAMP", "Content-Type", "Host"):
        with pytest.raises(ReservedHeaderError):
            parse_headers(f"{name}: forged")
    for line in ("no colon here", "Bad Name: x", ": empty"):
        with pytest.raises(ValueError):
            parse_headers(line)


def test_a_body_template_is_rendered_string_by_string():
    template = {"text": "{{ a }}", "blocks": [{"title": "{{ b }}", "n": 3}], "flag": True}
    assert template_texts(template) == ["{{ a }}", "{{ b }}"]
    assert fill_template(template, {"{{ a }}": 'say "hi"', "{{ b }}": "B"}) == {
        "text": 'say "hi"',
        "blocks": [{"title": "B", "n": 3}],
        "flag": True,
    }
