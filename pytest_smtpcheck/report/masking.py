"""The last line of defence against secrets in reports: whatever a test printed or asserted is masked too."""

from __future__ import annotations

import functools

import pytest

from ..keys import SESSIONS, TARGETS

__all__ = ["scrub"]


def scrub(item: pytest.Item, report: pytest.TestReport) -> None:
    """Last line of defence: a password a test itself printed or put in an assert message is masked too."""
    from ..vocabulary import MASK

    secrets = _secret_forms(item)
    if not secrets:
        return

    def mask(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text

    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        if any(secret in text for secret in secrets):
            report.longrepr = mask(text)
    report.sections = [(name, mask(content)) for name, content in report.sections]
    report.user_properties = [(k, mask(v) if isinstance(v, str) else v) for k, v in report.user_properties]


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
