"""Real Postfix misbehaving on purpose: tarpitting, 421 after too many errors, a server stopped mid-run.

Verdicts must stay right and the run must finish within its timeouts.
"""

import time

PROBE = """
import pytest

BAD = ["nobody1", "nobody2", "nobody3"]

def test_unknown_users_are_refused(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net")
    for user in BAD:
        assert smtp_session.rcpt(f"{user}@sandbox.test").code == 550

def test_postmaster_still_accepted_afterwards(smtp_connect):
    session = smtp_connect()
    session.ehlo()
    session.mail("probe@example.net")
    assert session.rcpt("postmaster@sandbox.test").code == 250
"""


def run(pytester, port, *args):
    pytester.makepyfile(test_probe=PROBE)
    started = time.monotonic()
    result = pytester.runpytest_inprocess(f"--smtp-target=127.0.0.1:{port}", "-p", "no:cacheprovider", *args)
    return result, time.monotonic() - started


def test_tarpit_slower_than_the_timeout_fails_the_test_within_it(pytester, postfix):
    result, seconds = run(pytester, postfix.ports["tarpit"], "--smtp-timeout=1")
    result.assert_outcomes(failed=1, passed=1)
    text = result.stdout.str()
    assert "no complete reply to RCPT TO:<nobody2@sandbox.test> within 1 s (nothing received)" in text
    assert "RCPT TO:<nobody1@sandbox.test>" in text, "the first error is answered at once"
    assert "SMTP transcript" in text
    assert seconds < 10, seconds


def test_tarpit_within_the_timeout_is_slow_but_passes(pytester, postfix):
    result, seconds = run(pytester, postfix.ports["tarpit"], "--smtp-timeout=5")
    result.assert_outcomes(passed=2)
    assert seconds >= 6, "two tarpitted replies of 3 s each"


def test_hard_error_limit_closes_the_session_and_the_verdict_says_so(pytester, postfix):
    result, _ = run(pytester, postfix.ports["strict"], "--smtp-timeout=5")
    result.assert_outcomes(failed=1, passed=1)
    text = result.stdout.str()
    assert "421 4.7.0 mx.sandbox.test Error: too many errors" in text
    assert "assert 421 == 550" in text


def test_a_smtp_file_can_expect_the_421_and_the_hang_up(pytester, postfix):
    pytester.makefile(".smtp", strict="""\
< 220
> EHLO probe.example.net
< 250
> MAIL FROM:<probe@example.net>
< 250
> RCPT TO:<nobody1@sandbox.test>
< 550 5.1.1
> RCPT TO:<nobody2@sandbox.test>
< 550 5.1.1
> RCPT TO:<nobody3@sandbox.test>
< 421 4.7.0 /too many errors/
< closed
""")
    result = pytester.runpytest_inprocess(f"--smtp-target=127.0.0.1:{postfix.ports['strict']}", "--smtp-timeout=5",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


STOPPING = """
import subprocess

from pytest_smtpcheck.errors import SMTPCheckError

def test_before_the_stop(smtp_session):
    assert smtp_session.ehlo().code == 250

def test_stop_the_server_mid_run(smtp_session):
    smtp_session.ehlo()
    subprocess.run(["/usr/sbin/postfix", "-c", "{directory}", "stop"], check=True, capture_output=True)
    try:  # the open session may still answer, or be gone: either is fine here, as long as it says which
        assert smtp_session.noop().code in (250, 421)
    except SMTPCheckError as gone:
        assert "connection" in str(gone)

def test_after_the_stop(smtp_session):
    assert smtp_session.ehlo().code == 250

def test_a_later_file_too(smtp_connect):
    smtp_connect()
"""


def test_a_server_stopped_mid_run_fails_later_tests_fast_and_the_run_finishes(pytester, own_postfix):
    pytester.makepyfile(test_stopping=STOPPING.format(directory=own_postfix.directory))
    started = time.monotonic()
    result = pytester.runpytest_subprocess(f"--smtp-target=127.0.0.1:{own_postfix.ports['smtp']}",
                                           "--smtp-timeout=3", "-p", "no:cacheprovider", timeout=120)
    seconds = time.monotonic() - started
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") in (1, 2), result.stdout.str()
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) >= 2
    assert result.stdout.str().count("refused (nothing listening on that port?)") >= 2
    assert seconds < 60
