"""Stash keys shared by the plugin's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .client import SMTPSession
    from .options import Settings
    from .target import Targets

SETTINGS = pytest.StashKey["Settings"]()
TARGETS = pytest.StashKey["Targets"]()
SESSIONS = pytest.StashKey["list[SMTPSession]"]()  # per item: every session the test opened
