"""The example suite against real servers: the sandbox and Postfix, configured right and misconfigured.

The verdicts on both sides matter: a correctly configured server passes every
example, and an open relay fails the relay checks, pointing at the RCPT reply.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
PYTHON_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("test_*.py"))
SMTP_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.smtp"))


def copy_examples(pytester) -> None:
    for name in [*PYTHON_EXAMPLES, *SMTP_EXAMPLES]:
        shutil.copy(EXAMPLES / name, pytester.path / name)


def outcomes(result) -> dict:
    return {k: v for k, v in result.parseoutcomes().items() if k in ("passed", "failed", "skipped", "errors")}


def test_examples_pass_against_the_sandbox(pytester):
    copy_examples(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert outcomes(result).get("failed", 0) == outcomes(result).get("errors", 0) == 0, result.stdout.str()
    assert outcomes(result)["passed"] >= 40


def test_misconfigured_sandbox_fails_the_relay_and_auth_checks(pytester):
    copy_examples(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--smtp-sandbox=misconfigured", "-rfs")
    text = result.stdout.str()
    failed = set(re.findall(r"^FAILED (\S+)", text, re.M))
    assert "test_mx_policy.py::test_relay_denied" in failed
    assert "relay_denied.smtp::line10-RCPT" in failed
    assert "test_tls_and_submission.py::test_submission_offers_no_auth_in_plain_text" in failed
    assert "test_mx_policy.py::test_postmaster_accepted" not in failed
    # The relay failure shows what was sent and the 250 that came back instead of 550/554.
    assert "relay_denied.smtp:11: expected 550|554 (5.7.1) /relay/i, got code 250" in text
    assert "RCPT TO:<victim@elsewhere.example>" in text
    # Nothing after the mismatch: the file's QUIT item is skipped, not sent.
    assert re.search(r"SKIPPED .*not run: line 11 did not match", text)


def test_examples_pass_against_the_sandbox_over_starttls(pytester):
    """--smtp-tls=starttls: every session upgrades first; the files and tests that check plain text say tls="none"."""
    copy_examples(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--smtp-tls=starttls")
    assert outcomes(result).get("failed", 0) == outcomes(result).get("errors", 0) == 0, result.stdout.str()
    assert outcomes(result)["passed"] >= 40


def mta_args(mta, *, open_relay=False):
    """Options that point the examples at the MTA, with its domain and the lab's submission account."""
    return [*mta.target_args(open_relay=open_relay), "--smtp-var=SMTP_DOMAIN=sandbox.test",
            "--smtp-user=submit@sandbox.test"]


@pytest.mark.parametrize("how", [[], ["-n", "2"], ["--smtp-tls=starttls"]], ids=["serial", "xdist", "starttls"])
def test_examples_pass_unchanged_against_postfix_and_exim(pytester, mta, how, monkeypatch):
    """The same files on a server that advertises ENHANCEDSTATUSCODES and one that does not (RFC 2034): the
    conditional enhanced codes, `(5.7.1)`, hold on both."""
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "sandbox-Pa55word")
    copy_examples(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rfs", *mta_args(mta), *how)
    assert outcomes(result).get("failed", 0) == outcomes(result).get("errors", 0) == 0, result.stdout.str()
    assert outcomes(result)["passed"] >= 55, result.stdout.str()
    skipped = re.findall(r"^SKIPPED \[\d+\] (\S+?):\d+: (.*)$", result.stdout.str(), re.M)
    assert {reason.split(":")[0] for _, reason in skipped} <= {
        "DNS checks need a mail domain and a resolver", "needs an OAuth token", "needs a server that offers XCLIENT to "
        "this machine (Postfix"}, skipped


def test_the_relay_checks_fail_on_an_open_relay_exim(pytester, exim, monkeypatch):
    """The failing side on the MTA without enhanced codes: the conditional code lets nothing else through."""
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "sandbox-Pa55word")
    copy_examples(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", *mta_args(exim, open_relay=True))
    text = result.stdout.str()
    assert set(re.findall(r"^FAILED (\S+)", text, re.M)) == {
        "pipelined.smtp::line9-MAIL+RCPT+RCPT+RSET", "relay_denied.smtp::line10-RCPT",
        "test_mx_policy.py::test_relay_denied"}, text
    assert "relay_denied.smtp:11: expected 550|554 (5.7.1) /relay/i, got code 250" in text
    assert "sandbox-Pa55word" not in text


def test_open_relay_postfix_fails_at_the_rcpt_line_and_sends_nothing_after_it(pytester, postfix, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "sandbox-Pa55word")
    for name in ("relay_denied.smtp", "test_mx_policy.py"):
        shutil.copy(EXAMPLES / name, pytester.path / name)
    before = len(postfix.disconnect_summaries())
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rfs", *postfix.target_args(open_relay=True), "--smtp-var=SMTP_DOMAIN=sandbox.test",
        "-k", "relay",
    )
    text = result.stdout.str()
    assert outcomes(result) == {"failed": 2, "passed": 3, "skipped": 1}, text
    assert "relay_denied.smtp:11: expected 550|554 (5.7.1) /relay/i, got code 250" in text
    assert "expected: 550|554 (5.7.1)" in text  # the Python test's reply.expect(), naming what it asked for
    assert "RCPT TO:<victim@elsewhere.example>" in text
    sessions = postfix.disconnect_summaries()[before:]
    assert len(sessions) == 2, sessions
    for summary in sessions:
        assert "rcpt=1" in summary, summary
        assert "data=" not in summary, f"DATA was sent after the mismatch: {summary}"
    assert os.environ.get("SMTPCHECK_PASSWORD") not in text
