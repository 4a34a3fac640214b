"""The run directory's shared state without a server: the per-target cap and the files' claims.

Threads and child processes stand in for run-ahead threads and xdist workers.
"""

import os
import subprocess
import sys
import threading
import time

import pytest

from pytest_smtpcheck.errors import ConnectFailed, SessionMisuse
from pytest_smtpcheck.execution import FilePlan, RunDirectory, Runs
from pytest_smtpcheck.smtp.cap import Cap
from pytest_smtpcheck.transcripts.results import FileResult


@pytest.fixture
def directory():
    run = RunDirectory()
    yield run
    run.remove()


def test_a_third_session_waits_until_one_of_two_places_is_free(directory):
    cap = Cap(directory, 2)
    first, second = cap.acquire("mx:25", patience=1), cap.acquire("other-thread:25", patience=1)
    got = []

    def third():
        got.append(cap.acquire("mx:25", patience=1))

    holder = threading.Thread(target=lambda: got.append(cap.acquire("mx:25", patience=1)))
    holder.start()
    holder.join(5)
    assert len(got) == 1, "a second place to the same target was free"
    waiter = threading.Thread(target=third)
    waiter.start()
    time.sleep(0.2)
    assert len(got) == 1, "the third session did not wait"
    first.release()
    waiter.join(5)
    assert len(got) == 2
    for slot in (second, *got):
        slot.release()


def test_a_thread_that_holds_every_place_fails_at_once_and_one_that_holds_some_gives_up(directory):
    cap = Cap(directory, 1)
    held = cap.acquire("mx:25", patience=1)
    with pytest.raises(SessionMisuse, match=r"already has 1 session\(s\) open to mx:25, the most "
                                            r"--smtp-concurrency=1 allows"):
        cap.acquire("mx:25", patience=1)
    held.release()
    wide = Cap(directory, 2)
    mine = wide.acquire("mx:25", patience=1)
    other = []
    thread = threading.Thread(target=lambda: other.append(wide.acquire("mx:25", patience=1)))
    thread.start()
    thread.join(5)
    started = time.monotonic()
    with pytest.raises(ConnectFailed, match="waited 0.3 s for a connection to mx:25: this test holds 1"):
        wide.acquire("mx:25", patience=0.3)
    assert 0.25 < time.monotonic() - started < 2
    mine.release()
    other[0].release()


HOLDER = """
import sys, time
from pytest_smtpcheck.execution import RunDirectory
from pytest_smtpcheck.smtp.cap import Cap
slot = Cap(RunDirectory(sys.argv[1]), 1).acquire("mx:25", patience=1)
print("held", flush=True)
time.sleep(60)
"""


def test_a_place_held_by_another_process_is_freed_when_that_process_dies(directory):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, directory.path], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        cap = Cap(directory, 1)
        got = []
        waiter = threading.Thread(target=lambda: got.append(cap.acquire("mx:25", patience=1)))
        waiter.start()
        time.sleep(0.3)
        assert not got, "the place another process holds was taken"
        child.kill()
        waiter.join(5)
        assert got, "the dead process's place was not freed"
        got[0].release()
    finally:
        child.kill()
        child.wait()


def test_a_file_is_run_once_across_processes_and_a_dead_claimer_is_reported(directory):
    calls = []

    def run(through):
        calls.append(through)
        time.sleep(0.2)
        return FileResult(error=None)

    plan = FilePlan("f.smtp|", 3, run)
    runs = [Runs(directory, shared=True, ahead=0) for _ in range(3)]  # three "workers"
    for worker in runs:
        worker.plan([plan], {"f.smtp|": {0, 3}})
    results = []
    threads = [threading.Thread(target=lambda w=worker: results.append(w.result("f.smtp|"))) for worker in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert calls == [3], "the file's session ran more than once"
    assert len(results) == 3 and all(r.error is None for r in results)

    claim = directory.file("dead.smtp|", ".claim")
    open(claim, "w").close()  # a claim whose owner is gone: nobody holds its lock, and no result follows
    orphan = Runs(directory, shared=True, ahead=0)
    orphan.plan([FilePlan("dead.smtp|", 0, run)], {"dead.smtp|": {0}})
    result = orphan.result("dead.smtp|")
    assert "stopped before it finished" in result.error and "was not run again" in result.error
    assert calls == [3]


def test_an_error_inside_a_run_reaches_every_item_of_the_file(directory):
    def broken(through):
        raise RuntimeError("the harness broke")

    runs = Runs(directory, shared=False, ahead=0)
    runs.plan([FilePlan("b.smtp|", 0, broken)], {"b.smtp|": {0}})
    for _ in range(2):
        with pytest.raises(RuntimeError, match="the harness broke"):
            runs.result("b.smtp|")


def test_the_run_directory_exists_only_once_used_and_goes_away(tmp_path):
    run = RunDirectory()
    assert run._path is None
    path = run.path
    assert os.path.isdir(path)
    run.remove()
    assert not os.path.exists(path)
    shared = RunDirectory(str(tmp_path))
    shared.remove()
    assert tmp_path.exists(), "a worker never removes the controller's directory"


def test_threads_reaching_for_the_run_directory_at_once_share_one(tmp_path):
    run = RunDirectory()
    seen = set()
    barrier = threading.Barrier(8)

    def reach():
        barrier.wait()
        seen.add(run.path)

    threads = [threading.Thread(target=reach) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    run.remove()
    assert len(seen) == 1, "run-ahead threads must share one cap, so one directory"
