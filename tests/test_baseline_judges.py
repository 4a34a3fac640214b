"""Both sides of every verdict of the battery: each check's judge, called as the battery calls it (its Check in
CHECKS, through Check.verdict), on facts built here; passing on a well-run server, failing on each way of being wrong with what it found
and what to change.

The lab (test_baseline.py) runs the battery end to end on real Postfixes, but cannot plant every fault: a 1024-bit
key, a static-RSA suite, STARTTLS not offered, a policy in testing mode. This file plants each without an MTA:
replies are parsed by the client's reply reader, certificates are made with trustme and cryptography and read by
certfacts. DNS is real: the library's own MX, PTR, SPF, DMARC, DANE, MTA-STS and TLS-RPT code asks the plugin's
`Resolver`, which asks tests/zoneserver.py over UDP on loopback; it serves each case's records as a validating
resolver would, zones a case marks insecure without the AD bit, zones it marks servfail with SERVFAIL and zones it
marks bogus with SERVFAIL unless checking is disabled; a case may also have no resolver answer at all. The MTA-STS
cases fetch their policy from a loopback HTTPS server.

A check added to CHECKS without a passing and a failing case in CASES fails test_every_check_has_both_sides_here.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import dns.name
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from unbound import _https_server
from zoneserver import TIMEOUT, ZoneServer, zone

from pytest_smtpcheck.baseline.checks import CHECK_IDS, CHECKS
from pytest_smtpcheck.baseline.facts import AddressFacts, DomainFacts
from pytest_smtpcheck.baseline.settings import BaselineSettings
from pytest_smtpcheck.dns import DNSChecks, Resolver
from pytest_smtpcheck.smtp.mxprobe import MXProbeResult
from pytest_smtpcheck.smtp.reader import ReplyReader
from pytest_smtpcheck.smtp.reply import Reply
from pytest_smtpcheck.smtp.tlsprobe import CIPHER_CLASSES, VERSIONS, Handshake, Outcome, TLSProbeResult
from pytest_smtpcheck.smtp.transcript import Transcript
from pytest_smtpcheck.target import Target

DOMAIN = "example.test"
MX = "mx1.example.test"
ADDRESS = "192.0.2.25"  # RFC 5737: documentation only; nothing here connects to it
REVERSE = "25.2.0.192.in-addr.arpa"
OUTSIDE = "smtpcheck-relay-test@example.net"
NEXT_KEY = hashlib.sha256(b"the key mx1 rolls over to next").hexdigest()
OTHER_KEY = hashlib.sha256(b"a key no certificate here has").hexdigest()
UNTRUSTED = "certificate verify failed: unable to get local issuer certificate (_ssl.c:1000)"


# -- certificates ------------------------------------------------------------------------------------------

def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@cache
def _ca(name: str) -> trustme.CA:
    return trustme.CA(organization_name=name)


@cache
def issued(*names: str, days: float = 90, rsa_key: bool = False) -> tuple[bytes, ...]:
    """The chain a server sends (DER, leaf first): a leaf naming NAMES, valid DAYS more, and its CA."""
    authority = _ca("judges test CA")
    leaf = authority.issue_cert(*names, not_after=datetime.now(timezone.utc) + timedelta(days=days),
                                key_type=trustme.KeyType.RSA if rsa_key else trustme.KeyType.ECDSA)
    return _der(leaf.cert_chain_pems[0].bytes()), _der(authority.cert_pem.bytes())


def good_chain() -> tuple[bytes, ...]:
    return issued(MX)


@cache
def made(key: str, digest: str = "sha256") -> tuple[bytes, ...]:
    """A leaf for MX with a KEY trustme does not make ("rsa1024", "secp256k1", "p256"), signed with DIGEST by an
    issuer of its own (SHA-224 for a weak one: cryptography no longer signs with SHA-1 or MD5; certfacts weighs all
    three alike)."""
    keys: dict[str, Callable[[], Any]] = {
        "rsa1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    }
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, MX)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "judges test issuer")]))
            .public_key(keys[key]().public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(MX)]), critical=False)
            .sign(issuer_key, {"sha256": hashes.SHA256(), "sha224": hashes.SHA224()}[digest]))
    return (leaf.public_bytes(serialization.Encoding.DER),)


def spki(der: bytes) -> str:
    """The `3 1 1` (or `2 1 1`) TLSA data of a certificate: SHA-256 of its SubjectPublicKeyInfo."""
    key = x509.load_der_x509_certificate(der).public_key()
    return hashlib.sha256(key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


# -- the plain session and the handshakes, as the probes record them -------------------------------------------

def reply(wire: str, command: str | None) -> Reply:
    """A reply as the client's reader parses it off the wire (lines separated by "\\n")."""
    reader = ReplyReader()
    reader.feed(wire.replace("\n", "\r\n").encode() + b"\r\n")
    parsed = reader.next_reply(command, command or "the greeting")
    assert parsed is not None
    return parsed


EHLO = f"250-{MX}\n250-PIPELINING\n250-SIZE 10240000\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250 8BITMIME"


def session(*, greeting: str | None = f"220 {MX} ESMTP Postfix", ehlo: str | None = EHLO,
            vrfy_known: str | None = "502 5.5.1 VRFY command is disabled",
            vrfy_unknown: str | None = "502 5.5.1 VRFY command is disabled",
            expn: str | None = "502 5.5.2 Error: command not recognized",
            null_sender: str | None = "250 2.1.0 Ok", postmaster: str | None = "250 2.1.5 Ok",
            relay: str | None = f"554 5.7.1 <{OUTSIDE}>: Relay access denied",
            failure: str | None = None) -> MXProbeResult:
    """The plain session's replies as probe_mx keeps them; None: the session did not get that far."""
    ehlo_reply = reply(ehlo, "EHLO probe.smtpcheck.invalid") if ehlo is not None else None
    capabilities = {}
    if ehlo_reply is not None and ehlo_reply.code == 250:  # as the session reads them
        capabilities = {line.partition(" ")[0].upper(): line.partition(" ")[2] for line in ehlo_reply.lines[1:]}

    def read(wire: str | None, command: str | None) -> Reply | None:
        return reply(wire, command) if wire is not None else None

    return MXProbeResult(
        DOMAIN, OUTSIDE, Transcript(ADDRESS), address=ADDRESS, greeting=read(greeting, None), ehlo=ehlo_reply,
        capabilities=capabilities, vrfy_known=read(vrfy_known, f"VRFY postmaster@{DOMAIN}"),
        vrfy_unknown=read(vrfy_unknown, f"VRFY smtpcheck-0a1b2c3d@{DOMAIN}"), expn=read(expn, "EXPN postmaster"),
        null_sender=read(null_sender, "MAIL FROM:<>"), postmaster=read(postmaster, f"RCPT TO:<postmaster@{DOMAIN}>"),
        relay=read(relay, f"RCPT TO:<{OUTSIDE}>"), failure=failure)


def cut_off(failure: str, greeting: str | None = None) -> MXProbeResult:
    """A session that stopped after GREETING (or before any): nothing after it was asked."""
    return session(greeting=greeting, ehlo=None, vrfy_known=None, vrfy_unknown=None, expn=None, null_sender=None,
                   postmaster=None, relay=None, failure=failure)


REFUSED = "554 5.7.1 mx1.example.test: no SMTP service for you"
NO_SENDER = session(null_sender="553 5.7.1 <>: Sender address rejected", postmaster=None, relay=None)


