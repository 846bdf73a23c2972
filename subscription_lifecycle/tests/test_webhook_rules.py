from datetime import datetime, timedelta, timezone

from odoo.tests import BaseCase, tagged

from ..lib.webhook_delivery import (
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


@tagged("post_install", "-at_install")
class TestWebhookRules(BaseCase):
    def test_retries_follow_the_ladder_within_their_jitter_for_about_three_days(self):
        expected = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
        self.assertEqual(list(RETRY_DELAYS), expected)
        for failed, seconds in enumerate(expected, start=1):
            self.assertEqual(retry_delay(failed, 0.5), seconds)
            self.assertEqual(retry_delay(failed, 0.0), seconds * 0.8)
            self.assertAlmostEqual(retry_delay(failed, 0.999999), seconds * 1.2, delta=0.1)
        self.assertTrue(3 < sum(expected) / 86400 < 3.2, "about three days in all")

    def test_after_the_tenth_failure_we_give_up(self):
        self.assertIsNone(retry_delay(10, 0.5))
        self.assertIsNone(retry_delay(0, 0.5))

    def test_retry_after_in_seconds_or_as_an_http_date(self):
        self.assertEqual(parse_retry_after("120", NOW), 120)
        self.assertEqual(parse_retry_after(" 0 ", NOW), 0)
        in_ten_minutes = (NOW + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        self.assertEqual(parse_retry_after(in_ten_minutes, NOW), 600)
        self.assertEqual(parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", NOW), 0, "a date past is now")

    def test_retry_after_is_capped_at_a_day_and_nonsense_is_ignored(self):
        self.assertEqual(parse_retry_after("9999999", NOW), 86400)
        for value in ("", None, "soon", "-5", "1.5", "Fri, 15 Jan 2027 07:00:00"):
            self.assertIsNone(parse_retry_after(value, NOW), value)

    def test_addresses_are_classified_in_ipv4_and_ipv6(self):
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
        self.assertEqual({address: address_kind(address) for address in kinds}, kinds)

    def test_private_addresses_only_when_allowed_and_metadata_never(self):
        self.assertTrue(address_allowed("8.8.8.8", False))
        for address in ("127.0.0.1", "10.0.0.1", "::ffff:192.168.0.1", "::1"):
            self.assertFalse(address_allowed(address, False), address)
            self.assertTrue(address_allowed(address, True), address)
        for address in ("169.254.169.254", "224.0.0.1", "0.0.0.0", "240.0.0.1"):  # noqa: S104
            self.assertFalse(address_allowed(address, True), address)

    def test_urls_must_be_https_unless_http_is_allowed(self):
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
            with self.assertRaises(ValueError, msg=url):
                check_url(url, allow_http)

    def test_custom_headers_never_replace_the_signature_or_content_type(self):
        self.assertEqual(
            parse_headers("Authorization: Bearer abc\n\nX-Team:  billing \n"),
            [("Authorization", "Bearer abc"), ("X-Team", "billing")],
        )
        for name in ("webhook-signature", "Webhook-Id", "WEBHOOK-TIMESTAMP", "Content-Type", "Host"):
            with self.assertRaises(ReservedHeaderError):
                parse_headers(f"{name}: forged")
        for line in ("no colon here", "Bad Name: x", ": empty"):
            with self.assertRaises(ValueError):
                parse_headers(line)

    def test_a_body_template_is_rendered_string_by_string(self):
        template = {"text": "{{ a }}", "blocks": [{"title": "{{ b }}", "n": 3}], "flag": True}
        self.assertEqual(template_texts(template), ["{{ a }}", "{{ b }}"])
        self.assertEqual(
            fill_template(template, {"{{ a }}": 'say "hi"', "{{ b }}": "B"}),
            {"text": 'say "hi"', "blocks": [{"title": "B", "n": 3}], "flag": True},
        )
