"""Every server fault, through a real pytest run: the verdict, its words, the transcript, the time, and the run goes on.

Each row starts a scripted fault server (tests/faultserver.py) and runs a small
test file against it with `--smtp-timeout=1`: a transaction through
`smtp_connect`, then a test against a well-behaved server. The row checks that the
first test fails (or passes, for the controls) with the fault named in an
engineer's words, that its transcript is in the report, that the verdict came
within the timeout plus one second, and that the second test still passes.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import tracemalloc

import pytest
from faultserver import (
    LONG_LINE,
    Certificates,
    FaultServer,
    drip_every_reply,
    leftovers,
    mx,
    scenarios,
)

from pytest_smtpcheck.errors import ConnectionLost, ProtocolViolation
from pytest_smtpcheck.smtp.connection import Connection
from pytest_smtpcheck.smtp.reader import Limits
from pytest_smtpcheck.smtp.session import SMTPSession

TIMEOUT = 1.0
SLACK = 1.0  # the verdict must come within the configured limit plus this
PORT = "{port}"  # in expected messages: the fault server's port

TRANSACTION = """
import pytest


def test_transaction(smtp_connect):
    session = smtp_connect()
    session.greeting.expect("220")
    session.ehlo().expect("250")
    session.mail("probe@example.net").expect("250")
    session.rcpt("postmaster@example.test").expect("250")
    session.data("Subject: robustness\\n\\nhello\\n").expect("250")
    session.quit().expect("221")


@pytest.mark.smtp(port={good_port}, tls="none")
def test_then_a_good_server(smtp_session):
    smtp_session.ehlo().expect("250")
    smtp_session.quit().expect("221")
"""

# fault -> (what the failure says, as a regex; None: the test passes) and whether it is a timeout
# (a verdict that must not come early either).
EXPECTED: dict[str, tuple[str | None, bool]] = {
    "refused": (r"ConnectFailed: connection to 127\.0\.0\.1:{port} refused \(nothing listening on that port\?\)",
                False),
    "filtered": (r"ConnectFailed: no TCP connection to 127\.0\.0\.1:{port} within 1 s \(host down or port filtered\?\)",
                 True),
    "silent": (r"ReplyTimeout: no complete reply to the greeting within 1 s \(nothing received\)", True),
    "greet-421": (r"got: +code 421, expected 220\n.*421 4\.3\.2 mx\.fault\.test Service not available", False),
    "reset-greeting": (r"ConnectionLost: connection reset while reading the reply to the greeting$", False),
    "reset-mid-reply": (r"ConnectionLost: connection reset while reading the reply to "
                        r"RCPT TO:<postmaster@example\.test> \(received so far: b'250 2\.1\.5 Recipi'\)", False),
    "reset-mid-multiline": (r"ConnectionLost: connection reset while reading the reply to "
                            r"EHLO probe\.smtpcheck\.invalid \(received so far: 2 lines of a multi-line reply\)",
                            False),
    "reset-after-354": (r"ConnectionLost: connection reset while reading the reply to the message "
                        r"\(\d+ bytes, sent after 354\)", False),
    "http-banner": (r"ProtocolViolation: not an SMTP reply to the greeting: b'HTTP/1\.1 400 Bad Request' "
                    r"\(an HTTP server\?\)", False),
    "binary-garbage": (r"ProtocolViolation: not an SMTP reply to the greeting: "
                       r"b'\\x00\\x8f\\xfe\\x13\\x07garbage", False),
    "bare-lf": (r"ProtocolViolation: reply to the greeting ended a line with a bare LF, not CRLF", False),
    "long-line": (r"ProtocolViolation: reply line to the greeting is "
                  r"(longer than 8192 bytes|\d+ bytes long \(limit 8192)", False),
    "endless-reply": (r"ProtocolViolation: reply to EHLO probe\.smtpcheck\.invalid did not end after 500 lines", False),
    "drip-too-slow": (r"ReplyTimeout: no complete reply to the greeting within 1 s \(received so far: b'220 mx", True),
    "drip-within": (None, False),
    "starttls-stall": (r"TLSFailed: TLS handshake with 127\.0\.0\.1:{port} after its 220 to STARTTLS "
                       r"did not finish within 1 s", True),
    "starttls-refused": (r"TLSFailed: --smtp-tls=starttls, but the server answered STARTTLS with: "
                         r"454 4\.7\.0 TLS not available", False),
    "tls-plaintext": (r"TLSFailed: the server did not answer the TLS handshake with TLS "
                      r"\(plain text on a TLS port\?", False),
    "tls-valid": (None, False),
    "cert-expired": (r"TLSFailed: certificate has expired \(notAfter Jan  2 03:04:05 2021 GMT, now \w{3} [ \d]\d "
                     r"\d\d:\d\d:\d\d \d{4} GMT\)", False),
    "cert-not-yet-valid": (r"TLSFailed: certificate is not yet valid "
                           r"\(notBefore Jan  2 03:04:05 2099 GMT, now ", False),
    "cert-wrong-name": (r"TLSFailed: certificate does not match the name '127\.0\.0\.1' "
                        r"\(it is for DNS:mail\.example\.test, DNS:mx\.example\.test\)", False),
    "cert-self-signed": (r"TLSFailed: certificate is self-signed \(CN=mx\.self-signed\.test\) and not trusted", False),
    "cert-unknown-ca": (r"TLSFailed: certificate issuer \(O=some other CA, .*\) is not trusted", False),
    "starttls-expired": (r"TLSFailed: certificate has expired \(notAfter Jan  2 03:04:05 2021 GMT", False),
}


@pytest.fixture(scope="module", autouse=True)
def no_stray_fault_servers():
    """After this module: no fault-server thread still running, no socket of this module's fault servers open."""
    first = len(FaultServer.created)
    yield

    def problems() -> list[str]:
        mine = [problem for server in FaultServer.created[first:] for problem in server.leftovers()]
        threads = [f"thread {t.name} still running" for t in threading.enumerate() if t.name.startswith("faultserver")]
        return mine + threads

    deadline = time.monotonic() + 2  # a script thread may be finishing its last close()
    while problems() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert problems() == []


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def good_server():
    with FaultServer(mx(), max_connections=200, lifetime=600) as server:
        yield server
    assert server.errors == []


