"""DMARC (RFC 7489): the policy record of a domain, with the fallback to its organisational domain.

The organisational domain is taken as the last two labels. That is a simplification
of the Public Suffix List rule: it is wrong under suffixes such as co.uk, where the
caller should ask for the organisational domain itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DNSCheckError
from .resolver import Resolver

__all__ = ["DMARCResult", "check_tags", "dmarc", "organisational_domain", "parse_tags"]

POLICIES = ("none", "quarantine", "reject")
_MAILTO = re.compile(r"mailto:[^@\s!]+@[^@\s!]+(![0-9]+[kmgt]?)?", re.IGNORECASE)


@dataclass(frozen=True)
class DMARCResult:
    """The DMARC record that applies to `domain`, found at `found_at` (the org domain's when `fallback`)."""

    domain: str
    record: str | None
    policy: str | None
    subdomain_policy: str | None
    pct: int
    rua: list[str]
    problems: list[str]
    found_at: str | None = None
    fallback: bool = False


def organisational_domain(domain: str) -> str:
    """The last two labels: a stand-in for the Public Suffix List (see the module docstring)."""
    return ".".join(domain.rstrip(".").split(".")[-2:])


def parse_tags(record: str) -> tuple[dict[str, str], list[str]]:
    """DMARC tag=value pairs (tag names lower-cased) and the problems of the tag list itself."""
    tags: dict[str, str] = {}
    problems: list[str] = []
    for part in filter(None, (p.strip() for p in record.split(";"))):
        name, equals, value = part.partition("=")
        name = name.strip().lower()
        if not equals or not name:
            problems.append(f"{part!r} is not a tag=value pair")
        elif name in tags:
            problems.append(f"tag {name} appears twice")
        else:
            tags[name] = value.strip()
    if next(iter(tags), None) != "v":
        problems.append("v=DMARC1 must be the first tag")
    return tags, problems


def check_tags(tags: dict[str, str]) -> list[str]:
    """What RFC 7489 §6.3 does not allow in the values of a record's tags."""
    problems = []
    if "p" not in tags:
        problems.append("no p= tag: receivers ignore the record (or apply none if rua= is valid)")
    for name in ("p", "sp"):
        if name in tags and tags[name].lower() not in POLICIES:
            problems.append(f"{name}={tags[name]} is not one of {', '.join(POLICIES)}")
    if "pct" in tags and not (tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        problems.append(f"pct={tags['pct']} is not a whole number from 0 to 100")
    for name in ("adkim", "aspf"):
        if name in tags and tags[name].lower() not in ("r", "s"):
            problems.append(f"{name}={tags[name]} is not r or s")
    for name in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in tags.get(name, "").split(","))):
            if not _MAILTO.fullmatch(uri):
                problems.append(f"{name} address {uri!r} is not a mailto: URI (the only scheme receivers send to)")
    return problems


def _records(resolver: Resolver, name: str) -> list[str]:
    return [text for text in resolver.query(name, "TXT").texts if re.match(r"v\s*=\s*DMARC1\s*(;|$)", text)]


def dmarc(resolver: Resolver, domain: str) -> DMARCResult:
    """The DMARC record of DOMAIN, else of its organisational domain (RFC 7489 §6.6.3)."""
    domain = domain.rstrip(".")
    org = organisational_domain(domain)
    fallback = False
    try:
        found_at = f"_dmarc.{domain}"
        records = _records(resolver, found_at)
        if not records and org.lower() != domain.lower():
            fallback, found_at = True, f"_dmarc.{org}"
            records = _records(resolver, found_at)
    except DNSCheckError as exc:
        return DMARCResult(domain, None, None, None, 100, [], [f"DMARC lookup failed: {exc}"])
    if not records:
        where = f"_dmarc.{domain}" + (f" or _dmarc.{org}" if org.lower() != domain.lower() else "")
        return DMARCResult(domain, None, None, None, 100, [], [f"no DMARC record (TXT \"v=DMARC1; …\") at {where}"])
    if len(records) > 1:
        return DMARCResult(domain, None, None, None, 100, [], [
            f"{len(records)} DMARC records at {found_at}: receivers ignore them all (RFC 7489 §6.6.3)"
        ], found_at, fallback)
    record = records[0]
    tags, problems = parse_tags(record)
    problems += check_tags(tags)
    policy = tags["p"].lower() if tags.get("p", "").lower() in POLICIES else None
    subdomain = tags["sp"].lower() if tags.get("sp", "").lower() in POLICIES else policy
    pct = int(tags["pct"]) if tags.get("pct", "").isdigit() and int(tags["pct"]) <= 100 else 100
    rua = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    return DMARCResult(domain, record, policy, subdomain, pct, rua, problems, found_at, fallback)
