"""Stash keys shared by the plugin's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # named in the StashKey types below, which are strings at run time
    from ..baseline.settings import BaselineSettings  # noqa: F401
    from ..settings import Declared, Layer  # noqa: F401
    from ..smtp.session import SMTPSession  # noqa: F401
    from ..transcripts.results import ExchangeVerdict, FileResult  # noqa: F401
    from .run import RunState  # noqa: F401

__all__ = ["BASELINE", "DECLARED", "LAYERS", "MISSING", "OUTCOME", "RUN", "SECRET_VARS", "SESSIONS"]

RUN = pytest.StashKey["RunState"]()  # the run's settings, targets, run directory and file sessions, built on first use
SESSIONS = pytest.StashKey["list[SMTPSession]"]()  # per Python test: every session it opened
OUTCOME = pytest.StashKey["tuple[FileResult, ExchangeVerdict | None]"]()  # per .smtp item: its file's result
SECRET_VARS = pytest.StashKey["set[str]"]()  # names of the run's variables used as secrets (values never travel)
DECLARED = pytest.StashKey["Declared"]()  # per test: what its marker or its file's front matter set, for its report
MISSING = pytest.StashKey["list[str]"]()  # per skipped test: the variables the run did not give it
BASELINE = pytest.StashKey["BaselineSettings"]()  # the battery's settings, when it runs (--smtp-baseline)
LAYERS = pytest.StashKey["list[Layer]"]()  # the run's settings as each door gave them, highest first
