"""The extensions end to end, through the plugin and the session library: --smtp-as (XCLIENT, PROXY v1/v2),
BDAT, SMTPUTF8/8BITMIME, DSN keyword parameters, XOAUTH2/OAUTHBEARER with the token masked everywhere.

Against the test Postfix (XCLIENT, PROXY, CHUNKING, SMTPUTF8, DSN) and the sandbox (OAuth, refusals it can
be made to give). Every verdict has its failing side. 203.0.113.9 is only ever claimed, never connected to.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
from pathlib import Path

import pytest
from postfix import UTF8_USER

from pytest_smtpcheck.errors import SessionMisuse
from pytest_smtpcheck.sandbox import Sandbox
from pytest_smtpcheck.settings import DEFAULT_HELO
from pytest_smtpcheck.smtp.message import generated_message
from pytest_smtpcheck.smtp.session import SMTPSession
from pytest_smtpcheck.smtp.tls import TLSSettings

EXAMPLES = Path(__file__).parent.parent / "examples"
OUTSIDE = "203.0.113.9"
TOKEN = Sandbox.token


def outcomes(result) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k in ("passed", "failed", "skipped", "errors")}


def run(pytester, *args: str):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args)


def postfix_target(postfix, listener: str = "smtp") -> list[str]:
    return [f"--smtp-target=127.0.0.1:{postfix.ports[listener]}", f"--smtp-ca={postfix.ca_file}",
            "--smtp-var=SMTP_DOMAIN=sandbox.test"]


# -- --smtp-as: the relay-denied example as an outside client ----------------------------------------------


@pytest.fixture
def relay_examples(pytester):
    for name in ("relay_denied.smtp", "test_mx_policy.py"):
        shutil.copy(EXAMPLES / name, pytester.path / name)


@pytest.mark.parametrize(("listener", "via"), [("xclient", None), ("proxy", "proxy-v1"), ("proxy", "proxy-v2")])
def test_relay_denied_example_passes_as_an_outside_client(pytester, postfix, relay_examples, listener, via):
    before = len(postfix.disconnect_summaries())
    options = [f"--smtp-as={OUTSIDE}", *([f"--smtp-as-via={via}"] if via else [])]
    result = run(pytester, *postfix_target(postfix, listener), *options, "-k", "relay")
    assert outcomes(result) == {"passed": 6}, result.stdout.str()
    summaries = postfix.disconnect_summaries()[before:]
    assert len(summaries) == 2, summaries
    assert postfix.logged(f"disconnect from unknown[{OUTSIDE}]"), "Postfix saw another client address"
    assert postfix.logged(f"reject: RCPT from unknown[{OUTSIDE}]")
    if via is None:
        assert "C: XCLIENT ADDR=203.0.113.9" in result.stdout.str()
    else:
        assert "PROXY protocol header sent" in result.stdout.str()


@pytest.mark.parametrize("listener", ["xclient", "proxy"])
def test_relay_denied_example_fails_without_smtp_as_where_loopback_is_trusted(
        pytester, postfix, relay_examples, listener):
    result = run(pytester, *postfix_target(postfix, listener), "-k", "relay")
    text = result.stdout.str()
    if listener == "xclient":  # loopback is in mynetworks: the relay is allowed, the check fails at RCPT
        assert outcomes(result) == {"failed": 2, "passed": 3, "skipped": 1}, text
        assert "relay_denied.smtp:11: expected 550|554 (5.7.1) /relay/i, got code 250" in text
    else:  # a PROXY listener without the header: Postfix refuses the session
        assert outcomes(result).get("failed") == 2 and "passed" not in outcomes(result), text
        assert "421 4.3.0" in text


def test_a_server_refusing_xclient_fails_with_its_reply_and_what_to_configure(pytester, postfix, relay_examples):
    result = run(pytester, *postfix_target(postfix, "smtp"), f"--smtp-as={OUTSIDE}", "-k", "relay")
    text = result.stdout.str()
    assert outcomes(result).get("failed") == 2 and "passed" not in outcomes(result), text
    assert "refused XCLIENT ADDR=203.0.113.9 with 550 5.7.0 Error: insufficient authorization" in text
    assert "smtpd_authorized_xclient_hosts" in text and "--smtp-as-via=proxy-v1/proxy-v2" in text
    assert "cannot test as client 203.0.113.9 (--smtp-as): " in text


def test_a_refused_xclient_names_the_door_the_address_came_from(pytester, postfix):
    """A test's own `as` is not --smtp-as: the message names the marker, the smtp_connect() call, the front matter
    line or the ini key the refused address was written in."""
    pytester.makepyfile(test_doors=f'''
        import pytest

        @pytest.mark.smtp(as_address="{OUTSIDE}")
        def test_marker(smtp_session):
            smtp_session.noop()

        def test_call(smtp_connect):
            smtp_connect(as_address="{OUTSIDE}")

        def test_ini(smtp_session):
            smtp_session.noop()
    ''')
    pytester.makefile(".smtp", relay=f'+++\nas = "{OUTSIDE}"\n+++\n< 220\n')
    pytester.makeini(f"[pytest]\nsmtp_as = {OUTSIDE}\n")
    result = run(pytester, *postfix_target(postfix, "smtp"))
    assert outcomes(result) == {"failed": 4}, result.stdout.str()
    text = result.stdout.str()
    for door in (f"@pytest.mark.smtp(as_address='{OUTSIDE}') on test_marker", f"smtp_connect(as_address='{OUTSIDE}') "
                 "in test_call", "smtp_as (tox.ini)", "relay.smtp:2: front matter as"):
        assert f"cannot test as client {OUTSIDE} ({door}): 127.0.0.1:" in text, door
    assert "(--smtp-as)" not in text


def test_a_refused_xclient_of_a_session_made_by_hand_names_no_door():
    """A script's SMTPSession(present_as=...) came by no door of the plugin's: the message names none, rather than
    an option the script never used."""
    with Sandbox() as sandbox:  # it refuses XCLIENT (502): it is not Postfix
        session = SMTPSession(sandbox.host, sandbox.ports["smtp"], present_as=OUTSIDE, timeout=10)
        with pytest.raises(SessionMisuse, match=rf"^cannot test as client {OUTSIDE}: 127\.0\.0\.1:\d+ refused "
                                                rf"XCLIENT ADDR={OUTSIDE} with 502 "):
            session.connect()
        session.close()


PYTHON_AS = f'''
import pytest

def relay(session):
    session.ehlo()
    session.mail("probe@example.net")
    return session.rcpt("victim@elsewhere.example")

@pytest.mark.smtp(as_address="{OUTSIDE}")
def test_marker_presents_the_outside_address(smtp_session):
    assert relay(smtp_session).code == 554

def test_without_it_loopback_may_relay(smtp_session):
    assert relay(smtp_session).code == 250

def test_xclient_by_hand(smtp_session):
    smtp_session.ehlo()
    assert smtp_session.supports("XCLIENT")
    assert smtp_session.xclient(ADDR="{OUTSIDE}").code == 220
    assert not smtp_session.capabilities, "a new session after XCLIENT: EHLO again"
    assert relay(smtp_session).code == 554
'''


def test_marker_twin_and_xclient_method_in_python_tests(pytester, postfix):
    pytester.makepyfile(test_as=PYTHON_AS)
    result = run(pytester, *postfix_target(postfix, "xclient"))
    assert outcomes(result) == {"passed": 3}, result.stdout.str()


def test_xclient_method_against_a_refusing_server_returns_the_refusal(postfix):
    session = SMTPSession("127.0.0.1", postfix.ports["smtp"], timeout=10)
    session.connect()
    session.ehlo()
    assert str(session.xclient(ADDR=OUTSIDE)) == "550 5.7.0 Error: insufficient authorization"
    session.quit()


def test_xclient_attribute_the_server_does_not_offer_fails_before_sending(postfix):
    session = SMTPSession("127.0.0.1", postfix.ports["xclient"], timeout=10)
    session.connect()
    session.ehlo()
    session.capabilities["XCLIENT"] = "NAME ADDR"  # as a server offering fewer attributes would
    with pytest.raises(SessionMisuse, match="offers XCLIENT with ADDR, NAME, not LOGIN"):
        session.xclient(ADDR=OUTSIDE, LOGIN="probe")
    assert not any("XCLIENT" in e.text for e in session.transcript.entries if e.direction == "C")
    session.quit()


# -- BDAT ---------------------------------------------------------------------------------------------------

BDAT_FILE = """\
< 220
> EHLO probe.example.net
< 250 /^CHUNKING$/m
> MAIL FROM:<probe@example.net> SIZE=20000
< 250
> RCPT TO:<postmaster@sandbox.test>
< 250
! bdat 20kB chunk=7000
< 250 2.0.0
> QUIT
< 221
"""

PYTHON_BDAT = '''
from pytest_smtpcheck.smtp.message import generated_message

def test_bdat_by_the_library(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net", size=20480)
    smtp_session.rcpt("postmaster@sandbox.test")
    replies = smtp_session.bdat(generated_message(20480, "library"), chunk_size=7000)
    assert [r.command for r in replies] == ["BDAT 7000", "BDAT 7000", "BDAT 6480 LAST"]
    assert [str(r) for r in replies[:2]] == ["250 2.0.0 Ok: 7000 bytes"] * 2
    assert str(replies[2]).startswith("250 2.0.0 Ok: 20480 bytes queued as ")
'''


def test_a_20kb_message_by_bdat_in_three_chunks_is_accepted_by_postfix(pytester, postfix, tmp_path):
    pytester.makefile(".smtp", bdat=BDAT_FILE)
    pytester.makepyfile(test_bdat=PYTHON_BDAT)
    junit = tmp_path / "junit.xml"
    before = len(postfix.disconnect_summaries())
    result = run(pytester, *postfix_target(postfix), f"--junitxml={junit}")
    text = result.stdout.str()
    assert outcomes(result) == {"passed": 7}, text
    assert "PASSED bdat.smtp::line8-BDAT" in text
    for shown in (text, junit.read_text()):  # the chunk replies are in the report and the XML
        assert shown.count("S: 250 2.0.0 Ok: 7000 bytes") >= 2
        assert "C: BDAT 6000 LAST" in shown and "S: 250 2.0.0 Ok: 20000 bytes queued as " in shown
    assert sum("bdat=3" in s for s in postfix.disconnect_summaries()[before:]) == 2


REFUSED_CHUNK = """\
< 220
> EHLO probe.example.net
< 250
> MAIL FROM:<probe@example.net>
< 250
> RCPT TO:<postmaster@${SMTP_DOMAIN}>
< 250
! bdat 2MiB chunk=700kB
< 552 5.3.4
> QUIT
< 221
"""
REFUSED_LAST = REFUSED_CHUNK.replace("chunk=700kB", "chunk=2MiB")


def test_a_refused_chunk_before_last_fails_even_where_the_expectation_matches(pytester):
    """The sandbox refuses the second 700 kB chunk (over its 1 MiB limit): the runner must not let `< 552` judge it."""
    pytester.makefile(".smtp", refused_chunk=REFUSED_CHUNK, refused_last=REFUSED_LAST)
    result = run(pytester)
    text = result.stdout.str()
    assert "FAILED refused_chunk.smtp::line8-BDAT" in text
    assert "refused_chunk.smtp:8: expected 2xx to every BDAT chunk before the LAST one, chunk 2 (BDAT 700000) " \
           "got 552; the rest was not sent" in text
    assert ">>" in text and "S: 552 5.3.4 Message size exceeds fixed limit" in text
    assert "not run: line 8 did not match" in text  # the QUIT exchange was not sent
    assert "PASSED refused_last.smtp::line8-BDAT" in text, "one LAST chunk: its 552 is judged by the `<` line"
    assert outcomes(result) == {"failed": 1, "passed": 10, "skipped": 1}, text


# -- the session library against the sandbox ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as server:
        yield server


def session_to(server: Sandbox, listener: str = "smtp") -> SMTPSession:
    session = SMTPSession(server.host, server.ports[listener], timeout=10, tls=TLSSettings(ca_file=server.ca_file))
    session.connect()
    session.ehlo()
    if listener == "submission":
        session.starttls()
        session.ehlo()
    return session


def test_bdat_without_chunking_advertised_sends_nothing(sandbox):
    session = SMTPSession(sandbox.host, sandbox.ports["smtp"], timeout=10)
    session.connect()
    with pytest.raises(SessionMisuse, match=r"BDAT needs the CHUNKING extension.*send EHLO first"):
        session.bdat("Subject: x\n\nhello\n")
    session.quit()
    assert sandbox.sessions[-1].commands == ["QUIT"]


def test_bdat_chunk_refusal_stops_the_sending(sandbox):
    session = session_to(sandbox)
    replies = session.bdat(generated_message(5000, "no recipient"), chunk_size=2000)
    assert [(r.command, r.code) for r in replies] == [("BDAT 2000", 503)], "a client stops at a refused chunk"
    assert session.noop().code == 250, "the refused chunk's bytes were read as data"
    session.quit()


@pytest.mark.parametrize("server", ["sandbox", "postfix"])
def test_utf8_sender_accepted_with_smtputf8_refused_without(request, server):
    if server == "sandbox":
        target = request.getfixturevalue("sandbox")
        session = session_to(target)
    else:
        postfix = request.getfixturevalue("postfix")
        session = SMTPSession("127.0.0.1", postfix.ports["smtp"], timeout=10)
        session.connect()
        session.ehlo()
    assert str(session.mail("prøbe@example.net")) == "553 5.6.7 Must declare SMTPUTF8 to send unicode address"
    assert session.mail("prøbe@example.net", smtputf8=True, body="8BITMIME").code == 250
    assert session.rcpt(UTF8_USER).code == 250
    reply = session.data("Subject: Grüße\r\n\r\nHällo, wörld: 8-bit UTF-8 body.\r\n".encode())
    assert reply.code == 250, reply
    assert "C: MAIL FROM:<prøbe@example.net> SMTPUTF8 BODY=8BITMIME" in session.transcript.render(), "raw UTF-8"
    session.quit()


def test_a_parameter_the_server_did_not_advertise_fails_before_anything_is_sent(sandbox):
    session = session_to(sandbox)
    with pytest.raises(SessionMisuse, match=r"MAIL parameter REQUIRETLS needs the REQUIRETLS extension, which "
                                            r"127\.0\.0\.1:\d+ did not advertise in its EHLO reply"):
        session.mail("probe@example.net", requiretls=True)
    session.quit()
    assert sandbox.sessions[-1].commands == [f"EHLO {DEFAULT_HELO}", "QUIT"], "MAIL was never sent"


def test_sandbox_refuses_what_it_did_not_advertise_and_malformed_parameters(sandbox):
    session = session_to(sandbox)
    assert str(session.mail("a@example.net", "REQUIRETLS")) == "555 5.5.4 Unsupported option: REQUIRETLS"
    assert str(session.mail("a@example.net", "RET=PARTIAL")) == "501 5.5.4 Bad RET parameter syntax"
    assert session.mail("a@example.net", ret="FULL", envid="run+1").code == 250
    assert str(session.rcpt("bob@sandbox.test", "NOTIFY=NEVER,SUCCESS")) == "501 5.5.4 Bad NOTIFY parameter syntax"
    assert str(session.rcpt(UTF8_USER)) == "553 5.6.7 Must declare SMTPUTF8 to send unicode address"
    session.quit()


def test_dsn_keyword_parameters_accepted_by_postfix(postfix):
    session = SMTPSession("127.0.0.1", postfix.ports["smtp"], timeout=10)
    session.connect()
    session.ehlo()
    assert session.mail("probe@example.net", ret="HDRS", envid="smtpcheck+1", size=1000).code == 250
    reply = session.rcpt("postmaster@sandbox.test", notify={"SUCCESS", "FAILURE"}, orcpt="postmaster@sandbox.test")
    assert reply.code == 250
    assert "RCPT TO:<postmaster@sandbox.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;postmaster@sandbox.test" in (
        session.transcript.render())
    assert "MAIL FROM:<probe@example.net> RET=HDRS ENVID=smtpcheck+2B1 SIZE=1000" in session.transcript.render()
    with pytest.raises(SessionMisuse, match="NOTIFY must be NEVER alone"):
        session.rcpt("bob@sandbox.test", notify="NEVER,SUCCESS")
    session.rset()
    session.quit()


@pytest.mark.parametrize(("mechanism", "status"), [("XOAUTH2", "401"), ("OAUTHBEARER", "invalid_token")])
def test_oauth_token_accepted_and_a_wrong_one_answered_by_the_error_challenge(sandbox, mechanism, status):
    session = session_to(sandbox, "submission")
    wrong = session.auth(mechanism, sandbox.username, "not-the-token")
    assert (wrong.code, wrong.enhanced) == (535, "5.7.8")
    challenge = session.replies[-2]
    assert challenge.code == 334 and f'"status":"{status}"' in base64.b64decode(challenge.text).decode()
    assert f"{mechanism} error from the server: status={status} schemes=bearer" in session.transcript.render()
    assert session.auth(mechanism, sandbox.username, TOKEN).code == 235
    session.quit()
    acknowledgement = sandbox.sessions[-1].commands
    assert acknowledgement.count(f"AUTH {mechanism} ****") == 2 and "****" in acknowledgement
    assert TOKEN not in repr(sandbox.sessions) and TOKEN not in session.transcript.render()


# -- OAuth through the plugin; the token in no artifact ----------------------------------------------------

PYTHON_OAUTH = '''
import pytest

@pytest.fixture
def submission(smtp_connect):
    session = smtp_connect(listener="submission")
    session.ehlo()
    session.starttls()
    session.ehlo()
    return session

@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_token_accepted(submission, smtp_server, mechanism):
    assert submission.auth(mechanism, smtp_server.var("SMTP_USER"), smtp_server.var("SMTP_TOKEN")).code == 235

@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_wrong_token_refused(submission, smtp_server, mechanism):
    assert submission.auth(mechanism, smtp_server.var("SMTP_USER"), "wrong-token-smtpcheck").code == 535

def test_fails_with_the_token_in_the_assertion(submission, smtp_server):
    token = smtp_server.var("SMTP_TOKEN")
    assert submission.auth("OAUTHBEARER", smtp_server.var("SMTP_USER"), token).code == 999, token
'''

OAUTH_FILE = """\
+++
listener = "submission"
+++
< 220
> EHLO probe.example.net
< 250
! starttls
< 220
> EHLO probe.example.net
< 250 /^AUTH .*XOAUTH2 OAUTHBEARER$/m
! auth XOAUTH2 ${SMTP_USER} wrong-token-smtpcheck
< 535 5.7.8
! auth OAUTHBEARER ${SMTP_USER} ${SMTP_TOKEN}
< 235 2.7.0
> QUIT
< 221
"""


def leaked_token(text: str) -> str | None:
    """Where the token shows, itself or inside any base64 run (a SASL payload whose exact form we need not know)."""
    if TOKEN in text:
        return TOKEN
    for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        for start in range(4):  # a run may begin mid-quantum when glued to other text
            piece = run[start:]
            try:
                decoded = base64.b64decode(piece + "=" * (-len(piece) % 4))
            except (binascii.Error, ValueError):
                continue
            if TOKEN.encode() in decoded:
                return run
    return None


def test_oauth_through_the_plugin_and_the_token_in_no_artifact(pytester, tmp_path):
    pytester.makepyfile(test_oauth=PYTHON_OAUTH)
    pytester.makefile(".smtp", oauth=OAUTH_FILE)
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-vv", "-rA", "-l", "--log-level=DEBUG", "--tb=long",
        f"--html={html}", "--self-contained-html", f"--junitxml={junit}", "-o", "junit_logging=all",
    )
    text = result.stdout.str() + result.stderr.str()
    assert outcomes(result) == {"passed": 11, "failed": 1}, text
    assert "test_fails_with_the_token_in_the_assertion FAILED" in text
    artifacts = {"terminal": text, "html": html.read_text(), "junit": junit.read_text()}
    assert "AUTH XOAUTH2 ****" in text and "AUTH OAUTHBEARER ****" in text
    assert "S: 334 eyJzdGF0dXMiOiI0MDEi" in text, "the XOAUTH2 error challenge is shown"
    for where, content in artifacts.items():
        assert leaked_token(content) is None, f"the token shows in the {where} output as {leaked_token(content)}"


def test_the_leak_detector_finds_the_token_in_its_sasl_forms():
    """The other side of the check above: a token that did leak is found, plain or base64 in any framing."""
    xoauth2 = base64.b64encode(f"user=u\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
    bearer = base64.b64encode(f"n,a=u,\x01host=127.0.0.1\x01port=4242\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
    assert leaked_token(f"C: {TOKEN}") and leaked_token(f"C: AUTH XOAUTH2 {xoauth2}")
    assert leaked_token(f"<system-out>AUTH OAUTHBEARER {bearer}</system-out>")
    assert leaked_token("C: AUTH XOAUTH2 ****") is None
