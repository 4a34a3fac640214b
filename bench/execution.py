"""The execution model's figures, each printed beside a baseline measured in the same run.

1. Latency-bound suites: 100 files x 6 exchanges against an MX that answers every
   line after 50 ms, serially (--smtp-concurrency=1) and with run-ahead
   (--smtp-concurrency=16), and with -n 2 --smtp-concurrency=3; with the most
   connections the MX saw open at once.
   Then the same suite with --smtp-concurrency=16 at one target, at one MX host
   and at two MX hosts (`--smtp-mx`, through a local unbound from tests/unbound.py:
   mx1 on 127.0.0.1, mx2 on 127.0.0.2), in alternating rounds, with the load
   average beside them: each target has its own run-ahead, so two MX hosts
   should take little longer than one (the goal: at most 1.3x).
2. Per-item overhead: 10 000 exchanges (100 files x 100 NOOPs) against a fast
   MX, beside pytest running 10 000 trivial items that each do the NOOP with
   smtplib over one connection per module.
3. Memory: peak RSS of a run sending a 50 MB `! message`, beside a 1 kB one.

    python bench/execution.py            # all three
    python bench/execution.py latency    # one of: latency, targets, overhead, memory

Every server here is a child process on 127.0.0.1.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


# hypothesis, a test dependency, costs every run ~1 s at its terminal summary: not what a user of the plugin pays
def scratch() -> str:
    """A temporary directory, removed when the benchmark ends."""
    path = tempfile.mkdtemp(prefix="smtpcheck-bench-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest"]


# -- the MX: a child process answering every line after DELAY seconds -----------------------------------


def serve(delay: float, port_file: str, stats_file: str, host: str = "127.0.0.1", port: int = 0) -> None:
    """Answer SMTP lines (DATA bodies included) after *delay*; record the peak of open connections."""
    listener = socket.create_server((host, port), backlog=128)
    state = {"open": 0, "peak": 0, "sessions": 0}
    lock = threading.Lock()

    def handle(sock: socket.socket) -> None:
        with lock:
            state["open"] += 1
            state["sessions"] += 1
            state["peak"] = max(state["peak"], state["open"])
            Path(stats_file).write_text(f"{state['peak']} {state['sessions']}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        file = sock.makefile("rb")
        try:
            time.sleep(delay)
            sock.sendall(b"220 bench ESMTP\r\n")
            in_data = False
            for line in file:
                if in_data:
                    if line in (b".\r\n", b".\n"):
                        in_data = False
                        time.sleep(delay)
                        sock.sendall(b"250 2.0.0 queued\r\n")
                    continue
                time.sleep(delay)
                verb = line[:4].upper()
                if verb == b"QUIT":
                    sock.sendall(b"221 2.0.0 bye\r\n")
                    break
                if verb == b"DATA":
                    in_data = True
                    sock.sendall(b"354 go ahead\r\n")
                else:
                    sock.sendall(b"250 2.0.0 ok\r\n")
        except OSError:
            pass
        finally:
            sock.close()
            with lock:
                state["open"] -= 1

    Path(port_file).write_text(str(listener.getsockname()[1]))
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=handle, args=(sock,), daemon=True).start()


class MX:
    def __init__(self, delay: float, host: str = "127.0.0.1", port: int = 0) -> None:
        self.dir = scratch()
        port_file, self.stats = os.path.join(self.dir, "port"), os.path.join(self.dir, "stats")
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", str(delay), port_file, self.stats, host,
                                      str(port)])
        while not os.path.exists(port_file) or not Path(port_file).read_text():
            time.sleep(0.01)
        self.port = int(Path(port_file).read_text())

    def peak(self) -> tuple[int, int]:
        peak, sessions = Path(self.stats).read_text().split()
        return int(peak), int(sessions)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def timed(args: list[str], cwd: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout[:5000]}{result.stderr[-2000:]}")
    return time.perf_counter() - started


def suite(files: int, body: str) -> str:
    directory = scratch()
    for n in range(files):
        Path(directory, f"f{n:03}.smtp").write_text(body)
    return directory


# -- 1. latency-bound ------------------------------------------------------------------------------------


LATENCY_BODY = "< 220\n> EHLO bench\n< 250\n> MAIL FROM:<a@b>\n< 250\n> RCPT TO:<c@d>\n< 250\n> NOOP\n< 250\n> QUIT\n< 221\n"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def latency() -> None:
    directory = suite(100, LATENCY_BODY)
    print("1. 100 files x 6 exchanges, every reply after 50 ms")
    for label, extra in [("--smtp-concurrency=1 (serial baseline)", ["--smtp-concurrency=1"]),
                         ("--smtp-concurrency=16", ["--smtp-concurrency=16"]),
                         ("-n 2 --smtp-concurrency=3", ["-n", "2", "--smtp-concurrency=3"])]:
        mx = MX(0.05)
        try:
            seconds = timed([*PYTEST, f"--smtp-target=127.0.0.1:{mx.port}", *extra], directory)
            peak, sessions = mx.peak()
        finally:
            mx.close()
        print(f"   {label:42} {seconds:6.2f} s   {sessions} sessions, at most {peak} open at once")


def targets(rounds: int = 3) -> None:
    """One target, one MX host, two MX hosts: the same suite and concurrency, rounds alternating the order."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import pytest
    from unbound import running_unbound  # the tests' DNS lab: example.test's MX mx1 127.0.0.1, mx2 127.0.0.2

    directory = suite(100, LATENCY_BODY)
    print("1b. the same 100 files, --smtp-concurrency=16, at one target and over MX hosts "
          f"(median of {rounds} rounds); load average {load()}")
    try:
        with running_unbound({"example.test": ["one MX 10 mx1"]}) as dns:
            resolver = f"--smtp-resolver={dns.host}:{dns.port}"
            cases = {
                "--smtp-target (one target)": (1, lambda port: [f"--smtp-target=127.0.0.1:{port}"]),
                "--smtp-mx, one MX host": (1, lambda port: ["--smtp-mx=one.example.test", resolver,
                                                            f"--smtp-port={port}"]),
                "--smtp-mx, two MX hosts": (2, lambda port: ["--smtp-mx=example.test", resolver,
                                                             f"--smtp-port={port}"]),
            }
            times: dict[str, list[float]] = {label: [] for label in cases}
            peaks: dict[str, list[tuple[int, int]]] = {}
            for n in range(rounds):
                order = list(cases.items()) if n % 2 == 0 else list(reversed(cases.items()))
                for label, (hosts, args) in order:
                    first = MX(0.05)
                    servers = [first] + ([MX(0.05, "127.0.0.2", first.port)] if hosts == 2 else [])
                    try:
                        times[label].append(timed([*PYTEST, *args(first.port), "--smtp-concurrency=16"], directory))
                        peaks[label] = [server.peak() for server in servers]
                    finally:
                        for server in servers:
                            server.close()
    except pytest.skip.Exception as reason:
        print(f"   skipped: {reason}")
        return
    medians = {label: sorted(values)[len(values) // 2] for label, values in times.items()}
    target, one = medians["--smtp-target (one target)"], medians["--smtp-mx, one MX host"]
    for label, median in medians.items():
        seen = ", ".join(f"{sessions} sessions, at most {peak} open" for peak, sessions in peaks[label])
        rounds_text = " ".join(f"{t:.2f}" for t in times[label])
        print(f"   {label:28} {median:5.2f} s  {median / target:.2f} x one target  {median / one:.2f} x one MX"
              f"   ({rounds_text} s; {seen})")
    print(f"   load average at the end: {load()}")


# -- 2. per-item overhead ----------------------------------------------------------------------------------

SMTPLIB_MODULE = """
import smtplib, pytest

@pytest.fixture(scope="module")
def conn():
    c = smtplib.SMTP("127.0.0.1", {port})
    yield c
    c.quit()

@pytest.mark.parametrize("n", range(100))
def test_noop(conn, n):
    assert conn.noop()[0] == 250
"""


def overhead() -> None:
    files = 100
    body = "< 220\n" + "> NOOP\n< 250\n" * 100
    ours = suite(files, body)
    mx = MX(0.0)
    try:
        theirs = scratch()
        for n in range(files):
            Path(theirs, f"test_m{n:03}.py").write_text(SMTPLIB_MODULE.format(port=mx.port))
        baseline = timed([*PYTEST, "-p", "no:smtpcheck", "-p", "no:html", theirs], theirs)
        plugin = timed([*PYTEST, f"--smtp-target=127.0.0.1:{mx.port}", "--smtp-concurrency=1"], ours)
        ahead = timed([*PYTEST, f"--smtp-target=127.0.0.1:{mx.port}"], ours)
    finally:
        mx.close()
    print("2. 10 000 exchanges (100 files x 100 NOOPs) against a fast MX")
    print(f"   pytest + smtplib, 10 000 trivial items (baseline) {baseline:6.2f} s")
    print(f"   .smtp files, --smtp-concurrency=1              {plugin:6.2f} s   {plugin / baseline:.2f} x")
    print(f"   .smtp files, default concurrency (4)            {ahead:6.2f} s   {ahead / baseline:.2f} x")


# -- 3. memory -----------------------------------------------------------------------------------------------

RSS = """
import resource, sys, pytest
code = pytest.main(sys.argv[1:])
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def memory() -> None:
    mx = MX(0.0)
    peaks = {}
    try:
        for size in ("1kB", "50MB"):
            directory = suite(1, f"< 220\n> MAIL FROM:<a@b>\n< 250\n> RCPT TO:<c@d>\n< 250\n> DATA\n< 354\n"
                                 f"! message {size}\n< 250\n> QUIT\n< 221\n")
            result = subprocess.run([sys.executable, "-c", RSS, "-q", "-p", "no:cacheprovider",
                                     f"--smtp-target=127.0.0.1:{mx.port}"], cwd=directory, capture_output=True,
                                    text=True)
            line = next(line for line in result.stdout.splitlines() if line.startswith("PEAK_KB"))
            peaks[size] = int(line.split()[1]) / 1024
    finally:
        mx.close()
    print("3. peak RSS of a run sending one message")
    print(f"   ! message 1kB (baseline)   {peaks['1kB']:7.1f} MB")
    print(f"   ! message 50MB             {peaks['50MB']:7.1f} MB   +{peaks['50MB'] - peaks['1kB']:.1f} MB")


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return
    print(f"load average at start: {load()}; {os.cpu_count()} cores")
    chosen = sys.argv[1:] or ["latency", "targets", "overhead", "memory"]
    for name in chosen:
        {"latency": latency, "targets": targets, "overhead": overhead, "memory": memory}[name]()


if __name__ == "__main__":
    main()
