"""DMARC as RFC 9989 has receivers read it: policy discovery and the organizational domain by DNS tree walk.

No Public Suffix List: the walk asks `_dmarc.` of the domain and of its parents (at
most eight names, RFC 9989 §4.10), and the `psd` tags found on the way mark where an
organization ends. External report destinations are verified the way a report
generator does it (`DOMAIN._report._dmarc.DEST`, RFC 9989 §11.6 and the aggregate
reporting specification §3). Where a receiver that still follows RFC 7489 would act
differently (pct, t, np, PSD policies, p not second), the difference is a problem.

Section numbers are those of the text the RFC was published from (draft-ietf-dmarc-dmarcbis-41).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from .errors import DNSCheckError
from .resolver import Resolver

__all__ = [
    "DMARCResult",
    "WalkStep",
    "applied_policies",
    "check_tags",
    "dmarc",
    "organizational_domain",
    "parse_tags",
    "walk_names",
]

Policy = Literal["none", "quarantine", "reject"]
POLICIES: tuple[Policy, ...] = ("none", "quarantine", "reject")
MAX_WALK_QUERIES = 8  # RFC 9989 §4.10
KNOWN_TAGS = ("v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf")
REMOVED_TAGS = ("pct", "rf", "ri")  # RFC 9989 Appendix C.5.2
_VERSION = re.compile(r"[vV][ \t]*=[ \t]*DMARC1[ \t]*(;|$)")  # RFC 9989 §4.8: "v" equals %s"DMARC1"
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s,!]+(![0-9]+[kmgtKMGT]?)?")
_MAILTO = re.compile(r"mailto:[^@\s!?]+@([^@\s!?]+)([?][^\s!]*)?(![0-9]+[kmgt]?)?", re.IGNORECASE)
_WEAKER: dict[Policy, Policy] = {"reject": "quarantine", "quarantine": "none", "none": "none"}


@dataclass(frozen=True)
class DMARCResult:
    """The DMARC policy a receiver applies to mail from `domain`, and everything wrong with it.

    `policy` is what applies to mail from `domain` itself, `subdomain_policy` to an existing
    subdomain without a record of its own, `np` to a subdomain that does not exist; each
    after `t=y` (testing) lowered it, and None where receivers apply no DMARC at all.
    `rua` and `ruf` are the destinations reports will go to (mailto:, authorised when
    external); `unauthorised_destinations` the published ones that will get nothing.
    `record`/`found_at`/`tags` are the record that applies (`fallback` when it is not
    `domain`'s own); `queried` the `_dmarc.` names the tree walk from `domain` asked.
    """

    domain: str
    record: str | None
    policy: Policy | None
    subdomain_policy: Policy | None
    pct: int  # what a receiver still on RFC 7489 samples; RFC 9989 removed the tag
    rua: list[str]
    problems: list[str]
    found_at: str | None = None
    fallback: bool = False
    np: Policy | None = None
    organizational_domain: str | None = None
    ruf: list[str] = field(default_factory=list)
    unauthorised_destinations: list[str] = field(default_factory=list)
    testing: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    queried: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WalkStep:
    """One name a tree walk asked: the domain, its one valid DMARC record (None: none, or several), its tags."""

    domain: str
    record: str | None
    tags: dict[str, str] = field(default_factory=dict)
    discarded: int = 0  # v=DMARC1 records discarded because there were several

    @property
    def psd(self) -> str:
        """y, n or u (the default, also for a value that is none of these: RFC 9989 §4.8)."""
        value = self.tags.get("psd", "u").lower()
        return value if value in ("y", "n") else "u"


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
            problems.append(f"tag {name} appears twice: the tag list is invalid (RFC 6376 §3.2), "
                            "receivers may ignore the record")
        else:
            tags[name] = value.strip()
    if next(iter(tags), None) != "v":
        problems.append("v=DMARC1 must be the first tag (RFC 9989 §4.7): receivers ignore the record")
    return tags, problems


def _uris(tags: dict[str, str], name: str) -> list[str]:
    return [u.strip() for u in tags.get(name, "").split(",") if u.strip()]


def _has_valid_rua(tags: dict[str, str]) -> bool:
    return any(_URI.fullmatch(uri) for uri in _uris(tags, "rua"))


def applied_policies(tags: dict[str, str]) -> tuple[Policy | None, Policy | None, Policy | None]:
    """(p, sp, np) as RFC 9989 §4.10.1 and §4.7 have a receiver read them, before `t=y` lowers them.

    A missing p is none; a missing sp is p, a missing np is sp. An invalid p, sp or np
    makes the whole record none when rua= holds a valid URI, and no DMARC at all otherwise.
    """
    if any(name in tags and tags[name].lower() not in POLICIES for name in ("p", "sp", "np")):
        return ("none", "none", "none") if _has_valid_rua(tags) else (None, None, None)
    p = cast(Policy, tags.get("p", "none").lower())
    sp = cast(Policy, tags.get("sp", p).lower())
    return p, sp, cast(Policy, tags.get("np", sp).lower())


def _testing(tags: dict[str, str]) -> bool:
    return tags.get("t", "n").lower() == "y"


def check_tags(tags: dict[str, str]) -> list[str]:
    """What RFC 9989 §4.7 and §4.8 do not allow in a record's tags, and where RFC 7489 receivers act differently."""
    problems = []
    p, sp, np = applied_policies(tags)
    rua_valid = _has_valid_rua(tags)
    if "p" not in tags:
        problems.append("no p= tag: RFC 9989 receivers read it as p=none (§4.7); receivers still on RFC 7489 "
                        + ("do the same only because rua= is valid: write p= explicitly" if rua_valid
                           else "ignore the record: write p= explicitly"))
    elif list(tags)[1:2] != ["p"]:
        problems.append("p= is not the second tag: RFC 9989 allows any order, but RFC 7489's grammar puts it "
                        "right after v=, and receivers that parse by that grammar ignore the record")
    for name in ("p", "sp", "np"):
        if name in tags and tags[name].lower() not in POLICIES:
            outcome = "receivers apply none to the whole record" if rua_valid \
                else "receivers apply no DMARC at all (there is no valid rua=)"
            problems.append(f"{name}={tags[name]} is not one of {', '.join(POLICIES)}: {outcome} (RFC 9989 §4.10.1)")
    for name, values in (("psd", ("y", "n", "u")), ("t", ("y", "n")), ("adkim", ("r", "s")), ("aspf", ("r", "s"))):
        if name in tags and tags[name].lower() not in values:
            problems.append(f"{name}={tags[name]} is not {' or '.join(values)}: "
                            "receivers use the default (RFC 9989 §4.8)")
    fo = [option.strip().lower() for option in tags.get("fo", "0").split(":")]
    if any(o not in ("0", "1", "d", "s") for o in fo) or len(set(fo)) < len(fo) or {"0", "1"} <= set(fo):
        problems.append(f"fo={tags['fo']} is not 0 or 1 and d, s, colon-separated, each once: receivers use fo=0 "
                        "(RFC 9989 §4.7, §4.8)")
    if _testing(tags) and p is not None and (p, sp, np) != ("none", "none", "none"):
        problems.append(f"t=y (testing): RFC 9989 receivers apply one level less ({p} becomes {_WEAKER[p]}); "
                        f"receivers still on RFC 7489 ignore t and apply {p}")
    if "np" in tags and np is not None and np != sp:
        problems.append(f"np={np} applies to non-existent subdomains only at receivers that follow RFC 9989; "
                        f"receivers still on RFC 7489 apply {sp} to them too")
    if "pct" in tags:
        value = tags["pct"]
        if value.isdigit() and int(value) < 100:
            problems.append(f"pct={value} is obsolete (RFC 9989 Appendix A.6): RFC 9989 receivers apply the policy "
                            f"to all failing mail, receivers still on RFC 7489 to {int(value)}% of it; "
                            "use t=y for testing")
        else:
            problems.append(f"pct={value} is obsolete (RFC 9989 Appendix C.5.2): receivers ignore it; remove it")
    problems += [f"{name}={tags[name]} is obsolete (RFC 9989 Appendix C.5.2): receivers ignore it; remove it"
                 for name in ("rf", "ri") if name in tags]
    problems += [f"tag {name}= is not a DMARC tag: receivers ignore it (RFC 9989 §4.7); check its spelling"
                 for name in tags if name not in KNOWN_TAGS and name not in REMOVED_TAGS]
    for name in ("rua", "ruf"):
        for uri in _uris(tags, name):
            if not _MAILTO.fullmatch(uri):
                problems.append(f"{name} address {uri!r} is not a mailto: URI (the only scheme receivers must "
                                "support): receivers may ignore it, and .rua/.ruf leave it out")
            elif "!" in uri:
                problems.append(f"{name} address {uri!r}: the !size limit is obsolete (RFC 9989 §4.8): RFC 9989 "
                                "receivers ignore it, receivers still on RFC 7489 drop larger reports")
    return problems


def walk_names(domain: str) -> list[str]:
    """The domains a tree walk from DOMAIN asks about, in order (RFC 9989 §4.10): at most eight.

    DOMAIN itself, then its parents one label at a time; from a name of eight or more
    labels the walk jumps straight to its seven-label parent.
    """
    labels = domain.rstrip(".").split(".")
    first_cut = len(labels) - 7 if len(labels) >= MAX_WALK_QUERIES else 1
    return [".".join(labels)] + [".".join(labels[cut:]) for cut in range(max(first_cut, 1), len(labels))]


def organizational_domain(steps: Sequence[WalkStep]) -> str:
    """The organizational domain a walk's steps (longest name first) select (RFC 9989 §4.10.2)."""
    start = steps[0].domain
    found = [step for step in steps if step.record is not None]
    for step in found:
        if step.psd == "n":
            return step.domain
        if step.psd == "y" and step.domain != start:
            return ".".join(start.split(".")[-(step.domain.count(".") + 2):])
    return found[-1].domain if found else start


def _discover(steps: Sequence[WalkStep], exists: bool) -> tuple[WalkStep | None, Literal["p", "sp", "np"]]:
    """The record that applies to mail from the walk's first domain, and which of its tags (RFC 9989 §4.10.1)."""
    if steps[0].record is not None:
        return steps[0], "p"
    org = organizational_domain(steps)
    applied = next((s for s in steps if s.record is not None and s.domain == org), None) \
        or next((s for s in steps if s.record is not None and s.psd == "y"), None)
    return applied, "sp" if exists else "np"


def _policy(step: WalkStep | None, which: Literal["p", "sp", "np"]) -> Policy | None:
    if step is None:
        return None
    policy = applied_policies(step.tags)[("p", "sp", "np").index(which)]
    return _WEAKER[policy] if policy is not None and _testing(step.tags) else policy


class _Walker:
    """Tree walks over one resolver, each name's records read once."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.steps: dict[str, WalkStep] = {}

    def step(self, domain: str) -> WalkStep:
        if domain not in self.steps:
            records = [t for t in self.resolver.query(f"_dmarc.{domain}", "TXT").texts if _VERSION.match(t)]
            record = records[0] if len(records) == 1 else None
            self.steps[domain] = WalkStep(domain, record, parse_tags(record)[0] if record else {},
                                          len(records) if len(records) > 1 else 0)
        return self.steps[domain]

    def walk(self, domain: str, *, known_absent: bool = False) -> list[WalkStep]:
        """The steps of a walk from DOMAIN until a psd=y/n record or the last label (RFC 9989 §4.10)."""
        steps: list[WalkStep] = []
        for index, name in enumerate(walk_names(domain)):
            step = WalkStep(name, None) if known_absent and index == 0 else self.step(name)
            steps.append(step)
            if step.record is not None and step.psd in ("y", "n"):
                break
        return steps


def _destination_host(uri: str) -> str | None:
    match = _MAILTO.fullmatch(uri)
    return match.group(1).lower().rstrip(".") if match else None


def _authorised(walker: _Walker, policy_domain: str, uri: str, host: str, tag: str) -> tuple[list[str], str | None]:
    """Where TAG reports for URI go, and None; or [] and why HOST does not take them (aggregate reporting §3).

    Inside the policy domain's organization no authorisation is needed. Outside it,
    `POLICY_DOMAIN._report._dmarc.HOST` must hold a `v=DMARC1` record; its own TAG, if
    any, replaces URI, and must stay at HOST.
    """
    name = f"{policy_domain}._report._dmarc.{host}"
    try:
        if organizational_domain(walker.walk(host)) == organizational_domain(walker.walk(policy_domain)):
            return [uri], None
        if len(name) > 253:
            return [], f"{name[:60]}… is longer than DNS allows, so {host} cannot authorise it"
        records = [t for t in walker.resolver.query(name, "TXT").texts if _VERSION.match(t)]
    except DNSCheckError as exc:
        return [], f"the authorisation could not be checked: {exc}"
    if not records:
        return [], f"{host} has no TXT \"v=DMARC1\" at {name}"
    override = [u for r in records for u in _uris(parse_tags(r)[0], tag)]
    strays = [u for u in override if _destination_host(u) != host]
    if strays:
        return [], f"its authorisation record at {name} redirects to {', '.join(strays)}, another host"
    return override or [uri], None


def _destinations(walker: _Walker, policy_domain: str, org: str,
                  tags: dict[str, str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(rua, ruf, unauthorised, problems): the mailto: destinations reports go to, the external ones that get none."""
    sent: dict[str, list[str]] = {"rua": [], "ruf": []}
    unauthorised: list[str] = []
    problems: list[str] = []
    for tag in ("rua", "ruf"):
        for uri in _uris(tags, tag):
            host = _destination_host(uri)
            if host is None:
                continue
            destinations, why = _authorised(walker, policy_domain, uri, host, tag)
            sent[tag] += destinations
            if why is not None:
                unauthorised.append(uri)
                problems.append(f"{tag} destination {uri} is outside the organizational domain {org} and not "
                                f"authorised: {why}; receivers send it no reports (RFC 9989 §11.6)")
    return sent["rua"], sent["ruf"], unauthorised, problems


def _exists(resolver: Resolver, domain: str, first: WalkStep) -> bool:
    """Whether DOMAIN exists (RFC 9989 §3.2.13: anything but NXDOMAIN), asked only when the answer matters."""
    if first.record is not None:
        return True
    if resolver.query(f"_dmarc.{domain}", "TXT").status != "nxdomain":
        return True
    return resolver.query(domain, "A").status != "nxdomain"


def dmarc(resolver: Resolver, domain: str) -> DMARCResult:
    """The DMARC policy receivers apply to mail from DOMAIN, found by the RFC 9989 tree walk."""
    domain = domain.rstrip(".")
    name = domain.lower()
    walker = _Walker(resolver)
    try:
        steps = walker.walk(name)
        queried = [f"_dmarc.{step.domain}" for step in steps]
        exists = _exists(resolver, name, steps[0])
        applied, which = _discover(steps, exists)
        org = organizational_domain(steps)
        child = f"_.{name}"  # an existing and a non-existent subdomain without records of their own
        child_steps = walker.walk(child, known_absent=True)
        sub_applied, _ = _discover(child_steps, True)
        np_applied, _ = _discover(child_steps, False)
        policy_org = organizational_domain(walker.walk(applied.domain)) if applied else org
    except DNSCheckError as exc:
        return DMARCResult(domain, None, None, None, 100, [], [f"DMARC lookup failed: {exc}"])
    discarded = [f"{step.discarded} DMARC records at _dmarc.{step.domain}: receivers discard them all "
                 "(RFC 9989 §4.10)" for step in steps if step.discarded]
    if applied is None or applied.record is None:
        where = ", ".join(queried)
        return DMARCResult(domain, None, None, None, 100, [], [
            *discarded, f"no DMARC record (TXT \"v=DMARC1; …\") at {where}: receivers apply no DMARC"
        ], organizational_domain=org, queried=queried)
    tags = applied.tags
    rua, ruf, unauthorised, destination_problems = _destinations(walker, applied.domain, policy_org, tags)
    problems = parse_tags(applied.record)[1] + check_tags(tags) + discarded + destination_problems
    if applied.psd == "y" and applied.domain != name:
        problems.append(f"neither {domain} nor its organizational domain {org} publishes a DMARC record: only the "
                        f"public suffix domain's policy at _dmarc.{applied.domain} (psd=y) applies, and receivers "
                        f"still on RFC 7489 apply none; publish _dmarc.{org}")
    pct = int(tags["pct"]) if tags.get("pct", "").isdigit() and int(tags["pct"]) <= 100 else 100
    return DMARCResult(
        domain, applied.record, _policy(applied, which), _policy(sub_applied, "sp"), pct, rua, problems,
        f"_dmarc.{applied.domain}", applied.domain != name, _policy(np_applied, "np"), org, ruf, unauthorised,
        _testing(tags), dict(tags), queried,
    )
