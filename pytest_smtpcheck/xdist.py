"""pytest-xdist support: a `.smtp` file's items share one session, so they go to one worker, in order.

Registered only when xdist is active (its hooks are unknown to pytest otherwise).
"""

from __future__ import annotations

import pytest


class XdistHooks:
    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        """With --dist load (what -n gives), keep each `.smtp` file together; Python tests spread as usual."""
        if config.getvalue("dist") not in ("load", "worksteal"):
            return None
        from xdist.scheduler import LoadScopeScheduling

        class SmtpFileScheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                path = nodeid.split("::", 1)[0]
                return path if path.endswith(".smtp") else nodeid

        return SmtpFileScheduling(config, log)
