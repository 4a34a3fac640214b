"""The bundled checks: what each asks, why, how bad a failure is, and the judge that reads the shared facts.

Each judge returns a :class:`Verdict` saying what it found and, when it fails, what to
change. Categories and severities follow internet.nl's mail test (required /
recommended), with the MXToolbox-style SMTP checks beside them. No pytest here:
the pytest face turns verdicts into passed, failed and expected-failed items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

if TYPE_CHECKING:
    from ..dns import DNSCheckError
    from ..errors import SMTPCheckError
    from ..smtp.reply import Reply
    from .facts import AddressFacts, DomainFacts

__all__ = ["CATEGORIES", "CHECKS", "CHECK_IDS", "Category", "Check", "Scope", "Severity", "Verdict", "inapplicable",
           "unjudged"]

Category = Literal["smtp", "tls", "certificate", "dane", "dns", "policy"]
Severity = Literal["required", "recommended"]
Scope = Literal["address", "host", "domain"]
CATEGORIES: tuple[Category, ...] = ("smtp", "tls", "certificate", "dane", "dns", "policy")


@dataclass(frozen=True)
class Verdict:
    """A check's outcome: what was found, what to change (when it failed), and the evidence behind it."""

    ok: bool
    found: str
    change: str = ""
    evidence: tuple[str, ...] = ()


def ok(found: str, *evidence: str) -> Verdict:
    return Verdict(True, found, "", evidence)


def bad(found: str, change: str, *evidence: str) -> Verdict:
    return Verdict(False, found, change, evidence)


Subject = Union["AddressFacts", "DomainFacts", "tuple[DomainFacts, str]"]


@dataclass(frozen=True)
class Check:
    """One check of the battery; `judge` takes an AddressFacts, a (DomainFacts, host) or a DomainFacts by scope."""

    id: str
    category: Category
    severity: Severity
    scope: Scope
    asks: str
    why: str
    judge: Callable[..., Verdict]

    def verdict(self, subject: Subject) -> Verdict:
        """The judge's verdict, on a host or address DNS gave: when the MX lookup gave no MX host, or an MX host no
        address, a host or address check fails saying so and what makes DNS give it, so that no judge judges the
        domain in place of unknown MX hosts, or an address it was not given."""
        from .facts import AddressFacts

        unfound = None
        if isinstance(subject, tuple):
            unfound = _no_hosts(subject[0])
        elif isinstance(subject, AddressFacts) and subject.target.problem is not None:
            unfound = _no_hosts(subject.domain) or _unaddressed(subject.domain, subject.host)
        return unfound or self.judge(subject)

    @property
    def needs(self) -> tuple[str, ...]:
        """The address facts the judge reads (AddressFacts property names, in probing order), for probing them
        ahead: `-k cipher` costs the handshakes and no plain session, `-k relay` the plain session alone."""
        if self.scope != "address":
            return ()
        if self.id in ("fcrdns", "banner"):
            return ("smtp", "names")
        if self.category == "smtp":
            return ("smtp",)
        if self.id == "starttls":  # STARTTLS offered is read from the plain session's EHLO
            return ("smtp", "tls")
        if self.category == "dane" or self.id in ("certificate-trust", "certificate-name"):
            return ("tls", "dane")
        return ("tls",)


def inapplicable(check: Check, domain: DomainFacts) -> str | None:
    """Why CHECK has nothing to judge at DOMAIN (the battery skips it, saying so), or None: a null MX (RFC 7505)
    leaves no MX host and no address."""
    if check.scope == "domain" or not domain.null_mx:
        return None
    return f"{domain.domain} publishes a null MX (RFC 7505): it takes no mail, so it has no MX host or address to check"


def unjudged(error: SMTPCheckError) -> Verdict:
    """The verdict of a check whose judge could not finish (the pytest face's safety net: the judges turn their own
    look-ups' failures into verdicts): what failed, and the change that fits its kind."""
    from ..dns import DNSCheckError
    from ..errors import ServerFault

    if isinstance(error, DNSCheckError):
        return bad(f"a DNS lookup the check needs failed: {error}", _dns_change(error))
    if isinstance(error, ServerFault):
        return bad(f"the check could not finish: {error}", "make the server answer: the message says what it did "
                   "instead")
    return bad(f"the check could not finish: {error}", "nothing on the server: this is a fault of the battery, not "
               "of the server; report it to pytest-smtpcheck with this message")


def _dns_change(error: DNSCheckError) -> str:
    """What makes a failed DNS question answer: a bogus answer needs its zone re-signed (or its DS fixed), a silent
    one a resolver or name server that answers, a SERVFAIL name servers that work."""
    from ..dns import DNSSECBogus, DNSTimeout

    if isinstance(error, DNSSECBogus):
        return ("re-sign the zone (expired signatures are the usual cause) and check that the DS record at the parent "
                "matches its key: validating resolvers answer SERVFAIL for bogus data, so senders get no answer at "
                "all (RFC 4035 §5.5)")
    if isinstance(error, DNSTimeout):
        return ("check that the resolver the run asks answers (--smtp-resolver); if it does, make the DNS answer: "
                "the zone's name servers must respond")
    return ("make the DNS answer: fix the zone's name servers or its DNSSEC chain (or, when the resolver the run asks "
            "could not be used, --smtp-resolver)")


