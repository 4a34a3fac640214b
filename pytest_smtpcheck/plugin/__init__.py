"""pytest-smtpcheck's hooks: this module only wires pytest to the modules that do the work.

It loads in every pytest run of the environment, so what it imports at start-up is only what declaring the
options, configuring and collecting other files need; the rest loads when an SMTP test, a `.smtp` file or a
setting is in use (tests/test_startup.py keeps it so, bench/startup.py measures it).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import Misuse, Unavailable
from .fixtures import check_marker, pytest_generate_tests, smtp_connect, smtp_dns, smtp_server, smtp_session
from .keys import DECLARED, LAYERS, MISSING, RUN, SECRET_VARS
from .options import add_options, settings_given, usage_errors
from .report import configure as configure_reports
from .run import RUN_DIRECTORY_INPUT, RunState

if TYPE_CHECKING:
    from ..settings import Settings

# fixtures and the parametrizing hook are found by name in this module
__all__ = ["pytest_generate_tests", "smtp_connect", "smtp_dns", "smtp_server", "smtp_session"]
PLUGIN_FIXTURES = frozenset({"smtp_server", "smtp_dns"})  # every fixture of ours needs one of these
SESSION_LIBRARY = "pytest_smtpcheck.smtp.session"  # loaded: a test may drive SMTPSession itself, with no fixture

MARKERS = [
    "smtp(listener=, port=, tls=, helo=, timeout=, deadline=, as_address=, as_via=, allow_plaintext_auth=): session "
    "options for this test's smtp_session and smtp_connect (listener: smtp, submission or submissions)",
]
_PACKAGE = Path(__file__).resolve().parent.parent  # pytest_smtpcheck/


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    run = config.stash[RUN] = RunState(config)
    # Given settings are read now, so a bad one stops the run before any connection; defaults wait for a test.
    settings = run.settings if settings_given(config) else None
    configure_reports(config)
    if settings is not None and settings.update and not hasattr(config, "workerinput"):
        from .update import Updater  # files are rewritten once, on the controller, from reports

        config.pluginmanager.register(Updater(config), "smtpcheck-update")
    config.pluginmanager.register(_WarningHooks(config), "smtpcheck-warnings")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(config), "smtpcheck-xdist")
    if settings is not None:  # the battery runs only when asked for, which is a setting given
        _configure_baseline(config, settings)


def _configure_baseline(config: pytest.Config, settings: Settings) -> None:
    """The bundled battery, when asked for: its settings are read (and refused) like the run's."""
    from ..baseline.settings import resolve_baseline

    layers = config.stash[LAYERS]  # as read_settings read them
    with usage_errors():
        baseline = resolve_baseline(layers, settings)
    if baseline.enabled:
        from .baseline import BaselinePlugin

        config.pluginmanager.register(BaselinePlugin(config, baseline), "smtpcheck-baseline")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        run.close()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".smtp":
        from .collector import SMTPFile

        return SMTPFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any(item.path.suffix == ".smtp" for item in session.items):
        return  # no .smtp file to plan: the collector need not even be imported
    from .collector import plan_files

    plans, selected = plan_files(session.items)
    session.config.stash[RUN].runs.plan(plans, selected)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    if not session.config.getoption("collectonly"):
        session.config.stash[RUN].start_ahead()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                          pytest.TestReport]:
    test_report = yield
    if test_report.skipped and item.stash.get(MISSING, None):
        test_report.smtp_missing = item.stash[MISSING]  # type: ignore[attr-defined]  # for the run summary
    if item.config.stash[RUN].in_use:
        from .report.attachments import attach

        if call.when == "call":
            _show_declared(item, test_report)
        attach(item, test_report, misuse=call.excinfo is not None and call.excinfo.errisinstance(Misuse))
    if _scrubbed(item.config):
        from .report.masking import scrub

        scrub(item, test_report)
    _locate_skip(item, test_report)
    return test_report


