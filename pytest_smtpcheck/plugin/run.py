"""The run's settings and what they make (the run directory, the targets, the `.smtp` file sessions), each built
the first time something needs it.

The plugin loads in every pytest run of the environment. A run that gives no setting (option, ini key,
profile, password) reads its settings only when a test or `.smtp` file needs them, so a run without SMTP
tests loads none of the code behind them: see bench/startup.py.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from .options import read_settings

if TYPE_CHECKING:
    from ..execution import RunDirectory, Runs
    from ..settings import Settings
    from ..target import Targets

__all__ = ["RUN_DIRECTORY_INPUT", "RunState"]

RUN_DIRECTORY_INPUT = "smtpcheck_run_directory"  # the controller's run directory, in an xdist worker's input


class RunState:
    """One per run (in the stash under keys.RUN); built parts are closed at the end, the rest never exist."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._settings: Settings | None = None
        self._directory: RunDirectory | None = None
        self._targets: Targets | None = None
        self._runs: Runs | None = None
        self._lock = threading.RLock()  # run-ahead threads and a test's own threads may reach for a part at once
        self.options_shown = False  # whether the terminal has listed the settings (header or after collection)

    @property
    def in_use(self) -> bool:
        """Whether the run has read its settings: one was given, or a test or file needed them. Until then the
        reports have nothing of SMTP to say."""
        return self._settings is not None

    @property
    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                self._settings = read_settings(self.config)
            return self._settings

    @property
    def directory(self) -> RunDirectory:
        """Shared by every process of the run: an xdist worker gets the controller's."""
        with self._lock:
            if self._directory is None:
                from ..execution import RunDirectory

                worker_input: dict[str, Any] | None = getattr(self.config, "workerinput", None)
                self._directory = RunDirectory(worker_input.get(RUN_DIRECTORY_INPUT) if worker_input else None)
            return self._directory

    @property
    def targets(self) -> Targets:
        with self._lock:
            if self._targets is None:
                from ..smtp.cap import Cap
                from ..target import Targets

                settings = self.settings
                self._targets = Targets(settings, Cap(self.directory, settings.concurrency))
            return self._targets

    @property
    def runs(self) -> Runs:
        """The `.smtp` files' sessions; with several sessions allowed at once, the controller (or a plain pytest
        process) runs ahead, unless -x / --maxfail: nothing may have run past the stop."""
        with self._lock:
            if self._runs is None:
                from ..execution import Runs

                worker = hasattr(self.config, "workerinput")
                ahead = self.settings.concurrency
                if ahead == 1 or worker or self.config.getoption("maxfail", 0):
                    ahead = 0
                self._runs = Runs(self.directory, shared=worker, ahead=ahead)
            return self._runs

    def start_ahead(self) -> None:
        """Start the run-ahead of the `.smtp` sessions planned, if any were."""
        if self._runs is not None:
            self._runs.start()

    def close(self) -> None:
        """Stop the run-ahead, the sandbox and remove the run directory: whichever of them were made."""
        if self._runs is not None:
            self._runs.close()
        if self._targets is not None:
            self._targets.close()
        if self._directory is not None:
            self._directory.remove()
