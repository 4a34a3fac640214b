"""The sandbox MX's policy, both sides of every row of docs/sandbox.md, through the plugin's own client."""

import base64
import os
import threading

import pytest

from pytest_smtpcheck.errors import TLSFailed
from pytest_smtpcheck.sandbox import Sandbox
from pytest_smtpcheck.smtp.session import SMTPSession
from pytest_smtpcheck.smtp.tls import TLSSettings

DOMAIN = Sandbox.domain


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def misconfigured():
    with Sandbox(misconfigured=True) as server:
        yield server


def connect(server: Sandbox, listener: str = "smtp", *, trusted: bool = True) -> SMTPSession:
    session = SMTPSession(
        server.host, server.ports[listener], timeout=5, tls_mode="implicit" if listener == "submissions" else "none",
        tls=TLSSettings(ca_file=server.ca_file if trusted else None),
    )
    session.connect()
    return session


def secured(server: Sandbox, listener: str = "submission") -> SMTPSession:
    session = connect(server, listener)
    session.ehlo()
    if listener != "submissions":
        assert session.starttls().code == 220
        session.ehlo()
    return session


def rcpt(server: Sandbox, address: str):
    session = connect(server)
    session.ehlo()
    assert session.mail("probe@example.net").code == 250
    reply = session.rcpt(address)
    session.quit()
    return reply


def test_greeting_and_capabilities_before_tls(sandbox):
    session = connect(sandbox)
    assert str(session.greeting) == "220 mx.sandbox.test ESMTP pytest-smtpcheck sandbox"
    session.ehlo()
    assert {"PIPELINING", "STARTTLS", "SIZE", "ENHANCEDSTATUSCODES"} <= set(session.capabilities)
    assert session.capabilities["SIZE"] == "1048576"
    assert "AUTH" not in session.capabilities


@pytest.mark.parametrize(
    ("address", "code", "enhanced"),
    [
        (f"postmaster@{DOMAIN}", 250, "2.1.5"),
        (f"alice@{DOMAIN}", 250, "2.1.5"),
        (f"nobody@{DOMAIN}", 550, "5.1.1"),
        (f"greylisted@{DOMAIN}", 450, "4.2.0"),
        ("victim@elsewhere.example", 554, "5.7.1"),
        (f"victim@sub.{DOMAIN}", 554, "5.7.1"),
    ],
)
def test_recipient_policy(sandbox, address, code, enhanced):
    reply = rcpt(sandbox, address)
    assert (reply.code, reply.enhanced) == (code, enhanced), reply


def test_relay_is_allowed_after_auth_on_submission(sandbox):
    session = secured(sandbox)
    assert session.auth("PLAIN", sandbox.username, sandbox.password).code == 235
    assert session.mail("submit@sandbox.test").code == 250
    assert session.rcpt("friend@elsewhere.example").code == 250


def test_submission_requires_starttls_then_auth(sandbox):
    session = connect(sandbox, "submission")
    session.ehlo()
    assert "AUTH" not in session.capabilities
    assert session.mail("probe@example.net").code == 530
    assert session.command("AUTH PLAIN AHgAeQ==").code == 530
    session.starttls()
    session.ehlo()
    assert session.capabilities["AUTH"] == "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER"
    reply = session.mail("probe@example.net")
    assert (reply.code, reply.enhanced) == (530, "5.7.0")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_auth_mechanisms_accept_the_right_password_only(sandbox, mechanism, listener):
    session = secured(sandbox, listener)
    wrong = session.auth(mechanism, sandbox.username, "not-the-password")
    assert (wrong.code, wrong.enhanced) == (535, "5.7.8")
    assert session.auth(mechanism, sandbox.username, sandbox.password).code == 235
    assert session.mail("submit@sandbox.test").code == 250


def test_submissions_certificate_verifies_against_the_run_ca_only(sandbox):
    session = connect(sandbox, "submissions")
    assert session.tls_info.verified
    assert "DNS:mx.sandbox.test" in session.tls_info.sans and "IP Address:127.0.0.1" in session.tls_info.sans
    with pytest.raises(TLSFailed, match="certificate"):
        connect(sandbox, "submissions", trusted=False)


def test_size_limit_declared_and_actual(sandbox):
    session = connect(sandbox)
    session.ehlo()
    reply = session.mail("probe@example.net", "SIZE=2000000")
    assert (reply.code, reply.enhanced) == (552, "5.3.4")
    assert session.mail("probe@example.net", "SIZE=1000").code == 250
    assert session.rcpt(f"postmaster@{DOMAIN}").code == 250
    before = len(sandbox.messages)
    reply = session.data("Subject: big\n\n" + ("x" * 998 + "\n") * 1100)
    assert (reply.code, reply.enhanced) == (552, "5.3.4")
    assert len(sandbox.messages) == before
    session.mail("probe@example.net")
    session.rcpt(f"postmaster@{DOMAIN}")
    assert session.data("Subject: small\n\nhello\n").code == 250
    assert sandbox.messages[-1].rcpt_tos == [f"postmaster@{DOMAIN}"]


def test_misconfigured_is_an_open_relay_with_plain_text_auth(misconfigured):
    assert rcpt(misconfigured, "victim@elsewhere.example").code == 250
    session = connect(misconfigured, "submission")
    session.ehlo()
    assert "AUTH" in session.capabilities
    assert session.auth("LOGIN", misconfigured.username, misconfigured.password).code == 235
    assert session.tls_info is None


def test_session_records_mask_auth_payloads(sandbox):
    session = secured(sandbox)
    session.auth("PLAIN", sandbox.username, sandbox.password)
    session.quit()
    session = secured(sandbox)
    session.auth("LOGIN", sandbox.username, sandbox.password)
    session.quit()
    recorded = repr(sandbox.sessions)
    plain = base64.b64encode(f"\0{sandbox.username}\0{sandbox.password}".encode()).decode()
    for secret in (sandbox.password, base64.b64encode(sandbox.password.encode()).decode(), plain):
        assert secret not in recorded
    assert any(r.commands[-2:] == ["AUTH PLAIN ****", "QUIT"] for r in sandbox.sessions)
    assert any(r.commands[-4:] == ["AUTH LOGIN", "****", "****", "QUIT"] for r in sandbox.sessions)


def test_garbage_and_abrupt_disconnects_do_not_disturb_the_next_client(sandbox):
    session = connect(sandbox)
    session.send_line("\x00\x01garbage " + "y" * 5000)
    session.close()
    assert rcpt(sandbox, f"bob@{DOMAIN}").code == 250


def test_stop_leaves_no_thread_and_no_directory_even_with_a_client_connected():
    before = set(threading.enumerate())
    server = Sandbox()
    server.start()
    assert len(set(threading.enumerate()) - before) >= 3, "one acceptor per listener"
    directory = os.path.dirname(server.ca_file)
    lingering = connect(server)
    server.stop()
    assert not os.path.exists(directory)
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    lingering.close()
