"""How long the lab MTAs of the tests take to start: Exim (unpacked, tests/exim.py) beside Postfix (tests/postfix.py).

From the call to every listener answering: configuration, test CA and certificate, daemon start.
Needs root and, for Exim, `bash .ci/unpack-exim`.

    python bench/mta_start.py [ROUNDS]   # default 5
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

import exim  # the test harnesses live beside the tests (the path above)
import postfix


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for name, start in (("exim", exim.running_exim), ("postfix", postfix.running_postfix)):
        times = []
        for _ in range(rounds):
            began = time.monotonic()
            with start():
                times.append(time.monotonic() - began)
        print(f"{name}: median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
              f"({rounds} starts)")


if __name__ == "__main__":
    main()
