"""`--smtp-mx=DOMAIN`: the run's targets from DNS, one per MX host and address, in a fixed order.

Senders try every MX host and address, so a test runs once per address; xdist
workers each resolve the plan, and the resolver's answers and this order make
them collect the same ids. What leaves nothing to connect to (null MX,
NXDOMAIN, SERVFAIL, timeout, bogus, an MX host without addresses) becomes an
id whose tests fail saying so; an address family this machine has no route to
becomes an id whose tests are skipped saying so.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dns import DNSChecks

__all__ = ["MXEntry", "plan", "unreachable"]


@dataclass(frozen=True)
class MXEntry:
    """One `--smtp-mx` target: the MX host, one of its addresses, or why its tests fail or are skipped."""

    id: str  # the test-id part: `mx1.example.com-192.0.2.1`
    host: str  # the MX host name (the domain itself for the implicit MX or a domain-wide problem)
    address: str | None
    problem: str | None = None  # the tests of this id fail with it
    skip: str | None = None  # the tests of this id are skipped with it


def plan(checks: DNSChecks, domain: str) -> list[MXEntry]:
    """Every MX host and address of DOMAIN in preference, host, address order, or one entry for its problem."""
    from .dns import DNSCheckError

    try:
        found = checks.mx_targets(domain)
    except DNSCheckError as exc:  # e.g. no resolver configured at all
        return [MXEntry(f"{domain}-no-mx", domain, None, problem=f"--smtp-mx={domain}: {exc}")]
    if found.problem is not None:
        return [MXEntry(f"{domain}-no-mx", domain, None, problem=f"--smtp-mx={domain}: {found.problem}")]
    return [
        MXEntry(target.id, target.host, target.address,
                problem=f"--smtp-mx={domain}: {target.problem}" if target.problem else None,
                skip=unreachable(target.address) if target.address else None)
        for target in found.targets
    ]


def unreachable(address: str) -> str | None:
    """Why this machine cannot reach ADDRESS (no route for its family), or None.

    A UDP connect() only looks up the route: it sends nothing, so no host is contacted.
    """
    parsed = ipaddress.ip_address(address)
    family, name = (socket.AF_INET6, "IPv6") if parsed.version == 6 else (socket.AF_INET, "IPv4")
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, 25))
    except OSError as exc:
        return (f"{name} is not reachable from this machine ({address}: {exc.strerror or exc}); "
                f"run from a host with an {name} route to test this address")
    return None