def _scrubbed(config: pytest.Config) -> bool:
    """Whether what tests print, raise or warn with is cleaned: the run uses the plugin, or a test may have driven
    SMTPSession itself; else no session, secret or server text can be in it."""
    return config.stash[RUN].in_use or SESSION_LIBRARY in sys.modules


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    marker = item.get_closest_marker("smtp")
    if marker is not None:  # checked for every test that carries it, whatever fixtures it uses
        check_marker(item, marker)
    return (yield from _skip_unavailable(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _skip_unavailable(item))


def _skip_unavailable(item: pytest.Item) -> Generator[None, None, None]:
    """The library says what a run lacks (Unavailable, with the option that gives it); here it becomes a skip."""
    try:
        return (yield)
    except Unavailable as reason:
        if reason.variable is not None:
            item.stash[MISSING] = [reason.variable]
        pytest.skip(str(reason))


def _locate_skip(item: pytest.Item, report: pytest.TestReport) -> None:
    """Point a skip at the test, or a `.smtp` item's at its line in the file, never at the plugin's own code
    (a skip raised in a fixture, or by _skip_unavailable)."""
    if not (report.skipped and isinstance(report.longrepr, tuple)):
        return
    line = getattr(item, "location_line", None)
    if line is not None:
        report.longrepr = (str(item.path), line, report.longrepr[2])
    elif Path(report.longrepr[0]).resolve().is_relative_to(_PACKAGE):
        path, zero_based, _ = item.reportinfo()
        report.longrepr = (str(path), (zero_based or 0) + 1, report.longrepr[2])


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Generator[
        None, tuple[str, str, Any], tuple[str, str, Any]]:
    """With `-v`, a `.smtp` item's line carries its file's description: `relay.smtp::line9-RCPT PASSED (relay from
    outside is denied)`."""
    status = yield
    description = dict(getattr(report, "user_properties", ())).get("smtp_description")
    category, letter, word = status
    if not description or not word or config.get_verbosity() < 1:
        return status
    if isinstance(word, tuple):
        return category, letter, (f"{word[0]} ({description})", word[1])
    return category, letter, f"{word} ({description})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Every setting in effect with where it came from, defaults included: `timeout 30 s (default)`, when a
    setting is given; else the list follows collection, once a test is known to use the plugin (below)."""
    return _list_settings(config) if config.stash[RUN].in_use else []


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """The settings list of a run that gave none, right after `collected N items`: a project without SMTP tests
    reads no settings and gets no lines of ours. (Under xdist the controller collects nothing: the run's
    smtpcheck summary lists them instead.)"""
    run = config.stash[RUN]
    if run.options_shown or not (run.in_use or any(PLUGIN_FIXTURES & set(getattr(item, "fixturenames", ()))
                                                   for item in items)):
        return []
    return _list_settings(config)


def _list_settings(config: pytest.Config) -> list[str]:
    """The settings list for the terminal (reading the settings if nothing has yet), once."""
    from .report.summary import option_lines

    config.stash[RUN].options_shown = True
    return option_lines(config)


def _show_declared(item: pytest.Item, test_report: pytest.TestReport) -> None:
    """What the test's marker or front matter set, in its report: a section (terminal, HTML) and a JUnit property."""
    declared = item.stash.get(DECLARED, None)
    rows = [str(row) for row in declared.effective()] if declared else []
    if rows:  # masked with the rest of the report by scrub()
        test_report.sections.append(("SMTP settings of this test", "\n".join(rows)))
        test_report.user_properties.append(("smtp_settings", "; ".join(rows)))


class _WarningHooks:
    """The warnings summary formats a warning from its record, in pytest's own pytest_warning_recorded: ours runs
    first and cleans the record like a test's report (on an xdist worker, before the record travels)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.items: dict[str, pytest.Item] = {}  # by node id: a warning names the test that raised it so

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = {item.nodeid: item for item in session.items}

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, nodeid: str) -> None:
        if _scrubbed(self.config):
            from .report.masking import scrub_warning

            scrub_warning(self.config, self.items.get(nodeid), warning_message)


class _XdistHooks:
    """Registered only when pytest-xdist is active (its hooks are unknown to pytest otherwise)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker's secret variables (by name) are masked in the controller's report too."""
        from .report.masking import SECRET_VARS_OUTPUT

        names = getattr(node, "workeroutput", {}).get(SECRET_VARS_OUTPUT, [])
        self.config.stash.setdefault(SECRET_VARS, set()).update(names)

    def pytest_configure_node(self, node: Any) -> None:
        """Every worker shares the controller's run directory: the cap and the files' claims live there."""
        node.workerinput[RUN_DIRECTORY_INPUT] = self.config.stash[RUN].directory.path
