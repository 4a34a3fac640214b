"""A known password, run through passing and failing AUTH tests, must appear in no artifact of the run.

Searched: terminal output (verbose, every report section, locals), the HTML
report, the JUnit XML, captured logs at DEBUG, in its plain and base64 forms.
"""

import base64
from functools import partial

import pytest

from pytest_smtpcheck.sandbox import Sandbox

USER, PASSWORD = Sandbox.username, Sandbox.password


def forms_of_the_secret() -> dict[str, str]:
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    return {
        "password": PASSWORD,
        "base64 password (LOGIN)": b64(PASSWORD),
        "base64 PLAIN string": b64(f"\0{USER}\0{PASSWORD}"),
        "base64 PLAIN without authzid": b64(f"{USER}\0{PASSWORD}"),
        "hand-written PLAIN with authzid": PLAIN_WITH_AUTHZID,
    }


PYTHON_TESTS = '''
import logging
import pytest

@pytest.mark.smtp(listener="submission")
def test_auth_passes(smtp_session, smtp_server):
    logging.getLogger("probe").debug("password is %r", smtp_server.password)
    smtp_session.ehlo()
    smtp_session.starttls()
    smtp_session.ehlo()
    assert smtp_session.auth("PLAIN", smtp_server.username, smtp_server.password).code == 235

@pytest.mark.smtp(listener="submission")
def test_auth_fails_with_the_password_in_the_assertion(smtp_session, smtp_server):
    password = smtp_server.var("SMTP_PASSWORD")
    smtp_session.ehlo()
    smtp_session.starttls()
    smtp_session.ehlo()
    assert smtp_session.auth("LOGIN", smtp_server.username, password).code == 999, password

@pytest.mark.smtp(listener="submission")
def test_auth_in_plain_text_is_refused(smtp_session, smtp_server):
    smtp_session.ehlo()
    reply = smtp_session.auth("PLAIN", smtp_server.username, smtp_server.password)
    assert reply.code == 530
'''

SMTP_FILE = """\
+++
listener = "submission"
+++
< 220
> EHLO probe.example.net
< 250
! starttls
< 220
> EHLO probe.example.net
< 250
! auth PLAIN ${SMTP_USER} ${SMTP_PASSWORD}
< 235
> RSET
< 250
! auth CRAM-MD5 ${SMTP_USER} ${SMTP_PASSWORD}
< 554
"""

PLAIN_WITH_AUTHZID = base64.b64encode(f"{USER}\0{USER}\0{PASSWORD}".encode()).decode()
HAND_WRITTEN = f"""\
+++
listener = "submission"
+++
< 220
> EHLO probe.example.net
< 250
> AUTH PLAIN {PLAIN_WITH_AUTHZID}
< 554
! auth LOGIN {USER} {PASSWORD}
< 235
"""


