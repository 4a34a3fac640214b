"""How much pytest-smtpcheck adds to every pytest start-up in the environment.

Two start-ups, each with the plugin and with it disabled (`-p no:smtpcheck`),
alternating: `pytest --version` (pytest 9 answers it before loading plugins) and
`pytest --collect-only` in a folder with one plain test file, which loads and
configures every plugin and collects a file that is not ours. Each is measured
twice: as this environment runs Python, and with bytecode cached in a scratch
directory (PYTHONPYCACHEPREFIX), as an installed package runs. The two differ when
the environment sets PYTHONDONTWRITEBYTECODE and the plugin is an editable install:
then every run compiles the plugin's modules from source.

Prints the medians and the overhead in wall and CPU time, and the overhead of the
fastest runs (on a busy machine the steadier figure: waiting only ever adds), the
load average, and the modules the plugin imports at start-up, to catch a heavy
import creeping in (tests/test_startup.py keeps that list short).

    python bench/startup.py [runs]
"""

from __future__ import annotations

import atexit
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("ssl", "asyncio", "aiosmtpd", "trustme", "cryptography", "dns", "pytest_html", "tomllib", "tomli")


def scratch() -> str:
    path = tempfile.mkdtemp(prefix="smtpcheck-bench-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


PROJECT = scratch()
Path(PROJECT, "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
# hypothesis, a test dependency of ours, loads itself at every terminal summary (~1 s, noisy): not what users pay
STARTUPS = {"pytest --version": ["--version"],
            "pytest --collect-only (a plain test file)": ["--collect-only", "-q", "-p", "no:cacheprovider",
                                                          "-p", "no:hypothesispytest"]}
ENVIRONMENTS = {
    "as this environment runs it"
    + (" (PYTHONDONTWRITEBYTECODE is set)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""): dict(os.environ),
    "bytecode cached (as installed)": {**{name: value for name, value in os.environ.items()
                                          if name != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPYCACHEPREFIX": scratch()},
}


def timed(args: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one start-up. On a shared machine the CPU time is the steadier
    figure: start-up is all computation, and waiting for a core inflates only the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", *args], cwd=PROJECT, env=environment, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def plugin_imports() -> list[str]:
    """Modules imported on start-up with the plugin that are not imported without it."""

    def modules(extra: list[str]) -> set[str]:
        code = (
            "import sys, pytest\n"
            f"pytest.main([*{STARTUPS['pytest --collect-only (a plain test file)']!r}, *{extra!r}])\n"
            "print('\\n'.join(sorted(sys.modules)))"
        )
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True).stdout
        return {line for line in out.split() if all(part.isidentifier() for part in line.split("."))}

    return sorted(modules([]) - modules(["-p", "no:smtpcheck"]))


def main(runs: int) -> None:
    print(f"load average at the start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    for title, args in STARTUPS.items():
        for condition, environment in ENVIRONMENTS.items():
            with_plugin, without = [], []
            timed(args, environment)  # warm the file cache (and write the bytecode, where it is cached)
            timed([*args, "-p", "no:smtpcheck"], environment)
            for _ in range(runs):
                with_plugin.append(timed(args, environment))
                without.append(timed([*args, "-p", "no:smtpcheck"], environment))
            print(f"{title}, {condition}, median of {runs} runs each (and the fastest run's overhead)")
            for kind, index in (("wall", 0), ("CPU", 1)):
                a = statistics.median(times[index] for times in with_plugin)
                b = statistics.median(times[index] for times in without)
                fastest = min(times[index] for times in with_plugin) - min(times[index] for times in without)
                print(f"  {kind:>4}: without the plugin {b * 1000:6.1f} ms, with it {a * 1000:6.1f} ms, "
                      f"overhead {(a - b) * 1000:5.1f} ms ({(a / b - 1) * 100:+.1f} %; fastest {fastest * 1000:.1f} ms)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    added = plugin_imports()
    heavy = [name for name in added if name.split(".")[0] in HEAVY]
    print(f"modules the plugin adds at start-up: {len(added)}")
    print("  " + ", ".join(added))
    print(f"heavy modules among them: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
