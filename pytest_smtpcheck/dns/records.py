"""Where mail goes: MX records, host addresses, forward-confirmed reverse DNS, and the `--smtp-mx` targets."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.reversename

from ..errors import hide_for_server_faults
from .errors import DNSCheckError
from .resolver import Resolver, to_text

__all__ = [
    "FCrDNS",
    "HostNames",
    "MXRecord",
    "MXTarget",
    "MXTargets",
    "address_key",
    "addresses",
    "fcrdns",
    "host_names",
    "mx",
    "mx_targets",
]

__tracebackhide__ = hide_for_server_faults  # a DNS failure is reported at the test's line


@dataclass(frozen=True)
class MXRecord:
    """One MX record; `host` has no trailing dot, and a null MX (RFC 7505) has host "." and `null` True."""

    preference: int
    host: str

    @property
    def null(self) -> bool:
        return self.host == "."


@dataclass(frozen=True)
class FCrDNS:
    """Forward-confirmed reverse DNS of an address: its PTR names, and whether one of them resolves back to it."""

    address: str
    names: list[str]
    confirmed: bool


@dataclass(frozen=True)
class HostNames:
    """The names a server gives for itself (greeting, EHLO) against the FCrDNS of the address it answered on.

    A name matches when it is a PTR name of the address that resolves back to it:
    receivers and reputation systems compare exactly these.
    """

    fcrdns: FCrDNS
    greeting: str | None  # the first word of the 220 greeting
    ehlo: str | None  # the first word of the 250 EHLO reply
    confirmed_names: list[str]  # the PTR names that resolve back to the address

    @property
    def greeting_matches(self) -> bool:
        return _named(self.greeting, self.confirmed_names)

    @property
    def ehlo_matches(self) -> bool:
        return _named(self.ehlo, self.confirmed_names)

    @property
    def matches(self) -> bool:
        return self.greeting_matches and self.ehlo_matches

    @property
    def problems(self) -> list[str]:
        """Sentences for the engineer who fixes the server's name or the PTR record."""
        address = self.fcrdns.address
        if not self.confirmed_names:
            found = f"PTR {', '.join(self.fcrdns.names)}, which does not resolve back" if self.fcrdns.names \
                else "no PTR record"
            return [f"{address} has no forward-confirmed reverse DNS name ({found})"]
        expected = " or ".join(self.confirmed_names)
        return [f"the {what} names {name or 'no host'}, but {address} is {expected} (FCrDNS)"
                for what, name, ok in (("greeting", self.greeting, self.greeting_matches),
                                       ("EHLO reply", self.ehlo, self.ehlo_matches)) if not ok]


def _named(name: str | None, names: list[str]) -> bool:
    return name is not None and name.rstrip(".").lower() in {n.lower() for n in names}


@dataclass(frozen=True)
class MXTarget:
    """One address to test for `--smtp-mx`: the MX host it belongs to, or a `problem` that makes the test fail."""

    preference: int
    host: str
    address: str | None
    problem: str | None = None

    @property
    def id(self) -> str:
        """The test-id part: `mx1.example.com-192.0.2.1`."""
        return f"{self.host}-{self.address or 'no-address'}"


@dataclass(frozen=True)
class MXTargets:
    """Every MX host and address of a domain, in preference, host, address order.

    `problem` is set when the domain as a whole gives nothing to connect to (null MX,
    NXDOMAIN, SERVFAIL, timeout, bogus); the caller turns it into one failing test.
    """

    domain: str
    targets: tuple[MXTarget, ...]
    implicit: bool = False
    problem: str | None = None


def address_key(address: str) -> tuple[int, bytes]:
    """Sort addresses IPv4 first, then numerically."""
    parsed = ipaddress.ip_address(address)
    return parsed.version, parsed.packed


def mx(resolver: Resolver, domain: str) -> list[MXRecord]:
    """MX records by preference then host; [] when there are none (NODATA or NXDOMAIN)."""
    answer = resolver.query(domain, "MX")
    records = [MXRecord(r.preference, to_text(r.exchange)) for r in answer.records]  # type: ignore[attr-defined]
    return sorted(records, key=lambda r: (r.preference, r.host.lower()))


def addresses(resolver: Resolver, host: str) -> list[str]:
    """The A then AAAA addresses of HOST, each family in numeric order; [] when there are none."""
    found = [r.address for rdtype in ("A", "AAAA") for r in resolver.query(host, rdtype).records]  # type: ignore[attr-defined]
    return sorted(found, key=address_key)


def fcrdns(resolver: Resolver, address: str) -> FCrDNS:
    """PTR names of ADDRESS; confirmed when one of them has ADDRESS among its own addresses."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise DNSCheckError(f"fcrdns({address!r}): not an IP address") from None
    reverse = dns.reversename.from_address(str(parsed)).to_text()
    names = sorted(to_text(r.target) for r in resolver.query(reverse, "PTR").records)  # type: ignore[attr-defined]
    confirmed = any(
        parsed in {ipaddress.ip_address(a) for a in addresses(resolver, name)} for name in names
    )
    return FCrDNS(str(parsed), names, confirmed)


def host_names(resolver: Resolver, address: str, greeting: str | None, ehlo: str | None) -> HostNames:
    """Compare a server's greeting and EHLO names with the FCrDNS names of ADDRESS."""
    result = fcrdns(resolver, address)
    parsed = ipaddress.ip_address(result.address)
    confirmed = [name for name in result.names
                 if parsed in {ipaddress.ip_address(a) for a in addresses(resolver, name)}]
    return HostNames(result, greeting, ehlo, confirmed)


def mx_targets(resolver: Resolver, domain: str) -> MXTargets:
    """The hosts and addresses `--smtp-mx=DOMAIN` tests, in a deterministic order (xdist workers must agree)."""
    try:
        answer = resolver.query(domain, "MX")
    except DNSCheckError as exc:
        return MXTargets(domain, (), problem=f"MX lookup for {domain} failed: {exc}")
    if answer.status == "nxdomain":
        return MXTargets(domain, (), problem=f"{domain} does not exist (NXDOMAIN): check the domain name")
    records = mx(resolver, domain)
    if any(r.null for r in records):
        return MXTargets(domain, (), problem=f"{domain} publishes a null MX (RFC 7505): it accepts no mail")
    implicit = not records
    if implicit:
        records = [MXRecord(0, domain.rstrip("."))]  # RFC 5321 §5.1: the domain itself is the implicit MX
    targets: list[MXTarget] = []
    for record in records:
        try:
            found = addresses(resolver, record.host)
        except DNSCheckError as exc:
            targets.append(MXTarget(record.preference, record.host, None, f"address lookup failed: {exc}"))
            continue
        if not found:
            what = "has no MX and no A/AAAA record" if implicit else f"MX host {record.host} has no A/AAAA record"
            targets.append(MXTarget(record.preference, record.host, None, f"{domain} {what}"))
        targets.extend(MXTarget(record.preference, record.host, address) for address in found)
    if implicit and targets[0].address is None:
        return MXTargets(domain, (), implicit=True, problem=targets[0].problem)
    return MXTargets(domain, tuple(targets), implicit=implicit)
