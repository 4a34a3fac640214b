"""A hostile server on loopback: escape sequences in every reply, every byte the client sends logged.

Whatever it sends, nothing of it acts on the terminal that shows a run (its control and bidi
characters are shown as escapes), and whatever a test asks to send, no bare CR reaches it.
"""

from __future__ import annotations

import io
import re
import sys

import pytest
from faultserver import ESCAPES, FaultServer, hostile_mx

from pytest_smtpcheck.smtp.session import SMTPSession

# Bytes a terminal acts on: ESC, BEL, NUL, backspace, C1 CSI, the right-to-left override.
ACTIVE = re.compile("[\x00\x07\x08\x1b\u009b\u202e]")

PYTHON_TESTS = '''
import pytest

def test_relay_denied_expect(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net")
    smtp_session.rcpt("victim@elsewhere.example").expect("250")

def test_assert_on_the_reply(smtp_session):
    smtp_session.ehlo()
    assert smtp_session.mail("probe@example.net") is None

def test_assertion_message_and_print(smtp_session):
    reply = smtp_session.ehlo()
    print("the server said", reply.text)
    assert False, reply.text

def test_skip_with_the_reply(smtp_session):
    pytest.skip(smtp_session.greeting.text)

def test_passes(smtp_session):
    assert smtp_session.ehlo().code == 250
'''

SMTP_FILE = """\
< 220
> EHLO probe.example.net
< 250
> MAIL FROM:<probe@example.net>
< 250
> RCPT TO:<victim@elsewhere.example>
< 250
"""


def test_no_control_character_from_the_server_reaches_the_terminal(pytester, tmp_path):
    pytester.makepyfile(test_hostile_terminal=PYTHON_TESTS)
    pytester.makefile(".smtp", relay=SMTP_FILE)
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    with FaultServer(hostile_mx, max_connections=20) as server:
        result = pytester.runpytest_subprocess(
            f"--smtp-target={server.target}", "--smtp-timeout=5", "--color=no", "-vv", "-rA", "--tb=long", "-l",
            f"--junitxml={junit}", f"--html={html}", "-p", "no:cacheprovider",
        )
    output = result.stdout.str() + result.stderr.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 4 and outcomes.get("passed", 0) >= 3 and outcomes.get("skipped") == 1, output
    assert ACTIVE.search(output) is None, f"raw control character in the output: {ACTIVE.search(output)!r}"
    # what the server sent is still there to read, as escapes: in transcripts, failures, the repr and the skip
    assert "\\x1b[2J" in output and "\\x07" in output and "\\u202etxt.exe" in output
    assert "<Reply to 'MAIL FROM:<probe@example.net>': 250 2.0.0 ok \\x1b" in output  # Reply.__repr__
    assert "AssertionError: mx.hostile.test \\x1b" in output  # the test's own assertion message
    assert "the server said mx.hostile.test \\x1b" in output  # its captured print
    assert "SKIPPED" in output and "mx.hostile.test ESMTP \\x1b" in output  # the skip reason
    # JUnit and HTML escape by their own rules: no raw ESC either
    for artifact in (junit.read_text(), html.read_text()):
        assert "\x1b" not in artifact and "\x07" not in artifact


