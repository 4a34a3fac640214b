"""What a new user trips on: a typo in a variable, skips that point into site-packages, a description nobody sees."""

from __future__ import annotations

import re

PYTHON_TESTS = """
import pytest

def test_var(smtp_server):
    smtp_server.var("SMTP_DOMIAN")

def test_far_from_anything(smtp_server):
    smtp_server.var("COMPLETELY_ELSE")

def test_dns(smtp_dns):
    smtp_dns.mx()

@pytest.mark.smtp(listener="submission")
def test_listener(smtp_session):
    smtp_session.ehlo()
"""


def test_a_typo_says_did_you_mean_and_the_summary_lists_what_was_missing(pytester, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_TEST_HOME", "/nowhere")
    pytester.makepyfile(test_typo=PYTHON_TESTS)
    pytester.makefile(".smtp", typo="< 220\n> EHLO ${SMTP_DOMIAN}\n< 250\n",
                      env_typo="< 220\n> EHLO ${env:SMTPCHECK_TEST_HOMEE}\n< 250\n")
    result = pytester.runpytest("--smtp-target=127.0.0.1:9", "--smtp-var=SMTP_DOMAIN=example.com", "-rs",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=8)
    text = result.stdout.str()
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] env_typo.smtp:1: line 2 needs the environment variable SMTPCHECK_TEST_HOMEE, which is not "
        "set (did you mean ${env:SMTPCHECK_TEST_HOME}?)",
        "SKIPPED [[]1[]] test_typo.py:3: needs the variable SMTP_DOMIAN: give --smtp-var SMTP_DOMIAN=VALUE "
        "(did you mean SMTP_DOMAIN? that one is given)",
        "SKIPPED [[]1[]] typo.smtp:2: line 2 needs the variable SMTP_DOMIAN: * (did you mean SMTP_DOMAIN? *",
    ])
    assert "COMPLETELY_ELSE=VALUE\n" in text  # nothing close: no guess
    result.stdout.fnmatch_lines([
        "*- smtpcheck -*",
        "not given: COMPLETELY_ELSE, 1 test skipped",
        "not given: SMTP_DOMIAN, 3 tests skipped (did you mean SMTP_DOMAIN? that one is given)",
        "not given: env:SMTPCHECK_TEST_HOMEE, 2 tests skipped (did you mean ${env:SMTPCHECK_TEST_HOME}?)",
    ])


def test_skips_point_at_the_test_or_the_smtp_line_never_at_the_plugin(pytester):
    pytester.makepyfile(test_typo=PYTHON_TESTS)
    pytester.makefile(".smtp", typo="< 220\n> EHLO ${SMTP_DOMIAN}\n< 250\n")
    result = pytester.runpytest("--smtp-target=127.0.0.1:9", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=6)
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert len(skips) == 6 and not [line for line in skips if "pytest_smtpcheck" in line], skips
    assert [re.match(r"SKIPPED \[1\] (\S+):", line).group(1) for line in skips] == [
        "test_typo.py:3", "test_typo.py:6", "test_typo.py:9", "test_typo.py:12", "typo.smtp:1", "typo.smtp:2"]


def test_the_front_matter_description_is_in_the_verbose_line_and_junit(pytester, tmp_path):
    pytester.makefile(".smtp", described='+++\ndescription = "the greeting comes"\n+++\n< 220\n> NOOP\n< 250\n',
                      plain="< 220\n")
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest("-v", f"--junitxml={junit}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["described.smtp::line4-greeting PASSED (the greeting comes)*",
                                 "described.smtp::line5-NOOP PASSED (the greeting comes)*",
                                 "plain.smtp::line1-greeting PASSED *"])
    assert "plain.smtp::line1-greeting PASSED (" not in result.stdout.str()
    assert junit.read_text().count('<property name="smtp_description" value="the greeting comes"') == 2
    assert "described.smtp::line4-greeting PASSED (the greeting comes)" not in pytester.runpytest(
        "-p", "no:cacheprovider").stdout.str()  # without -v: the dots as ever


def test_the_recorder_names_its_own_options(tmp_path, monkeypatch, capsys):
    """`smtpcheck record --tls=starttls`: its messages say --tls and --ca, not the plugin's --smtp-tls and --smtp-ca."""
    import io
    import sys
    from functools import partial

    from faultserver import Certificates, FaultServer, hostile_mx, mx

    from pytest_smtpcheck import cli

    monkeypatch.setattr(sys, "stdin", io.StringIO("QUIT\n"))
    with FaultServer(partial(hostile_mx, starttls="454 4.7.0 TLS not available")) as server:
        assert cli.main(["record", server.target, "-o", str(tmp_path / "a.smtp"), "--tls=starttls"]) == 1
    refused = capsys.readouterr().err
    assert "--tls=starttls, but the server answered STARTTLS with: 454 4.7.0" in refused and "--smtp-" not in refused
    certs = Certificates(tmp_path)
    with FaultServer(mx(), implicit_tls=certs.context("self-signed")) as server:
        assert cli.main(["record", server.target, "-o", str(tmp_path / "b.smtp"), "--tls=implicit"]) == 1
    untrusted = capsys.readouterr().err
    assert "pass it with --ca" in untrusted and "--smtp-" not in untrusted, untrusted


def test_the_suite_without_its_test_extra_says_what_to_install(tmp_path):
    """`pytest` at the repository root after installing only what the examples need: one line naming the extra,
    not collection errors about hypothesis."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "nohypothesis.py").write_text("import sys\nsys.modules['hypothesis'] = None  # as if not installed\n")
    repository = Path(__file__).parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "nohypothesis", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"],
        cwd=repository, env={**os.environ, "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.strip() == ("ERROR: the plugin's own tests need its test extra, and hypothesis is not "
                                     "installed: pip install -e '.[test]' (to run the examples alone: pytest examples)")
