"""The execution model: a `.smtp` file is one session, run once, whatever pytest's order, selection or process.

A scripted MX counts every connection and every line it receives, and how many
connections are open at once, so each test proves what reached the server, not
what the plugin meant to send.
"""

import json
import threading
import time
from pathlib import Path

import pytest
from faultserver import FaultServer, answer_as_an_mx

from pytest_smtpcheck.execution import FilePlan, RunDirectory, Runs
from pytest_smtpcheck.transcripts.results import FileResult

FILES = 5
PASSING = """\
< 220
> EHLO probe.example.net
< 250
> MAIL FROM:<probe@example.net>
< 250
> RCPT TO:<victim{n}@elsewhere.example>
< 550|554 5.7.1
> QUIT
< 221
"""
# f4's recipient is relayed by the MX below: RCPT fails, and the message after it must never be sent.
FAILING = PASSING.replace("> QUIT\n< 221\n", "> DATA\n< 354\n> Subject: must never arrive\n>\n> x\n> .\n< 250\n"
                          ).replace("victim{n}", "relayed")

RECORDER = """
import json, os
import pytest

OUTCOMES = {}

def pytest_collection_modifyitems(items):
    if os.environ.get("REVERSE_ITEMS"):
        items.reverse()

def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and not report.passed):
        OUTCOMES[report.nodeid.split("@")[0]] = report.outcome

def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open("outcomes.json", "w") as f:
            json.dump(OUTCOMES, f)
"""


class Together:
    """Connections open across several servers: none is greeted until COUNT are open at once, or GATHER_WAIT
    seconds have passed (then nobody waits any more). Whether sessions to two targets ran at once is then seen
    whatever the machine's load, and a run that never opens COUNT gets on (and fails the test) instead of hanging."""

    GATHER_WAIT = 5.0

    def __init__(self, count: int) -> None:
        self.count = count
        self.open = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._gathered = threading.Event()

    def arrive(self) -> None:
        with self._lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
            if self.open >= self.count:
                self._gathered.set()
        self._gathered.wait(self.GATHER_WAIT)
        self._gathered.set()

    def leave(self) -> None:
        with self._lock:
            self.open -= 1


class CountingMX:
    """A scripted MX: RCPT to `relayed@` gets 250 (the misconfiguration), any other outside RCPT 554."""

    def __init__(self, delay: float = 0.0, max_connections: int = 64, *, host: str = "127.0.0.1", port: int = 0,
                 together: Together | None = None) -> None:
        self.delay = delay
        self.open = 0
        self.peak = 0
        self.together = together
        self._lock = threading.Lock()
        self.server = FaultServer(self.script, max_connections=max_connections, host=host, port=port)

    def script(self, peer):
        with self._lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
        try:
            if self.together is not None:
                self.together.arrive()
            self.serve(peer)
        finally:
            with self._lock:
                self.open -= 1
            if self.together is not None:
                self.together.leave()

    def serve(self, peer):
        answer_as_an_mx(peer, lambda line: "250 2.1.5 Ok" if "relayed@" in line else "554 5.7.1 Relay access denied",
                        delay=self.delay)

    def __enter__(self):
        self.server.__enter__()
        return self

    def __exit__(self, *exc_info):
        self.server.__exit__(*exc_info)

    @property
    def sessions(self) -> list[list[str]]:
        return [peer.received for peer in self.server.peers]


@pytest.fixture
def directory():
    run = RunDirectory()
    yield run
    run.remove()


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(RECORDER)
    for n in range(FILES):
        pytester.makefile(".smtp", **{f"f{n}": (FAILING if n == 4 else PASSING).format(n=n)})
    return pytester


def run(pytester, server, *args, subprocess=False, cache=False):
    options = [f"--smtp-target={server.server.target}", "--smtp-timeout=5", *args]
    if not cache:
        options += ["-p", "no:cacheprovider"]
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest_inprocess
    result = runner(*options)
    return result, json.loads((pytester.path / "outcomes.json").read_text())


def assert_one_session_per_file_and_nothing_after_the_mismatch(server, files=FILES):
    sessions = server.sessions
    assert len(sessions) == files, f"{len(sessions)} connections for {files} files: {sessions}"
    for received in sessions:
        assert received[:2] == ["EHLO probe.example.net", "MAIL FROM:<probe@example.net>"]
        if "relayed@" in received[2]:
            assert received[2:] == ["RCPT TO:<relayed@elsewhere.example>"], "nothing after the mismatch"
        else:
            assert received[2:] == [received[2], "QUIT"]