def run(pytester, server, *args):
    return pytester.runpytest_inprocess(f"--smtp-target={server.target}", f"--smtp-timeout={TIMEOUT:g}",
                                        "-p", "no:cacheprovider", "-rA", *args)


def reports_of(result, name: str) -> list:
    return [r for r in result.reprec.getreports("pytest_runtest_logreport") if r.nodeid.endswith(f"::{name}")]


def test_every_fault_in_the_catalogue_has_an_expectation(certs):
    assert sorted(scenarios(certs)) == sorted(EXPECTED)


@pytest.mark.parametrize("fault", list(EXPECTED))
def test_fault_verdict_words_transcript_time_and_the_run_goes_on(pytester, certs, good_server, fault):
    scenario = scenarios(certs)[fault]
    message, is_timeout = EXPECTED[fault]
    pytester.makepyfile(test_fault=TRANSACTION.format(good_port=good_server.port))
    with scenario.make() as server:
        started = time.monotonic()
        result = run(pytester, server, f"--smtp-tls={scenario.tls}", f"--smtp-ca={certs.ca_file}")
        wall = time.monotonic() - started
    assert server.errors == [], "the fault script itself failed"
    output = result.stdout.str()

    # the verdict, and the run did not crash: the good server's test after it passed
    if message is None:
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(failed=1, passed=1)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [r.outcome for r in reports_of(result, "test_then_a_good_server") if r.when == "call"] == ["passed"]

    # the words: in the failure, as the engineer reads it
    own = reports_of(result, "test_transaction")
    failed = [r for r in own if r.failed]
    if message is not None:
        assert [r.when for r in failed] == ["call"]
        expected = message.replace(PORT, str(server.port))
        assert re.search(expected, failed[0].longreprtext, re.M), failed[0].longreprtext
        assert re.search(expected.split("\n")[0], output, re.M)
        assert "During handling of the above exception" not in failed[0].longreprtext

    # the evidence: the session's transcript is attached to the test's report (and printed)
    title = f"SMTP transcript 127.0.0.1:{server.port}"
    sections = [text for r in own for name, text in r.sections if name == title]
    assert sections, f"no {title!r} section in {[name for r in own for name, _ in r.sections]}"
    assert title in output
    if fault == "greet-421":
        assert re.search(r"S: 421 4\.3\.2 mx\.fault\.test Service not available$", sections[-1], re.M), sections[-1]
    elif message is not None:  # the client records its verdict in the transcript too
        recorded = expected.split(": ", 1)[1]
        assert re.search(rf"\*: {recorded}", sections[-1], re.M), sections[-1]
    else:
        assert "C: QUIT" in sections[-1] and "S: 221 2.0.0 bye" in sections[-1]

    # the time: within the timeout plus one second; a timeout verdict not before the timeout
    seconds = sum(r.duration for r in own)
    assert seconds <= TIMEOUT + SLACK, f"{fault}: verdict after {seconds:.2f} s"
    if is_timeout:
        assert seconds >= TIMEOUT * 0.95, f"{fault}: a timeout verdict after only {seconds:.2f} s"
    assert wall < 30