def tls(*, version: str = "TLSv1.3", cipher: str = "TLS_AES_256_GCM_SHA384", chain: tuple[bytes, ...] | None = None,
        trusted: bool = True, accepted: Iterable[str] = ("TLSv1.2", "TLSv1.3"),
        weak: Mapping[str, str] | None = None) -> TLSProbeResult:
    """A probe that got a session: the default handshake (VERSION, CIPHER, CHAIN), one per version (ACCEPTED ones
    accepted, SSLv3 untestable as with OpenSSL 3), one per weak cipher class (WEAK: class -> the suite it got;
    EXPORT, RC4 and DES untestable as with OpenSSL 3, unless WEAK names them)."""
    weak = weak or {}
    offered = "this client's defaults" if trusted else "this client's defaults, certificate not verified"
    default = Handshake(offered, "accepted", version, cipher)

    def shake(offer: str, outcome: Outcome, got: str | None = None, suite: str | None = None) -> Handshake:
        detail = {"refused": "TLS handshake failed: tlsv1 alert protocol version",
                  "untestable": "this machine's OpenSSL cannot offer it"}.get(outcome, "")
        return Handshake(offer, outcome, got, suite, detail)

    versions = {v: (replace(default, offered=f"{v} (negotiated with this client's defaults)") if v == version
                    else shake(f"{v} only", "untestable") if v == "SSLv3" and v not in accepted
                    else shake(f"{v} only", "accepted", v, "ECDHE-ECDSA-AES128-SHA") if v in accepted
                    else shake(f"{v} only", "refused")) for v in VERSIONS}
    ciphers = {c.name: (shake(f"cipher class {c.name}", "accepted", "TLSv1.2", weak[c.name]) if c.name in weak
                        else shake(f"cipher class {c.name}", "untestable") if c.name in ("EXPORT", "RC4", "DES")
                        else shake(f"cipher class {c.name}", "refused")) for c in CIPHER_CLASSES}
    return TLSProbeResult(None, default, good_chain() if chain is None else chain, trusted,
                          None if trusted else UNTRUSTED, versions, ciphers)


def no_tls(failure: str) -> TLSProbeResult:
    """A probe that got no TLS session, as TLSProbe.run leaves it: no chain, no further handshakes."""
    return TLSProbeResult(failure, Handshake("this client's defaults", "error", detail=failure), (), None, None, {}, {})


HANDSHAKE_FAILED = "TLS handshake failed: sslv3 alert handshake failure"


# -- the facts ---------------------------------------------------------------------------------------------

def records(changes: Mapping[str, list[str] | None] | None = None) -> dict[str, list[str]]:
    """A well-run domain's DNS, with CHANGES (owner -> lines, or None to remove the owner)."""
    chain = good_chain()
    base: dict[str, list[str] | None] = {
        DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx -all"'],
        MX: [f"A {ADDRESS}", "AAAA 2001:db8::25"],
        REVERSE: [f"PTR {MX}."],
        f"_dmarc.{DOMAIN}": [f'TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{DOMAIN}"'],
        f"_smtp._tls.{DOMAIN}": [f'TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{DOMAIN}"'],
        f"_25._tcp.{MX}": [f"TLSA 3 1 1 {spki(chain[0])}", f"TLSA 3 1 1 {NEXT_KEY}"],
        **(changes or {}),
    }
    return {owner: lines for owner, lines in base.items() if lines is not None}


HOSTED = "mail.hosting.test"  # where an MX host that is an alias points, at a hosting provider


def hosted(*, secure_tlsa: bool) -> dict[str, list[str] | None]:
    """MX as an alias of HOSTED, with DANE-TA records at HOSTED (the TLSA base domain, RFC 7672 §2.2.2) or none."""
    return {MX: [f"CNAME {HOSTED}."], HOSTED: [f"A {ADDRESS}"], f"_25._tcp.{MX}": None,
            **({f"_25._tcp.{HOSTED}": [f"TLSA 2 1 1 {spki(issued(HOSTED)[1])}"]} if secure_tlsa else {})}


class Probed(AddressFacts):
    """An MX address whose plain session and handshakes are given instead of run; its certificate, DANE match and
    names are derived from them (and the DNS) by the library, as in a run."""

    def __init__(self, domain: DomainFacts, smtp: MXProbeResult, tls: TLSProbeResult) -> None:
        super().__init__(domain, MX, Target(ADDRESS, {}, mx_host=MX))
        self.given = smtp, tls

    @property
    def smtp(self) -> MXProbeResult:
        return self.given[0]

    @property
    def tls(self) -> TLSProbeResult:
        return self.given[1]


@dataclass
class World:
    """Builds a case's facts: serves its DNS from DNS_SERVER, and starts the loopback HTTPS server for MTA-STS
    policies when a case first needs it."""

    stack: ExitStack
    dns_server: ZoneServer
    sts_server: tuple[int, str] | None = None
    silent: socket.socket | None = None

    def domain(self, changes: Mapping[str, list[str] | None] | None = None, *, insecure: Iterable[str] = (),
               servfail: Iterable[str] = (), bogus: Iterable[str] = (), days_left: int = 14, name: str = DOMAIN,
               https: tuple[int, str] | None = None, unanswered: bool = False) -> DomainFacts:
        """NAME's facts over CHANGES to the well-run records; names under BOGUS fail DNSSEC validation, and with
        UNANSWERED the run's resolver itself never answers."""
        settings = BaselineSettings(enabled=True, domains=(name,), days_left=days_left, spacing=0,
                                    **({"mta_sts_port": https[0], "mta_sts_ca": https[1]} if https else {}))
        self.dns_server.zone = zone(records(changes))
        self.dns_server.insecure = [dns.name.from_text(cut) for cut in insecure]
        self.dns_server.servfail = [dns.name.from_text(cut) for cut in servfail]
        self.dns_server.bogus = [dns.name.from_text(cut) for cut in bogus]
        # a resolver of its own for each case: the Resolver keeps its answers for the run
        resolver = Resolver(*self._silent(), timeout=TIMEOUT) if unanswered else Resolver("127.0.0.1",
                                                                                          self.dns_server.port)
        return DomainFacts(name, DNSChecks(resolver), settings)

    def _silent(self) -> tuple[str, int]:
        """A UDP port on loopback that takes queries and never answers: a resolver that is down."""
        if self.silent is None:
            self.silent = self.stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            self.silent.bind(("127.0.0.1", 0))
        return self.silent.getsockname()

    def address(self, smtp: MXProbeResult | None = None, tls_result: TLSProbeResult | None = None,
                changes: Mapping[str, list[str] | None] | None = None, **dns: Any) -> AddressFacts:
        return Probed(self.domain(changes, **dns), smtp or session(), tls_result or tls())

    def host(self, host: str = MX, changes: Mapping[str, list[str] | None] | None = None,
             **dns: Any) -> tuple[DomainFacts, str]:
        return self.domain(changes, **dns), host

    def sts(self, scenario: str, *, record: str = "v=STSv1; id=20260101;", reachable: bool = True,
            changes: Mapping[str, list[str] | None] | None = None) -> DomainFacts:
        """SCENARIO.example.test, publishing RECORD; its policy (POLICIES[SCENARIO]) is served over loopback HTTPS
        at mta-sts.SCENARIO.example.test, which has an address when REACHABLE. CHANGES go to the records too."""
        if self.sts_server is None:
            ca = _ca("judges MTA-STS CA")
            responses = {f"mta-sts.{name}.{DOMAIN}": served for name, served in POLICIES.items()}
            port = self.stack.enter_context(_https_server(ca, responses, names=tuple(responses)))
            ca_file = self.stack.enter_context(ca.cert_pem.tempfile())
            self.sts_server = port, ca_file
        name = f"{scenario}.{DOMAIN}"
        published: dict[str, list[str] | None] = {name: [f"MX 10 {MX}."], f"_mta-sts.{name}": [f'TXT "{record}"'],
                                                  **(changes or {})}
        if reachable:
            published[f"mta-sts.{name}"] = ["A 127.0.0.1"]
        return self.domain(published, name=name, https=self.sts_server)

    def sts_address(self, scenario: str, tls_result: TLSProbeResult,
                    changes: Mapping[str, list[str] | None] | None = None) -> AddressFacts:
        """An address of MX for SCENARIO.example.test, which publishes the MTA-STS policy POLICIES[SCENARIO]."""
        return Probed(self.sts(scenario, changes=changes), session(), tls_result)


