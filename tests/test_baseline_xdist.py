"""The battery under pytest-xdist, against the lab's real Postfix: whatever `--dist` does with the items, each
address gets one plain session and one handshake per TLS offer in the whole run (Postfix's own per-session
counts, its `disconnect from` lines, say so), and the verdicts are the serial run's."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from baseline_lab import Lab, running_lab

pytest_plugins = ["pytester"]

HANDSHAKES = 1 + 3 + 4  # the default, TLS 1.0, 1.1, 1.2 (1.3 was the default's), 4 cipher classes OpenSSL 3 can offer
CLIENTS = {"127.0.0.20": "[127.0.0.1]", "::1": "[::1]"}  # the good MX's addresses and the source Postfix logs


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with running_lab() as running:
        yield running


def _sessions(lab: Lab, before: int) -> dict[str, Counter[str]]:
    """Per MX address: plain sessions (they ask VRFY) and handshakes (STARTTLS, nothing else), from Postfix."""
    found: dict[str, Counter[str]] = {address: Counter() for address in CLIENTS}
    for line in lab.good_log_lines()[before:]:
        if "disconnect from" not in line or " ehlo=" not in line:
            continue
        address = next(a for a, client in CLIENTS.items() if client in line)
        found[address]["plain" if "vrfy=" in line else "handshake" if "starttls=" in line else "other"] += 1
    return found


def _verdicts(pytester: pytest.Pytester) -> set[tuple[str, str | None, str]]:
    records = json.loads((pytester.path / "out.json").read_text())
    return {(record["id"], record["address"], record["outcome"]) for record in records}


@pytest.fixture(scope="module")
def serial(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str | None, str]]:
    """The serial run's verdicts, which every distributed run must equal."""
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("serial")
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *lab.args("good.example.test"),
                    "--smtp-json=out.json", "-q"], cwd=where, capture_output=True, check=False, timeout=300)
    records = json.loads((where / "out.json").read_text())
    return {(record["id"], record["address"], record["outcome"]) for record in records}


ITEMS = 48  # the battery's items for good.example.test: 20 per address (two), 2 for its one host, 6 for the domain


@pytest.mark.parametrize(("workers", "runs"), [
    *((["-p", "xdist", "-n", "2", "--dist", dist], 1)
      for dist in ("load", "worksteal", "loadfile", "loadgroup", "loadscope")),
    (["-p", "xdist", "-n", "2", "--dist", "each"], 2),  # every item on every worker: each address still probed once
    (["-p", "xdist", "--dist", "no"], 1),  # xdist loaded, nothing distributed
    (["-p", "no:xdist"], 1),  # no xdist at all
], ids=["load", "worksteal", "loadfile", "loadgroup", "loadscope", "each", "no", "no-xdist"])
def test_every_dist_mode_probes_each_address_once(pytester: pytest.Pytester, lab: Lab, workers: list[str], runs: int,
                                                 serial: set[tuple[str, str | None, str]]) -> None:
    before = len(lab.good_log_lines())
    result = pytester.runpytest_subprocess(*lab.args("good.example.test"), *workers, "--smtp-json=out.json")
    result.assert_outcomes(passed=ITEMS * runs)
    assert _verdicts(pytester) == serial
    assert _sessions(lab, before) == {address: Counter(plain=1, handshake=HANDSHAKES) for address in CLIENTS}


@pytest.mark.parametrize(("selection", "expected"), [
    # the plain session alone: no check of the selection reads a handshake
    ("relay and 127.0.0.20", Counter(plain=1)),
    # the handshakes alone: the cipher check reads no reply of the plain session
    ("cipher and 127.0.0.20", Counter(handshake=HANDSHAKES)),
    # starttls reads both: STARTTLS offered in the plain session's EHLO, and the default handshake
    ("starttls and 127.0.0.20", Counter(plain=1, handshake=HANDSHAKES)),
])
@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2", "--dist", "load"]])
def test_a_selection_probes_only_what_its_checks_read(pytester: pytest.Pytester, lab: Lab, selection: str,
                                                      expected: Counter[str], workers: list[str]) -> None:
    before = len(lab.good_log_lines())
    result = pytester.runpytest_subprocess(*lab.args("good.example.test"), *workers, "-k", selection)
    result.assert_outcomes(passed=1)
    assert _sessions(lab, before) == {"127.0.0.20": expected, "::1": Counter()}


def test_a_worker_that_died_holding_a_probe_leaves_its_verdicts_unknown_and_nothing_is_probed_again(
        tmp_path: Path) -> None:
    """The claim of a worker that is gone (nobody holds its lock, no result follows): the checks say so."""
    from pytest_smtpcheck.baseline.checks import CHECKS
    from pytest_smtpcheck.baseline.facts import AddressFacts, DomainFacts
    from pytest_smtpcheck.baseline.settings import BaselineSettings
    from pytest_smtpcheck.execution import RunDirectory
    from pytest_smtpcheck.target import Target

    shared = RunDirectory(str(tmp_path))
    target = Target("127.0.0.9", {"smtp": 9}, mx_host="mx.example.test")  # nothing listens there: never asked
    domain = DomainFacts("example.test", None, BaselineSettings())  # type: ignore[arg-type]  # no DNS is asked
    facts = AddressFacts(domain, "mx.example.test", target, shared=shared)
    for name in ("smtp", "tls"):
        open(shared.file(f"baseline example.test mx.example.test 127.0.0.9:9 {name}", ".claim"), "w").close()
    judged = {check.id: check.judge(facts) for check in CHECKS if check.id in ("relay", "cipher")}
    for verdict in judged.values():
        assert not verdict.ok
        assert "the pytest-xdist worker that probed 127.0.0.9" in verdict.found
        assert "stopped before it finished; the probe was not run again" in verdict.found
