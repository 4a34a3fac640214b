"""What reports say about SMTP sessions, one job per module.

- summary: the run's totals per target, the options it used (terminal and pytest-metadata);
- attachments: a test's transcripts, JUnit properties and HTML extras, put on its report;
- masking: secrets a test itself printed, masked in its report;
- junit: transcripts moved into JUnit's <system-out>;
- html: pytest-html's title, columns and transcript rendering (only when pytest-html is active).
"""

from __future__ import annotations

import pytest

from .summary import RunSummary

__all__ = ["configure"]


def configure(config: pytest.Config) -> None:
    summary = RunSummary(config)
    config.pluginmanager.register(summary, "smtpcheck-summary")
    if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):  # writing an HTML report
        from . import html

        config.pluginmanager.register(html.HtmlHooks(summary), "smtpcheck-html")
