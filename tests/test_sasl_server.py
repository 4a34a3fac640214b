"""The SASL server (smtp/sasl.py) against the plugin's own SASL client: one message format per mechanism, both sides."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_smtpcheck.smtp import sasl
from pytest_smtpcheck.vocabulary import AUTH_MECHANISMS

ACCOUNT = sasl.Account("user@example.com", "correct horse", "ya29.token")
SECRETS = {"password": ACCOUNT.password, "token": ACCOUNT.token}
NEEDS = {"PLAIN": "password", "LOGIN": "password", "CRAM-MD5": "password", "XOAUTH2": "token", "OAUTHBEARER": "token"}


def exchange(client: sasl.Mechanism, *, initial_response: bool = True) -> tuple[sasl.Verdict, int]:
    """Run one AUTH between the two sides; the verdict and the number of challenges the server sent."""
    server = sasl.SASLServer(client.name, ACCOUNT, hostname="mx.example.com", scope="smtp")
    step = server.start(client.initial_response() if initial_response else None)
    challenges = 0
    while isinstance(step, bytes):
        challenges += 1
        step = server.respond(client.respond(step))
    return step, challenges


def test_the_server_implements_every_mechanism_the_client_does():
    assert tuple(sasl.MECHANISMS) == AUTH_MECHANISMS
    for name in AUTH_MECHANISMS:
        sasl.SASLServer(name.lower(), ACCOUNT, hostname="h")
    with pytest.raises(sasl.UnknownMechanism, match="must be one of PLAIN, LOGIN"):
        sasl.SASLServer("GSSAPI", ACCOUNT, hostname="h")


@pytest.mark.parametrize("name", AUTH_MECHANISMS)
def test_the_right_secret_authenticates_the_user(name):
    verdict, _ = exchange(sasl.mechanism(name, ACCOUNT.user, SECRETS[NEEDS[name]]))
    assert verdict == sasl.Verdict(ACCOUNT.user)


@pytest.mark.parametrize("name", AUTH_MECHANISMS)
def test_a_wrong_secret_or_another_user_is_refused(name):
    assert exchange(sasl.mechanism(name, ACCOUNT.user, "wrong"))[0] == sasl.Verdict(None)
    assert exchange(sasl.mechanism(name, "other@example.com", SECRETS[NEEDS[name]]))[0] == sasl.Verdict(None)


@pytest.mark.parametrize("name", ["PLAIN", "XOAUTH2", "OAUTHBEARER"])
def test_client_first_mechanisms_take_the_credentials_after_an_empty_challenge(name):  # RFC 4954 §4
    verdict, challenges = exchange(sasl.mechanism(name, ACCOUNT.user, SECRETS[NEEDS[name]]), initial_response=False)
    assert (verdict, challenges) == (sasl.Verdict(ACCOUNT.user), 1)


@pytest.mark.parametrize(("name", "status"), [("XOAUTH2", "401"), ("OAUTHBEARER", "invalid_token")])
def test_a_wrong_token_gets_the_json_error_challenge_which_the_client_reads(name, status):  # RFC 7628 §3.2.2
    client = sasl.mechanism(name, ACCOUNT.user, "expired")
    verdict, challenges = exchange(client)
    assert (verdict, challenges) == (sasl.Verdict(None), 1)
    assert client.error == f"status={status} schemes=bearer scope=smtp"


def test_an_unacknowledged_oauth_error_fails_the_exchange():
    server = sasl.SASLServer("OAUTHBEARER", ACCOUNT, hostname="h")
    assert isinstance(server.start(sasl.oauthbearer_message(ACCOUNT.user, "expired")), bytes)
    with pytest.raises(sasl.SASLError, match="did not acknowledge"):
        server.respond(b"")  # OAUTHBEARER's acknowledgement is ^A (RFC 7628 §3.2.3); empty is XOAUTH2's


def test_plain_with_another_authorization_identity_is_refused():
    server = sasl.SASLServer("PLAIN", ACCOUNT, hostname="h")
    assert server.start(f"admin\0{ACCOUNT.user}\0{ACCOUNT.password}".encode()) == sasl.Verdict(None)
    server = sasl.SASLServer("PLAIN", ACCOUNT, hostname="h")
    assert server.start(f"{ACCOUNT.user}\0{ACCOUNT.user}\0{ACCOUNT.password}".encode()) == sasl.Verdict(ACCOUNT.user)


def test_cram_md5_challenges_are_fresh_and_name_the_host():  # RFC 2195 §2
    first, second = (sasl.SASLServer("CRAM-MD5", ACCOUNT, hostname="mx.example.com").start(None) for _ in range(2))
    assert isinstance(first, bytes) and first != second
    assert first.startswith(b"<") and first.endswith(b"@mx.example.com>")


@pytest.mark.parametrize(("name", "initial", "message"), [
    ("PLAIN", b"\0only-two", "authzid NUL user NUL password"),
    ("PLAIN", b"\0user\0\xff", "not UTF-8"),
    ("OAUTHBEARER", b"y,a=u,\x01auth=Bearer t\x01\x01", "GS2 header"),
    ("OAUTHBEARER", b"n,u,\x01auth=Bearer t\x01\x01", "GS2 header"),
    ("CRAM-MD5", b"tim 0123", "takes no response"),
])
def test_malformed_responses_raise_sasl_errors(name, initial, message):
    with pytest.raises(sasl.SASLError, match=message):
        sasl.SASLServer(name, ACCOUNT, hostname="h").start(initial)


def test_a_cram_md5_response_without_a_digest_is_malformed():
    server = sasl.SASLServer("CRAM-MD5", ACCOUNT, hostname="h")
    server.start(None)
    with pytest.raises(sasl.SASLError, match="user name, a space and the hex digest"):
        server.respond(b"justaname")


def test_response_lines_are_strict_base64_and_only_the_auth_line_may_say_equals():  # RFC 4954 §4
    assert sasl.decode_response("=", initial=True) == b""
    assert sasl.decode_response("") == b""
    assert sasl.decode_response("AHRpbQ==") == b"\0tim"
    for text in ("=", "not base64!", "AHRpbQ"):
        with pytest.raises(sasl.SASLError, match="not base64"):
            sasl.decode_response(text)


def test_an_account_never_shows_its_secrets():
    assert ACCOUNT.password not in repr(ACCOUNT) and ACCOUNT.token not in repr(ACCOUNT)


FIELD = st.text(st.characters(blacklist_characters="\0\x01\r\n", blacklist_categories=("Cs",)), min_size=1)


@given(FIELD, FIELD)
def test_what_the_client_builds_the_server_parses_back(user, secret):
    assert sasl.parse_plain(sasl.plain_message(user, secret)) == ("", user, secret)
    assert sasl.parse_xoauth2(sasl.xoauth2_message(user, secret)) == (user, secret)
    assert sasl.parse_oauthbearer(sasl.oauthbearer_message(user, secret, host="h", port=25)) == (user, secret)
    if " " not in user:
        assert sasl.parse_cram_md5(sasl.cram_md5_message(user, secret, b"<1.2@h>"))[0] == user


@pytest.mark.parametrize("user", [ACCOUNT.user, ""])
def test_secret_forms_cover_every_message_that_carries_the_secret(user):
    forms = sasl.secret_forms(ACCOUNT.token, user)
    messages = [sasl.plain_message(user, ACCOUNT.token), sasl.xoauth2_message(user, ACCOUNT.token),
                sasl.oauthbearer_message(user, ACCOUNT.token), sasl.oauthbearer_message("", ACCOUNT.token)]
    for message in messages:
        assert message.decode() in forms and base64.b64encode(message).decode() in forms
    assert ACCOUNT.token in forms and forms == sorted(forms, key=len, reverse=True)


def test_secret_forms_leave_values_too_short_to_mask():
    assert sasl.secret_forms("ab", ACCOUNT.user) == []
    assert sasl.secret_forms("abc", ACCOUNT.user)
