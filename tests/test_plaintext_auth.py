"""The run's real password and token go out only under TLS.

A test that calls `starttls()`, gets 454 or 502 and goes on to `auth()`, or a `.smtp` file whose
`! starttls` accepts any reply, must not send the credentials in clear: the AUTH is refused before
a byte of it is sent. A dummy secret (to check that a server refuses AUTH before STARTTLS) and an
explicit opt-in (`allow_plaintext_auth`) still go out; the sandbox's credentials are dummies.
"""

from __future__ import annotations

import base64
from functools import partial

import pytest
from faultserver import Certificates, FaultServer, hostile_mx

PASSWORD, TOKEN = "real-Pa55word-of-the-run", "ya29.real-token-of-the-run"

PYTHON_TESTS = '''
import pytest

def test_password_after_a_refused_starttls(smtp_session, smtp_server):
    smtp_session.ehlo()
    assert smtp_session.starttls().code != 220
    smtp_session.auth("PLAIN", smtp_server.username, smtp_server.password)

def test_token_without_tls(smtp_session, smtp_server):
    print("the token from SMTPCHECK_TOKEN:", smtp_server.var("SMTP_TOKEN"))
    smtp_session.ehlo()
    smtp_session.auth("XOAUTH2", smtp_server.username, smtp_server.var("SMTP_TOKEN"))

def test_a_dummy_secret_goes_out(smtp_session, smtp_server):
    smtp_session.ehlo()
    assert smtp_session.auth("PLAIN", smtp_server.username, "dummy-not-a-secret").code == 235

@pytest.mark.smtp(allow_plaintext_auth=True)
def test_opted_in(smtp_session, smtp_server):
    smtp_session.ehlo()
    assert smtp_session.auth("LOGIN", smtp_server.username, smtp_server.password).code == 235
'''

SMTP_FILE = """\
< 220
> EHLO probe.example.net
< 250
! starttls
< 2xx|4xx|5xx
! auth PLAIN ${SMTP_USER} ${SMTP_PASSWORD}
< 235
"""

OPTED_IN = "+++\nallow_plaintext_auth = true\n+++\n" + SMTP_FILE


def forms(secret: str) -> list[bytes]:
    return [secret.encode(), base64.b64encode(f"\0probe@example.net\0{secret}".encode()),
            base64.b64encode(f"user=probe@example.net\x01auth=Bearer {secret}\x01\x01".encode()),
            base64.b64encode(secret.encode())]


@pytest.mark.parametrize("refusal", ["454 4.7.0 TLS not available", "502 5.5.2 not implemented"])
def test_the_real_credentials_are_never_sent_without_tls(pytester, monkeypatch, refusal):
    monkeypatch.setenv("SMTPCHECK_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMTPCHECK_TOKEN", TOKEN)
    pytester.makepyfile(test_plain=PYTHON_TESTS)
    pytester.makefile(".smtp", refused_starttls=SMTP_FILE)
    with FaultServer(partial(hostile_mx, starttls=refusal), max_connections=20) as server:
        result = pytester.runpytest_subprocess(f"--smtp-target={server.target}", "--smtp-timeout=5", "--color=no",
                                               "--smtp-user=probe@example.net", "-rP", "-p", "no:cacheprovider")
        server.stop()
        wire = b"".join(bytes(peer.wire) for peer in server.peers)
    output = result.stdout.str()
    result.assert_outcomes(passed=5, failed=3)
    assert output.count("with the run's real credentials on a connection to 127.0.0.1") == 3, output
    assert "refused_starttls.smtp:6: AUTH PLAIN with the run's real credentials" in output
    assert b"dummy-not-a-secret" in base64.b64decode(wire.split(b"AUTH PLAIN ")[1].split(b"\r\n")[0])
    sent_in_clear = [form for form in forms(TOKEN) if form in wire]
    assert not sent_in_clear
    assert "the token from SMTPCHECK_TOKEN: ****" in output and TOKEN not in output and PASSWORD not in output
    assert wire.count(b"AUTH ") == 2  # the dummy and the opted-in test: nothing of the refused ones went out


