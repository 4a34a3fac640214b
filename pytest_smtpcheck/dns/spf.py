"""SPF (RFC 7208): the record's problems, check_host() evaluated over the run's resolver, and explanations.

Our own compact evaluator rather than pyspf: pyspf has had no release since 2020
and does its DNS through a module-global hook, which would bypass the run's
resolver, its cache and its DNSSEC handling, and is not safe across the threads
sessions run in.
"""

from __future__ import annotations

import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Literal

from .errors import DNSCheckError
from .resolver import Resolver, to_text

__all__ = [
    "Directive",
    "Record",
    "SPFResult",
    "SPFSyntaxError",
    "check_domain_spec",
    "check_host",
    "check_macro_string",
    "expand",
    "is_spf",
    "parse",
    "spf",
]

Verdict = Literal["pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

QUALIFIERS: dict[str, Verdict] = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
DNS_TERMS = frozenset({"include", "a", "mx", "ptr", "exists"})  # and the redirect modifier
MAX_DNS_TERMS = 10  # RFC 7208 §4.6.4
MAX_VOID_LOOKUPS = 2
MAX_NAMES = 10  # MX hosts per mx mechanism, PTR names per ptr

_MACRO = re.compile(r"%\{(?P<letter>[a-zA-Z])(?P<digits>\d*)(?P<reverse>[rR]?)(?P<delims>[.\-+,/_=]*)\}|%%|%_|%-")
_MODIFIER = re.compile(r"(?P<name>[a-zA-Z][a-zA-Z0-9_.\-]*)=(?P<value>.*)")
_DIRECTIVE = re.compile(r"(?P<qualifier>[+\-~?]?)(?P<name>[a-zA-Z][a-zA-Z0-9_.\-]*)(?P<rest>[:/].*)?")
_DUAL_CIDR = re.compile(r"(?P<spec>.*?)(?:/(?P<v4>\d{1,2}))?(?://(?P<v6>\d{1,3}))?")
_TOPLABEL = re.compile(r"(?=.*[a-zA-Z])[a-zA-Z0-9]+|[a-zA-Z0-9][a-zA-Z0-9-]*-[a-zA-Z0-9-]*[a-zA-Z0-9]", re.ASCII)
_DOMAIN_LETTERS = "slodiphv"
_EXP_LETTERS = _DOMAIN_LETTERS + "crt"


class SPFSyntaxError(ValueError):
    """A term that RFC 7208's grammar does not allow: evaluation gives permerror."""


@dataclass(frozen=True)
class Directive:
    """A mechanism with its qualifier; `spec` is the domain-spec (macros unexpanded), `network` for ip4/ip6."""

    qualifier: str
    mechanism: str
    spec: str | None = None
    cidr4: int = 32
    cidr6: int = 128
    network: IPNetwork | None = None


@dataclass(frozen=True)
class Record:
    """A parsed SPF record: its directives in order, and the redirect and exp modifiers (macros unexpanded)."""

    directives: tuple[Directive, ...]
    redirect: str | None = None
    exp: str | None = None


def is_spf(text: str) -> bool:
    """RFC 7208 §4.5: a TXT string that starts with exactly `v=spf1`, then a space or its end."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def check_macro_string(text: str, *, exp: bool = False) -> None:
    """Raise `SPFSyntaxError` unless TEXT is a valid macro-string (RFC 7208 §7.1)."""
    letters = _EXP_LETTERS if exp else _DOMAIN_LETTERS
    position = 0
    for match in _MACRO.finditer(text):
        literal = text[position : match.start()]
        if "%" in literal or any(not 0x21 <= ord(c) <= 0x7E for c in literal if not (exp and c == " ")):
            raise SPFSyntaxError(f"bad macro or character in {text!r}")
        letter = match.group("letter")
        if letter and letter.lower() not in letters:
            raise SPFSyntaxError(f"unknown macro letter %{{{letter}}} in {text!r}")
        if match.group("digits") and int(match.group("digits")) == 0:
            raise SPFSyntaxError(f"macro %{{{letter}0}} keeps no labels in {text!r}")
        position = match.end()
    literal = text[position:]
    if "%" in literal or any(not 0x21 <= ord(c) <= 0x7E for c in literal if not (exp and c == " ")):
        raise SPFSyntaxError(f"bad macro or character in {text!r}")


def check_domain_spec(spec: str) -> None:
    """A domain-spec must end in a macro or a top label that is not all digits (RFC 7208 §7.1)."""
    check_macro_string(spec)
    if spec.endswith("}"):
        return
    labels = spec.rstrip(".").split(".")
    if len(labels) < 2 or not _TOPLABEL.fullmatch(labels[-1]) or any(not label for label in labels):
        raise SPFSyntaxError(f"{spec!r} is not a domain name")


def _parse_directive(term: str) -> Directive:
    match = _DIRECTIVE.fullmatch(term)
    if not match:
        raise SPFSyntaxError(f"unknown term {term!r}")
    qualifier, name, rest = match.group("qualifier") or "+", match.group("name").lower(), match.group("rest") or ""
    if name == "all":
        if rest:
            raise SPFSyntaxError(f"`all` takes no argument: {term!r}")
        return Directive(qualifier, name)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise SPFSyntaxError(f"{name} needs a domain: {term!r}")
        check_domain_spec(rest[1:])
        return Directive(qualifier, name, rest[1:])
    if name in ("a", "mx", "ptr"):
        cidr = _DUAL_CIDR.fullmatch(rest)
        assert cidr is not None  # the pattern matches any string
        spec = cidr.group("spec")
        if name == "ptr" and (cidr.group("v4") or cidr.group("v6")):
            raise SPFSyntaxError(f"ptr takes no prefix length: {term!r}")
        if spec and not spec.startswith(":"):
            raise SPFSyntaxError(f"bad argument to {name}: {term!r}")
        if spec:
            check_domain_spec(spec[1:])
        cidr4, cidr6 = int(cidr.group("v4") or 32), int(cidr.group("v6") or 128)
        if cidr4 > 32 or cidr6 > 128:
            raise SPFSyntaxError(f"prefix length out of range: {term!r}")
        return Directive(qualifier, name, spec[1:] or None, cidr4, cidr6)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise SPFSyntaxError(f"{name} needs an address: {term!r}")
        address, _, length = rest[1:].partition("/")
        try:
            kind = ipaddress.IPv4Address if name == "ip4" else ipaddress.IPv6Address
            parsed = kind(address)
            if length and (not length.isdigit() or (length.startswith("0") and length != "0")):
                raise ValueError(length)
            network = ipaddress.ip_network(f"{parsed}/{length or parsed.max_prefixlen}", strict=False)
        except ValueError:
            raise SPFSyntaxError(f"bad {name} address or prefix length: {term!r}") from None
        return Directive(qualifier, name, network=network)
    raise SPFSyntaxError(f"unknown mechanism {name!r} in {term!r}")


def parse(text: str) -> tuple[Record, list[str]]:
    """Parse an SPF record; the terms that parse, and a message for each that does not."""
    terms = text.split(" ")
    errors: list[str] = []
    if terms[0].lower() != "v=spf1":
        errors.append(f"the record must start with v=spf1, not {terms[0]!r}")
    directives: list[Directive] = []
    modifiers: dict[str, str] = {}
    for term in terms[1:]:
        if not term:
            continue
        try:
            modifier = _MODIFIER.fullmatch(term)
            if modifier and not _DIRECTIVE.fullmatch(term):
                name, value = modifier.group("name").lower(), modifier.group("value")
                if name in modifiers and name in ("redirect", "exp"):
                    raise SPFSyntaxError(f"{name}= appears twice")
                if name in ("redirect", "exp"):
                    check_domain_spec(value)
                else:
                    check_macro_string(value)
                modifiers[name] = value
            else:
                directives.append(_parse_directive(term))
        except SPFSyntaxError as exc:
            errors.append(str(exc))
    return Record(tuple(directives), modifiers.get("redirect"), modifiers.get("exp")), errors


def _normalise(ip: str) -> IPAddress:
    parsed = ipaddress.ip_address(ip)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return parsed.ipv4_mapped
    return parsed


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


@dataclass
class _Context:
    """The state of one check_host() evaluation: its inputs and the lookup counters shared across includes.

    `sender` is complete: an empty MAIL FROM is postmaster@HELO (RFC 7208 §2.4), and a missing
    local-part is "postmaster" (§4.3).
    """

    resolver: Resolver
    ip: IPAddress
    sender: str
    helo: str
    dns_terms: int = 0
    void_lookups: int = 0

    @classmethod
    def start(cls, resolver: Resolver, ip: str, sender: str, helo: str) -> _Context:
        local, _, domain = (sender or helo).rpartition("@")
        return cls(resolver, _normalise(ip), f"{local or 'postmaster'}@{domain}", helo)

    @property
    def local_part(self) -> str:
        return self.sender.rpartition("@")[0]

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]

    def count_term(self, term: str) -> None:
        self.dns_terms += 1
        if self.dns_terms > MAX_DNS_TERMS:
            raise _PermError(f"more than {MAX_DNS_TERMS} DNS-querying terms (at {term})")

    def lookup(self, name: str, rdtype: str, *, void_counts: bool = True) -> list[str]:
        """Records as text; DNS errors are temperror, and a third void lookup is permerror.

        A name no DNS message can carry is not asked: it is a name that does not exist
        (RFC 7208 §4.3 and §4.8), so the mechanism does not match.
        """
        if not _valid_name(name):
            return []
        try:
            answer = self.resolver.query(name, rdtype)
        except DNSCheckError as exc:
            raise _TempError(str(exc)) from None
        if answer.void and void_counts:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:
                raise _PermError(f"more than {MAX_VOID_LOOKUPS} void lookups (at {name} {rdtype})")
        return [_rdata_text(r) for r in answer.records]


def _rdata_text(rdata: object) -> str:
    if hasattr(rdata, "address"):
        return str(rdata.address)
    for attribute in ("exchange", "target"):
        if hasattr(rdata, attribute):
            return to_text(getattr(rdata, attribute))
    return str(rdata)


def _ip_macro(ip: IPAddress) -> str:
    """%{i}: the dotted quad, or 32 dot-separated nibbles, upper case as RFC 4408 §8.1 and the RFC 7208 suite have them.

    RFC 7208 §7.4's example writes them in lower case: names compare without case (RFC 4343),
    so only an explanation text shows the difference, and the suite expects upper.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    return ".".join(ip.exploded.replace(":", "").upper())


def expand(spec: str, values: dict[str, str], *, exp: bool = False) -> str:
    """Expand the macros of a macro-string (RFC 7208 §7.3) from VALUES, a letter → value map.

    A domain-spec longer than 253 characters loses labels on the left until it fits.
    """
    check_macro_string(spec, exp=exp)

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("%%", "%_", "%-"):
            return {"%%": "%", "%_": " ", "%-": "%20"}[whole]
        letter = match.group("letter")
        value = values[letter.lower()]
        parts = re.split("[" + re.escape(match.group("delims") or ".") + "]", value)
        if match.group("reverse"):
            parts.reverse()
        if match.group("digits"):
            parts = parts[-int(match.group("digits")) :]
        result = ".".join(parts)
        return urllib.parse.quote(result, safe="-._~") if letter.isupper() else result

    expanded = _MACRO.sub(replace, spec)
    if not exp:
        expanded = expanded.rstrip(".")
        while len(expanded) > 253 and "." in expanded:
            expanded = expanded.partition(".")[2]
    return expanded


def _validated_names(ctx: _Context, *, counted: bool) -> list[str]:
    """PTR names of the client address that resolve back to it (RFC 7208 §5.5); lookup errors skip a name."""
    import dns.reversename

    reverse = dns.reversename.from_address(str(ctx.ip)).to_text()
    names = ctx.lookup(reverse, "PTR", void_counts=counted)[:MAX_NAMES]
    rdtype = "A" if ctx.ip.version == 4 else "AAAA"
    validated = []
    for name in names:
        try:
            found = ctx.resolver.query(name, rdtype).records
        except DNSCheckError:
            continue
        if any(ipaddress.ip_address(_rdata_text(r)) == ctx.ip for r in found):
            validated.append(name)
    return validated


def _macro_values(ctx: _Context, domain: str) -> dict[str, str]:
    def p_value() -> str:
        try:
            validated = _validated_names(ctx, counted=False)
        except _TempError:
            return "unknown"  # RFC 7208 §7.3: "unknown" on a DNS error too
        for name in validated:
            if name.lower() == domain.lower() or name.lower().endswith("." + domain.lower()):
                return name
        return validated[0] if validated else "unknown"

    values = {
        "s": ctx.sender,
        "l": ctx.local_part,
        "o": ctx.sender_domain,
        "d": domain,
        "i": _ip_macro(ctx.ip),
        "h": ctx.helo,
        "v": "in-addr" if ctx.ip.version == 4 else "ip6",
        "c": str(ctx.ip),
        "r": "unknown",
        "t": str(int(time.time())),
    }

    class Lazy(dict[str, str]):
        """Only a record that uses %{p} pays for its PTR lookups."""

        def __missing__(self, key: str) -> str:
            self[key] = p_value()
            return self[key]

    return Lazy(values)


def _in_network(ctx: _Context, addresses: list[str], directive: Directive) -> bool:
    prefix = directive.cidr4 if ctx.ip.version == 4 else directive.cidr6
    return any(ctx.ip in ipaddress.ip_network(f"{a}/{prefix}", strict=False) for a in addresses)


def _matches(ctx: _Context, directive: Directive, domain: str) -> bool:
    name = directive.mechanism
    target = expand(directive.spec, _macro_values(ctx, domain)) if directive.spec else domain
    rdtype = "A" if ctx.ip.version == 4 else "AAAA"
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        return directive.network is not None and ctx.ip.version == directive.network.version and (
            ctx.ip in directive.network
        )
    if name == "a":
        return _in_network(ctx, ctx.lookup(target, rdtype), directive)
    if name == "mx":
        hosts = ctx.lookup(target, "MX")
        if len(hosts) > MAX_NAMES:
            raise _PermError(f"{target} has more than {MAX_NAMES} MX hosts")
        return any(_in_network(ctx, ctx.lookup(host, rdtype, void_counts=False), directive) for host in hosts)
    if name == "ptr":
        if not _valid_name(target):
            return False  # no validated name can end in a name that cannot exist
        target = target.lower()
        return any(n.lower() == target or n.lower().endswith("." + target) for n in _validated_names(ctx, counted=True))
    if name == "exists":
        return bool(ctx.lookup(target, "A"))
    result, _ = _check_host(ctx, target)  # include: the included record's exp= is not used (RFC 7208 §6.2)
    if result == "temperror":
        raise _TempError(f"include:{target} gave temperror")
    if result in ("permerror", "none"):
        raise _PermError(f"include:{target} gave {result}")
    return result == "pass"


def _valid_name(name: str) -> bool:
    """A name DNS can carry: labels of 1 to 63 octets, 253 in all without the final dot (RFC 1035 §2.3.4)."""
    name = name.removesuffix(".")
    return len(name.encode()) <= 253 and all(0 < len(label.encode()) <= 63 for label in name.split("."))


@dataclass(frozen=True)
class _Explanation:
    """Where a result's explanation comes from: the exp= of the record evaluated at `domain`."""

    spec: str
    domain: str


def _check_host(ctx: _Context, domain: str) -> tuple[Verdict, _Explanation | None]:
    """check_host() of RFC 7208 §4 and the exp= that explains its result; errors leave by exception."""
    if not _valid_name(domain) or "." not in domain.removesuffix("."):
        return "none", None  # §4.3: malformed, or not a multi-label name
    try:
        answer = ctx.resolver.query(domain, "TXT")
    except DNSCheckError as exc:
        raise _TempError(str(exc)) from None
    records = [text for text in answer.texts if is_spf(text)]
    if not records:
        return "none", None
    if len(records) > 1:
        raise _PermError(f"{domain} has {len(records)} SPF records")
    record, errors = parse(records[0])
    if errors:
        raise _PermError(f"{domain}: {errors[0]}")
    explanation = _Explanation(record.exp, domain) if record.exp is not None else None
    for directive in record.directives:
        if directive.mechanism in DNS_TERMS:
            ctx.count_term(f"{directive.mechanism} in {domain}")
        if _matches(ctx, directive, domain):
            return QUALIFIERS[directive.qualifier], explanation
    if record.redirect is not None:
        ctx.count_term(f"redirect in {domain}")
        target = expand(record.redirect, _macro_values(ctx, domain))
        result = _check_host(ctx, target)  # with the target's own exp=, never this record's (§6.2)
        if result[0] == "none":
            raise _PermError(f"redirect={target}: no SPF record there")
        return result
    return "neutral", explanation


def _evaluate(ctx: _Context, domain: str) -> tuple[Verdict, _Explanation | None]:
    try:
        return _check_host(ctx, domain.rstrip("."))
    except _PermError:
        return "permerror", None
    except _TempError:
        return "temperror", None


def _explain(ctx: _Context, explanation: _Explanation) -> str | None:
    """RFC 7208 §6.2: the TXT record the exp= names, macro-expanded; None on any error on the way."""
    try:
        target = expand(explanation.spec, _macro_values(ctx, explanation.domain))
        if not _valid_name(target):
            return None
        texts = ctx.resolver.query(target, "TXT").texts
        if len(texts) != 1:
            return None
        return expand(texts[0], _macro_values(ctx, explanation.domain), exp=True)
    except (DNSCheckError, SPFSyntaxError):
        return None


def check_host(resolver: Resolver, ip: str, domain: str, sender: str, *, helo: str = "unknown") -> Verdict:
    """RFC 7208 check_host(): may mail from SENDER (empty: postmaster@HELO) at DOMAIN come from IP?"""
    return _evaluate(_Context.start(resolver, ip, sender, helo), domain)[0]


@dataclass(frozen=True)
class SPFResult:
    """A domain's SPF record, what is wrong with it, `evaluate(ip, sender)` to run check_host(), and `explanation()`."""

    domain: str
    record: str | None
    problems: list[str]
    resolver: Resolver = field(repr=False, compare=False)

    def evaluate(self, ip: str, sender: str, *, helo: str = "unknown") -> Verdict:
        """check_host() for mail from SENDER arriving from IP, with this result's domain."""
        return check_host(self.resolver, ip, self.domain, sender, helo=helo)

    def explanation(self, ip: str, sender: str, *, helo: str = "unknown") -> str | None:
        """What the domain tells a sender it refuses (RFC 7208 §6.2): the expanded exp= text of a `fail`.

        None for any other result, for a record without exp=, and when the text cannot be
        fetched or expanded (no TXT record, several, a DNS error, bad macros), as receivers do.
        """
        ctx = _Context.start(self.resolver, ip, sender, helo)
        verdict, explanation = _evaluate(ctx, self.domain)
        return _explain(ctx, explanation) if verdict == "fail" and explanation is not None else None


class _Audit:
    """Walks a record and its includes without a client address: counts terms and void lookups, notes problems."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.problems: list[str] = []
        self.dns_terms = 0
        self.void: list[str] = []
        self.seen: set[str] = set()

    def records(self, domain: str) -> list[str] | None:
        try:
            answer = self.resolver.query(domain, "TXT")
        except DNSCheckError as exc:
            self.problems.append(f"TXT lookup for {domain} failed: {exc}")
            return None
        return [text for text in answer.texts if is_spf(text)]

    def walk(self, domain: str, text: str, *, top: bool = False) -> None:
        self.seen.add(domain.lower())
        record, errors = parse(text)
        where = "" if top else f" (in {domain})"
        self.problems.extend(f"syntax{where}: {error}" for error in errors)
        for directive in record.directives:
            if directive.mechanism in DNS_TERMS:
                self.dns_terms += 1
            spec = directive.spec
            if directive.mechanism == "all" and directive.qualifier == "+":
                self.problems.append(f"+all in {domain}: every host on the internet passes")
            if directive.mechanism == "ptr":
                self.problems.append(f"ptr in {domain}: RFC 7208 §5.5 says not to use it (slow, unreliable)")
            if spec is not None and "%" in spec:
                continue  # depends on the client: counted, not followed
            target = (spec or domain).rstrip(".")
            if spec is not None and not self.valid(target, f"{directive.mechanism}:{spec}"):
                continue
            if directive.mechanism == "include":
                self.follow(target, f"include:{target}")
            elif directive.mechanism in ("a", "mx", "exists"):
                self.probe(target, {"a": "A", "exists": "A"}.get(directive.mechanism, "MX"), directive.mechanism)
        if record.redirect is not None:
            self.dns_terms += 1
            if "%" not in record.redirect and not any(d.mechanism == "all" for d in record.directives):
                target = record.redirect.rstrip(".")
                if self.valid(target, f"redirect={record.redirect}"):
                    self.follow(target, f"redirect={record.redirect}")
        if top and record.exp is not None and "%" not in record.exp and self.valid(record.exp, f"exp={record.exp}"):
            self.explanation(record.exp.rstrip("."))

    def valid(self, target: str, term: str) -> bool:
        if _valid_name(target):
            return True
        self.problems.append(f"{term}: not a name DNS can carry (a label over 63 octets, an empty label, or over 253 "
                             "octets in all); receivers treat it as a name that does not exist")
        return False

    def explanation(self, target: str) -> None:
        """The TXT record exp= names: receivers drop the explanation unless it is one valid explain-string (§6.2)."""
        term = f"exp={target}"
        try:
            texts = self.resolver.query(target, "TXT").texts
        except DNSCheckError as exc:
            self.problems.append(f"{term}: lookup failed: {exc}; receivers then give no explanation")
            return
        if len(texts) != 1:
            self.problems.append(f"{term}: {len(texts)} TXT records there, RFC 7208 §6.2 wants exactly one; "
                                 "receivers give no explanation")
            return
        try:
            check_macro_string(texts[0], exp=True)
        except SPFSyntaxError as exc:
            self.problems.append(f"{term}: {exc}; receivers give no explanation")

    def follow(self, target: str, term: str) -> None:
        if target.lower() in self.seen:
            self.problems.append(f"{term} loops back to a record already included")
            return
        found = self.records(target)
        if found is None:
            return
        if len(found) != 1:
            self.problems.append(f"{term}: {target} has {len(found)} SPF records (permerror when evaluated)")
            return
        self.walk(target, found[0])

    def probe(self, target: str, rdtype: str, mechanism: str) -> None:
        try:
            answer = self.resolver.query(target, rdtype)
        except DNSCheckError as exc:
            self.problems.append(f"{mechanism}:{target}: lookup failed: {exc}")
            return
        if answer.void:
            self.void.append(f"{mechanism}:{target}")
        elif mechanism == "mx" and len(answer.records) > MAX_NAMES:
            self.problems.append(f"mx:{target} has {len(answer.records)} MX hosts; RFC 7208 §4.6.4 allows {MAX_NAMES}")


def spf(resolver: Resolver, domain: str) -> SPFResult:
    """The SPF record of DOMAIN and its problems (several records, syntax, lookup limits, void lookups)."""
    domain = domain.rstrip(".")
    audit = _Audit(resolver)
    records = audit.records(domain)
    if records is None:
        return SPFResult(domain, None, audit.problems, resolver)
    if not records:
        return SPFResult(domain, None, [f"no SPF record (TXT \"v=spf1 …\") at {domain}"], resolver)
    if len(records) > 1:
        return SPFResult(domain, None, [
            f"{len(records)} SPF records at {domain}; RFC 7208 §4.5 makes that a permerror: merge them into one: "
            + " | ".join(sorted(records))
        ], resolver)
    audit.walk(domain, records[0], top=True)
    if audit.dns_terms > MAX_DNS_TERMS:
        audit.problems.append(
            f"{audit.dns_terms} DNS-querying terms (include, a, mx, ptr, exists, redirect), counted through includes; "
            f"RFC 7208 §4.6.4 allows {MAX_DNS_TERMS}: receivers answer permerror"
        )
    if len(audit.void) > MAX_VOID_LOOKUPS:
        audit.problems.append(
            f"{len(audit.void)} void lookups (names with no such record: {', '.join(audit.void)}); "
            f"RFC 7208 §4.6.4 allows {MAX_VOID_LOOKUPS}: receivers answer permerror"
        )
    return SPFResult(domain, records[0], audit.problems, resolver)
