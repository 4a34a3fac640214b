"""Fixtures for Python tests: where to connect, a live session, and a factory for more.

Everything heavy (sockets, TLS, the sandbox) is imported inside the fixtures, so
a run that uses none of them pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from .keys import SESSIONS, TARGETS
from .errors import hide_for_server_faults

__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line

if TYPE_CHECKING:
    from .client import SMTPSession
    from .target import Target

MARKER_OPTIONS = ("listener", "port", "tls", "helo", "timeout", "deadline")


@pytest.fixture(scope="session")
def smtp_server(pytestconfig: pytest.Config) -> Target:
    """The server under test: `--smtp-target`, or the embedded sandbox MX when none is given."""
    return pytestconfig.stash[TARGETS].target()


@pytest.fixture
def smtp_connect(request: pytest.FixtureRequest, smtp_server: Target) -> Iterator[Callable[..., SMTPSession]]:
    """Open sessions on demand: ``smtp_connect(listener="submission", tls="none", connect=True)``.

    Each session is recorded in the test's report and closed (with QUIT) after the test.
    """
    marker_options = _marker_options(request.node)
    opened: list[SMTPSession] = request.node.stash.setdefault(SESSIONS, [])

    def connect(*, connect: bool = True, **options) -> SMTPSession:
        unknown = set(options) - set(MARKER_OPTIONS)
        if unknown:
            raise TypeError(f"smtp_connect() got unknown options {sorted(unknown)}; known: {', '.join(MARKER_OPTIONS)}")
        session = smtp_server.session(**{**marker_options, **options})
        opened.append(session)
        if connect:
            session.connect()
        return session

    yield connect
    for session in opened:
        session.quit_quietly()


@pytest.fixture
def smtp_session(smtp_connect: Callable[..., SMTPSession]) -> SMTPSession:
    """A connected session that has read the greeting (and done STARTTLS with `--smtp-tls=starttls`)."""
    return smtp_connect()


def _marker_options(item: pytest.Item) -> dict:
    """Options from the closest `@pytest.mark.smtp(...)`; a typo fails the test with a clear message."""
    marker = item.get_closest_marker("smtp")
    if marker is None:
        return {}
    if marker.args:
        pytest.fail(f"@pytest.mark.smtp takes keyword arguments only ({', '.join(MARKER_OPTIONS)})", pytrace=False)
    unknown = set(marker.kwargs) - set(MARKER_OPTIONS)
    if unknown:
        pytest.fail(
            f"@pytest.mark.smtp got unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(MARKER_OPTIONS)}",
            pytrace=False,
        )
    return dict(marker.kwargs)