def test_the_opt_in_is_shown_in_the_transcript_and_the_credentials_go_out(pytester, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_PASSWORD", PASSWORD)
    pytester.makefile(".smtp", opted_in=OPTED_IN)
    with FaultServer(partial(hostile_mx, starttls="454 4.7.0 TLS not available")) as server:
        result = pytester.runpytest(f"--smtp-target={server.target}", "--smtp-timeout=5", "-rA",
                                    "--smtp-user=probe@example.net", "-p", "no:cacheprovider")
        server.stop()
    result.assert_outcomes(passed=4)
    assert "AUTH PLAIN with the run's credentials sent without TLS: allow_plaintext_auth is set" in result.stdout.str()
    assert forms(PASSWORD)[1] in bytes(server.peers[0].wire)


def test_under_tls_the_real_password_goes_out(pytester, monkeypatch, tmp_path):
    certs = Certificates(tmp_path)
    monkeypatch.setenv("SMTPCHECK_PASSWORD", PASSWORD)
    pytester.makefile(".smtp", tls=SMTP_FILE)
    with FaultServer(partial(hostile_mx, starttls=certs.context("valid"))) as server:
        result = pytester.runpytest(f"--smtp-target={server.target}", "--smtp-timeout=5", f"--smtp-ca={certs.ca_file}",
                                    "--smtp-user=probe@example.net", "-p", "no:cacheprovider")
        server.stop()
    result.assert_outcomes(passed=4)
    assert forms(PASSWORD)[1] in bytes(server.peers[0].wire)  # decrypted by the server: it did go, under TLS


def test_a_bad_opt_in_value_names_the_front_matter_line(pytester):
    pytester.makefile(".smtp", bad="+++\nallow_plaintext_auth = \"yes\"\n+++\n< 220\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*bad.smtp:2: front matter allow_plaintext_auth: must be true or false, not 'yes'*"])


GIVEN_PASSWORD, ENV_PASSWORD = "var-Pa55word-given", "env-Pa55word-read"
GIVEN_TESTS = """
def test_a_variable_as_the_password(smtp_session, smtp_server):
    smtp_session.ehlo()
    smtp_session.auth("PLAIN", smtp_server.username, smtp_server.var("RELAY_PW"))
"""
REFERENCED = SMTP_FILE.replace("${SMTP_PASSWORD}", "{secret}")


def test_a_password_the_run_gives_by_a_variable_or_the_environment_is_real_too(pytester, monkeypatch):
    """Not only $SMTPCHECK_PASSWORD: an AUTH secret a file takes from `${VAR}` (--smtp-var) or `${env:NAME}`, or a
    Python test from smtp_server.var(), came from the run, so it is a real credential and needs TLS; a literal
    written in the file is a dummy and goes out (the way to check that a server refuses AUTH before STARTTLS)."""
    monkeypatch.setenv("RELAY_ENV_PW", ENV_PASSWORD)
    pytester.makepyfile(test_given=GIVEN_TESTS)
    pytester.makefile(".smtp", by_variable=REFERENCED.replace("{secret}", "${RELAY_PW}"),
                      by_environment=REFERENCED.replace("{secret}", "${env:RELAY_ENV_PW}"),
                      by_literal=REFERENCED.replace("{secret}", "literal-dummy-secret"))
    with FaultServer(partial(hostile_mx, starttls="454 4.7.0 TLS not available"), max_connections=20) as server:
        result = pytester.runpytest_subprocess(f"--smtp-target={server.target}", "--smtp-timeout=5", "--color=no",
                                               "--smtp-user=probe@example.net", f"--smtp-var=RELAY_PW={GIVEN_PASSWORD}",
                                               "-rA", "-p", "no:cacheprovider")
        server.stop()
        wire = b"".join(bytes(peer.wire) for peer in server.peers)
    output = result.stdout.str()
    for line in ("by_variable.smtp:6: AUTH PLAIN with the run's real credentials",
                 "by_environment.smtp:6: AUTH PLAIN with the run's real credentials",
                 "test_given.py:3: SessionMisuse"):
        assert line in output, output
    assert not [form for secret in (GIVEN_PASSWORD, ENV_PASSWORD) for form in forms(secret) if form in wire]
    assert wire.count(b"AUTH ") == 1  # the literal dummy, and nothing of the three refused ones
    assert b"literal-dummy-secret" in base64.b64decode(wire.split(b"AUTH PLAIN ")[1].split(b"\r\n")[0])