@pytest.mark.parametrize("policy", ["secure", "misconfigured"])
def test_no_artifact_holds_the_password(pytester, tmp_path, policy):
    pytester.makepyfile(test_auth=PYTHON_TESTS)
    pytester.makefile(".smtp", auth_file=SMTP_FILE, hand_written=HAND_WRITTEN)
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess(
        f"--smtp-sandbox={policy}", "-vv", "-rA", "-l", "--log-level=DEBUG", "--tb=long",
        f"--html={html}", "--self-contained-html", f"--junitxml={junit}", "-o", "junit_logging=all",
        "-p", "no:cacheprovider",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 3, result.stdout.str()  # the failing side ran, with secrets in play
    artifacts = {
        "terminal": result.stdout.str() + result.stderr.str(),
        "html": html.read_text(),
        "junit": junit.read_text(),
    }
    assert "AUTH PLAIN ****" in artifacts["terminal"], "the AUTH exchanges are in the output, masked"
    assert "system-out" in artifacts["junit"] and "AUTH" in artifacts["junit"]
    for where, text in artifacts.items():
        for form, secret in forms_of_the_secret().items():
            assert secret not in text, f"{form} found in the {where} output"


TOKEN_TESTS = '''
import pytest

@pytest.mark.smtp(listener="submission")
def test_token_printed_and_in_the_assertion(smtp_server):
    token = smtp_server.var("SMTP_TOKEN")
    print("the token is", token)
    assert token == "something else", f"token {token}"

@pytest.mark.smtp(listener="submission")
def test_token_used(smtp_session, smtp_server):
    smtp_session.ehlo()
    smtp_session.starttls()
    smtp_session.ehlo()
    assert smtp_session.auth("XOAUTH2", smtp_server.username, smtp_server.var("SMTP_TOKEN")).code == 999
'''


def test_the_oauth_token_is_masked_like_the_password(pytester, tmp_path):
    """0.2.0 masked the password where a test printed or asserted it, but not the token."""
    pytester.makepyfile(test_token=TOKEN_TESTS)
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess("-vv", "-rA", "-l", "--tb=long", f"--html={html}", "--self-contained-html",
                                           f"--junitxml={junit}", "-o", "junit_logging=all", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    token = Sandbox.token
    forms = [token, base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()]
    for where, text in {"terminal": result.stdout.str(), "html": html.read_text(), "junit": junit.read_text()}.items():
        assert "the token is ****" in text or where == "html", where
        for form in forms:
            assert form not in text, f"{form} in the {where} output"


VAR_FILE = """\
+++
allow_plaintext_auth = true  # a run's variable is a real credential: sent without TLS only when the test says so
+++
< 220
> EHLO probe.example.net
< 250
! auth PLAIN probe@example.net ${MYPW}
< 235
> RCPT TO:<victim@elsewhere.example>
< 250
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_variable_used_as_a_password_is_masked_in_every_output(pytester, tmp_path, xdist):
    """`--smtp-var MYPW=...` used in `! auth`: masked in the transcript, and (0.2.0 did not) in the report's command
    line and options, also when the server echoes the AUTH line; through xdist workers too."""
    from faultserver import FaultServer, hostile_mx

    secret = "var-Pa55word-given-on-the-command-line"
    pytester.makefile(".smtp", uses_var=VAR_FILE)
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    with FaultServer(partial(hostile_mx, echo=True), max_connections=20) as server:
        result = pytester.runpytest_subprocess(
            f"--smtp-target={server.target}", f"--smtp-var=MYPW={secret}", "--smtp-var=SMTP_DOMAIN=example.com",
            "-vv", "-rA", "--color=no", f"--html={html}", "--self-contained-html", f"--junitxml={junit}",
            "-o", "junit_logging=all", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=3, failed=1)
    forms = [secret, base64.b64encode(f"\0probe@example.net\0{secret}".encode()).decode()]
    page = html.read_text()
    assert "--smtp-var=MYPW=****" in page and "SMTP_DOMAIN=example.com" in page  # the other variables stay
    for where, text in {"terminal": result.stdout.str(), "html": page, "junit": junit.read_text()}.items():
        for form in forms:
            assert form not in text, f"{form[:12]}... in the {where} output"


def test_the_recorder_never_writes_a_reply_text_holding_a_secret(tmp_path, monkeypatch, capsys):
    import io
    import sys

    from faultserver import FaultServer, hostile_mx

    from pytest_smtpcheck import cli

    secret = "typed-Pa55word"
    output = tmp_path / "echo.smtp"
    typed = f"EHLO probe.example.net\n! auth PLAIN probe@example.net {secret}\nNOOP\nQUIT\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    with FaultServer(partial(hostile_mx, echo=True)) as server:
        assert cli.main(["record", server.target, "-o", str(output), "--keep-text", "--timeout", "5"]) == 0
    shown = capsys.readouterr()
    written = output.read_text()
    encoded = base64.b64encode(f"\0probe@example.net\0{secret}".encode()).decode()
    assert secret not in written and encoded not in written
    assert "< 235 2.7.0\n" in written  # the codes are kept
    assert "holds a secret that was sent (the server echoes it): its text is left out" in shown.err
    assert "< 250 2.0.0 /ok" in written  # other replies keep their text
    assert secret not in shown.out + shown.err and encoded not in shown.out + shown.err


XFAIL_AND_WARN_TESTS = '''
import warnings

import pytest

OTHER = "other-Pa55word-of-the-test"

def test_xfail_with_the_password(smtp_server):
    pytest.xfail(f"pw {smtp_server.password}")

class Picky(UserWarning):
    """A warning whose constructor takes more than a message."""

    def __init__(self, code, text):
        super().__init__(code, text)

def test_warns_with_the_password(smtp_server):
    warnings.warn(f"pw {smtp_server.password}")
    warnings.warn(Picky(7, f"picky {smtp_server.password}"))

@pytest.mark.smtp(listener="submission")
def test_xfail_and_warn_with_a_password_the_test_sent(smtp_session, smtp_server):
    smtp_session.ehlo()
    smtp_session.starttls()
    smtp_session.ehlo()
    assert smtp_session.auth("PLAIN", smtp_server.username, OTHER).code == 535
    warnings.warn(f"other {OTHER}")
    pytest.xfail(f"other {OTHER}")
'''


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_secret_in_an_xfail_reason_or_a_warning_is_masked(pytester, tmp_path, xdist):
    """pytest shows an xfail reason (`-v`, `-rx`, JUnit's <skipped message>) and a warning's message (the warnings
    summary) from their own fields, not from the report's sections: the run's password and a password the test
    sent are masked there too, also when the warnings come from xdist workers."""
    pytester.makepyfile(test_xfail_and_warn=XFAIL_AND_WARN_TESTS)
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess("-vv", "-rA", "--color=no", f"--html={html}", "--self-contained-html",
                                           f"--junitxml={junit}", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=1, xfailed=2, warnings=3)
    terminal, page, xml = result.stdout.str() + result.stderr.str(), html.read_text(), junit.read_text()
    assert "UserWarning: pw ****" in terminal and "UserWarning: other ****" in terminal  # the warnings summary
    assert "Picky: (7, 'picky ****')" in terminal  # a category that cannot be rebuilt from the text keeps its name
    assert "XFAIL test_xfail_and_warn.py::test_xfail_with_the_password - pw ****" in terminal  # -rA
    assert 'message="pw ****"' in xml and 'message="other ****"' in xml
    other = "other-Pa55word-of-the-test"
    for where, text in {"terminal": terminal, "html": page, "junit": xml}.items():
        for form, secret in {**forms_of_the_secret(), "the test's own password": other}.items():
            assert secret not in text, f"{form} found in the {where} output"
