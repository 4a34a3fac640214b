"""pytest-smtpcheck's hooks: this module only wires pytest to the modules that do the work."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import Unavailable
from .fixtures import pytest_generate_tests, smtp_connect, smtp_dns, smtp_server, smtp_session
from .keys import DECLARED, LAYERS, MISSING, RUN_DIRECTORY, RUNS, SECRET_VARS, TARGETS
from .options import add_options, read_settings, usage_errors
from .report import configure as configure_reports
from .report.attachments import attach, locate_skip
from .report.masking import scrub

if TYPE_CHECKING:
    from ..execution import RunDirectory
    from ..settings import Settings

# fixtures and the parametrizing hook are found by name in this module
__all__ = ["pytest_generate_tests", "smtp_connect", "smtp_dns", "smtp_server", "smtp_session"]

MARKERS = [
    "smtp(listener=, port=, tls=, helo=, timeout=, deadline=, as_address=, as_via=, allow_plaintext_auth=): session "
    "options for this test's smtp_session and smtp_connect (listener: smtp, submission or submissions)",
]
_RUN_DIRECTORY_INPUT = "smtpcheck_run_directory"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    parser.addini("smtp_message_dirs", "directories outside the test tree that `! message file=` may send files "
                  "from (paths relative to the ini file); by default only the test tree's", type="paths", default=[])


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from ..execution import RunDirectory, Runs
    from ..smtp.cap import Cap
    from ..target import Targets

    for line in MARKERS:
        config.addinivalue_line("markers", line)
    settings = read_settings(config)
    worker_input: dict[str, Any] | None = getattr(config, "workerinput", None)
    directory = RunDirectory(worker_input.get(_RUN_DIRECTORY_INPUT) if worker_input else None)
    config.stash[RUN_DIRECTORY] = directory
    config.stash[TARGETS] = Targets(settings, Cap(directory, settings.concurrency))
    run_ahead = settings.concurrency if settings.concurrency > 1 and worker_input is None else 0
    if config.getoption("maxfail", 0):  # -x / --maxfail: nothing may have run past the stop
        run_ahead = 0
    config.stash[RUNS] = Runs(directory, shared=worker_input is not None, ahead=run_ahead)
    configure_reports(config)
    if settings.update and worker_input is None:  # files are rewritten once, on the controller, from reports
        from .update import Updater

        config.pluginmanager.register(Updater(config), "smtpcheck-update")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(config, directory), "smtpcheck-xdist")
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
    runs = config.stash.get(RUNS, None)
    if runs is not None:
        runs.close()
    targets = config.stash.get(TARGETS, None)
    if targets is not None:
        targets.close()
    directory = config.stash.get(RUN_DIRECTORY, None)
    if directory is not None:
        directory.remove()


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
    session.config.stash[RUNS].plan(plans, selected)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    if not session.config.getoption("collectonly"):
        session.config.stash[RUNS].start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                          pytest.TestReport]:
    test_report = yield
    if call.when == "call":
        _show_declared(item, test_report)
    attach(item, test_report)
    if test_report.skipped and item.stash.get(MISSING, None):
        test_report.smtp_missing = item.stash[MISSING]  # type: ignore[attr-defined]  # for the run summary
    scrub(item, test_report)
    locate_skip(item, test_report)
    return test_report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
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
    """Every setting in effect with where it came from, defaults included: `timeout 30 s (default)`."""
    from .report.summary import option_lines

    return option_lines(config)


def _show_declared(item: pytest.Item, test_report: pytest.TestReport) -> None:
    """What the test's marker or front matter set, in its report: a section (terminal, HTML) and a JUnit property."""
    declared = item.stash.get(DECLARED, None)
    rows = [str(row) for row in declared.effective()] if declared else []
    if rows:  # masked with the rest of the report by scrub()
        test_report.sections.append(("SMTP settings of this test", "\n".join(rows)))
        test_report.user_properties.append(("smtp_settings", "; ".join(rows)))


class _XdistHooks:
    """Registered only when pytest-xdist is active (its hooks are unknown to pytest otherwise)."""

    def __init__(self, config: pytest.Config, directory: RunDirectory) -> None:
        self.config = config
        self.directory = directory

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker's secret variables (by name) are masked in the controller's report too."""
        from .report.masking import SECRET_VARS_OUTPUT

        names = getattr(node, "workeroutput", {}).get(SECRET_VARS_OUTPUT, [])
        self.config.stash.setdefault(SECRET_VARS, set()).update(names)

    def pytest_configure_node(self, node: Any) -> None:
        """Every worker shares the controller's run directory: the cap and the files' claims live there."""
        node.workerinput[_RUN_DIRECTORY_INPUT] = self.directory.path
