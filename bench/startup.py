"""How much pytest-smtpcheck adds to every pytest start-up in the environment.

Two start-ups, each with the plugin and with it disabled (`-p no:smtpcheck`),
alternating: `pytest --version` (pytest 9 answers it before loading plugins) and
`pytest --collect-only` in an empty folder, which loads and configures every
plugin. Prints the medians and the overhead, and lists the modules the plugin
imports at start-up, to catch a heavy import creeping in.

    python bench/startup.py [runs]
"""

from __future__ import annotations

import atexit
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HEAVY = ("ssl", "asyncio", "aiosmtpd", "trustme", "cryptography", "dns", "pytest_html", "tomllib", "tomli")


EMPTY = tempfile.mkdtemp(prefix="smtpcheck-bench-")
atexit.register(shutil.rmtree, EMPTY, ignore_errors=True)
# hypothesis, a test dependency of ours, loads itself at every terminal summary (~1 s, noisy): not what users pay
STARTUPS = {"pytest --version": ["--version"],
            "pytest --collect-only (empty dir)": ["--collect-only", "-q", "-p", "no:cacheprovider",
                                                  "-p", "no:hypothesispytest"]}


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", *args], cwd=EMPTY, capture_output=True)
    return time.perf_counter() - started


def plugin_imports() -> list[str]:
    """Modules imported on start-up with the plugin that are not imported without it."""

    def modules(extra: list[str]) -> set[str]:
        code = (
            "import sys, pytest\n"
            f"pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', *{extra!r}])\n"
            "print('\\n'.join(sorted(sys.modules)))"
        )
        out = subprocess.run([sys.executable, "-c", code], cwd=EMPTY, capture_output=True, text=True).stdout
        return {line for line in out.split() if all(part.isidentifier() for part in line.split("."))}

    return sorted(modules([]) - modules(["-p", "no:smtpcheck"]))


def main(runs: int) -> None:
    for title, args in STARTUPS.items():
        with_plugin, without = [], []
        timed(args)  # warm the file cache
        for _ in range(runs):
            with_plugin.append(timed(args))
            without.append(timed([*args, "-p", "no:smtpcheck"]))
        a, b = statistics.median(with_plugin), statistics.median(without)
        print(f"{title}, median of {runs} runs each")
        print(f"  without the plugin: {b * 1000:7.1f} ms")
        print(f"  with the plugin:    {a * 1000:7.1f} ms")
        print(f"  overhead:           {(a - b) * 1000:7.1f} ms ({(a / b - 1) * 100:+.1f} %)")
    added = plugin_imports()
    heavy = [name for name in added if name.split(".")[0] in HEAVY]
    print(f"modules the plugin adds at start-up: {len(added)}")
    print("  " + ", ".join(added))
    print(f"heavy modules among them: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