def policy(mode: str = "enforce", mx: str = MX) -> tuple[int, dict[str, str], bytes]:
    """A served policy (status, headers, body) as RFC 8461 §3.2 writes one."""
    text = f"version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 604800\r\n"
    return 200, {"Content-Type": "text/plain"}, text.encode()


POLICIES = {  # scenario -> what https://mta-sts.SCENARIO.example.test/.well-known/mta-sts.txt answers
    "enforce": policy(),
    "wildcard": policy(mx="*.example.test"),
    "testing": policy("testing"),
    "none": policy("none"),
    "elsewhere": policy(mx="mx9.example.test"),
    "missing": (404, {"Content-Type": "text/plain"}, b"not here\n"),
    "broken": (200, {"Content-Type": "text/plain"}, b"version: STSv2\r\nmode: enforce\r\nmx: mx1.example.test\r\n"),
}


# -- the cases ---------------------------------------------------------------------------------------------

Subject = AddressFacts | DomainFacts | tuple[DomainFacts, str]


@dataclass(frozen=True)
class Case:
    """One verdict: FACTS (built by a World) that the check passes or fails; FOUND must be part of what the verdict
    found, CHANGE (failing cases only) part of what it says to change, EVIDENCE part of one evidence line."""

    name: str
    facts: Callable[[World], Subject]
    found: str
    change: str | None = None
    evidence: str | None = None

    @property
    def ok(self) -> bool:
        return self.change is None


def passes(name: str, facts: Callable[[World], Subject], found: str, evidence: str | None = None) -> Case:
    return Case(name, facts, found, None, evidence)


def fails(name: str, facts: Callable[[World], Subject], found: str, change: str, evidence: str | None = None) -> Case:
    return Case(name, facts, found, change, evidence)


def tlsa(*lines: str) -> dict[str, list[str] | None]:
    return {f"_25._tcp.{MX}": [f"TLSA {line}" for line in lines] or None}


