"""The last line of defence for reports: whatever a test printed, asserted, xfailed or warned with has secrets
masked and control characters made visible."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterable

import pytest

from ...printable import printable, unprintable
from ...vocabulary import MASK
from ..keys import RUN, SECRET_VARS, SESSIONS

__all__ = ["SECRET_VARS_OUTPUT", "mask_run_secrets", "note_secret_names", "note_secrets", "run_secrets", "scrub",
           "scrub_warning"]

SECRET_VARS_OUTPUT = "smtpcheck_secret_vars"  # an xdist worker's names of secret variables, for the controller


def scrub(item: pytest.Item, report: pytest.TestReport) -> None:
    """Last line of defence for what a test itself printed, raised, skipped or xfailed with: secrets masked, and
    control characters (a server's ESC sequences in an assertion message, say) made visible before a terminal shows
    them."""
    secrets = _secret_forms(item.config, item)

    def clean(text: str) -> str:
        return _clean(text, secrets)

    def dirty(text: str) -> bool:
        return unprintable(text) or any(secret in text for secret in secrets)

    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        path, line, reason = report.longrepr
        report.longrepr = (path, line, clean(reason))
    elif report.longrepr is not None and dirty(text := str(report.longrepr)):
        report.longrepr = clean(text)
    report.sections = [(name, clean(content)) for name, content in report.sections]
    report.user_properties = [(k, clean(v) if isinstance(v, str) else v) for k, v in report.user_properties]
    if hasattr(report, "wasxfail"):  # pytest.xfail(reason): shown by `-v`, `-rx` and JUnit's <skipped message>
        report.wasxfail = clean(report.wasxfail)


def scrub_warning(config: pytest.Config, item: pytest.Item | None, warning: warnings.WarningMessage) -> None:
    """A warning a test raised (`warnings.warn(reply.text)`), cleaned like its report before the warnings summary
    formats it: pytest shows the message from the record, never from a report. *item* is the test that raised it,
    if any; a worker's record is cleaned before xdist sends it to the controller."""
    text = str(warning.message)
    cleaned = _clean(text, _secret_forms(config, item))
    if cleaned != text:
        warning.message = _reading(warning.category, cleaned)


def _reading(category: type[Warning], text: str) -> Warning:
    """A warning of *category* that reads *text*; a plain Warning when the category's constructor wants other
    arguments (the summary takes the category's name from the record, not from the message, as xdist does)."""
    with contextlib.suppress(TypeError):
        if str(message := category(text)) == text:
            return message
    return Warning(text)


def _clean(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return printable(text)


def _secret_forms(config: pytest.Config, item: pytest.Item | None) -> list[str]:
    """Every secret the run knows of for this test (or for none), with the forms AUTH sends it in."""
    from ..collector import ExchangeItem

    if not config.stash[RUN].in_use:  # a test drove SMTPSession itself: the run has no secret of its own
        return []
    secrets = run_secrets(config)
    if item is not None:
        for session in item.stash.get(SESSIONS, []):
            secrets.update(session.transcript.secrets)
        if isinstance(item, ExchangeItem):
            secrets.update(item.parent.secrets())
    return _forms(frozenset(secrets), _user(config))


def note_secrets(config: pytest.Config, values: Iterable[str]) -> None:
    """A variable of the run whose value was used as a secret (`! auth ... ${MYPW}`, a test's auth()) is secret
    in every output from then on. Its name is kept: names may travel between xdist processes, values never."""
    values = set(values)
    names = config.stash.setdefault(SECRET_VARS, set())
    names.update(name for name, value in config.stash[RUN].settings.vars.items() if value in values)


def note_secret_names(config: pytest.Config, names: Iterable[str]) -> None:
    """Variables a `.smtp` file sends as a password, known by name from its text: secret in every output."""
    config.stash.setdefault(SECRET_VARS, set()).update(names)


def run_secrets(config: pytest.Config) -> set[str]:
    """Every secret value of the run: the password and token (the environment's, or the sandbox's), and every
    variable used as a secret."""
    targets = config.stash[RUN].targets
    settings = targets.settings
    secrets = {*settings.secrets(), *(targets.resolved.secrets if targets.resolved else ())}
    secrets.update(settings.vars[name] for name in config.stash.get(SECRET_VARS, set()) if name in settings.vars)
    return {secret for secret in secrets if secret}


def mask_run_secrets(config: pytest.Config, text: str) -> str:
    """*text* (a command line, an option's value) with every secret of the run and its encodings masked."""
    for form in _forms(frozenset(run_secrets(config)), _user(config)):
        text = text.replace(form, MASK)
    return text


def _user(config: pytest.Config) -> str:
    targets = config.stash[RUN].targets
    return targets.settings.user or (targets.resolved.username if targets.resolved else None) or ""


@functools.lru_cache(maxsize=64)
def _forms(secrets: frozenset[str], user: str) -> list[str]:
    if not secrets:
        return []  # a run without secrets need not load the SASL code to mask its report
    from ...smtp.sasl import secret_forms

    forms = {form for secret in secrets for form in secret_forms(secret, user)}
    return sorted(forms, key=len, reverse=True)