def test_a_fault_while_smtp_session_connects_fails_the_test_as_in_a_smtp_file(pytester, certs, good_server):
    pytester.makepyfile(test_fault=f"""
import pytest


def test_greeting(smtp_session):
    assert smtp_session.greeting.code == 220


@pytest.mark.smtp(port={good_server.port})
def test_then_a_good_server(smtp_session):
    smtp_session.quit().expect("221")
""")
    with scenarios(certs)["silent"].make() as server:
        result = run(pytester, server)
    result.assert_outcomes(failed=1, passed=1)
    failed = [r for r in reports_of(result, "test_greeting") if r.failed]
    assert [r.when for r in failed] == ["call"]
    assert "ReplyTimeout: no complete reply to the greeting within 1 s (nothing received)" in failed[0].longreprtext
    assert "test_fault.py:5: " in failed[0].longreprtext, "the failure points at the test's line"
    assert failed[0].duration <= TIMEOUT + SLACK
    assert f"SMTP transcript 127.0.0.1:{server.port}" in [name for name, _ in failed[0].sections]


@pytest.mark.parametrize(("deadline", "verdict"), [(None, "passed"), (2.0, "failed")])
def test_session_deadline_caps_a_server_that_drips_each_reply_just_within_the_timeout(
    pytester, good_server, deadline, verdict
):
    """Each reply takes 0.7 s of a 1 s timeout: only --smtp-deadline stops a session of 5 replies."""
    pytester.makepyfile(test_slow=f"""
import pytest


def test_slow_session(smtp_session):
    smtp_session.ehlo().expect("250")
    smtp_session.noop().expect("250")
    smtp_session.noop().expect("250")
    smtp_session.quit().expect("221")


@pytest.mark.smtp(port={good_server.port})
def test_then_a_good_server(smtp_session):
    smtp_session.quit().expect("221")
""")
    with FaultServer(drip_every_reply(0.7)) as server:
        result = run(pytester, server, *([f"--smtp-deadline={deadline:g}"] if deadline else []))
    own = reports_of(result, "test_slow_session")
    assert [r.outcome for r in own if r.when == "call"] == [verdict]
    assert [r.outcome for r in reports_of(result, "test_then_a_good_server") if r.when == "call"] == ["passed"]
    seconds = sum(r.duration for r in own)
    if deadline is None:
        assert seconds > 5 * 0.7 * 0.95, "every reply was dripped"
        return
    failure = next(r for r in own if r.failed).longreprtext
    assert re.search(r"ReplyTimeout: no complete reply to NOOP within the session deadline of 2 s "
                     r"\(received so far: b'2", failure), failure
    assert deadline * 0.95 <= seconds <= deadline + SLACK
    assert f"SMTP transcript 127.0.0.1:{server.port}" in result.stdout.str()