XFAIL_AND_WARN_TESTS = '''
import warnings

import pytest

def test_xfail_with_the_reply(smtp_session):
    pytest.xfail("xfailed: " + smtp_session.greeting.text)

def test_warns_with_the_reply(smtp_session):
    warnings.warn("warned: " + smtp_session.greeting.text)
    warnings.warn(smtp_session.ehlo().text, DeprecationWarning)
'''


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_xfail_reasons_and_warnings_reach_the_terminal_escaped(pytester, tmp_path, xdist):
    """An xfail reason (the `-v` line, `-rx`) and a warning's message (the warnings summary) are shown by pytest
    itself, not from the report's longrepr or sections; a server's bytes in them are escaped all the same, also
    when the warnings travel from xdist workers."""
    pytester.makepyfile(test_xfail_and_warn=XFAIL_AND_WARN_TESTS)
    junit = tmp_path / "junit.xml"
    with FaultServer(hostile_mx, max_connections=20) as server:
        result = pytester.runpytest_subprocess(
            f"--smtp-target={server.target}", "--smtp-timeout=5", "--color=no", "-vv", "-rA",
            f"--junitxml={junit}", "-p", "no:cacheprovider", *xdist)
    output = result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1, xfailed=1, warnings=2)
    assert ACTIVE.search(output) is None, f"raw control character in the output: {ACTIVE.search(output)!r}"
    assert "xfailed: mx.hostile.test ESMTP \\x1b[2J" in output  # the reason, as escapes
    assert "UserWarning: warned: mx.hostile.test ESMTP \\x1b[2J" in output  # the message and its category
    assert "DeprecationWarning: mx.hostile.test \\x1b[2J" in output and "PIPELINING \\x1b[2J" in output
    assert "\x1b" not in junit.read_text()


LIBRARY_TEST = """
from pytest_smtpcheck.smtp import SMTPSession

def test_library_alone():
    session = SMTPSession("127.0.0.1", {port}, timeout=5)
    reply = session.connect()
    print("the server said", reply.text)
    assert False, reply.text
"""


def test_a_test_that_drives_the_session_library_alone_is_escaped_too(pytester):
    """No setting, no fixture, no `.smtp` file: the run never reads its settings, yet the test talks to a server
    through SMTPSession, so what it prints or asserts is made terminal-safe like any other SMTP test's."""
    with FaultServer(hostile_mx) as server:
        pytester.makepyfile(test_library_alone=LIBRARY_TEST.format(port=server.port))
        result = pytester.runpytest_subprocess("--color=no", "-rA", "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=1)
    assert ACTIVE.search(output) is None, f"raw control character in the output: {ACTIVE.search(output)!r}"
    assert "the server said mx.hostile.test ESMTP \\x1b" in output and "AssertionError: mx.hostile.test" in output


def test_the_recorder_echo_shows_escapes(tmp_path, monkeypatch, capsys):
    from pytest_smtpcheck import cli

    output = tmp_path / "hostile.smtp"
    monkeypatch.setattr(sys, "stdin", io.StringIO("EHLO probe.example.net\nRCPT TO:<v@elsewhere.example>\nQUIT\n"))
    with FaultServer(hostile_mx) as server:
        status = cli.main(["record", server.target, "-o", str(output), "--keep-text", "--timeout", "5"])
    shown = capsys.readouterr()
    assert status == 0, shown.err
    assert ACTIVE.search(shown.out + shown.err) is None
    assert "220 mx.hostile.test ESMTP \\x1b[2J" in shown.out
    written = output.read_text()
    assert ACTIVE.search(written) is None, "the file holds raw control characters"
    assert "\\u202etxt\\.exe" in written and "\\x00" in written  # regex escapes: they match what was sent


@pytest.mark.parametrize("body", [
    "hi\r.\r\nMAIL FROM:<smuggled@example.net>\r\n",  # <CR>.<CR><LF>: an end of data to some servers
    "one\rtwo\n\rthree\r",
    b"bytes\r.\rand\r\n",
])
def test_no_bare_cr_reaches_the_server(body):
    """RFC 5321 2.3.8: CR and LF go out only as CRLF; a bare CR in a body is sent as a line end."""
    with FaultServer(hostile_mx) as server, SMTPSession("127.0.0.1", server.port, timeout=5) as session:
        session.ehlo()
        session.mail("probe@example.net")
        session.rcpt("postmaster@hostile.test")
        assert session.data(body).code == 250
        session.quit()
        server.stop()
        wire = bytes(server.peers[0].wire)
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", wire) is None, wire
    assert b"\r\n..\r\nMAIL FROM:<smuggled" in wire or b"smuggled" not in wire


def test_escapes_cover_the_byte_classes_the_tests_claim():
    assert all(ACTIVE.search(escape) for escape in ESCAPES)
