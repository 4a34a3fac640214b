"""A second opinion on DMARC records: checkdmarc (6.x implements RFC 9989) parses the same strings, offline.

checkdmarc's `parse_dmarc_record` is given a dnspython resolver with no nameservers, and
the sockets refuse to connect or send, so its checks of report addresses (MX records,
external authorisation) fail locally and never reach a network. Only its reading of
the tags is compared: policies, t, psd, adkim, aspf, and which records both flag.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from pytest_smtpcheck.dns.dmarc import WalkStep, applied_policies, check_tags, parse_tags

checkdmarc_dmarc = pytest.importorskip("checkdmarc.dmarc", reason="pip install checkdmarc (the test extra has it)")

RUA = "rua=mailto:dmarc@example.com"

AGREED = [
    f"v=DMARC1; p=reject; sp=quarantine; {RUA}",
    f"v=DMARC1; p=none; {RUA}",
    f"v=DMARC1; p=reject; t=y; {RUA}",
    f"v=DMARC1; p=reject; pct=50; rf=afrf; ri=3600; {RUA}",
    f"v=DMARC1; {RUA}",
    "v=DMARC1; adkim=s",
    "v=DMARC1; p=reject; foo=bar",
    "v=DMARC1; p=reject; sp=none; np=reject; psd=n",
    "v=DMARC1; p=none; psd=y",
    "v=DMARC1; adkim=s; aspf=s; p=quarantine",
    f"v=DMARC1; p=reject; {RUA}!10m",
    "v=DMARC1; p=Reject; SP=None",
    "v=DMARC1;p=reject;sp=none",
    "V=DMARC1; p=reject",
    "v=DMARC1; p=reject; adkim=x",
    "v=DMARC1; p=reject; fo=0:1",
]

# (record, what our problems say, what checkdmarc's warnings say): both flag the same thing
FLAGGED_ALIKE = [
    (f"v=DMARC1; p=reject; pct=50; {RUA}", "pct=50 is obsolete", "pct tag was removed in RFC 9989"),
    (f"v=DMARC1; p=reject; rf=afrf; {RUA}", "rf=afrf is obsolete", "rf tag was removed in RFC 9989"),
    (f"v=DMARC1; p=reject; ri=3600; {RUA}", "ri=3600 is obsolete", "ri tag was removed in RFC 9989"),
    ("v=DMARC1; p=reject; foo=bar", "tag foo= is not a DMARC tag", "Unknown DMARC tag 'foo' was ignored"),
    (f"v=DMARC1; {RUA}", "no p= tag", "A missing p tag is equivalent to p=none"),
    ("v=DMARC1; aspf=s; p=reject", "p= is not the second tag", "The p tag does not immediately follow the v tag"),
    (f"v=DMARC1; p=reject; {RUA}!10m", "the !size limit is obsolete", "The size limit (`!size`)"),
    ("v=DMARC1; p=reject; adkim=x", "adkim=x is not r or s", "x is not a valid adkim tag value"),
    ("v=DMARC1; p=reject; fo=0:1", "fo=0:1 is not 0 or 1", "fo=0:1 is invalid"),
]

# Records checkdmarc refuses outright; RFC 9989 §4.8 and §4.10.1 have receivers read them anyway, and the
# plugin reports the policy they apply (with a problem), so the two differ here on purpose.
REFUSED = [
    ("v=DMARC1; p=reject; sp=bogus", (None, None, None)),  # §4.10.1: no valid rua, no DMARC
    (f"v=DMARC1; p=block; {RUA}", ("none", "none", "none")),  # §4.10.1: a valid rua, p=none
    ("v=DMARC1; p=reject; np=bogus", (None, None, None)),
    ("v=DMARC1; p=reject; t=maybe", ("reject", "reject", "reject")),  # §4.8: the default t=n
    ("v=DMARC1; p=reject; psd=x", ("reject", "reject", "reject")),  # §4.8: the default psd=u
]


@pytest.fixture
def offline_resolver(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A resolver with nowhere to ask, and sockets that refuse to reach anything."""
    import dns.resolver

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"checkdmarc tried to reach the network: {args[1:]}")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = []
    return resolver


def _theirs(record: str, resolver: Any) -> tuple[tuple[str, ...], list[str]]:
    result = checkdmarc_dmarc.parse_dmarc_record(record, "example.com", resolver=resolver, retries=0)
    tags = {name: tag["value"] for name, tag in result["tags"].items()}
    return tuple(tags[name] for name in ("p", "sp", "np", "t", "psd", "adkim", "aspf")), result["warnings"]


def _ours(record: str) -> tuple[tuple[str | None, ...], list[str]]:
    tags, problems = parse_tags(record)

    def tag(name: str, default: str, values: tuple[str, ...]) -> str:
        value = tags.get(name, default).lower()
        return value if value in values else default  # RFC 9989 §4.8: an invalid value is the default

    reading = (*applied_policies(tags), tag("t", "n", ("y", "n")), WalkStep("example.com", record, tags).psd,
               tag("adkim", "r", ("r", "s")), tag("aspf", "r", ("r", "s")))
    return reading, problems + check_tags(tags)


@pytest.mark.parametrize("record", AGREED)
def test_both_read_the_same_policy_and_modes(record: str, offline_resolver: Any) -> None:
    assert _ours(record)[0] == _theirs(record, offline_resolver)[0]


@pytest.mark.parametrize(("record", "ours", "theirs"), FLAGGED_ALIKE)
def test_both_flag_the_same_thing(record: str, ours: str, theirs: str, offline_resolver: Any) -> None:
    assert any(ours in problem for problem in _ours(record)[1])
    assert any(theirs in warning for warning in _theirs(record, offline_resolver)[1])


@pytest.mark.parametrize(("record", "policies"), REFUSED)
def test_records_checkdmarc_refuses_are_read_as_receivers_do(record: str, policies: tuple[str | None, ...],
                                                            offline_resolver: Any) -> None:
    with pytest.raises(checkdmarc_dmarc.InvalidDMARCTagValue):
        _theirs(record, offline_resolver)
    reading, problems = _ours(record)
    assert reading[:3] == policies and problems


def test_a_clean_record_has_nothing_flagged_by_either(offline_resolver: Any) -> None:
    record = f"v=DMARC1; p=reject; sp=quarantine; adkim=s; {RUA}"
    assert _ours(record)[1] == []
    assert [w for w in _theirs(record, offline_resolver)[1] if "MX" not in w] == []  # MX: no resolver, on purpose
