"""Time to verdict for every server fault, measured against the wire client directly (no pytest).

Each scenario of tests/faultserver.py runs on loopback; the client plays a whole
transaction (greeting, EHLO, MAIL, RCPT, DATA, QUIT) with a reply timeout of 1 s
and stops at the first failure. Prints a Markdown table: fault, outcome, the
client's message and the seconds to the verdict (the slowest of *runs* runs).
The figures in docs/robustness.md come from this script.

    python bench/faults.py [runs]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from faultserver import Certificates, FaultServer, Scenario, drip_every_reply, leftovers, scenarios

from pytest_smtpcheck.errors import SMTPCheckError
from pytest_smtpcheck.smtp.session import SMTPSession
from pytest_smtpcheck.smtp.tls import TLSSettings

TIMEOUT = 1.0
DEADLINE = 2.0


def transaction(session: SMTPSession, noops: int = 0) -> None:
    session.connect()
    session.greeting.expect("220")
    session.ehlo().expect("250")
    for _ in range(noops):
        session.noop().expect("250")
    session.mail("probe@example.net").expect("250")
    session.rcpt("postmaster@example.test").expect("250")
    session.data("Subject: robustness\n\nhello\n").expect("250")
    session.quit().expect("221")


def run(scenario: Scenario, ca_file: str | None, *, deadline: float | None = None, noops: int = 0):
    with scenario.make() as server:
        session = SMTPSession("127.0.0.1", server.port, timeout=TIMEOUT, deadline=deadline, tls_mode=scenario.tls,
                              tls=TLSSettings(ca_file=ca_file))
        started = time.monotonic()
        try:
            transaction(session, noops)
            outcome, message = "passes", ""
        except (SMTPCheckError, AssertionError) as error:
            outcome, message = f"fails ({type(error).__name__})", str(error).replace("\n", " / ")
        finally:
            seconds = time.monotonic() - started
            session.quit_quietly()
    return outcome, message.replace(str(server.port), "PORT"), seconds


def main(runs: int = 3) -> None:
    with tempfile.TemporaryDirectory(prefix="smtpcheck-faults-") as directory:
        certs = Certificates(Path(directory))
        catalogue = list(scenarios(certs).values())
        catalogue.append(Scenario("deadline", "drips every reply in 0.7 s; --smtp-deadline 2",
                                  lambda: FaultServer(drip_every_reply(0.7)), "none"))
        print(f"reply timeout {TIMEOUT:g} s; Python {sys.version.split()[0]}; slowest of {runs} runs\n")
        print("| fault | outcome | message | seconds |")
        print("|---|---|---|---|")
        for scenario in catalogue:
            extra = {"deadline": DEADLINE, "noops": 10} if scenario.name == "deadline" else {}
            results = [run(scenario, certs.ca_file, **extra) for _ in range(runs)]
            outcome, message, _ = results[-1]
            slowest = max(seconds for _, _, seconds in results)
            shown = message if len(message) < 240 else message[:240] + "…"
            print(f"| {scenario.name} | {outcome} | `{shown}` | {slowest:.2f} |")
    problems = leftovers()
    if problems:
        raise SystemExit("fault servers left behind: " + "; ".join(problems))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