def _unanswered(domain: DomainFacts, name: str, rdtype: str) -> Verdict | None:
    """The failing verdict when the NAME/RDTYPE question a check rests on got no usable answer: the change is DNS's,
    not the record's (a record that is not served cannot be judged). None when it was answered."""
    found = domain.lookup(name, rdtype)
    if found.error is None:
        return None
    return bad(f"{rdtype} lookup for {name} failed: {found.error}", _dns_change(found.error))


def _no_hosts(domain: DomainFacts) -> Verdict | None:
    """None when DNS gave the MX hosts (or the implicit MX, the domain itself: RFC 5321 §5.1). Else the verdict of
    every host and address check: the MX hosts could not be found, why, and what makes DNS give them (the mx
    check's own verdict); for a null MX (RFC 7505, whose checks the battery skips) there is nothing to judge."""
    if domain.mx.targets:
        return None
    why = _mx(domain)
    if why.ok:
        return ok(f"{why.found}: it has no MX host to judge")
    return bad(f"the MX hosts of {domain.domain} could not be found: {why.found}", why.change, *why.evidence)


def _literal(host: str) -> Verdict | None:
    """The failing verdict for an MX record that names an address, not a host (RFC 5321 §5.1); else None."""
    from ipaddress import ip_address

    try:
        ip_address(host.strip("[]"))
    except ValueError:
        return None
    return bad(f"the MX record names the address {host}, not a host", "point the MX record at a host name that has "
               "the address (RFC 5321 §5.1: MX records name hosts)")


def _unaddressed(domain: DomainFacts, host: str) -> Verdict | None:
    """The failing verdict for an MX host with no address to connect to (its lookup failed, or it has no A or AAAA
    record); None when it has one."""
    literal = _literal(host)
    if literal is not None:
        return literal
    found = domain.addresses(host)
    if found.error is not None:
        return bad(f"address lookup for {host} failed: {found.error}", _dns_change(found.error))
    if not found.value:
        return bad(f"the MX host {host} has no A or AAAA record", f"publish A and AAAA records for {host}, or point "
                   "the MX record at a host that has them (RFC 5321 §5.1)")
    return None


def _wire(reply: Reply | None) -> str:
    return reply.wire_lines()[0] if reply is not None else "no reply"


NO_TLS_CHANGE = "get a TLS session working first: the starttls check says what fails"


def _no_tls(failure: str) -> Verdict:
    """A TLS check's verdict without a TLS session: STARTTLS may be on and failing, and the starttls check's
    verdict says how to fix either."""
    return bad(f"no TLS session: {failure}", NO_TLS_CHANGE)


# -- one plain session per address ---------------------------------------------------------------------------

