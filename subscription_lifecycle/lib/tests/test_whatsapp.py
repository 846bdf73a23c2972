import hashlib
import hmac
import json

import pytest
from lib.whatsapp import (
    Answer,
    message_reference,
    parse_variables,
    read_answer,
    read_statuses,
    referenced_message,
    signature_valid,
    template_message,
)

SECRET = "3f1a0c5e9b7d4a2e8c6f0b1d3e5a7c9f"  # noqa: S105 (a test app secret)


def _signed(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_variables_are_field_paths_separated_by_commas():
    assert parse_variables(" partner_id.name, date_expiry ,amount") == ["partner_id.name", "date_expiry", "amount"]
    assert parse_variables("") == []
    assert parse_variables(None) == []
    for bad in ("partner_id.name,", "partner_id..name", "Partner", "amount; drop", "a b"):
        with pytest.raises(ValueError):
            parse_variables(bad)


def test_a_template_message_fills_the_body_variables_in_order_without_the_plus():
    body = template_message("+4915123456789", "renewal_reminder", "de", ["Azure\n Interior", "31.03.2027"])
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915123456789",
        "type": "template",
        "template": {
            "name": "renewal_reminder",
            "language": {"code": "de"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "Azure Interior"}, {"type": "text", "text": "31.03.2027"}],
                }
            ],
        },
    }
    assert "components" not in template_message("+1", "hello_world", "en_US", [])["template"]


def test_an_accepted_message_gives_its_wamid():
    answer = read_answer(
        json.dumps(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": "4915123456789", "wa_id": "4915123456789"}],
                "messages": [{"id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"}],
            }
        )
    )
    assert answer.message_id == "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    assert not answer.error


def test_a_graph_error_reads_as_its_code_and_message_and_rate_limits_are_recognised():
    undeliverable = read_answer(
        json.dumps(
            {
                "error": {
                    "message": "(#131026) Message undeliverable",
                    "type": "OAuthException",
                    "code": 131026,
                    "error_data": {"messaging_product": "whatsapp", "details": "Receiver is incapable"},
                    "error_subcode": 2494010,
                    "fbtrace_id": "AbCdEf",
                }
            }
        )
    )
    assert undeliverable.error == "(#131026) Message undeliverable Receiver is incapable"
    assert (undeliverable.code, undeliverable.rate_limited) == (131026, False)
    expired = read_answer('{"error": {"message": "Error validating access token", "code": 190, "type": "OAuth"}}')
    assert expired.error == "(#190) Error validating access token"
    for code in (4, 80007, 130429):
        assert read_answer(json.dumps({"error": {"message": "Rate limit hit", "code": code}})).rate_limited


def test_an_unreadable_answer_says_nothing():
    for text in ("", "answer 200", "[1]", '{"messages": []}', '{"error": "x"}'):
        assert read_answer(text) == Answer()


def test_only_the_hmac_of_the_raw_body_with_the_app_secret_is_valid():
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    assert signature_valid(body, _signed(body), SECRET)
    assert signature_valid(body, _signed(body).upper().replace("SHA256=", "sha256="), SECRET)
    assert not signature_valid(body + b" ", _signed(body), SECRET)
    assert not signature_valid(body, _signed(body, "another secret"), SECRET)
    assert not signature_valid(body, _signed(body)[len("sha256=") :], SECRET)
    assert not signature_valid(body, "", SECRET)
    assert not signature_valid(body, _signed(body, ""), "")


def test_statuses_are_read_from_every_entry_and_change_failures_with_metas_title():
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                            "statuses": [
                                {
                                    "id": "wamid.A",
                                    "status": "delivered",
                                    "timestamp": "1750263773",
                                    "recipient_id": "4915123456789",
                                    "biz_opaque_callback_data": "lc-7",
                                },
                                {
                                    "id": "wamid.B",
                                    "status": "failed",
                                    "timestamp": "1750263774",
                                    "recipient_id": "4915123456789",
                                    "errors": [
                                        {
                                            "code": 131026,
                                            "title": "Message undeliverable",
                                            "message": "Message undeliverable",
                                            "error_data": {"details": "Message Undeliverable."},
                                        }
                                    ],
                                },
                                {"id": "wamid.C", "status": "deleted"},
                                {"status": "read"},
                            ],
                        },
                    }
                ],
            },
            {"changes": [{"value": {"statuses": [{"id": "wamid.D", "status": "read"}]}}]},
            {"changes": [{"value": {"messages": [{"id": "wamid.E", "type": "text"}]}}]},
        ],
    }
    statuses = read_statuses(json.dumps(body).encode())
    assert [(s.message_id, s.reference, s.status, s.error) for s in statuses] == [
        ("wamid.A", "lc-7", "delivered", ""),
        ("wamid.B", "", "failed", "(#131026) Message undeliverable: Message Undeliverable."),
        ("wamid.D", "", "read", ""),
    ]


def test_a_body_that_is_no_json_object_is_refused_and_odd_shapes_are_skipped():
    for body in (b"not json", b"[]"):
        with pytest.raises(ValueError):
            read_statuses(body)
    assert read_statuses(b'{"entry": "x"}') == []
    assert read_statuses(b'{"entry": [{"changes": [{"value": []}]}]}') == []


def test_a_reference_names_a_message_of_this_database_only():
    reference = message_reference("8a1c-uuid", 42)
    assert referenced_message(reference, "8a1c-uuid") == 42
    assert referenced_message(reference, "another-uuid") is None
    for other in ("", "lc-7", "lifecycle:8a1c-uuid:", "lifecycle:8a1c-uuid:4x"):
        assert referenced_message(other, "8a1c-uuid") is None
