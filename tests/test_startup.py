"""Cheap when idle: the plugin loads in every pytest run of the environment (entry point pytest11), so a run that
neither gives a setting nor has an SMTP test must not load the code behind them.

Each run is a fresh interpreter (a pytester run in this process would find every module already loaded); what
the plugin adds is what a run imports with it minus what the same run imports without it (`-p no:smtpcheck`).
How long start-up takes is bench/startup.py's business: no timings here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# What declaring the options, configuring and collecting other files need. A module added here is loaded in
# every pytest run of the environment: say why, and run bench/startup.py.
LIGHT = {
    "pytest_smtpcheck",
    "pytest_smtpcheck.errors",  # Unavailable becomes a skip; SettingsError a usage error
    "pytest_smtpcheck.profiles",  # a profile file in the rootdir is a setting given
    "pytest_smtpcheck.vocabulary",  # the words and defaults the options' help quotes
    "pytest_smtpcheck.plugin",
    "pytest_smtpcheck.plugin.fixtures",  # pytest finds fixtures in the plugin module when it registers it
    "pytest_smtpcheck.plugin.keys",
    "pytest_smtpcheck.plugin.options",
    "pytest_smtpcheck.plugin.run",
    "pytest_smtpcheck.plugin.report",
    "pytest_smtpcheck.plugin.report.summary",  # registered in every run: xdist workers' reports pass through it
}

PLAIN_TESTS = """\
import pytest

def test_plain():
    assert 1 + 1 == 2

def test_skipped():
    pytest.skip("not today")
"""


def loaded(directory: Path, *args: str) -> set[str]:
    """The modules a pytest run in DIRECTORY has imported by its end, in a fresh interpreter."""
    listing = directory.parent / f"{directory.name}-modules.txt"
    code = ("import sys, pytest\n"
            f"status = pytest.main([*{list(args)!r}, '-p', 'no:cacheprovider', '-p', 'no:hypothesispytest'])\n"
            f"open({str(listing)!r}, 'w').write('\\n'.join(sorted(sys.modules)))\n"
            "sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code], cwd=directory, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return set(listing.read_text().split())


def added_by_plugin(directory: Path, *args: str) -> set[str]:
    return loaded(directory, *args) - loaded(directory, *args, "-p", "no:smtpcheck")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project that has nothing to do with SMTP: one test file, a pyproject.toml without [tool.smtpcheck]."""
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "test_plain.py").write_text(PLAIN_TESTS)
    (directory / "pyproject.toml").write_text('[project]\nname = "plain"\n\n[tool.pytest.ini_options]\n')
    return directory


@pytest.mark.parametrize("args", [["--collect-only", "-q"], ["-q"], ["-v", "-rs"]],
                         ids=["collect-only", "run", "run-verbose-with-header"])
def test_a_run_without_smtp_loads_only_what_declaring_and_configuring_need(project, args):
    added = added_by_plugin(project, *args)
    assert "pytest_smtpcheck.plugin" in added, "the plugin did not load: this test would prove nothing"
    assert added - LIGHT == set(), f"loaded at start-up without an SMTP test or setting: {sorted(added - LIGHT)}"


def test_a_setting_given_is_read_at_start_up_and_still_loads_no_session_code(project):
    """The failing side: a given setting is read (and checked) at once, so the rules load; a session's code does
    not, since no test opens one."""
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nsmtp_timeout = "5"\n')
    added = loaded(project, "--collect-only", "-q") - loaded(project, "--collect-only", "-q", "-p", "no:smtpcheck")
    assert "pytest_smtpcheck.settings" in added
    heavy = {name for name in added if name.split(".")[0] in ("ssl", "dns", "cryptography", "trustme")
             or name.startswith(("pytest_smtpcheck.smtp.session", "pytest_smtpcheck.sandbox", "pytest_smtpcheck.dns",
                                 "pytest_smtpcheck.transcripts"))}
    assert heavy == set()


def test_a_smtp_file_loads_the_collector_and_the_rules(project):
    """The failing side: collecting a `.smtp` file is an SMTP use, and loads what it needs."""
    (project / "relay.smtp").write_text("< 220\n> EHLO probe.example\n< 250\n")
    added = added_by_plugin(project, "--collect-only", "-q")
    assert {"pytest_smtpcheck.settings", "pytest_smtpcheck.plugin.collector", "pytest_smtpcheck.transcripts.syntax",
            "pytest_smtpcheck.target"} <= added