def _greeting(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.greeting is None:
        return bad(f"no greeting: {probe.failure}", "make the server answer with 220 within the timeout")
    if probe.greeting.code != 220:
        return bad(f"greeting {_wire(probe.greeting)}", "greet with 220 (RFC 5321 §4.2, §3.1)")
    return ok(f"greeting {_wire(probe.greeting)}")


def _ehlo(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.ehlo is None:
        return bad(f"EHLO was not asked: {probe.failure}", "answer the greeting with 220, then EHLO")
    if probe.ehlo.code != 250:
        return bad(f"EHLO answered {_wire(probe.ehlo)}", "answer EHLO with 250 and the extensions (RFC 5321 §4.1.1.1)")
    return ok(f"EHLO answered 250 with {', '.join(sorted(probe.capabilities)) or 'no extensions'}")


def _size(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.ehlo is None:
        return bad(f"no EHLO reply: {probe.failure}", "answer EHLO")
    if not probe.offers("SIZE"):
        return bad("SIZE is not advertised", "advertise SIZE with the limit (RFC 1870): senders then know before "
                   "they send, instead of after")
    limit = probe.capabilities["SIZE"]
    return ok(f"SIZE {limit or '(no limit given)'} advertised")


def _auth_plaintext(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.ehlo is None:
        return bad(f"no EHLO reply: {probe.failure}", "answer EHLO")
    if probe.offers("AUTH"):
        return bad(f"AUTH {probe.capabilities['AUTH']} offered before STARTTLS",
                   "offer AUTH only after TLS (Postfix: smtpd_tls_auth_only = yes; RFC 8314 §3)")
    return ok("AUTH is not offered before TLS")


def _relay(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.relay is None:
        return bad(f"the relay question was not reached: {probe.failure or 'no sender was accepted'}",
                   "accept MAIL FROM:<> so that RCPT can be asked")
    if probe.relay.code // 100 == 2:
        return bad(f"RCPT TO:<{probe.outside}> accepted: {_wire(probe.relay)} - an open relay",
                   "refuse recipients outside your domains for unauthenticated clients (Postfix: "
                   "smtpd_relay_restrictions = ... reject_unauth_destination; check mynetworks)")
    return ok(f"RCPT TO:<{probe.outside}> refused: {_wire(probe.relay)}")


def _postmaster(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.postmaster is None:
        return bad(f"postmaster was not asked: {probe.failure or 'no sender was accepted'}", "accept MAIL FROM:<>")
    if probe.postmaster.code // 100 != 2:
        return bad(f"RCPT TO:<postmaster@{probe.domain}> {_turned_away(probe.postmaster)}",
                   _or_deferred("accept mail for postmaster@ your domain (RFC 5321 §4.5.1: it MUST exist), e.g. an "
                                "alias", probe.postmaster))
    return ok(f"RCPT TO:<postmaster@{probe.domain}>: {_wire(probe.postmaster)}")


def _turned_away(reply: Reply) -> str:
    """A refusal in words: a 4xx is a deferral a sender retries (greylisting, a rate limit), not a refusal."""
    if reply.code // 100 == 4:
        return f"deferred: {_wire(reply)} (a 4xx is temporary: greylisting or a rate limit?)"
    return f"refused: {_wire(reply)}"


def _or_deferred(change: str, reply: Reply) -> str:
    """The change, and for a deferral how to let the probe through: the battery asks once and never retries."""
    if reply.code // 100 == 4:
        return f"{change}; exempt the probing client from greylisting and rate limits, then run again"
    return change


def _null_sender(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.null_sender is None:
        return bad(f"MAIL FROM:<> was not sent: {probe.failure}", "answer the greeting and EHLO")
    if probe.null_sender.code // 100 != 2:
        return bad(f"MAIL FROM:<> {_turned_away(probe.null_sender)}",
                   _or_deferred("accept the null sender: bounces and delivery reports come from it (RFC 5321 "
                                "§4.5.5)", probe.null_sender))
    return ok(f"MAIL FROM:<> accepted: {_wire(probe.null_sender)}")


def _vrfy(a: AddressFacts) -> Verdict:
    probe = a.smtp
    known, unknown, expn = probe.vrfy_known, probe.vrfy_unknown, probe.expn
    if known is None or unknown is None or expn is None:
        return bad(f"VRFY/EXPN were not asked: {probe.failure}", "answer EHLO")
    shown = (f"VRFY postmaster: {_wire(known)}", f"VRFY made-up user: {_wire(unknown)}", f"EXPN: {_wire(expn)}")
    if known.code in (250, 251):
        return bad(f"VRFY confirms users ({_wire(known)})", "disable VRFY (Postfix: disable_vrfy_command = yes)",
                   *shown)
    if known.code // 100 != unknown.code // 100:
        return bad(f"VRFY tells a real user ({known.code}) from a made-up one ({unknown.code}): addresses can be "
                   "harvested", "disable VRFY (Postfix: disable_vrfy_command = yes) or answer 252 to every name",
                   *shown)
    if expn.code in (250, 251):
        return bad(f"EXPN expands a list ({_wire(expn)})", "disable EXPN", *shown)
    return ok("VRFY and EXPN confirm no user", *shown)


# -- TLS handshakes per address ------------------------------------------------------------------------------

def _starttls(a: AddressFacts) -> Verdict:
    smtp, tls = a.smtp, a.tls
    if smtp.ehlo is not None and not smtp.offers("STARTTLS"):
        offered = ", ".join(sorted(smtp.capabilities)) or "no extensions"
        return bad(f"STARTTLS is not offered (EHLO offers {offered})", "enable STARTTLS (Postfix: "
                   "smtpd_tls_security_level = may, with smtpd_tls_cert_file and smtpd_tls_key_file)",
                   *smtp.ehlo.wire_lines())
    if tls.failure is not None:
        return bad(f"no TLS session: {tls.failure}", "fix the TLS configuration so that a default client can "
                   "complete the handshake", tls.default.line())
    return ok(f"STARTTLS offered; {tls.default.version} {tls.default.cipher}", tls.default.line())


def _tls_version(a: AddressFacts) -> Verdict:
    from ..smtp.tlsprobe import OBSOLETE_VERSIONS

    tls = a.tls
    if tls.failure is not None:
        return _no_tls(tls.failure)
    evidence = tuple(shake.line() for shake in tls.versions.values())
    old = [v for v in OBSOLETE_VERSIONS if tls.versions.get(v) and tls.versions[v].outcome == "accepted"]
    if old:
        return bad(f"accepts {', '.join(old)}", "accept TLS 1.2 and 1.3 only (RFC 8996; Postfix: "
                   "smtpd_tls_protocols = >=TLSv1.2)", *evidence)
    modern = [v for v in ("TLSv1.2", "TLSv1.3") if v in tls.accepted_versions]
    return ok(f"accepts {' and '.join(modern)} only", *evidence)


def _cipher(a: AddressFacts) -> Verdict:
    tls = a.tls
    if tls.failure is not None:
        return _no_tls(tls.failure)
    evidence = tuple(shake.line() for shake in tls.ciphers.values())
    weak = [name for name, shake in tls.ciphers.items() if shake.outcome == "accepted"]
    if weak:
        return bad(f"accepts weak cipher classes: {', '.join(weak)}", "exclude them (Postfix: "
                   "smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, RC4, DES, 3DES, MD5, kRSA)", *evidence)
    untested = [name for name, shake in tls.ciphers.items() if shake.outcome == "untestable"]
    note = f" ({', '.join(untested)}: this machine's OpenSSL cannot offer them)" if untested else ""
    return ok(f"refuses every weak cipher class tried{note}", *evidence)


def _forward_secrecy(a: AddressFacts) -> Verdict:
    tls = a.tls
    if tls.failure is not None:
        return _no_tls(tls.failure)
    suite = f"{tls.default.version} {tls.default.cipher}"
    if not tls.forward_secret:
        return bad(f"negotiated {suite}, without forward secrecy", "prefer ECDHE suites and offer TLS 1.3 "
                   "(RFC 9325 §4.1; Postfix: smtpd_tls_exclude_ciphers = kRSA)")
    return ok(f"negotiated {suite}, with forward secrecy")


def _no_certificate(a: AddressFacts, why: str) -> Verdict:
    """A certificate check's verdict without certificate facts: no TLS session, or a chain that could not be read."""
    if a.tls.failure is not None:
        return _no_tls(a.tls.failure)
    return bad(why, "send the certificate chain in the handshake, leaf first")


def _sts_senders(a: AddressFacts) -> str | None:
    """"DOMAIN publishes an MTA-STS policy (mode M)" when its senders validate the MX certificates with the WebPKI
    (modes enforce and testing, RFC 8461 §4.2 and §5), else None."""
    mode = a.domain.sts_mode
    return f"{a.domain.domain} publishes an MTA-STS policy (mode {mode})" if mode in ("enforce", "testing") else None


def _certificate_trust(a: AddressFacts) -> Verdict:
    tls = a.tls
    if tls.failure is not None:
        return _no_tls(tls.failure)
    if tls.trusted:
        return ok("the chain verifies against the run's CA store")
    dane, sts = a.dane, _sts_senders(a)
    if not isinstance(dane, str) and dane.matched and dane.match is not None and dane.match.usage in (2, 3):
        if sts is None:
            return ok(f"not PKIX-trusted ({tls.trust_problem}), but DANE authenticates it ({dane.match!r}; RFC 7672 "
                      "§3.1)")
        return bad(f"not PKIX-trusted ({tls.trust_problem}); DANE authenticates it, but {sts}, and its senders accept "
                   "only a chain to a root they trust: DANE does not stand in for it (RFC 8461 §4.2)",
                   "serve a certificate from a public CA, with its intermediates (RFC 8461 §4.2), and update the TLSA "
                   "records to its key; or withdraw the MTA-STS policy (mode none, then remove it: RFC 8461 §8.3)",
                   repr(dane.match))
    if sts is not None:
        return bad(f"the chain is not trusted: {tls.trust_problem}", "serve a certificate from a public CA, with its "
                   f"intermediates: {sts}, and its senders accept no other, DANE or not (RFC 8461 §4.2)")
    return bad(f"the chain is not trusted: {tls.trust_problem}",
               "serve a certificate from a public CA with its intermediates, or publish DANE-EE TLSA records")


def _certificate_name(a: AddressFacts) -> Verdict:
    from ..smtp.certfacts import name_covering

    facts = a.certificate
    if isinstance(facts, str):
        return _no_certificate(a, facts)
    covering = name_covering(facts.names, a.host)
    if covering is not None:
        return ok(f"the certificate names {a.host} (as {covering})", *facts.lines())
    dane = a.dane
    found = a.tlsa
    base = found[1][0] if not isinstance(found, str) and len(found[1]) > 1 else None  # the CNAME-expanded name
    covering = name_covering(facts.names, base) if base is not None else None
    if not isinstance(dane, str) and dane.matched and dane.match is not None and dane.match.usage == 3:
        authenticated = ("DANE-EE authenticates it", f"the certificate does not name {a.host}, but DANE-EE "
                         "authenticates it (RFC 7672 §3.1.1: names are not checked)")
    elif covering is not None and not isinstance(dane, str) and dane.matched:
        authenticated = (f"DANE-TA authenticates it as {base}", f"the certificate names {base}, the TLSA base domain "
                         f"{a.host} expands to (as {covering}), and DANE-TA authenticates it (RFC 7672 §3.2.2: either "
                         "name)")
    else:
        return bad(f"the certificate names {', '.join(facts.names) or 'no host'}, not the MX host {a.host}",
                   f"add {a.host} to the certificate's subjectAltName", *facts.lines())
    sts = _sts_senders(a)
    if sts is None:
        return ok(authenticated[1], *facts.lines())
    return bad(f"the certificate does not name {a.host}; {authenticated[0]}, but {sts}, and its senders check that "
               "the certificate names the MX host, DANE or not (RFC 8461 §4.2)",
               f"add {a.host} to the certificate's subjectAltName: MTA-STS senders check it (RFC 8461 §4.2)",
               *facts.lines())


def _certificate_expiry(a: AddressFacts) -> Verdict:
    facts = a.certificate
    if isinstance(facts, str):
        return _no_certificate(a, facts)
    threshold = a.domain.settings.days_left
    if facts.days_left < threshold:
        state = "expired" if facts.days_left < 0 else f"expires in {facts.days_left} days"
        return bad(f"the certificate {state} ({facts.not_after:%Y-%m-%d}); the threshold is {threshold} days",
                   "renew it (and check that renewal is automated)", *facts.lines())
    return ok(f"{facts.days_left} days left (threshold {threshold})", *facts.lines())


def _certificate_key(a: AddressFacts) -> Verdict:
    facts = a.certificate
    if isinstance(facts, str):
        return _no_certificate(a, facts)
    problems = [p for p in (facts.key_problem, facts.signature_problem) if p]
    if problems:
        return bad("; ".join(problems), "reissue the certificate with an RSA 2048+ or ECDSA P-256/P-384 key, "
                   "signed with SHA-256 or better", *facts.lines())
    return ok(f"{facts.key}, signed with {', '.join(sorted({digest for _, digest in facts.signatures})) or 'n/a'}",
              *facts.lines())


# -- DANE ----------------------------------------------------------------------------------------------------

def _no_dane(a: AddressFacts, why: str) -> Verdict:
    """A DANE check's verdict when there is no match to judge, with the change for its reason: no records, unsigned
    records, a failed lookup, or no TLS session to match them against."""
    found = a.tlsa
    if isinstance(found, str):
        change = "make the TLSA lookup answer: fix the zone's name servers or its DNSSEC signatures"
    elif not found[0].records:
        change = f"publish DNSSEC-signed TLSA records at {found[0].name} (RFC 7672), e.g. 3 1 1 of the key"
    elif not found[0].secure:
        change = ("sign the zone with DNSSEC and publish its DS record at the parent: senders use TLSA records only "
                  "when they validate (RFC 7672 §2.2)")
    else:  # signed records, and no TLS session to match them against
        change = NO_TLS_CHANGE
    return bad(why, change)


def _dane(a: AddressFacts) -> Verdict:
    dane = a.dane
    if isinstance(dane, str):
        return _no_dane(a, dane)
    found = a.tlsa
    records = (f"TLSA records at {found[2]}" if not isinstance(found, str) else found,
               *(repr(r) for r in dane.records))
    if not dane.usable:
        return bad("no usable TLSA record (usages 2 and 3 only count for SMTP, RFC 7672 §3.1.3)",
                   "publish DANE-EE (3 1 1) or DANE-TA (2 1 1) records", *records)
    if not dane.matched:
        return bad("no TLSA record matches the certificate chain presented",
                   "publish a record for the key in use (and before a key change, the next key)", *records)
    return ok(f"{dane.match!r} matches the presented chain", *records)


def _dane_rollover(a: AddressFacts) -> Verdict:
    dane = a.dane
    if isinstance(dane, str):
        return _no_dane(a, dane)
    usable = [r for r in dane.records if r.usable]
    evidence = tuple(repr(r) for r in dane.records)
    if len({(r.usage, r.selector, r.mtype, r.data) for r in usable}) < 2:
        return bad(f"{len(usable)} usable TLSA record{'' if len(usable) == 1 else 's'}: a key or certificate change "
                   "breaks DANE until DNS catches up",
                   "publish two: the current and the next key (3 1 1 + 3 1 1), or the key and its issuer "
                   "(3 1 1 + 2 1 1)", *evidence)
    return ok(f"{len(usable)} usable TLSA records: a rollover can be staged", *evidence)


# -- names and DNS -------------------------------------------------------------------------------------------

def _fcrdns(a: AddressFacts) -> Verdict:
    names = a.names
    if isinstance(names, str):
        return bad(names, f"make the PTR lookup for {a.address} answer: fix the reverse zone's name servers or its "
                   "DNSSEC signatures")
    f = names.fcrdns
    if not f.names:
        return bad(f"{a.address} has no PTR record", f"publish a PTR record for {a.address} naming {a.host}, which "
                   "resolves back to it (receivers reject mail from addresses without one)")
    if not f.confirmed:
        return bad(f"PTR names {', '.join(f.names)} do not resolve back to {a.address}",
                   "make the PTR name's A/AAAA record point back to the address")
    return ok(f"{a.address} -> {', '.join(names.confirmed_names)} -> {a.address}")


def _banner(a: AddressFacts) -> Verdict:
    probe = a.smtp
    if probe.greeting is None or probe.ehlo is None:
        return bad(f"no greeting and EHLO to compare: {probe.failure}", "answer the greeting with 220, then EHLO")
    names = a.names
    if isinstance(names, str):
        return bad(names, "make the PTR lookup answer (see the fcrdns check)")
    if not names.matches:
        return bad("; ".join(names.problems), "greet and answer EHLO with the address's PTR name (Postfix: "
                   "myhostname)")
    return ok(f"greeting and EHLO name {names.greeting}, the FCrDNS name of {a.address}")


def _ipv6(subject: tuple[DomainFacts, str]) -> Verdict:
    domain, host = subject
    unaddressed = _unaddressed(domain, host)
    if unaddressed is not None:
        return unaddressed
    addresses = [str(address) for address in domain.addresses(host).value]  # type: ignore[attr-defined]
    v6 = [address for address in addresses if ":" in address]
    if not v6:
        return bad(f"{host} has no IPv6 address ({', '.join(addresses)})",
                   f"publish an AAAA record for {host} and accept mail over IPv6")
    return ok(f"{host} has IPv6: {', '.join(v6)} (each is tested as its own MX address)")


def _mx_cname(subject: tuple[DomainFacts, str]) -> Verdict:
    domain, host = subject
    literal = _literal(host)
    if literal is not None:
        return literal
    alias = domain.cname(host)
    if alias.error is not None:
        return bad(f"CNAME lookup for {host} failed: {alias.error}", _dns_change(alias.error))
    if alias.value is not None:
        return bad(f"the MX host {host} is an alias (CNAME to {alias.value})",
                   f"point the MX record at {alias.value} itself (RFC 2181 §10.3, RFC 5321 §5.1)")
    return _unaddressed(domain, host) or ok(f"{host} is a host name with its own addresses, not an alias")


def _mx(domain: DomainFacts) -> Verdict:
    failed = _unanswered(domain, domain.domain, "MX")
    if failed is not None:
        return failed
    if domain.null_mx:
        return ok(f"{domain.domain} publishes a null MX (RFC 7505): it takes no mail, and says so")
    found = domain.mx
    if found.problem is not None:
        return bad(found.problem, "publish MX records for the domain's mail hosts")
    hosts = sorted({t.host for t in found.targets})
    if found.implicit:
        return bad(f"no MX record: mail goes to {domain.domain}'s own address (the implicit MX)",
                   "publish an MX record (or a null MX, RFC 7505, if the domain takes no mail)")
    return ok(f"MX: {', '.join(hosts)}")


def _dnssec(domain: DomainFacts) -> Verdict:
    from ..dns import DNSSECBogus

    names = [(domain.domain, "MX"), *((host, "A") for host in sorted({t.host for t in domain.mx.targets}))]
    rows = [domain.answered(name, rdtype) for name, rdtype in names]
    found = [(name, rdtype, domain.secure(name, rdtype)) for name, rdtype in names]
    bogus = [(name, answer.error) for name, _, answer in found if isinstance(answer.error, DNSSECBogus)]
    failed = [(f"{name} {rdtype}", answer.error) for name, rdtype, answer in found
              if answer.error is not None and not isinstance(answer.error, DNSSECBogus)]
    insecure = [name for name, _, answer in found if answer.error is None and answer.value is not True]
    problems, changes = [], []
    if bogus:  # signed, but failing validation: worse than unsigned, for validating resolvers answer SERVFAIL
        problems.append(f"signed, but failing DNSSEC validation (bogus): {', '.join(name for name, _ in bogus)}")
        changes.append(_dns_change(bogus[0][1]))
    if failed:
        problems.append(f"the DNSSEC state is unknown: {'; '.join(f'{what}: {error}' for what, error in failed)}")
        changes.append(_dns_change(failed[0][1]))
    if insecure:
        problems.append(f"not DNSSEC-validated: {', '.join(insecure)}")
        changes.append("sign the zones (and publish the DS records at the parent); DANE needs it")
    if problems:
        return bad("; ".join(problems), "; ".join(changes), *rows)
    return ok("the domain and every MX host validate with DNSSEC", *rows)


def _spf(domain: DomainFacts) -> Verdict:
    from ..dns.spf import parse

    failed = _unanswered(domain, domain.domain, "TXT")
    if failed is not None:
        return failed
    spf = domain.spf
    answer = domain.answered(domain.domain, "TXT")
    if spf.record is None:  # none, several, or the lookup failed: the problem says which
        return bad("; ".join(spf.problems) or "no SPF record", f"publish exactly one TXT record at {domain.domain} "
                   'beginning "v=spf1", e.g. "v=spf1 mx -all" (RFC 7208 §3.2, §4.5)', answer)
    if spf.problems:
        return bad("; ".join(spf.problems), "fix the record as each problem says (RFC 7208: valid terms, at most 10 "
                   "DNS-querying terms and 2 void lookups, §4.6.4)", spf.record, answer)
    record, _ = parse(spf.record)
    final = next((d for d in record.directives if d.mechanism == "all"), None)  # §5.1: nothing after it counts
    if final is None and record.redirect is None:
        return bad("the record has no all and no redirect=: other hosts get neutral (RFC 7208 §4.7), not refused",
                   "end it in -all (or ~all)", spf.record, answer)
    if final is not None and final.qualifier not in ("-", "~"):
        result = "neutral" if final.qualifier == "?" else "pass"
        return bad(f"the record gives other hosts {result} ({final.qualifier}all): they are not refused",
                   "end it in -all (or ~all)", spf.record, answer)
    return ok(f"SPF {spf.record}", spf.record, answer)


def _dmarc(domain: DomainFacts) -> Verdict:
    failed = _unanswered(domain, f"_dmarc.{domain.domain}", "TXT")
    if failed is not None:
        return failed
    dmarc = domain.dmarc
    if dmarc.record is None:  # none, several (all discarded), or the lookup failed: the problems say which
        return bad("; ".join(dmarc.problems) or "no DMARC record", f"publish exactly one TXT record at "
                   f'_dmarc.{domain.domain}: "v=DMARC1; p=reject; rua=mailto:dmarc@{domain.domain}"')
    evidence = (dmarc.record, *dmarc.problems, domain.answered(dmarc.found_at or f"_dmarc.{domain.domain}", "TXT"))
    if dmarc.policy not in ("quarantine", "reject"):  # p=none, or lowered to it by t=y, or invalid: problems say
        return bad("; ".join([f"policy {dmarc.policy or 'none'}: receivers act on nothing", *dmarc.problems]),
                   f"set p=quarantine or p=reject{' without t=y' if dmarc.testing else ''}", *evidence)
    if dmarc.problems:
        return bad("; ".join(dmarc.problems), "fix the record (RFC 9989)", *evidence)
    if not dmarc.rua:
        return bad(f"p={dmarc.policy}, but no report destination (rua)", "add rua=mailto:… to receive reports",
                   *evidence)
    return ok(f"p={dmarc.policy}, reports to {', '.join(dmarc.rua)}", *evidence)


def _mta_sts(domain: DomainFacts) -> Verdict:
    failed = _unanswered(domain, f"_mta-sts.{domain.domain}", "TXT")
    if failed is not None:
        return failed
    published = domain.dns.lookup(f"_mta-sts.{domain.domain}", "TXT")  # answered: asked again from the cache
    if published.status != "ok":
        return ok(f"no MTA-STS policy published (no TXT at _mta-sts.{domain.domain}): the check judges one when it is")
    result = domain.mta_sts
    evidence = tuple(result.problems)
    if result.problems:
        return bad("; ".join(result.problems), "fix the record or the policy at https://mta-sts."
                   f"{domain.domain}/.well-known/mta-sts.txt (RFC 8461)", *evidence)
    policy = result.policy
    mode = policy.mode if policy else None
    if mode != "enforce":  # testing or none: any other mode is a problem above
        meaning = ("senders report TLS failures but deliver anyway" if mode == "testing"
                   else "senders act as if there were no policy")
        return bad(f"policy mode {mode}: {meaning} (RFC 8461 §5)",
                   "move to mode: enforce once the TLS-RPT reports are clean")
    return ok(f"MTA-STS mode enforce for {', '.join(policy.mx) if policy else ''}")


def _tls_rpt(domain: DomainFacts) -> Verdict:
    failed = _unanswered(domain, f"_smtp._tls.{domain.domain}", "TXT")
    if failed is not None:
        return failed
    result = domain.tls_rpt
    if result.record is None:  # none, several, or the lookup failed: the problem says which
        return bad("; ".join(result.problems) or "no TLS-RPT record", "publish exactly one TXT record at "
                   f'_smtp._tls.{domain.domain}: "v=TLSRPTv1; rua=mailto:tlsrpt@{domain.domain}" (RFC 8460 §3)')
    if result.problems:
        return bad("; ".join(result.problems), "fix the record (RFC 8460 §3)", result.record)
    return ok(f"TLS reports to {', '.join(result.rua)}", result.record)


CHECKS: tuple[Check, ...] = (
    Check("greeting", "smtp", "required", "address",
          "Does the server greet with 220 within the timeout?", "RFC 5321 §3.1, §4.5.3.2", _greeting),
    Check("ehlo", "smtp", "required", "address", "Does EHLO get a 250 with the extensions?", "RFC 5321 §4.1.1.1",
          _ehlo),
    Check("starttls", "tls", "required", "address", "Is STARTTLS offered on port 25, and does a handshake succeed?",
          "RFC 3207; internet.nl STARTTLS", _starttls),
    Check("auth-plaintext", "smtp", "required", "address", "Is AUTH kept until after TLS?", "RFC 8314 §3; RFC 4954 §4",
          _auth_plaintext),
    Check("relay", "smtp", "required", "address",
          "Is a recipient at an outside domain refused (RCPT only)?", "RFC 5321 §3.6.1, RFC 2505", _relay),
    Check("postmaster", "smtp", "required", "address", "Is postmaster@DOMAIN accepted?", "RFC 5321 §4.5.1",
          _postmaster),
    Check("null-sender", "smtp", "required", "address", "Is MAIL FROM:<> accepted?", "RFC 5321 §4.5.5, §6.1",
          _null_sender),
    Check("vrfy", "smtp", "recommended", "address", "Do VRFY and EXPN keep the users to themselves?",
          "RFC 5321 §7.3; RFC 2505 §2.11", _vrfy),
    Check("size", "smtp", "recommended", "address", "Is SIZE advertised?", "RFC 1870", _size),
    Check("tls-version", "tls", "required", "address", "Are only TLS 1.2 and 1.3 accepted (one handshake per version)?",
          "RFC 8996, RFC 7568; internet.nl TLS version", _tls_version),
    Check("cipher", "tls", "required", "address", "Are weak cipher classes refused (one handshake per class)?",
          "RFC 7465, RFC 9325; internet.nl ciphers", _cipher),
    Check("forward-secrecy", "tls", "required", "address", "Does the negotiated suite have forward secrecy?",
          "RFC 9325 §4.1; internet.nl key exchange", _forward_secrecy),
    Check("certificate-trust", "certificate", "required", "address",
          "Does the chain verify (or, without an MTA-STS policy, does DANE authenticate it)?",
          "RFC 7672 §3.1; RFC 8461 §4.2; internet.nl trust chain", _certificate_trust),
    Check("certificate-name", "certificate", "recommended", "address", "Does the certificate name the MX host?",
          "RFC 6125 §6; RFC 7672 §3.2; RFC 8461 §4.2", _certificate_name),
    Check("certificate-expiry", "certificate", "required", "address",
          "Has the certificate more days left than the threshold?", "RFC 5280 §4.1.2.5",
          _certificate_expiry),
    Check("certificate-key", "certificate", "required", "address",
          "Are the key and the signature hashes strong enough?", "NCSC-NL TLS guidelines; internet.nl",
          _certificate_key),
    Check("dane", "dane", "required", "address", "Do DNSSEC-signed TLSA records match the certificate?",
          "RFC 7672; internet.nl DANE existence and validity", _dane),
    Check("dane-rollover", "dane", "recommended", "address", "Do the TLSA records allow a key rollover?",
          "RFC 7671 §8.1, RFC 7672 §3.1; internet.nl DANE rollover", _dane_rollover),
    Check("fcrdns", "dns", "recommended", "address", "Does the address have a PTR name that resolves back to it?",
          "RFC 1912 §2.1; M3AAWG", _fcrdns),
    Check("banner", "dns", "recommended", "address", "Do the greeting and EHLO name the address's PTR name?",
          "RFC 5321 §4.1.4, §4.3.1", _banner),
    Check("ipv6", "dns", "required", "host", "Has the MX host an IPv6 address?", "internet.nl IPv6 for mail", _ipv6),
    Check("mx-cname", "dns", "required", "host", "Is the MX host a name with addresses, not an alias?",
          "RFC 2181 §10.3, RFC 5321 §5.1", _mx_cname),
    Check("mx", "dns", "required", "domain", "Does the domain publish MX records (or a null MX)?",
          "RFC 5321 §5.1, RFC 7505", _mx),
    Check("dnssec", "dns", "required", "domain", "Do the domain and every MX host validate with DNSSEC?",
          "RFC 4033; internet.nl DNSSEC", _dnssec),
    Check("spf", "policy", "required", "domain", "Is there one valid SPF record, within the lookup limits, ending in "
          "-all or ~all?", "RFC 7208; internet.nl SPF", _spf),
    Check("dmarc", "policy", "required", "domain", "Is DMARC p=quarantine or reject, with reports?",
          "RFC 9989; internet.nl DMARC", _dmarc),
    Check("mta-sts", "policy", "recommended", "domain", "When MTA-STS is published: policy fetched, enforce, every MX "
          "matched?", "RFC 8461", _mta_sts),
    Check("tls-rpt", "policy", "recommended", "domain", "Is TLS-RPT published?", "RFC 8460", _tls_rpt),
)
CHECK_IDS = tuple(check.id for check in CHECKS)
