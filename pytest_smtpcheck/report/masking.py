"""The last line of defence for reports: whatever a test printed or asserted has secrets masked and control
characters made visible."""

from __future__ import annotations

import functools

import pytest

from ..keys import SESSIONS, TARGETS
from ..printable import printable, unprintable

__all__ = ["scrub"]


def scrub(item: pytest.Item, report: pytest.TestReport) -> None:
    """Last line of defence for what a test itself printed, raised or skipped with: secrets masked, and control
    characters (a server's ESC sequences in an assertion message, say) made visible before a terminal shows them."""
    from ..vocabulary import MASK

    secrets = _secret_forms(item)

    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, MASK)
        return printable(text)

    def dirty(text: str) -> bool:
        return unprintable(text) or any(secret in text for secret in secrets)

    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        path, line, reason = report.longrepr
        report.longrepr = (path, line, clean(reason))
    elif report.longrepr is not None and dirty(text := str(report.longrepr)):
        report.longrepr = clean(text)
    report.sections = [(name, clean(content)) for name, content in report.sections]
    report.user_properties = [(k, clean(v) if isinstance(v, str) else v) for k, v in report.user_properties]


def _secret_forms(item: pytest.Item) -> list[str]:
    """Every password the run knows of for this test, with the forms AUTH sends it in."""
    from ..collector import ExchangeItem

    target = item.config.stash[TARGETS].resolved
    user = (target.username if target else None) or ""
    secrets = {target.password} if target is not None and target.password else set()
    for session in item.stash.get(SESSIONS, []):
        secrets.update(session.transcript.secrets)
    if isinstance(item, ExchangeItem):
        secrets.update(item.parent.script.secrets)
    return _forms(frozenset(filter(None, secrets)), user)


@functools.lru_cache(maxsize=64)
def _forms(secrets: frozenset[str], user: str) -> list[str]:
    from ..vocabulary import secret_forms

    forms = {form for secret in secrets for form in secret_forms(secret, user)}
    return sorted(forms, key=len, reverse=True)