@pytest.fixture
def baseline(suite):
    with CountingMX() as server:
        _, outcomes = run(suite, server, "--smtp-concurrency=1")
    assert_one_session_per_file_and_nothing_after_the_mismatch(server)
    assert outcomes["f4.smtp::line6-RCPT"] == "failed"
    assert outcomes["f4.smtp::line8-DATA"] == "skipped"
    assert outcomes["f3.smtp::line6-RCPT"] == "passed"
    assert list(outcomes.values()).count("failed") == 1
    return outcomes


@pytest.mark.parametrize(
    ("label", "args", "env", "subprocess"),
    [
        ("serial, run-ahead", ["--smtp-concurrency=4"], {}, False),
        ("reversed order", [], {"REVERSE_ITEMS": "1"}, False),
        ("reversed, run-ahead", ["--smtp-concurrency=3"], {"REVERSE_ITEMS": "1"}, False),
        ("-n 2 --dist loadgroup", ["-n", "2", "--dist", "loadgroup"], {}, True),
        ("-n 3 --dist load", ["-n", "3", "--dist", "load"], {}, True),
        ("-n 2 --dist loadfile", ["-n", "2", "--dist", "loadfile"], {}, True),
        ("-n 2 --dist worksteal", ["-n", "2", "--dist", "worksteal"], {}, True),
    ],
)
def test_the_same_verdicts_and_one_connection_per_file_in_any_order_or_process(
    suite, baseline, monkeypatch, label, args, env, subprocess
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with CountingMX() as server:
        result, outcomes = run(suite, server, *args, subprocess=subprocess)
    assert outcomes == baseline, label
    assert_one_session_per_file_and_nothing_after_the_mismatch(server)


def test_failed_first_after_a_failing_run_changes_no_verdict(suite, baseline):
    with CountingMX() as server:
        run(suite, server, cache=True)
        result, outcomes = run(suite, server, "--ff", "-v", cache=True)
    assert outcomes == baseline
    assert result.outlines.index(next(line for line in result.outlines if "f4.smtp::line6-RCPT" in line)) < \
        result.outlines.index(next(line for line in result.outlines if "f0.smtp::line1-greeting" in line)), \
        "--ff put the failed item first"
    assert len(server.sessions) == 2 * FILES


def test_last_failed_runs_the_file_through_the_failed_exchange_only(suite, baseline):
    with CountingMX() as server:
        run(suite, server, cache=True)
        result, outcomes = run(suite, server, "--lf", cache=True)
    assert outcomes == {"f4.smtp::line6-RCPT": "failed"}
    assert server.sessions[FILES:] == [["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                        "RCPT TO:<relayed@elsewhere.example>"]]


@pytest.mark.parametrize("node", ["f2.smtp::line6-RCPT", "f2.smtp::line1-greeting"])
def test_a_single_item_by_node_id_sends_the_exchanges_up_to_it_and_nothing_of_the_rest(suite, baseline, node):
    with CountingMX() as server:
        result, outcomes = run(suite, server, node)
    assert outcomes == {node: "passed"}
    expected = {"f2.smtp::line6-RCPT": ["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                        "RCPT TO:<victim2@elsewhere.example>", "QUIT"],
                "f2.smtp::line1-greeting": ["QUIT"]}[node]
    assert server.sessions == [expected], "only the polite QUIT follows the last selected exchange"


def test_a_deselected_failing_exchange_fails_the_first_selected_item_after_it(suite):
    with CountingMX() as server:
        result, outcomes = run(suite, server, "-k", "f4 and (greeting or DATA or BODY)", "-rfs")
    assert outcomes == {"f4.smtp::line1-greeting": "passed", "f4.smtp::line8-DATA": "failed",
                        "f4.smtp::line10-BODY": "skipped"}
    assert "an earlier exchange (line 7) failed" in result.stdout.str()
    assert server.sessions == [["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                "RCPT TO:<relayed@elsewhere.example>"]]


def test_exitfirst_runs_nothing_ahead_past_the_stop(pytester):
    pytester.makeconftest(RECORDER)
    pytester.makefile(".smtp", a0=FAILING.format(n=0), **{f"a{n}": PASSING.format(n=n) for n in range(1, 6)})
    with CountingMX(delay=0.02) as server:
        result, outcomes = run(pytester, server, "-x", "--smtp-concurrency=8")
    assert outcomes.get("a0.smtp::line6-RCPT") == "failed"
    assert len(server.sessions) == 1, "with -x no later file may have run ahead"


@pytest.mark.parametrize(("cap", "args"), [(1, []), (3, []), (3, ["-n", "2"])])
def test_the_cap_holds_across_threads_and_workers_and_run_ahead_uses_it(pytester, cap, args):
    pytester.makeconftest(RECORDER)
    pytester.makefile(".smtp", **{f"c{n}": PASSING.format(n=n) for n in range(12)})
    with CountingMX(delay=0.05) as server:
        result, outcomes = run(pytester, server, f"--smtp-concurrency={cap}", *args, subprocess=bool(args))
    assert list(outcomes.values()).count("passed") == 12 * 5
    assert len(server.sessions) == 12
    assert server.peak <= cap, f"{server.peak} connections open at once with --smtp-concurrency={cap}"
    if cap > 1:
        assert server.peak > 1, "run-ahead (or the workers) kept more than one session open"


MX1, MX2 = "mx1.example.test-127.0.0.1", "mx2.example.test-127.0.0.2"  # tests/unbound.py: example.test's MX


@pytest.mark.parametrize("reverse", [False, True], ids=["pytest order", "reversed"])
def test_each_mx_target_gets_its_own_run_ahead_up_to_the_cap_in_pytest_order(suite, baseline, dns_server, monkeypatch,
                                                                             reverse):
    """--smtp-mx over example.test's two MX hosts, --smtp-concurrency=2: both hosts have two sessions open at
    once (one pool of two for the run gave each one), neither ever more than two, in pytest's order per host."""
    if reverse:
        monkeypatch.setenv("REVERSE_ITEMS", "1")
    together = Together(4)
    with CountingMX(together=together) as mx1, \
            CountingMX(host="127.0.0.2", port=mx1.server.port, together=together) as mx2:
        suite.runpytest_inprocess(
            "--smtp-mx=example.test", f"--smtp-resolver={dns_server.host}:{dns_server.port}",
            f"--smtp-port={mx1.server.port}", "--smtp-concurrency=2", "--smtp-timeout=10", "-p", "no:cacheprovider")
    outcomes = json.loads((suite.path / "outcomes.json").read_text())
    for target in (MX1, MX2):
        assert {key.removesuffix(f"[{target}]"): outcome for key, outcome in outcomes.items()
                if key.endswith(f"[{target}]")} == baseline, target
    assert len(outcomes) == 2 * len(baseline)
    for server in (mx1, mx2):
        assert_one_session_per_file_and_nothing_after_the_mismatch(server)
        assert server.peak <= 2, f"{server.peak} connections open at once to {server.server.target} under a cap of 2"
        first = {received[2].split("<")[1].split("@")[0] for received in server.sessions[:2]}
        assert first == ({"relayed", "victim3"} if reverse else {"victim0", "victim1"}), \
            f"{server.server.target} got {first} first, not the first two files in pytest's order"
    assert together.peak == 4, f"at most {together.peak} sessions open at once over two MX hosts, 2 allowed to each"


def test_run_ahead_runs_each_lane_in_order_and_the_lanes_side_by_side(directory):
    """One place per lane: each lane's files run one at a time, in the order given, while the other lane runs."""
    both_running = threading.Barrier(2, timeout=Together.GATHER_WAIT)
    started: dict[str, list[int]] = {"a": [], "b": []}

    def plan(lane, n):
        def run(through):
            started[lane].append(n)
            if n == 0:
                both_running.wait()  # the other lane's first file must start while this one runs
            return FileResult(error=None)
        return FilePlan(f"{lane}{n}.smtp|", 0, run, lane)

    runs = Runs(directory, shared=False, ahead=1)
    plans = [plan(lane, n) for n in range(3) for lane in "ab"]
    runs.plan(plans, {p.key: {0} for p in plans})
    runs.start()
    try:
        assert all(runs.result(p.key).error is None for p in plans)
    finally:
        runs.close()
    assert started == {"a": [0, 1, 2], "b": [0, 1, 2]}


def test_python_tests_wait_for_a_place_under_the_cap_and_a_test_over_it_fails_clearly(pytester):
    pytester.makepyfile(test_sessions_under_the_cap="""
        def test_one_session(smtp_session):
            assert smtp_session.noop().code == 250

        def test_two_sessions_under_a_cap_of_one(smtp_connect):
            first = smtp_connect()
            smtp_connect()
    """)
    with CountingMX() as server:
        result = pytester.runpytest_inprocess(f"--smtp-target={server.server.target}", "--smtp-concurrency=1",
                                              "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "this test already has 1 session(s) open to 127.0.0.1:" in result.stdout.str()
    assert "the most --smtp-concurrency=1 allows" in result.stdout.str()
    assert server.peak == 1


def test_a_tarpitting_server_never_raises_the_open_connections_above_the_cap(pytester):
    pytester.makeconftest(RECORDER)
    pytester.makefile(".smtp", **{f"t{n}": "< 220\n> NOOP\n< 250\n" for n in range(6)})
    with CountingMX(delay=0.3) as server:
        result, outcomes = run(pytester, server, "--smtp-concurrency=2")
    assert list(outcomes.values()) == ["passed"] * 12
    assert server.peak == 2


class SlowToHangUpMX(CountingMX):
    """Says 221 to QUIT, then takes a while to close: until it has, it counts the connection as open."""

    def serve(self, peer):
        super().serve(peer)
        time.sleep(0.3)


def test_a_session_gives_up_its_place_under_the_cap_only_once_the_server_has_hung_up(pytester):
    """The cap is what the server sees: a place freed at our close() would let the next session in while the
    server still holds this one (RFC 5321 4.1.1.10: after 221 the server closes the channel)."""
    pytester.makeconftest(RECORDER)
    pytester.makefile(".smtp", **{f"s{n}": "< 220\n> NOOP\n< 250\n" for n in range(3)})
    with SlowToHangUpMX() as server:
        result, outcomes = run(pytester, server, "--smtp-concurrency=1")
    assert list(outcomes.values()) == ["passed"] * 6
    assert len(server.sessions) == 3
    assert server.peak == 1, f"{server.peak} connections open at once, as the server counts them, under a cap of 1"


def test_each_item_reports_its_own_exchange_time_and_carries_its_own_exchange(suite):
    with CountingMX(delay=0.1) as server:
        result = suite.runpytest_inprocess(f"--smtp-target={server.server.target}", "-p", "no:cacheprovider",
                                           "f0.smtp")
    reports = {r.nodeid: r for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "call"}
    for nodeid, report in reports.items():
        assert 0.09 < report.duration < 0.5, f"{nodeid}: {report.duration:.3f} s for one reply after 0.1 s"
    rcpt = reports["f0.smtp::line6-RCPT"]
    (section,) = [text for name, text in rcpt.sections if name.startswith("SMTP transcript")]
    assert [line.split(": ", 1)[1] for line in section.splitlines()] == ["RCPT TO:<victim0@elsewhere.example>",
                                                                       "554 5.7.1 Relay access denied"]
    assert not rcpt.smtp[0]["full"]
    whole = reports["f0.smtp::line8-QUIT"].smtp[0]
    assert whole["full"] and whole["sent"] == 4, "the file's last item carries the whole session, once"


THREAD_IMPORTS = '''
import sys, threading

SEEN = []


def _record(event, args):
    if event == "import" and args[0].startswith("pytest_smtpcheck") and \\
            threading.current_thread() is not threading.main_thread():
        SEEN.append(f"{threading.current_thread().name}: {args[0]}")


sys.addaudithook(_record)


def pytest_sessionfinish(session):
    print("imported in a thread of the run:", sorted(set(SEEN)) or "nothing")
'''


def test_run_ahead_threads_import_nothing_of_the_plugin(pytester):
    """pytest parses each plugin module it imports (to rewrite asserts); CPython 3.11 could fail two threads
    doing so at once (SystemError: AST constructor recursion depth mismatch, seen on 3.11.7 in this suite). The
    run-ahead loads what file sessions need before its threads start: the examples' sessions (STARTTLS, AUTH,
    messages, BDAT, SMTPUTF8, pipelining) import no module of the plugin in a thread."""
    examples = Path(__file__).parent.parent / "examples"
    for path in examples.glob("*.smtp"):
        pytester.path.joinpath(path.name).write_bytes(path.read_bytes())
    pytester.makeconftest(THREAD_IMPORTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--smtp-concurrency=4")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*imported in a thread of the run: nothing"])
