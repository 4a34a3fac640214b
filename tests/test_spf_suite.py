"""The openspf RFC 7208 test suite against the SPF evaluator, over DNS on loopback.

tests/data/rfc7208-tests.yml is the suite as pyspf's repository keeps it (openspf
release 2014.04, sdgathman/pyspf test/ at 1042e9e, unchanged; its authors are in its
header, its licence in rfc7208-tests.LICENSE beside it).
Each scenario's zone data is served by tests/zoneserver.py on 127.0.0.1, and the
plugin's `Resolver` asks it over UDP, as it asks a real resolver. The suite's
conventions (its header, and pyspf's test/testspf.py):
- a record listed as type SPF is also served as TXT, unless the name lists a TXT of its own;
- `NONE` stands for no record, and `TIMEOUT` for a name that does not answer
  questions for the types it has no record of (listed before it);
- an empty MAIL FROM is checked as postmaster@HELO (RFC 7208 §2.4);
- `result` is one verdict or a list of acceptable ones;
- an `explanation` of `DEFAULT` means the record gives none (`explanation()` is None).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import pytest
import yaml
from zoneserver import TIMEOUT, Node, Zone, ZoneServer

from pytest_smtpcheck.dns.resolver import Resolver
from pytest_smtpcheck.dns.spf import spf

SUITE = Path(__file__).parent / "data" / "rfc7208-tests.yml"


@dataclass(frozen=True)
class Case:
    """One test of the suite: the client, the expected verdicts and, where the suite gives one, the explanation."""

    scenario: int
    name: str
    host: str
    mailfrom: str
    helo: str
    results: tuple[str, ...]
    explanation: str | None


def _strings(value: str | list[str]) -> list[bytes]:
    """A TXT record's character-strings, UTF-8 as pyspf sends them, cut to DNS's 255-octet strings."""
    joined = [part.encode() for part in ([value] if isinstance(value, str) else value)]
    strings = [s[i : i + 255] for s in joined for i in range(0, len(s), 255)]
    # RFC 1035 §3.3.14 wants at least one string; dnspython cannot send none, so the suite's
    # empty record (`SPF: []`, "illegal, but SPF should not crash") goes out as one empty string.
    return strings or [b""]


def _rdata(rdtype: str, value: Any) -> dns.rdata.Rdata:
    if rdtype in ("TXT", "SPF"):
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, _strings(value))
    if rdtype == "MX":
        preference, exchange = value
        return dns.rdata.from_text("IN", "MX", f"{preference} {exchange or '.'}", origin=dns.name.root, relativize=False)
    return dns.rdata.from_text("IN", rdtype, str(value), origin=dns.name.root, relativize=False)


def _zone(zonedata: dict[str, list[Any]]) -> Zone:
    zone: Zone = {}
    for owner, entries in zonedata.items():
        node = Node()
        own_txt = any(isinstance(entry, dict) and "TXT" in entry for entry in entries)
        for entry in entries:
            if entry == "TIMEOUT":
                node.silent = True
                break
            ((rdtype, value),) = entry.items()
            if value == "NONE" or (rdtype == "SPF" and own_txt):
                continue  # the evaluator never asks for type SPF (RFC 7208 §3.1): only its TXT twin is served
            node.records.append(_rdata(rdtype, value))
        zone[dns.name.from_text(owner)] = node
    return zone


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _load() -> tuple[list[Zone], list[Any]]:
    zones, params = [], []
    with SUITE.open("rb") as stream:
        for index, scenario in enumerate(yaml.safe_load_all(stream)):
            zones.append(_zone(scenario["zonedata"]))
            for name, test in scenario["tests"].items():
                result = test["result"]
                case = Case(index, name, test["host"], test["mailfrom"], test["helo"],
                            tuple(result) if isinstance(result, list) else (result,), test.get("explanation"))
                params.append(pytest.param(case, id=f"{_slug(scenario['description'])}/{name}"))
    return zones, params


ZONES, CASES = _load()


@pytest.fixture(scope="module")
def zone_server() -> Iterator[ZoneServer]:
    server = ZoneServer()
    yield server
    server.close()


def test_the_suite_is_complete() -> None:
    """The file as published: 203 tests in 16 scenarios, 22 of them with an expected explanation."""
    assert (len(ZONES), len(CASES)) == (16, 203)
    assert sum(param.values[0].explanation is not None for param in CASES) == 22


@pytest.mark.parametrize("case", CASES)
def test_rfc7208_suite(zone_server: ZoneServer, case: Case) -> None:
    zone_server.zone = ZONES[case.scenario]
    domain = case.mailfrom.rpartition("@")[2] if case.mailfrom else case.helo
    result = spf(Resolver("127.0.0.1", zone_server.port, timeout=TIMEOUT), domain)
    assert result.evaluate(case.host, case.mailfrom, helo=case.helo) in case.results
    if case.explanation is not None:
        expected = None if case.explanation == "DEFAULT" else case.explanation
        assert result.explanation(case.host, case.mailfrom, helo=case.helo) == expected
