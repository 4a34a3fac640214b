"""The sandbox MX's policy, both sides of every row of docs/sandbox.md, through the plugin's own client."""

import base64
import os
import socket
import ssl
import threading

import pytest

from pytest_smtpcheck.errors import TLSFailed
from pytest_smtpcheck.sandbox import Sandbox
from pytest_smtpcheck.sandbox.policy import POLICIES
from pytest_smtpcheck.smtp.session import SMTPSession
from pytest_smtpcheck.smtp.tls import TLSSettings
from pytest_smtpcheck.vocabulary import SANDBOX_POLICIES

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
    record = sandbox.sessions[-1]
    assert record.authenticated_as is None
    assert session.auth(mechanism, sandbox.username, sandbox.password).code == 235
    assert record.authenticated_as == sandbox.username
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


# -- the protocol's rules, seen on the wire (smtp/server; the protocol's own tests are in test_server_protocol.py) --


def raw_replies(sock: socket.socket, count: int) -> list[bytes]:
    """The last lines of the next *count* replies (the sandbox sends nothing more until asked again)."""
    data = b""
    while True:
        finals = [line for line in data.split(b"\r\n")[:-1] if line[3:4] != b"-"]
        if len(finals) >= count:
            return finals
        chunk = sock.recv(65536)
        assert chunk, f"the sandbox closed the connection after {data!r}"
        data += chunk


def test_policies_are_exactly_the_vocabulary():
    assert tuple(POLICIES) == SANDBOX_POLICIES


def test_a_command_line_too_long_gets_one_500_and_the_session_goes_on(sandbox):
    with socket.create_connection((sandbox.host, sandbox.ports["smtp"]), timeout=5) as sock:
        sock.sendall(b"NOOP " + b"y" * 5000 + b"\r\nNOOP\r\nQUIT\r\n")
        assert raw_replies(sock, 4)[1:] == [b"500 5.5.0 Error: line too long", b"250 2.0.0 Ok", b"221 2.0.0 Bye"]


def test_plain_text_pipelined_after_starttls_is_dropped(sandbox):
    """CVE-2011-0411: an RSET injected after STARTTLS in the clear must not be answered inside TLS (RFC 3207 §4.2)."""
    with socket.create_connection((sandbox.host, sandbox.ports["smtp"]), timeout=5) as plain:
        plain.sendall(b"EHLO c\r\nSTARTTLS\r\nRSET\r\n")
        assert raw_replies(plain, 3)[2:] == [b"220 2.0.0 Ready to start TLS"]
        context = ssl.create_default_context(cafile=sandbox.ca_file)
        with context.wrap_socket(plain, server_hostname=sandbox.hostname) as tls:
            tls.sendall(b"NOOP\r\n")
            assert raw_replies(tls, 1) == [b"250 2.0.0 Ok"]
    record = sandbox.sessions[-1]
    assert record.tls and record.commands == ["EHLO c", "STARTTLS", "NOOP"]


def test_a_bare_lf_dot_does_not_end_the_message_so_nothing_is_smuggled(sandbox):
    with socket.create_connection((sandbox.host, sandbox.ports["smtp"]), timeout=5) as sock:
        sock.sendall(f"EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<alice@{DOMAIN}>\r\nDATA\r\n".encode())
        raw_replies(sock, 5)
        sock.sendall(f"x\n.\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@{DOMAIN}>\r\n.\r\nQUIT\r\n".encode())
        assert raw_replies(sock, 2) == [b"250 2.0.0 Ok: queued", b"221 2.0.0 Bye"]
    assert sandbox.messages[-1].rcpt_tos == [f"alice@{DOMAIN}"]


def test_auth_inside_a_mail_transaction_is_refused(misconfigured):  # RFC 4954 §4
    session = connect(misconfigured)
    session.ehlo()
    session.mail("probe@example.net")
    reply = session.command("AUTH PLAIN " + base64.b64encode(f"\0{Sandbox.username}\0{Sandbox.password}".encode())
                            .decode())
    assert (reply.code, reply.enhanced) == (503, "5.5.1")
    session.command("RSET")
    assert session.auth("PLAIN", misconfigured.username, misconfigured.password).code == 235


@pytest.mark.parametrize(("test", "imported"), [
    ("def test_nothing():\n    pass\n", False),
    ("def test_target(smtp_server):\n    assert smtp_server.port\n", True),
])
def test_the_sandbox_is_imported_only_when_a_test_needs_it(pytester, test, imported):
    pytester.makeconftest("""
        import sys

        def pytest_unconfigure():  # after the terminal summary, the last to run
            names = ("pytest_smtpcheck.sandbox", "pytest_smtpcheck.smtp.server")
            print("sandbox imported:", any(name.startswith(names) for name in sys.modules))
    """)
    pytester.makepyfile(test)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*sandbox imported: {imported}*"])
