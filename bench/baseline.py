"""The battery on two MX hosts against one: addresses are probed at once, so two should cost at most 1.3x one.

The lab of the tests (tests/baseline_lab.py: two Postfix instances, unbound, an MTA-STS server, all on loopback)
serves `solo.example.test` (one MX host, one address) and `duo.example.test` (that host and a second one, another
Postfix). Each run is the whole battery, `pytest --smtp-baseline`, with the default pause of 1 s between two
handshakes to one address, so a run is bounded by one address's handshakes. Runs alternate, REPEATS of each; the
medians are compared.

    python bench/baseline.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

import baseline_lab  # the tests' lab

REPEATS = 3
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
          "-p", "no:hypothesispytest"]


def run(lab: baseline_lab.Lab, domain: str, where: str) -> float:
    options = lab.args(domain, spacing="1")  # the default pause, as against a production MX
    started = time.monotonic()
    result = subprocess.run([*PYTEST, "--rootdir", where, where, *options], capture_output=True, text=True,
                            timeout=600, check=False)
    elapsed = time.monotonic() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    if "passed" not in summary and "failed" not in summary:
        raise SystemExit(f"the {domain} run did not run: {summary}")
    return elapsed


def main() -> None:
    print(f"python {sys.version.split()[0]}; load average at start: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores; median of {REPEATS}")
    where = tempfile.mkdtemp(prefix="smtpcheck-bench-")
    try:
        with baseline_lab.running_lab() as lab:
            times: dict[str, list[float]] = {"solo.example.test": [], "duo.example.test": []}
            for _ in range(REPEATS):
                for domain, taken in times.items():
                    taken.append(run(lab, domain, where))
            if lab.messages_accepted():
                raise SystemExit(f"a message was accepted: {lab.messages_accepted()}")
    finally:
        shutil.rmtree(where, ignore_errors=True)
    one, two = (statistics.median(values) for values in times.values())
    for domain, values in times.items():
        print(f"{domain:20} {' '.join(f'{v:5.2f}' for v in values)} s  (median {statistics.median(values):.2f} s)")
    print(f"two MX hosts / one: {two / one:.2f}x (target at most 1.3x)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
