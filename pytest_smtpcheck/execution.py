"""When `.smtp` sessions run: once per file and target, whatever order or process pytest uses.

- A file's session runs whole, from its first exchange through the last one
  selected in this run, the first time any of its items is reached (or earlier,
  in the background, when run-ahead is on). Its items then read their verdicts.
- Run-ahead keeps N places per lane (a target and listener: where the session
  connects), as the cap keeps N per host:port, so one target's queue never
  holds back another's; within a lane, sessions start in pytest's order.
- Under pytest-xdist, every worker sees the same selection; the first worker to
  reach a file claims it in the run directory, runs it, and publishes the
  result there; any other worker holding items of that file waits for it. So a
  file never opens a second connection, however `--dist` spreads its items.
- The run directory also holds the per-target connection cap (smtp.cap).
- The run directory is the one place a file's result is serialised (JSON, by
  FileResult's codec): everywhere else it stays the typed FileResult the runner made.
- RunDirectory.once is that claim for any work run once per run: the baseline
  battery's probes of an MX address use it too.
See docs/execution.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from .transcripts.results import FileResult

__all__ = ["FilePlan", "RunDirectory", "Runs"]

_WAIT_STEP = 0.01
T = TypeVar("T")


@dataclass
class FilePlan:
    """One file and target of this run: how far its session goes, and how to run it."""

    key: str  # unique in the run: the file's node id and the target
    through: int  # index of the last exchange selected in this run
    run: Callable[[int], FileResult] = field(repr=False)  # runs exchanges 0..through
    lane: str = ""  # where the session connects (target and listener): run-ahead runs N at once per lane


class RunDirectory:
    """A directory every process of the run shares: the cap's slot files and the files' claims and results.

    The controller (or a plain pytest process) makes it and removes it at the end;
    xdist workers get its path from the controller.
    """

    def __init__(self, path: str | None = None) -> None:
        self.owned = path is None
        self._path = path
        self._lock = threading.Lock()  # run-ahead threads reach for it at once: one directory, whoever is first

    @property
    def path(self) -> str:
        """Made on first use, so a run that opens no session leaves nothing on disk."""
        with self._lock:
            if self._path is None:
                self._path = tempfile.mkdtemp(prefix="smtpcheck-run-")
            return self._path

    def remove(self) -> None:
        with self._lock:
            if self.owned and self._path is not None:
                shutil.rmtree(self._path, ignore_errors=True)
                self._path = None

    def file(self, key: str, suffix: str) -> str:
        return os.path.join(self.path, hashlib.sha256(key.encode()).hexdigest()[:24] + suffix)

    def once(self, key: str, run: Callable[[], T], encode: Callable[[T], Any], decode: Callable[[Any], T],
             lost: Callable[[], T]) -> T:
        """RUN's result, run once in the whole run: by the first process to claim KEY, which publishes it here as
        JSON (ENCODE); every other process waits and reads it (DECODE), or gets LOST() when the claimer ended
        without publishing. Nothing is ever run twice."""
        claim, result = self.file(key, ".claim"), self.file(key, ".json")
        # Lock first, then publish the claim under its name (link is atomic and fails if taken): no waiter
        # can ever see a claim whose lock is not yet held.
        mine = f"{claim}.{os.getpid()}.{threading.get_ident()}"
        fd = os.open(mine, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # held while running: a waiter that gets it knows we are gone
        try:
            os.link(mine, claim)
        except FileExistsError:
            os.close(fd)
            return _wait_for(claim, result, decode, lost)
        finally:
            os.unlink(mine)
        try:
            outcome = run()
            partial = result + ".partial"
            with open(partial, "w", encoding="utf-8") as file:
                json.dump(encode(outcome), file)
            os.replace(partial, result)
            return outcome
        finally:
            os.close(fd)


class Runs:
    """This process's view of the run's file sessions: run each once, share the result, optionally run ahead."""

    def __init__(self, directory: RunDirectory, *, shared: bool, ahead: int) -> None:
        self.directory = directory
        self.shared = shared  # other processes (xdist workers) may hold items of the same files
        self.ahead = ahead  # sessions to run in the background at once per lane; 0: only when an item is reached
        self.plans: dict[str, FilePlan] = {}
        self.selected: dict[str, set[int]] = {}  # per file and target: the indices of the exchanges selected
        self._futures: dict[str, Future[FileResult]] = {}
        self._lock = threading.Lock()
        self._pools: list[ThreadPoolExecutor] = []

    def plan(self, plans: Iterable[FilePlan], selected: dict[str, set[int]]) -> None:
        """The run's files in the order pytest will reach them, and which of their exchanges are selected."""
        self.plans = {plan.key: plan for plan in plans}
        self.selected = selected

    def start(self) -> None:
        """Start the run-ahead, when it is on: the sessions of upcoming files run in the background.

        Each lane has its own N places, filled in pytest's order: a second MX host gets as many sessions at
        once as the first (the cap allows that much to each), and a slow one never holds back the other.
        """
        if self.ahead > 0 and len(self.plans) > 1:
            from concurrent.futures import ThreadPoolExecutor

            from .preload import FILE_SESSIONS, preload

            preload(FILE_SESSIONS)  # the pool's threads import nothing of the plugin's (see preload.py)

            lanes: dict[str, list[FilePlan]] = {}
            for plan in self.plans.values():
                lanes.setdefault(plan.lane, []).append(plan)
            with self._lock:
                for plans in lanes.values():
                    pool = ThreadPoolExecutor(max_workers=min(self.ahead, len(plans)),
                                              thread_name_prefix="smtpcheck-ahead")
                    self._pools.append(pool)
                    for plan in plans:
                        self._futures[plan.key] = pool.submit(self._obtain, plan)

    def result(self, key: str) -> FileResult:
        """The file's result: from the run-ahead, from another worker, or by running it now."""
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                from concurrent.futures import Future

                future = Future()
                self._futures[key] = future
                owner = True
            else:
                owner = False
        if owner:
            try:
                future.set_result(self._obtain(self.plans[key]))
            except BaseException as error:
                future.set_exception(error)
                raise
        return future.result()

    def close(self) -> None:
        """Stop the run-ahead: queued files never start; running sessions end within their own timeouts."""
        pools, self._pools = self._pools, []
        for pool in pools:  # empty every lane's queue before waiting for any lane's running sessions
            pool.shutdown(wait=False, cancel_futures=True)
        for pool in pools:
            pool.shutdown(wait=True)

    def _obtain(self, plan: FilePlan) -> FileResult:
        if not self.shared:
            return plan.run(plan.through)
        return self._obtain_shared(plan)

    def _obtain_shared(self, plan: FilePlan) -> FileResult:
        """Run the file if this process claims it first, else wait for the worker that did."""

        from .transcripts.results import FileResult

        def lost() -> FileResult:
            return FileResult(error=f"the pytest-xdist worker that ran {plan.key} stopped before it finished; "
                                    f"its verdicts are unknown, and the file was not run again")

        return self.directory.once(plan.key, lambda: plan.run(plan.through), FileResult.to_json,
                                   FileResult.from_json, lost)


def _wait_for(claim: str, result: str, decode: Callable[[Any], T], lost: Callable[[], T]) -> T:
    pause = _WAIT_STEP
    while True:
        if os.path.exists(result):
            with open(result, encoding="utf-8") as file:
                return decode(json.load(file))
        if _released(claim) and not os.path.exists(result):
            return lost()
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _released(claim: str) -> bool:
    """True when no process holds the claim's lock any more (its owner finished or died)."""
    try:
        fd = os.open(claim, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True
