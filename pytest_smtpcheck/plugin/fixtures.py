"""Fixtures for Python tests: where to connect, a live session, a factory for more, and the run's DNS.

A test's ``@pytest.mark.smtp(...)`` and its ``smtp_connect(...)`` keywords are doors for its own
settings: read here into a settings layer, checked by the same rules as the command line
(settings.py), and laid over the run's (the test's own word wins). Everything else (the settings'
rules, sockets, TLS, the sandbox, dnspython) is imported inside the fixtures, so a run that uses none pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from ..errors import SettingsError, hide_for_server_faults
from .keys import DECLARED, RUN, SESSIONS

__all__ = ["check_marker", "pytest_generate_tests", "smtp_connect", "smtp_dns", "smtp_server", "smtp_session"]
__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line

if TYPE_CHECKING:
    from ..dns import DNSChecks
    from ..settings import Declared
    from ..smtp.session import SMTPSession
    from ..target import Target

# The marker's and smtp_connect()'s keywords, and the settings key each one sets.
MARKER_OPTIONS = {"listener": "listener", "port": "port", "tls": "tls", "helo": "helo", "timeout": "timeout",
                  "deadline": "deadline", "as_address": "as", "as_via": "as_via",
                  "allow_plaintext_auth": "allow_plaintext_auth"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """With `--smtp-mx`, every test that reaches the server runs once per MX host and address.

    `smtp_server` (and through it `smtp_session` and `smtp_connect`) is parametrized
    indirectly with the run's target ids, so each id shows in the test's name.
    """
    if "smtp_server" not in metafunc.fixturenames:
        return
    ids = metafunc.config.stash[RUN].targets.ids()
    if ids != [None]:
        metafunc.parametrize("smtp_server", ids, indirect=True, ids=[str(target_id) for target_id in ids])


@pytest.fixture(scope="session")
def smtp_server(request: pytest.FixtureRequest) -> Target:
    """The server under test: `--smtp-target`, each MX address of `--smtp-mx`, or the embedded sandbox MX."""
    targets = request.config.stash[RUN].targets
    target_id: str | None = getattr(request, "param", None)
    reason = targets.unreachable(target_id)
    if reason is not None:
        pytest.skip(reason)
    return targets.target(target_id)


@pytest.fixture(scope="session")
def smtp_dns(pytestconfig: pytest.Config) -> DNSChecks:
    """The run's DNS checks (MX, FCrDNS, SPF, DMARC, MTA-STS, TLS-RPT, TLSA) over one cached resolver.

    Without `--smtp-resolver` or `--smtp-mx`, tests that use it are skipped: the run asks
    no DNS unless told to (the sandbox's domain is in none), not even the system's resolver.
    """
    return pytestconfig.stash[RUN].targets.dns()


@pytest.fixture
def smtp_connect(request: pytest.FixtureRequest, smtp_server: Target) -> Iterator[Callable[..., SMTPSession]]:
    """Open sessions on demand: ``smtp_connect(listener="submission", tls="none", connect=True)``.

    Each session is recorded in the test's report and closed (with QUIT) after the test.
    """
    from ..settings import Declared

    marker = request.node.stash.setdefault(DECLARED, Declared())  # its marker, checked at setup (check_marker)
    run = request.config.stash[RUN].settings
    opened: list[SMTPSession] = request.node.stash.setdefault(SESSIONS, [])

    def connect(*, connect: bool = True, **options: Any) -> SMTPSession:
        """A new session; ``connect=False`` leaves connecting (and its verdict) to the test's first command."""
        unknown = set(options) - set(MARKER_OPTIONS)
        if unknown:
            raise TypeError(f"smtp_connect() got unknown options {sorted(unknown)}; known: {', '.join(MARKER_OPTIONS)}")
        try:
            test = _declared(options, lambda keyword, value: f"smtp_connect({keyword}={value!r}) in "
                             f"{request.node.name}", f"smtp_connect() in {request.node.name}").over(marker)
            run.check_test(test)
        except SettingsError as error:
            _refuse(error)
        listener = test.listener or "smtp"
        if not smtp_server.has_listener(listener) and test.port is None:
            from ..target import listener_reason

            pytest.skip(listener_reason(listener))
        session = smtp_server.session(test, auto_connect=not connect)
        opened.append(session)
        if connect:
            session.connect()
        return session

    yield connect
    for session in opened:
        session.quit_quietly()


@pytest.fixture
def smtp_session(smtp_connect: Callable[..., SMTPSession]) -> SMTPSession:
    """A session that connects, reads the greeting (and does STARTTLS with `--smtp-tls=starttls`) on first use.

    Connecting at first use puts a dead or hostile server's verdict on the test, as a
    failure, exactly as in a `.smtp` file, rather than an error in the fixture.
    """
    return smtp_connect(connect=False)


def check_marker(item: pytest.Item, marker: pytest.Mark) -> None:
    """Check a test's `@pytest.mark.smtp(...)` at its setup, whatever fixtures it uses, and keep what it declares
    (for smtp_connect and the report): a typo or a bad value fails the test, naming the marker as written."""
    if marker.args:
        pytest.fail(f"@pytest.mark.smtp takes keyword arguments only ({', '.join(MARKER_OPTIONS)})", pytrace=False)
    unknown = set(marker.kwargs) - set(MARKER_OPTIONS)
    if unknown:
        pytest.fail(
            f"@pytest.mark.smtp got unknown option(s) {', '.join(sorted(unknown))}; known: {', '.join(MARKER_OPTIONS)}",
            pytrace=False,
        )
    try:
        test = _declared(marker.kwargs, lambda keyword, value: f"@pytest.mark.smtp({keyword}={value!r}) on "
                         f"{item.name}", f"marker on {item.name}")
        item.config.stash[RUN].settings.check_test(test)
    except SettingsError as error:
        _refuse(error)
    item.stash[DECLARED] = test


def _declared(keywords: Mapping[str, Any], door: Callable[[str, Any], str], origin: str) -> Declared:
    """Keywords as a settings layer, checked by the rules of every door; a SettingsError names the door as written."""
    from ..settings import Given, declared

    return declared({MARKER_OPTIONS[keyword]: Given(value, door(keyword, value), origin)
                     for keyword, value in keywords.items()})


def _refuse(error: SettingsError) -> NoReturn:
    """Fail the test with the refusal's one line, once: not again as the context of pytest's own exception."""
    raise pytest.fail.Exception(str(error), pytrace=False) from None
