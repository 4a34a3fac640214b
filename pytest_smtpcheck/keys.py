"""Stash keys shared by the plugin's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .client import SMTPSession  # noqa: F401 - named in the StashKey types below
    from .target import Targets  # noqa: F401

TARGETS = pytest.StashKey["Targets"]()
SESSIONS = pytest.StashKey["list[SMTPSession]"]()  # per item: every session the test opened
