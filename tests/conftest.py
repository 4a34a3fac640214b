"""Test-suite plumbing: the Postfix harness plugin, and a check that the suite leaves nothing behind."""

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest
import trustme  # noqa: F401 - imported once here: pytester's in-process runs would otherwise re-import

#                 cryptography's Python half after each run, and its Rust half rejects the new classes

pytest_plugins = ["postfix", "unbound"]


def _our_temp_dirs() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("smtpcheck-")}


def _postfix_processes() -> list[str]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "python" in cmdline.split(" ", 1)[0]:
            continue  # a pytest run whose arguments name a harness directory (its CA file, say) is no server
        if any(mark in cmdline for mark in ("smtpcheck-postfix-", "smtpcheck-test-", "smtpcheck-unbound-")):
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the whole suite: no server thread, no Postfix process, no temporary directory of ours."""
    threads, temp_dirs = set(threading.enumerate()), _our_temp_dirs()
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        stray = [t.name for t in set(threading.enumerate()) - threads if t.is_alive()]
        if not stray:
            break
        time.sleep(0.1)
    assert not stray, f"threads left running: {stray}"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # other workers' servers are still running: the machine-wide checks need a plain run
    assert not _postfix_processes(), f"Postfix processes left running: {_postfix_processes()}"
    assert not _our_temp_dirs() - temp_dirs, f"temporary directories left behind: {_our_temp_dirs() - temp_dirs}"
