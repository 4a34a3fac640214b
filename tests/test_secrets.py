"""A known password, run through passing and failing AUTH tests, must appear in no artifact of the run.

Searched: terminal output (verbose, every report section, locals), the HTML
report, the JUnit XML, captured logs at DEBUG, in its plain and base64 forms.
"""

import base64

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
