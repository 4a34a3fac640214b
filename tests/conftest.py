"""Test-suite plumbing: the Postfix and unbound harness plugins, and a check that the suite leaves nothing behind.

The check looks only at what this run made. Each pytest process of the suite (an xdist
worker too) gets a private temporary directory, set as the temporary directory of the
process and of everything it starts (TMPDIR): the sandbox, the run directories, the
Postfix, unbound and Exim harnesses and pytester's subprocess runs all make theirs inside
it. A directory left in it, or a process whose command line names it, is this run's
leak; another copy of the suite on the same machine has its own and is never counted.
"""

import importlib.util
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import trustme  # noqa: F401 - imported once here: pytester's in-process runs would otherwise re-import

#                 cryptography's Python half after each run, and its Rust half rejects the new classes

pytest_plugins = ["postfix", "exim", "unbound"]

_PARENT_TEMP = tempfile.gettempdir()
# Made in pytest_configure. Short: an xdist worker's sits inside its controller's, and Postfix's socket paths below
# it must stay within the 108 bytes of a unix-domain socket name.
_PRIVATE = Path(_PARENT_TEMP) / f"sc-{os.getpid()}-{uuid.uuid4().hex[:4]}"

# The test extra (pyproject.toml): without it, `pytest` at the repository root would stop at collection errors
# about hypothesis; it says what to install instead.
_TEST_EXTRA = {"hypothesis": "hypothesis", "xdist": "pytest-xdist", "checkdmarc": "checkdmarc", "yaml": "pyyaml"}


def _missing_test_extra() -> list[str]:
    missing = []
    for module, package in _TEST_EXTRA.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            found = False
        if not found:
            missing.append(package)
    return missing


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    missing = _missing_test_extra()
    if missing:
        raise pytest.UsageError(
            f"the plugin's own tests need its test extra, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: pip install -e '.[test]' "
            "(to run the examples alone: pytest examples)")
    _PRIVATE.mkdir(mode=0o755)  # Postfix's daemons, running as the postfix user, must traverse it to their spool
    tempfile.tempdir = str(_PRIVATE)
    os.environ["TMPDIR"] = str(_PRIVATE)


def pytest_unconfigure(config: pytest.Config) -> None:
    tempfile.tempdir = _PARENT_TEMP
    shutil.rmtree(_PRIVATE, ignore_errors=True)


def _our_temp_dirs() -> set[str]:
    return {name for name in os.listdir(_PRIVATE) if name.startswith("smtpcheck-")}


def _our_processes() -> list[str]:
    """Processes other than this one whose command line or environment names this run's temporary directory:
    everything the run started inherits it as TMPDIR (unbound, Exim, pytester's runs), and a daemonised Postfix,
    no child of ours, has its configuration directory, which is ours, in MAIL_CONFIG."""
    found = []
    ours = str(_PRIVATE).encode()
    for proc in Path("/proc").glob("[0-9]*"):
        if proc.name == str(os.getpid()):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if ours in cmdline or ours in environ:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
            found.append(f"pid {proc.name}: {command[:200]}")
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the whole suite: no server thread, no process of ours (Postfix, unbound, Exim), no directory of ours."""
    threads, temp_dirs = set(threading.enumerate()), _our_temp_dirs()
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        stray = [t.name for t in set(threading.enumerate()) - threads if t.is_alive()]
        if not stray:
            break
        time.sleep(0.1)
    assert not stray, f"threads left running: {stray}"
    processes = _our_processes()
    assert not processes, f"processes this run started are still running: {'; '.join(processes)}"
    left = sorted(_our_temp_dirs() - temp_dirs)
    assert not left, f"temporary directories this run made are left in {_PRIVATE}: {', '.join(left)}"