@pytest.mark.parametrize(
    ("fault", "limits", "cut_off"),
    [
        ("long-line", Limits(), True),
        ("endless-reply", Limits(), True),
        ("long-line", Limits(line_bytes=2 * LONG_LINE), False),  # the control: the recorder does see a big buffer
    ],
)
def test_oversize_input_is_cut_off_at_once_and_the_buffer_stays_bounded(monkeypatch, fault, limits, cut_off):
    peak_buffer = 0
    receive = Connection._receive

    def recording_receive(self, deadline, what):
        nonlocal peak_buffer
        try:
            return receive(self, deadline, what)
        finally:
            peak_buffer = max(peak_buffer, len(self.reader.pending))

    monkeypatch.setattr(Connection, "_receive", recording_receive)
    with scenarios()[fault].make() as server:
        session = SMTPSession("127.0.0.1", server.port, timeout=TIMEOUT, limits=limits)
        tracemalloc.start()
        started = time.monotonic()
        try:
            if cut_off:
                with pytest.raises(ProtocolViolation, match="longer than 8192 bytes|bytes long|did not end after 500"):
                    session.connect()
                    session.ehlo()
            else:
                assert len(session.connect().lines[0]) == LONG_LINE
        finally:
            seconds = time.monotonic() - started
            _, peak_memory = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            session.close()
    if cut_off:
        assert seconds < TIMEOUT, "not cut off: the reply timeout ended it"
        assert not session.connected
        assert peak_buffer <= limits.line_bytes + 65536
        assert peak_memory < 2 * 1024 * 1024
    else:
        assert peak_buffer > LONG_LINE


def test_the_leak_check_sees_a_server_left_running():
    server = FaultServer(mx()).__enter__()
    try:
        assert any(f"faultserver-{server.port}" in problem for problem in leftovers())
    finally:
        server.stop()
    assert server.leftovers() == []


def test_a_server_fault_shows_the_test_line_not_the_clients_internals(pytester, certs, good_server):
    pytester.makepyfile(test_fault=TRANSACTION.format(good_port=good_server.port))
    with scenarios(certs)["silent"].make() as server:
        result = run(pytester, server)
    failure = next(r for r in reports_of(result, "test_transaction") if r.failed).longreprtext
    assert "session = smtp_connect()" in failure
    assert "client.py" not in failure and "fixtures.py" not in failure


@pytest.mark.parametrize("where", ["connect", "getpeername"])
def test_a_reset_racing_connect_gets_the_same_verdict_as_a_reset_at_the_greeting(monkeypatch, good_server, where):
    """On a loaded host the RST can beat connect() or getpeername(): still a ConnectionLost, never a bare OSError."""
    real = socket.create_connection

    class ResetSocket(socket.socket):
        def getpeername(self):
            raise OSError(107, "Transport endpoint is not connected")

    def create_connection(address, timeout=None):
        if where == "connect":
            raise ConnectionResetError(104, "Connection reset by peer")
        sock = real(address, timeout=timeout)
        return ResetSocket(fileno=sock.detach())

    monkeypatch.setattr(socket, "create_connection", create_connection)
    session = SMTPSession("127.0.0.1", good_server.port, timeout=TIMEOUT)
    with pytest.raises(ConnectionLost, match=r"^connection reset while reading the reply to the greeting$"):
        session.connect()
    assert not session.connected
    assert session.transcript.entries[-1].text == "connection reset while reading the reply to the greeting"


def test_a_command_after_a_421_greeting_names_the_421(certs):
    with scenarios(certs)["greet-421"].make() as server:
        session = SMTPSession("127.0.0.1", server.port, timeout=TIMEOUT)
        assert session.connect().code == 421
        time.sleep(0.1)  # the server has closed by now
        with pytest.raises(ConnectionLost, match=r"EHLO .*\(it had announced it was closing: "
                                                 r"421 4\.3\.2 mx\.fault\.test Service not available\)$"):
            session.ehlo()