CASES: dict[str, tuple[Case, ...]] = {
    # RFC 5321 §3.1: the server greets with 220, or refuses the session with 554 (then only QUIT follows)
    "greeting": (
        passes("220", lambda w: w.address(), f"greeting 220 {MX} ESMTP Postfix"),
        fails("554", lambda w: w.address(cut_off(f"the server refused the session in its greeting: {REFUSED}",
                                                 REFUSED)),
              f"greeting {REFUSED}", "greet with 220 (RFC 5321 §4.2, §3.1)"),
        fails("silent", lambda w: w.address(cut_off("no greeting within 10 s")),
              "no greeting: no greeting within 10 s", "answer with 220 within the timeout"),
    ),
    # RFC 5321 §4.1.1.1: EHLO is answered with 250 and the extensions
    "ehlo": (
        passes("250", lambda w: w.address(),
               "EHLO answered 250 with 8BITMIME, ENHANCEDSTATUSCODES, PIPELINING, SIZE, STARTTLS"),
        fails("502", lambda w: w.address(session(ehlo="502 5.5.1 Error: command not implemented")),
              "EHLO answered 502 5.5.1 Error: command not implemented", "answer EHLO with 250"),
        fails("not-asked", lambda w: w.address(cut_off(f"the server refused the session in its greeting: {REFUSED}",
                                                       REFUSED)),
              "EHLO was not asked: the server refused the session in its greeting", "answer the greeting with 220"),
    ),
    # RFC 3207 §2 and §4: STARTTLS is advertised in the EHLO reply, and a handshake follows its 220
    "starttls": (
        passes("offered", lambda w: w.address(), "STARTTLS offered; TLSv1.3 TLS_AES_256_GCM_SHA384",
               evidence="this client's defaults -> accepted"),
        fails("not-offered", lambda w: w.address(session(ehlo=f"250-{MX}\n250-SIZE 10240000\n250 8BITMIME"),
                                                 no_tls(f"STARTTLS not offered (EHLO: 250-{MX})")),
              "STARTTLS is not offered (EHLO offers 8BITMIME, SIZE)",
              "enable STARTTLS (Postfix: smtpd_tls_security_level = may", evidence="250 8BITMIME"),
        fails("handshake-fails", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "so that a default client can complete the handshake"),
        fails("454", lambda w: w.address(tls_result=no_tls("STARTTLS answered 454 4.7.0 TLS not available")),
              "no TLS session: STARTTLS answered 454 4.7.0", "fix the TLS configuration"),
    ),
    # RFC 4954 §4 and RFC 8314 §3: no plaintext password mechanism before TLS
    "auth-plaintext": (
        passes("not-offered", lambda w: w.address(), "AUTH is not offered before TLS"),
        fails("offered", lambda w: w.address(session(ehlo=f"250-{MX}\n250-AUTH PLAIN LOGIN\n250 STARTTLS")),
              "AUTH PLAIN LOGIN offered before STARTTLS", "smtpd_tls_auth_only = yes"),
        fails("no-ehlo", lambda w: w.address(cut_off("the connection was closed")),
              "no EHLO reply: the connection was closed", "answer EHLO"),
    ),
    # RFC 5321 §3.6.1, RFC 2505 §2: no relaying for unauthenticated clients to outside domains
    "relay": (
        passes("554", lambda w: w.address(), f"RCPT TO:<{OUTSIDE}> refused: 554 5.7.1"),
        passes("450", lambda w: w.address(session(relay="450 4.7.1 Recipient address rejected: try later")),
               f"RCPT TO:<{OUTSIDE}> refused: 450 4.7.1"),
        fails("open", lambda w: w.address(session(relay="250 2.1.5 Ok")),
              f"RCPT TO:<{OUTSIDE}> accepted: 250 2.1.5 Ok - an open relay", "reject_unauth_destination"),
        fails("no-sender", lambda w: w.address(NO_SENDER),
              "the relay question was not reached: no sender was accepted", "accept MAIL FROM:<>"),
    ),
    # RFC 5321 §4.5.1: postmaster@DOMAIN MUST be accepted
    "postmaster": (
        passes("250", lambda w: w.address(), f"RCPT TO:<postmaster@{DOMAIN}>: 250 2.1.5 Ok"),
        fails("550", lambda w: w.address(session(postmaster="550 5.1.1 <postmaster@example.test>: User unknown")),
              f"RCPT TO:<postmaster@{DOMAIN}> refused: 550 5.1.1", "RFC 5321 §4.5.1: it MUST exist"),
        fails("not-asked", lambda w: w.address(NO_SENDER), "postmaster was not asked: no sender was accepted",
              "accept MAIL FROM:<>"),
        # a 4xx defers (§4.2.1: a sender tries again); the battery asks once, so it says deferred, and how to pass
        fails("451-greylisted", lambda w: w.address(session(postmaster="451 4.7.1 Greylisted, try again later")),
              f"RCPT TO:<postmaster@{DOMAIN}> deferred: 451 4.7.1 Greylisted, try again later (a 4xx is temporary",
              "exempt the probing client from greylisting and rate limits, then run again"),
    ),
    # RFC 5321 §4.5.5, §6.1: the null reverse-path of bounces and reports is accepted
    "null-sender": (
        passes("250", lambda w: w.address(), "MAIL FROM:<> accepted: 250 2.1.0 Ok"),
        fails("553", lambda w: w.address(NO_SENDER), "MAIL FROM:<> refused: 553 5.7.1",
              "accept the null sender: bounces and delivery reports come from it (RFC 5321 §4.5.5)"),
        fails("450-rate-limited", lambda w: w.address(session(null_sender="450 4.7.1 Too many connections",
                                                              postmaster=None, relay=None)),
              "MAIL FROM:<> deferred: 450 4.7.1 Too many connections", "exempt the probing client"),
        fails("not-sent", lambda w: w.address(cut_off("the connection was closed", f"220 {MX} ESMTP")),
              "MAIL FROM:<> was not sent: the connection was closed", "answer the greeting and EHLO"),
    ),
    # RFC 5321 §3.5.3 (252: cannot verify, will accept), §7.3 (VRFY and EXPN reveal users)
    "vrfy": (
        passes("disabled", lambda w: w.address(), "VRFY and EXPN confirm no user",
               evidence="VRFY made-up user: 502 5.5.1"),
        passes("252-for-all", lambda w: w.address(session(
            vrfy_known="252 2.0.0 Cannot VRFY user", vrfy_unknown="252 2.0.0 Cannot VRFY user")),
               "VRFY and EXPN confirm no user"),
        fails("confirms", lambda w: w.address(session(vrfy_known="250 2.0.0 postmaster@example.test")),
              "VRFY confirms users (250 2.0.0 postmaster@example.test)", "disable_vrfy_command = yes"),
        fails("tells-apart", lambda w: w.address(session(
            vrfy_known="252 2.0.0 postmaster", vrfy_unknown="550 5.1.1 <smtpcheck-0a1b2c3d>: User unknown")),
              "VRFY tells a real user (252) from a made-up one (550): addresses can be harvested",
              "answer 252 to every name", evidence="VRFY made-up user: 550 5.1.1"),
        fails("expn", lambda w: w.address(session(expn="250 2.0.0 root <root@example.test>")),
              "EXPN expands a list (250 2.0.0 root <root@example.test>)", "disable EXPN"),
        fails("not-asked", lambda w: w.address(cut_off("the connection was closed")),
              "VRFY/EXPN were not asked: the connection was closed", "answer EHLO"),
    ),
    # RFC 1870 §4: SIZE, with the largest message the server takes
    "size": (
        passes("limit", lambda w: w.address(), "SIZE 10240000 advertised"),
        passes("no-limit", lambda w: w.address(session(ehlo=f"250-{MX}\n250 SIZE")), "SIZE (no limit given) advertised"),
        fails("missing", lambda w: w.address(session(ehlo=f"250-{MX}\n250 STARTTLS")), "SIZE is not advertised",
              "advertise SIZE with the limit (RFC 1870)"),
        fails("no-ehlo", lambda w: w.address(cut_off("the connection was closed")),
              "no EHLO reply: the connection was closed", "answer EHLO"),
    ),
    # RFC 8996 §2 (TLS 1.0) and §3 (TLS 1.1): MUST NOT be negotiated; RFC 7568 §3 (SSLv3) likewise
    "tls-version": (
        passes("1.2-and-1.3", lambda w: w.address(), "accepts TLSv1.2 and TLSv1.3 only",
               evidence="TLSv1 only -> refused"),
        passes("1.3-only", lambda w: w.address(tls_result=tls(accepted=("TLSv1.3",))), "accepts TLSv1.3 only"),
        fails("tls-1.0", lambda w: w.address(tls_result=tls(accepted=("TLSv1", "TLSv1.2", "TLSv1.3"))),
              "accepts TLSv1", "accept TLS 1.2 and 1.3 only (RFC 8996; Postfix: smtpd_tls_protocols = >=TLSv1.2)",
              evidence="TLSv1 only -> accepted: TLSv1"),
        fails("tls-1.1", lambda w: w.address(tls_result=tls(accepted=("TLSv1.1", "TLSv1.2", "TLSv1.3"))),
              "accepts TLSv1.1", "RFC 8996"),
        fails("sslv3", lambda w: w.address(tls_result=tls(accepted=("SSLv3", "TLSv1.2", "TLSv1.3"))),
              "accepts SSLv3", "accept TLS 1.2 and 1.3 only"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
    ),
    # RFC 9325 §4.1 (no NULL encryption, no static RSA), RFC 7465 §2 (no RC4)
    "cipher": (
        passes("all-refused", lambda w: w.address(),
               "refuses every weak cipher class tried (EXPORT, RC4, DES: this machine's OpenSSL cannot offer them)",
               evidence="cipher class anonymous -> refused"),
        fails("anonymous", lambda w: w.address(tls_result=tls(weak={"anonymous": "ADH-AES256-GCM-SHA384"})),
              "accepts weak cipher classes: anonymous", "smtpd_tls_exclude_ciphers = aNULL",
              evidence="cipher class anonymous -> accepted: TLSv1.2 ADH-AES256-GCM-SHA384"),
        fails("rc4-and-static-rsa", lambda w: w.address(tls_result=tls(
            weak={"RC4": "RC4-SHA", "static-RSA": "AES256-GCM-SHA384"})),
              "accepts weak cipher classes: RC4, static-RSA", "exclude them"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
    ),
    # RFC 9325 §4.1: prefer suites with forward secrecy; static RSA key transport SHOULD NOT be negotiated
    "forward-secrecy": (
        passes("tls-1.3", lambda w: w.address(), "negotiated TLSv1.3 TLS_AES_256_GCM_SHA384, with forward secrecy"),
        passes("ecdhe", lambda w: w.address(tls_result=tls(version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256")),
               "negotiated TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256, with forward secrecy"),
        fails("static-rsa", lambda w: w.address(tls_result=tls(version="TLSv1.2", cipher="AES256-GCM-SHA384")),
              "negotiated TLSv1.2 AES256-GCM-SHA384, without forward secrecy",
              "prefer ECDHE suites and offer TLS 1.3 (RFC 9325 §4.1; Postfix: smtpd_tls_exclude_ciphers = kRSA)"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
    ),
    # RFC 7672 §3.1: with DANE-EE or DANE-TA records matching, the chain need not verify against a CA store
    "certificate-trust": (
        passes("trusted", lambda w: w.address(), "the chain verifies against the run's CA store"),
        passes("dane-ee", lambda w: w.address(tls_result=tls(trusted=False)),
               "not PKIX-trusted (certificate verify failed: unable to get local issuer certificate"),
        fails("untrusted", lambda w: w.address(tls_result=tls(trusted=False), changes=tlsa()),
              f"the chain is not trusted: {UNTRUSTED}", "serve a certificate from a public CA"),
        # RFC 7672 §2.2: TLSA records that do not validate are not used
        fails("unsigned-tlsa", lambda w: w.address(tls_result=tls(trusted=False), insecure=[MX]),
              f"the chain is not trusted: {UNTRUSTED}", "or publish DANE-EE TLSA records"),
        # RFC 8461 §4.2: under a published MTA-STS policy, senders want a chain to a root they trust, whatever DANE
        # says (§5: in enforce mode they do not deliver to a host that fails; in testing mode they report it)
        fails("dane-under-mta-sts-enforce", lambda w: w.sts_address("enforce", tls(trusted=False)),
              "DANE authenticates it, but enforce.example.test publishes an MTA-STS policy (mode enforce)",
              "serve a certificate from a public CA", evidence="TLSA(3 1 1 "),
        fails("dane-under-mta-sts-testing", lambda w: w.sts_address("testing", tls(trusted=False)),
              "DANE authenticates it, but testing.example.test publishes an MTA-STS policy (mode testing)",
              "RFC 8461 §4.2"),
        passes("dane-under-mta-sts-none", lambda w: w.sts_address("none", tls(trusted=False)),
               "but DANE authenticates it"),  # mode none: senders apply no policy (RFC 8461 §5)
        fails("untrusted-under-mta-sts", lambda w: w.sts_address("enforce", tls(trusted=False), tlsa()),
              f"the chain is not trusted: {UNTRUSTED}", "a certificate from a public CA, with its intermediates: "
              "enforce.example.test publishes an MTA-STS policy (mode enforce), and its senders accept no other, DANE "
              "or not (RFC 8461 §4.2)"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
    ),
    # RFC 6125 §6.4: the subjectAltName names the host (a wildcard only as the whole left-most label, §6.4.3)
    "certificate-name": (
        passes("exact", lambda w: w.address(), f"the certificate names {MX} (as {MX})"),
        passes("wildcard", lambda w: w.address(tls_result=tls(chain=issued("*.example.test")), changes=tlsa()),
               f"the certificate names {MX} (as *.example.test)"),
        # RFC 7672 §3.1.1: with DANE-EE the names are not checked
        passes("dane-ee", lambda w: w.address(tls_result=tls(chain=issued("localhost")),
                                              changes=tlsa(f"3 1 1 {spki(issued('localhost')[0])}")),
               f"the certificate does not name {MX}, but DANE-EE authenticates it"),
        # RFC 8461 §4.2: under a published MTA-STS policy the certificate names the MX host, whatever DANE says
        fails("dane-ee-under-mta-sts", lambda w: w.sts_address(
            "enforce", tls(chain=issued("localhost")), tlsa(f"3 1 1 {spki(issued('localhost')[0])}")),
              f"the certificate does not name {MX}; DANE-EE authenticates it, but enforce.example.test publishes an "
              "MTA-STS policy (mode enforce)", f"add {MX} to the certificate's subjectAltName"),
        passes("dane-ee-under-mta-sts-none", lambda w: w.sts_address(
            "none", tls(chain=issued("localhost")), tlsa(f"3 1 1 {spki(issued('localhost')[0])}")),
               f"the certificate does not name {MX}, but DANE-EE authenticates it"),
        fails("localhost", lambda w: w.address(tls_result=tls(chain=issued("localhost")), changes=tlsa()),
              f"the certificate names localhost, not the MX host {MX}",
              f"add {MX} to the certificate's subjectAltName", evidence="names: localhost"),
        fails("deeper-wildcard", lambda w: w.address(tls_result=tls(chain=issued("*.test")), changes=tlsa()),
              f"the certificate names *.test, not the MX host {MX}", "subjectAltName"),
        # RFC 7672 §3.2.2: with DANE-TA the certificate must still name the host
        fails("dane-ta", lambda w: w.address(tls_result=tls(chain=issued("localhost")),
                                             changes=tlsa(f"2 1 1 {spki(issued('localhost')[1])}")),
              f"the certificate names localhost, not the MX host {MX}", f"add {MX}"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
        # RFC 7672 §3.2.2: with DANE-TA, a name the MX host securely expands to (the TLSA base domain) counts too
        passes("dane-ta-expanded-name", lambda w: w.address(tls_result=tls(chain=issued(HOSTED)),
                                                            changes=hosted(secure_tlsa=True)),
               f"the certificate names {HOSTED}, the TLSA base domain {MX} expands to"),
        fails("expanded-name-without-dane", lambda w: w.address(tls_result=tls(chain=issued(HOSTED)),
                                                                changes=hosted(secure_tlsa=False)),
              f"the certificate names {HOSTED}, not the MX host {MX}", f"add {MX}"),
        fails("expanded-name-insecure", lambda w: w.address(tls_result=tls(chain=issued(HOSTED)),
                                                            changes=hosted(secure_tlsa=True), insecure=["hosting.test"]),
              f"the certificate names {HOSTED}, not the MX host {MX}", f"add {MX}"),
        fails("expanded-name-under-mta-sts", lambda w: w.sts_address("enforce", tls(chain=issued(HOSTED)),
                                                                     hosted(secure_tlsa=True)),
              f"the certificate does not name {MX}; DANE-TA authenticates it as {HOSTED}, but enforce.example.test "
              "publishes an MTA-STS policy", "RFC 8461 §4.2"),
    ),
    # RFC 5280 §4.1.2.5: notAfter; the battery wants the threshold's days left (smtp_baseline_days_left)
    "certificate-expiry": (
        passes("90-days", lambda w: w.address(), "89 days left (threshold 14)"),
        passes("at-the-threshold", lambda w: w.address(tls_result=tls(chain=issued(MX, days=14.05))),
               "14 days left (threshold 14)"),
        fails("below-the-threshold", lambda w: w.address(tls_result=tls(chain=issued(MX, days=13.95))),
              "the certificate expires in 13 days", "renew it (and check that renewal is automated)",
              evidence="(13 days left)"),
        fails("expired", lambda w: w.address(tls_result=tls(chain=issued(MX, days=-3))),
              "the certificate expired", "renew it"),
        fails("threshold-setting", lambda w: w.address(tls_result=tls(chain=issued(MX, days=20.05)), days_left=30),
              "the certificate expires in 20 days", "renew it"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
    ),
    # NCSC-NL TLS guidelines as internet.nl applies them: RSA 2048+, P-256/P-384/P-521, no SHA-1 or MD5
    "certificate-key": (
        passes("p256", lambda w: w.address(), "EC secp256r1, signed with sha256"),
        passes("rsa-2048", lambda w: w.address(tls_result=tls(chain=issued(MX, rsa_key=True)), changes=tlsa()),
               "RSA 2048, signed with sha256"),
        fails("rsa-1024", lambda w: w.address(tls_result=tls(chain=made("rsa1024")), changes=tlsa()),
              "an RSA key of 1024 bits is too short: use at least 2048",
              "reissue the certificate with an RSA 2048+ or ECDSA P-256/P-384 key", evidence="key: RSA 1024"),
        fails("secp256k1", lambda w: w.address(tls_result=tls(chain=made("secp256k1")), changes=tlsa()),
              "the curve secp256k1 is not one of secp256r1, secp384r1, secp521r1", "ECDSA P-256/P-384 key"),
        fails("sha224", lambda w: w.address(tls_result=tls(chain=made("p256", "sha224")), changes=tlsa()),
              f"CN={MX} is signed with sha224", "signed with SHA-256 or better"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session: {HANDSHAKE_FAILED}", "the starttls check"),
    ),
    # RFC 7672 §2.2 (DNSSEC-validated TLSA at _25._tcp.MX), §3.1.1 (DANE-EE), §3.1.2 (DANE-TA), §3.1.3 (PKIX-TA
    # and PKIX-EE are unusable for SMTP)
    "dane": (
        passes("dane-ee", lambda w: w.address(), "TLSA(3 1 1 ", evidence=f"TLSA records at _25._tcp.{MX}"),
        passes("dane-ta", lambda w: w.address(changes=tlsa(f"2 1 1 {spki(good_chain()[1])}")),
               "TLSA(2 1 1 "),
        fails("none", lambda w: w.address(changes=tlsa()), f"no TLSA records at _25._tcp.{MX}",
              f"publish DNSSEC-signed TLSA records at _25._tcp.{MX} (RFC 7672)"),
        fails("unsigned", lambda w: w.address(insecure=[MX]),
              f"the TLSA records at _25._tcp.{MX} are not DNSSEC-signed: senders ignore them",
              "sign the zone"),
        fails("pkix-ee-only", lambda w: w.address(changes=tlsa(f"1 1 1 {spki(good_chain()[0])}")),
              "no usable TLSA record (usages 2 and 3 only count for SMTP, RFC 7672 §3.1.3)",
              "publish DANE-EE (3 1 1) or DANE-TA (2 1 1) records", evidence="TLSA(1 1 1 "),
        fails("mismatch", lambda w: w.address(changes=tlsa(f"3 1 1 {OTHER_KEY}")),
              "no TLSA record matches the certificate chain presented", "publish a record for the key in use"),
        fails("no-tls", lambda w: w.address(tls_result=no_tls(HANDSHAKE_FAILED)),
              f"no TLS session to match the TLSA records against: {HANDSHAKE_FAILED}", "the starttls check"),
        fails("servfail", lambda w: w.address(servfail=[f"_25._tcp.{MX}"]),
              f"TLSA lookup for the MX host {MX} failed", "make the TLSA lookup answer"),
    ),
    # RFC 7671 §8.1: publish the next key's record (or the issuer's) before a rollover
    "dane-rollover": (
        passes("current-and-next", lambda w: w.address(), "2 usable TLSA records: a rollover can be staged"),
        passes("key-and-issuer", lambda w: w.address(changes=tlsa(f"3 1 1 {spki(good_chain()[0])}",
                                                                  f"2 1 1 {spki(good_chain()[1])}")),
               "2 usable TLSA records"),
        fails("one", lambda w: w.address(changes=tlsa(f"3 1 1 {spki(good_chain()[0])}")),
              "1 usable TLSA record: a key or certificate change breaks DANE until DNS catches up",
              "publish two: the current and the next key"),
        fails("one-usable", lambda w: w.address(changes=tlsa(f"3 1 1 {spki(good_chain()[0])}",
                                                             f"1 1 1 {spki(good_chain()[0])}")),
              "1 usable TLSA record", "publish two", evidence="TLSA(1 1 1 "),
        fails("none", lambda w: w.address(changes=tlsa()), f"no TLSA records at _25._tcp.{MX}",
              f"publish DNSSEC-signed TLSA records at _25._tcp.{MX}"),
    ),
    # RFC 1912 §2.1: every address has a PTR record, and the name it gives has the address
    "fcrdns": (
        passes("confirmed", lambda w: w.address(), f"{ADDRESS} -> {MX} -> {ADDRESS}"),
        passes("session-failed", lambda w: w.address(cut_off("no greeting within 10 s")),
               f"{ADDRESS} -> {MX} -> {ADDRESS}"),  # the PTR is DNS's business, whatever the session did
        fails("no-ptr", lambda w: w.address(changes={REVERSE: None}), f"{ADDRESS} has no PTR record",
              f"publish a PTR record for {ADDRESS} naming {MX}"),
        fails("not-back", lambda w: w.address(changes={REVERSE: ["PTR mail.elsewhere.test."],
                                                       "mail.elsewhere.test": ["A 192.0.2.99"]}),
              f"PTR names mail.elsewhere.test do not resolve back to {ADDRESS}",
              "make the PTR name's A/AAAA record point back to the address"),
        fails("servfail", lambda w: w.address(servfail=["2.0.192.in-addr.arpa"]),
              f"PTR lookup for {ADDRESS} failed", "fix the reverse zone"),
    ),
    # RFC 5321 §4.1.4 and §4.3.1: the greeting and EHLO name the server; receivers compare them with its FCrDNS
    "banner": (
        passes("ptr-name", lambda w: w.address(), f"greeting and EHLO name {MX}, the FCrDNS name of {ADDRESS}"),
        fails("localhost", lambda w: w.address(session(greeting="220 localhost ESMTP")),
              f"the greeting names localhost, but {ADDRESS} is {MX} (FCrDNS)", "(Postfix: myhostname)"),
        fails("no-ptr", lambda w: w.address(changes={REVERSE: None}),
              f"{ADDRESS} has no forward-confirmed reverse DNS name (no PTR record)", "greet and answer EHLO"),
        fails("session-failed", lambda w: w.address(cut_off("no greeting within 10 s")),
              "no greeting and EHLO to compare: no greeting within 10 s", "answer the greeting with 220, then EHLO"),
        fails("servfail", lambda w: w.address(servfail=["2.0.192.in-addr.arpa"]),
              f"PTR lookup for {ADDRESS} failed", "see the fcrdns check"),
    ),
    # internet.nl: each MX host reachable over IPv6
    "ipv6": (
        passes("aaaa", lambda w: w.host(), f"{MX} has IPv6: 2001:db8::25"),
        fails("a-only", lambda w: w.host(changes={MX: [f"A {ADDRESS}"]}), f"{MX} has no IPv6 address ({ADDRESS})",
              f"publish an AAAA record for {MX}"),
        fails("servfail", lambda w: w.host(servfail=[MX]), f"address lookup for {MX} failed",
              "make the DNS answer"),
        fails("bogus", lambda w: w.host(bogus=[MX]), f"address lookup for {MX} failed", "re-sign the zone"),
        # an MX host without an address, and unknown MX hosts: test_no_check_judges_a_host_or_address_dns_did_not_give
        # RFC 5321 §5.1: no MX record, so the domain's own address is the MX (the implicit MX)
        passes("implicit-mx", lambda w: w.host(DOMAIN, {DOMAIN: [f"A {ADDRESS}", "AAAA 2001:db8::25"]}),
               f"{DOMAIN} has IPv6: 2001:db8::25"),
    ),
    # RFC 2181 §10.3: an MX record names a host with addresses, not an alias; RFC 5321 §5.1: a name, not an address
    "mx-cname": (
        passes("host", lambda w: w.host(), f"{MX} is a host name with its own addresses, not an alias"),
        fails("alias", lambda w: w.host("alias.example.test", {"alias.example.test": [f"CNAME {MX}."]}),
              f"the MX host alias.example.test is an alias (CNAME to {MX})", f"point the MX record at {MX} itself"),
        fails("address", lambda w: w.host(ADDRESS), f"the MX record names the address {ADDRESS}, not a host",
              "point the MX record at a host name"),
        fails("servfail", lambda w: w.host(servfail=[MX]), f"CNAME lookup for {MX} failed", "make the DNS answer"),
        passes("implicit-mx", lambda w: w.host(DOMAIN, {DOMAIN: [f"A {ADDRESS}"]}),
               f"{DOMAIN} is a host name with its own addresses, not an alias"),
    ),
    # RFC 5321 §5.1 (MX, else the implicit MX of the domain's own address), RFC 7505 (null MX)
    "mx": (
        passes("mx", lambda w: w.domain(), f"MX: {MX}"),
        passes("null-mx", lambda w: w.domain({DOMAIN: ["MX 0 ."]}), "publishes a null MX (RFC 7505)"),
        fails("implicit", lambda w: w.domain({DOMAIN: [f"A {ADDRESS}"]}),
              f"no MX record: mail goes to {DOMAIN}'s own address (the implicit MX)", "publish an MX record"),
        fails("nxdomain", lambda w: w.domain(name="nowhere.test"), "nowhere.test does not exist (NXDOMAIN)",
              "publish MX records"),
        fails("servfail", lambda w: w.domain(servfail=[DOMAIN]), f"MX lookup for {DOMAIN} failed: DNS query "
              f"{DOMAIN} MX: the resolver at 127.0.0.1", "make the DNS answer"),
        fails("bogus", lambda w: w.domain(bogus=[DOMAIN]), f"MX lookup for {DOMAIN} failed: DNS query {DOMAIN} MX: "
              "DNSSEC validation failed (bogus)", "re-sign the zone"),
        fails("no-resolver", lambda w: w.domain(unanswered=True), f"MX lookup for {DOMAIN} failed: DNS query "
              f"{DOMAIN} MX: no answer from the resolver", "check that the resolver the run asks answers"),
    ),
    # RFC 4033 (DNSSEC); RFC 7672 §2.1: DANE needs validated answers for the domain and its MX hosts
    "dnssec": (
        passes("signed", lambda w: w.domain(), "the domain and every MX host validate with DNSSEC",
               evidence=f"{DOMAIN} MX: secure (AD)"),
        fails("unsigned", lambda w: w.domain(insecure=[DOMAIN]), f"not DNSSEC-validated: {DOMAIN}, {MX}",
              "sign the zones", evidence=f"{DOMAIN} MX: insecure (no AD bit)"),
        fails("mx-host-unsigned", lambda w: w.domain({DOMAIN: ["MX 10 mx.hoster.test."],
                                                      "mx.hoster.test": [f"A {ADDRESS}"]}, insecure=["hoster.test"]),
              "not DNSSEC-validated: mx.hoster.test", "publish the DS records at the parent",
              evidence="mx.hoster.test A: insecure (no AD bit)"),
        # RFC 4035 §5.5: signed, but the signatures do not validate (bogus): validating resolvers answer SERVFAIL
        fails("bogus", lambda w: w.domain(bogus=[DOMAIN]),
              f"signed, but failing DNSSEC validation (bogus): {DOMAIN}", "re-sign the zone",
              evidence=f"{DOMAIN} MX: bogus"),
        fails("mx-host-bogus", lambda w: w.domain({DOMAIN: ["MX 10 mx.hoster.test."],
                                                   "mx.hoster.test": [f"A {ADDRESS}"]}, bogus=["hoster.test"]),
              "signed, but failing DNSSEC validation (bogus): mx.hoster.test", "DS record at the parent"),
        fails("servfail", lambda w: w.domain(servfail=[DOMAIN]), f"the DNSSEC state is unknown: {DOMAIN} MX: DNS "
              f"query {DOMAIN} MX: the resolver", "make the DNS answer"),
    ),
    # RFC 7208: one record (§3.2, §4.5), at most 10 DNS-querying terms (§4.6.4), ending in a fail or softfail
    # for everyone else (`all`, §5.1; after `all` nothing is evaluated, and modifiers may follow it, §6)
    "spf": (
        passes("dash-all", lambda w: w.domain(), "SPF v=spf1 mx -all"),
        passes("tilde-all", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx ~all"']}), "SPF v=spf1 mx ~all"),
        passes("redirect", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 redirect=_spf.example.test"'],
                                               "_spf.example.test": ['TXT "v=spf1 mx:example.test -all"']}),
               "SPF v=spf1 redirect=_spf.example.test"),
        passes("exp-after-all", lambda w: w.domain({
            DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx -all exp=why.example.test"'],
            "why.example.test": ['TXT "%{i} is not one of our mail servers"']}), "SPF v=spf1 mx -all exp="),
        passes("upper-case", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx -ALL"']}),
               "SPF v=spf1 mx -ALL"),  # RFC 7208 §4.6.1: mechanism names are case-insensitive
        fails("none", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}."]}), "no SPF record",
              f'publish exactly one TXT record at {DOMAIN} beginning "v=spf1", e.g. "v=spf1 mx -all"'),
        fails("two", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx -all"', 'TXT "v=spf1 a -all"']}),
              "2 SPF records at example.test; RFC 7208 §4.5 makes that a permerror", "publish exactly one"),
        fails("question-all", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx ?all"']}),
              "the record gives other hosts neutral (?all): they are not refused", "end it in -all (or ~all)"),
        fails("no-all", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx"']}),
              "the record has no all and no redirect=: other hosts get neutral (RFC 7208 §4.7)", "end it in -all"),
        fails("plus-all", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 mx +all"']}),
              "+all in example.test: every host on the internet passes", "fix the record"),
        fails("too-many-lookups", lambda w: w.domain({
            DOMAIN: [f"MX 10 {MX}.", f'TXT "v=spf1 {" ".join(f"a:h{n}.example.test" for n in range(11))} -all"'],
            **{f"h{n}.example.test": [f"A 192.0.2.{n + 100}"] for n in range(11)}}),
              "11 DNS-querying terms", "at most 10 DNS-querying terms"),
        fails("syntax", lambda w: w.domain({DOMAIN: [f"MX 10 {MX}.", 'TXT "v=spf1 ip4:192.0.2.300 -all"']}),
              "bad ip4 address or prefix length", "fix the record"),
        fails("bogus", lambda w: w.domain(bogus=[DOMAIN]), f"TXT lookup for {DOMAIN} failed: DNS query {DOMAIN} TXT: "
              "DNSSEC validation failed (bogus)", "re-sign the zone"),
    ),
    # RFC 9989: p=quarantine or reject (none and t=y act on nothing), reports to rua
    "dmarc": (
        passes("reject", lambda w: w.domain(), f"p=reject, reports to mailto:dmarc@{DOMAIN}"),
        fails("none", lambda w: w.domain({f"_dmarc.{DOMAIN}": None}), "no DMARC record",
              f'publish exactly one TXT record at _dmarc.{DOMAIN}: "v=DMARC1; p=reject;'),
        fails("two", lambda w: w.domain({f"_dmarc.{DOMAIN}": ['TXT "v=DMARC1; p=reject"', 'TXT "v=DMARC1; p=none"']}),
              f"2 DMARC records at _dmarc.{DOMAIN}: receivers discard them all", "publish exactly one"),
        fails("p=none", lambda w: w.domain({f"_dmarc.{DOMAIN}": [f'TXT "v=DMARC1; p=none; rua=mailto:d@{DOMAIN}"']}),
              "policy none: receivers act on nothing", "set p=quarantine or p=reject"),
        fails("testing", lambda w: w.domain({f"_dmarc.{DOMAIN}": [
            f'TXT "v=DMARC1; p=quarantine; t=y; rua=mailto:d@{DOMAIN}"']}),
              "policy none: receivers act on nothing; t=y (testing): RFC 9989 receivers apply one level less "
              "(quarantine becomes none)", "set p=quarantine or p=reject without t=y"),
        fails("no-rua", lambda w: w.domain({f"_dmarc.{DOMAIN}": ['TXT "v=DMARC1; p=quarantine"']}),
              "p=quarantine, but no report destination (rua)", "add rua=mailto:"),
        fails("pct", lambda w: w.domain({f"_dmarc.{DOMAIN}": [f'TXT "v=DMARC1; p=reject; pct=50; rua=mailto:d@{DOMAIN}"']}),
              "pct=50 is obsolete", "fix the record (RFC 9989)"),
        fails("servfail", lambda w: w.domain(servfail=[f"_dmarc.{DOMAIN}"]),
              f"TXT lookup for _dmarc.{DOMAIN} failed: DNS query _dmarc.{DOMAIN} TXT: the resolver",
              "make the DNS answer"),
    ),
    # RFC 8461: the record (§3.1), the policy fetched over HTTPS (§3.2, §3.3), every MX host matched (§4.1),
    # and mode enforce (§5: testing and none deliver whatever TLS gives)
    "mta-sts": (
        passes("not-published", lambda w: w.domain(),
               f"no MTA-STS policy published (no TXT at _mta-sts.{DOMAIN})"),
        passes("enforce", lambda w: w.sts("enforce"), f"MTA-STS mode enforce for {MX}"),
        passes("wildcard", lambda w: w.sts("wildcard"), "MTA-STS mode enforce for *.example.test"),
        fails("testing", lambda w: w.sts("testing"),
              "policy mode testing: senders report TLS failures but deliver anyway (RFC 8461 §5)", "mode: enforce"),
        fails("none", lambda w: w.sts("none"), "policy mode none: senders act as if there were no policy",
              "mode: enforce"),
        fails("mx-not-matched", lambda w: w.sts("elsewhere"),
              f"MX host {MX} does not match the policy's mx patterns ['mx9.example.test']",
              "https://mta-sts.elsewhere.example.test/.well-known/mta-sts.txt (RFC 8461)"),
        fails("404", lambda w: w.sts("missing"), "/.well-known/mta-sts.txt answered HTTP 404",
              "fix the record or the policy"),
        fails("bad-policy", lambda w: w.sts("broken"), "policy version is 'STSv2', not 'STSv1'", "fix the record"),
        fails("no-address", lambda w: w.sts("unreachable", reachable=False),
              "mta-sts.unreachable.example.test has no A/AAAA record: the policy cannot be fetched",
              "fix the record or the policy"),
        fails("no-id", lambda w: w.sts("enforce", record="v=STSv1;"), "has no id= field", "fix the record"),
        fails("servfail", lambda w: w.domain(servfail=[f"_mta-sts.{DOMAIN}"]),
              f"TXT lookup for _mta-sts.{DOMAIN} failed: DNS query _mta-sts.{DOMAIN} TXT: the resolver",
              "make the DNS answer"),
        fails("no-resolver", lambda w: w.domain(unanswered=True), f"TXT lookup for _mta-sts.{DOMAIN} failed: DNS "
              f"query _mta-sts.{DOMAIN} TXT: no answer from the resolver", "check that the resolver the run asks"),
    ),
    # RFC 8460 §3: one `v=TLSRPTv1;` record with mailto: or https: report addresses
    "tls-rpt": (
        passes("rua", lambda w: w.domain(), f"TLS reports to mailto:tlsrpt@{DOMAIN}"),
        fails("none", lambda w: w.domain({f"_smtp._tls.{DOMAIN}": None}), "no TLS-RPT record",
              f'publish exactly one TXT record at _smtp._tls.{DOMAIN}: "v=TLSRPTv1;'),
        fails("two", lambda w: w.domain({f"_smtp._tls.{DOMAIN}": [f'TXT "v=TLSRPTv1; rua=mailto:a@{DOMAIN}"',
                                                                  f'TXT "v=TLSRPTv1; rua=mailto:b@{DOMAIN}"']}),
              f"2 TLS-RPT records at _smtp._tls.{DOMAIN}: senders use none", "publish exactly one"),
        fails("no-rua", lambda w: w.domain({f"_smtp._tls.{DOMAIN}": ['TXT "v=TLSRPTv1;"']}),
              f"the record at _smtp._tls.{DOMAIN} has no rua= report address", "fix the record (RFC 8460 §3)"),
        fails("ftp", lambda w: w.domain({f"_smtp._tls.{DOMAIN}": ['TXT "v=TLSRPTv1; rua=ftp://reports.example.test"']}),
              "rua 'ftp://reports.example.test' is neither mailto: nor https:", "fix the record"),
        fails("servfail", lambda w: w.domain(servfail=[f"_smtp._tls.{DOMAIN}"]),
              f"TXT lookup for _smtp._tls.{DOMAIN} failed: DNS query _smtp._tls.{DOMAIN} TXT: the resolver",
              "make the DNS answer"),
    ),
}

CHECK = {check.id: check for check in CHECKS}
SUBJECTS = {"address": AddressFacts, "host": tuple, "domain": DomainFacts}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with ExitStack() as stack:
        dns_server = ZoneServer()
        stack.callback(dns_server.close)
        yield World(stack, dns_server)


@pytest.mark.parametrize("check_id,case", [pytest.param(check_id, case, id=f"{check_id}-{'pass' if case.ok else 'fail'}"
                                                                        f"-{case.name}")
                                           for check_id, cases in CASES.items() for case in cases])
def test_verdict(world: World, check_id: str, case: Case) -> None:
    check = CHECK[check_id]
    subject = case.facts(world)
    assert isinstance(subject, SUBJECTS[check.scope])  # the facts the battery hands this check
    verdict = check.verdict(subject)
    shown = f"found: {verdict.found}\nchange: {verdict.change}\nevidence: {verdict.evidence}"
    assert verdict.ok is case.ok, shown
    assert case.found in verdict.found, shown
    if case.change is None:
        assert verdict.change == "", shown
    else:
        assert case.change in verdict.change, shown
    if case.evidence is not None:
        assert any(case.evidence in line for line in verdict.evidence), shown


def test_every_check_has_both_sides_here() -> None:
    """A check added to the battery needs a passing and a failing case above; a case for a check that is gone is
    stale."""
    sides = {(check_id, case.ok) for check_id, cases in CASES.items() for case in cases}
    assert all(case.found and case.change != "" for cases in CASES.values() for case in cases)
    missing = [f"{check_id}: no {'passing' if ok else 'failing'} case" for check_id in CHECK_IDS for ok in (True, False)
               if (check_id, ok) not in sides]
    assert missing == []
    assert set(CASES) == set(CHECK_IDS)


# -- MX hosts and addresses DNS did not give ---------------------------------------------------------------------

UNFOUND = {  # how the plan got no MX host or no address: the domain's records, the host the battery names, and
    # what every host and address check then finds and says to change
    "mx-lookup-bogus": (dict[str, list[str] | None](), [DOMAIN], DOMAIN,
                        f"the MX hosts of {DOMAIN} could not be found: MX lookup for {DOMAIN} failed: DNS query "
                        f"{DOMAIN} MX: DNSSEC validation failed (bogus)", "re-sign the zone"),
    "implicit-mx-without-address": ({DOMAIN: ['TXT "v=spf1 -all"']}, [], DOMAIN,
                                    f"the MX hosts of {DOMAIN} could not be found: {DOMAIN} has no MX and no A/AAAA "
                                    "record", "publish MX records for the domain's mail hosts"),
    "mx-host-without-address": ({MX: None}, [], MX, f"the MX host {MX} has no A or AAAA record",
                                f"publish A and AAAA records for {MX}"),
}


@pytest.mark.parametrize("how", list(UNFOUND))
@pytest.mark.parametrize("check", [check for check in CHECKS if check.scope != "domain"], ids=lambda check: check.id)
def test_no_check_judges_a_host_or_address_dns_did_not_give(world: World, check: Any, how: str) -> None:
    """The plan (pytest_smtpcheck/mx.py) makes one target for a domain whose MX hosts are unknown (the MX lookup
    failed), and one per MX host without an address: every host and address check fails saying so, with the
    change that makes DNS give them; none passes, and none judges the domain (or an address) it was not given."""
    from pytest_smtpcheck.mx import plan

    changes, bogus, host, found, change = UNFOUND[how]
    domain = world.domain(changes, bogus=bogus)
    entry = next(entry for entry in plan(domain.dns, DOMAIN) if entry.host == host)
    assert entry.address is None and entry.problem
    subject = (domain, host) if check.scope == "host" else AddressFacts(
        domain, host, Target(host, {}, mx_host=host, problem=entry.problem))
    verdict = check.verdict(subject)
    assert not verdict.ok and found in verdict.found and change in verdict.change, verdict


def test_a_null_mx_leaves_no_host_or_address_to_check(world: World) -> None:
    """RFC 7505: a null MX says the domain takes no mail; the battery skips its host and address checks, saying
    so, and judges the domain's own records."""
    from pytest_smtpcheck.baseline.checks import inapplicable

    domain = world.domain({DOMAIN: ["MX 0 ."]})
    reasons = {check.id: inapplicable(check, domain) for check in CHECKS}
    assert {check_id for check_id, reason in reasons.items() if reason is None} == {
        check.id for check in CHECKS if check.scope == "domain"}
    assert reasons["relay"] == reasons["ipv6"] == (f"{DOMAIN} publishes a null MX (RFC 7505): it takes no mail, so "
                                                   "it has no MX host or address to check")
    assert check_verdict_of_null_mx_passes(domain)
    assert all(inapplicable(check, world.domain()) is None for check in CHECKS)


def check_verdict_of_null_mx_passes(domain: DomainFacts) -> bool:
    """Asked anyway, a host check of a null-MX domain finds nothing wrong: there is no host to judge."""
    verdict = CHECK["ipv6"].verdict((domain, DOMAIN))
    return verdict.ok and verdict.found == (f"{DOMAIN} publishes a null MX (RFC 7505): it takes no mail, and says so: "
                                            "it has no MX host to judge")


def test_a_judge_that_could_not_finish_says_what_failed_and_what_to_change(world: World) -> None:
    """The pytest face's safety net for a judge whose own look-up raised: the verdict names the failure, and the
    change fits its kind (a bogus answer, DNS that does not answer, a server that does not, the battery's own
    mistake)."""
    from pytest_smtpcheck.baseline.checks import unjudged
    from pytest_smtpcheck.errors import ConnectFailed, SessionMisuse

    domain = world.domain(bogus=[DOMAIN])
    with pytest.raises(Exception) as bogus:
        domain.dns.mx(DOMAIN)
    domain = world.domain(servfail=[DOMAIN])
    with pytest.raises(Exception) as servfail:
        domain.dns.mx(DOMAIN)
    verdicts = [unjudged(error) for error in (bogus.value, servfail.value, ConnectFailed("connection refused"),
                                               SessionMisuse("no CR or LF in a command"))]
    assert [verdict.ok for verdict in verdicts] == [False] * 4
    assert verdicts[0].found == f"a DNS lookup the check needs failed: {bogus.value}"
    assert "re-sign the zone" in verdicts[0].change
    assert "make the DNS answer" in verdicts[1].change and "re-sign" not in verdicts[1].change
    assert verdicts[2].found == "the check could not finish: connection refused"
    assert "make the server answer" in verdicts[2].change
    assert "a fault of the battery, not of the server" in verdicts[3].change
