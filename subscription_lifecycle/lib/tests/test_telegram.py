import hashlib
import hmac
import json

from lib.telegram import (
    START_PARAMETER,
    bot_request,
    read_answer,
    read_start_token,
    redact,
    reply,
    secret_matches,
    send_message_payload,
    start_command,
    start_token,
    start_token_valid,
)


def sign(message, secret=b"database secret"):
    return hmac.new(secret, repr(message).encode(), hashlib.sha256).hexdigest()


def test_a_start_token_is_a_telegram_start_parameter_even_for_big_ids():
    token = start_token(sign, 2**40, 2**20, 2**40, 2**33)
    assert START_PARAMETER.match(token) and len(token) <= 64
    assert read_start_token(token) == (2**40, 2**20, 2**33)


def test_a_start_token_is_valid_until_it_expires():
    token = start_token(sign, 7, 1, 0, 1000)
    assert start_token_valid(token, sign, 0, 1000)
    assert not start_token_valid(token, sign, 0, 1001)


def test_a_start_token_is_one_time_as_the_link_counter_moves_on():
    token = start_token(sign, 7, 1, 0, 1000)
    assert not start_token_valid(token, sign, 1, 10)


def test_a_forged_or_altered_token_is_refused():
    token = start_token(sign, 7, 1, 0, 1000)
    other_customer = token.replace("7-", "8-", 1)
    assert not start_token_valid(other_customer, sign, 0, 10)
    later = start_token(sign, 7, 1, 0, 1000).replace("-3e8-", "-3e9-")
    assert not start_token_valid(later, sign, 0, 10)
    assert not start_token_valid(token, lambda message: sign(message, b"another secret"), 0, 10)


def test_what_is_not_a_token_of_ours_is_not_read():
    for text in ("", "hello", "a-b-c-d", "7-1-3e8-short", "7-1-3e8-" + "x" * 32 + "-1", "7 1 3e8 " + "a" * 32):
        assert read_start_token(text) is None


def test_the_secret_header_must_equal_the_secret():
    assert secret_matches("s3cret", "s3cret")
    assert not secret_matches("s3cre", "s3cret")
    assert not secret_matches(None, "s3cret")
    assert not secret_matches("", "")  # no secret set: nothing is accepted


def test_start_is_read_from_a_private_chat_with_or_without_token():
    update = {"update_id": 1, "message": {"chat": {"id": 42, "type": "private"}, "text": "/start abc-1"}}
    assert start_command(update) == (42, "abc-1")
    update["message"]["text"] = "/start"
    assert start_command(update) == (42, "")
    update["message"]["text"] = "/start@lifecycle_bot tok"
    assert start_command(update) == (42, "tok")


def test_other_updates_are_no_start():
    assert start_command({"update_id": 1, "message": {"chat": {"id": 42, "type": "private"}, "text": "hi"}}) is None
    assert start_command({"update_id": 1, "message": {"chat": {"id": -5, "type": "group"}, "text": "/start x"}}) is None
    assert start_command({"update_id": 1, "edited_message": {}}) is None
    assert start_command([]) is None


def test_a_reply_is_a_send_message_in_the_webhook_answer():
    assert reply(42, "Linked") == {"method": "sendMessage", "chat_id": 42, "text": "Linked"}


def test_send_message_request_puts_the_token_in_the_path_and_json_in_the_body():
    url, headers, body = bot_request(
        "http://127.0.0.1:1/", "1:AB", "sendMessage", send_message_payload(42, "Hi", "HTML")
    )
    assert url == "http://127.0.0.1:1/bot1:AB/sendMessage"
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body) == {"chat_id": 42, "text": "Hi", "parse_mode": "HTML"}
    assert send_message_payload(42, "Hi") == {"chat_id": 42, "text": "Hi"}


def test_the_bot_token_never_shows_in_an_error():
    assert redact("Max retries exceeded with url: /bot1:AB/sendMessage", "1:AB") == (
        "Max retries exceeded with url: /bot<token>/sendMessage"
    )


def test_answers_are_read_as_telegram_writes_them():
    assert read_answer('{"ok": true, "result": {"message_id": 77}}').message_id == "77"
    blocked = read_answer('{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}')
    assert (blocked.ok, blocked.chat_gone, blocked.description) == (
        False,
        True,
        "Forbidden: bot was blocked by the user",
    )
    assert read_answer('{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}').chat_gone
    bad = read_answer('{"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}')
    assert not bad.chat_gone
    limited = read_answer(
        '{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5",'
        ' "parameters": {"retry_after": 5}}'
    )
    assert (limited.retry_after, limited.chat_gone) == (5, False)
    assert read_answer("<html>Bad gateway</html>") is None
    assert read_answer("[1]") is None
