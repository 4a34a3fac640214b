"""What the battery learns about a domain and each MX address, each probe run once and shared by the checks.

An address's plain session, its TLS handshakes, its certificate and DANE match are
made on the first check that needs them and kept: eleven checks of one address
cost one plain session and one handshake per TLS version and cipher class, not
eleven of each. Thread-safe (one lock per probe), so checks of different addresses
can run at once while those of one address wait for its probes. Under pytest-xdist
the plain session and the handshakes are each run once per run, whichever worker
asks first: it claims the probe in the run directory and publishes the result there
as JSON; the other workers read it (RunDirectory.once, as `.smtp` files do). The DNS
facts (PTR, TLSA) are looked up by each worker that judges them. No pytest here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..dns import DNSCheckError, DNSSECBogus
from ..settings import Declared

if TYPE_CHECKING:
    from ..dns import DaneResult, DMARCResult, DNSChecks, HostNames, MTASTSResult, SPFResult, TLSAResult, TLSRPTResult
    from ..dns.records import MXTargets
    from ..execution import RunDirectory
    from ..smtp.certfacts import CertificateFacts
    from ..smtp.mxprobe import MXProbeResult
    from ..smtp.reply import Reply
    from ..smtp.session import SMTPSession
    from ..smtp.tls import ProbeTLSSettings
    from ..smtp.tlsprobe import TLSProbeResult
    from ..target import Target
    from .settings import BaselineSettings

__all__ = ["AddressFacts", "DomainFacts", "Lookup", "probe_ahead"]

T = TypeVar("T")
DANE_PORT = 25
MAX_CNAME_CHAIN = 8  # a longer chain is a loop or a mistake: the expansion stops there


@dataclass(frozen=True)
class Lookup:
    """A DNS answer for a check, or the failure that stands in its place (its kind tells a bogus answer from a
    name server that does not answer)."""

    value: object
    error: DNSCheckError | None = None


class _Memo:
    """Each fact computed once, under the object's lock: the checks that share it wait for the first."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._known: dict[str, object] = {}

    def _memo(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._known:
                self._known[key] = compute()
            return self._known[key]  # type: ignore[return-value]


class DomainFacts(_Memo):
    """The domain's DNS: MX, SPF, DMARC, MTA-STS, TLS-RPT, DNSSEC of the names that matter."""

    def __init__(self, domain: str, dns: DNSChecks, settings: BaselineSettings) -> None:
        self.domain = domain
        self.dns = dns
        self.settings = settings
        super().__init__()

    @property
    def mx(self) -> MXTargets:
        return self._memo("mx", lambda: self.dns.mx_targets(self.domain))

    @property
    def spf(self) -> SPFResult:
        return self._memo("spf", lambda: self.dns.spf(self.domain))

    @property
    def dmarc(self) -> DMARCResult:
        return self._memo("dmarc", lambda: self.dns.dmarc(self.domain))

    @property
    def mta_sts(self) -> MTASTSResult:
        s = self.settings
        return self._memo("mta_sts", lambda: self.dns.mta_sts(self.domain, port=s.mta_sts_port, ca_file=s.mta_sts_ca))

    @property
    def tls_rpt(self) -> TLSRPTResult:
        return self._memo("tls_rpt", lambda: self.dns.tls_rpt(self.domain))

    @property
    def sts_mode(self) -> str | None:
        """The mode of the MTA-STS policy the domain publishes (enforce, testing or none), or None when it publishes
        none a sender could fetch and read: senders in enforce and testing mode validate the MX certificates with
        the WebPKI, DANE or not (RFC 8461 §4.2, §5)."""
        found = self.mta_sts
        return found.policy.mode if found.record is not None and found.policy is not None else None

    @property
    def null_mx(self) -> bool:
        """Whether the domain publishes a null MX (RFC 7505): it takes no mail, so it has no MX host."""
        return self.lookup(self.domain, "MX").error is None and any(r.null for r in self.dns.mx(self.domain))

    def lookup(self, name: str, rdtype: str) -> Lookup:
        """The answer (an `Answer`) to NAME/RDTYPE, or the error in its place; the resolver keeps both, so a check
        asks again for free what the facts already asked."""
        try:
            return Lookup(self.dns.lookup(name, rdtype))
        except DNSCheckError as error:
            return Lookup(None, error)

    def secure(self, name: str, rdtype: str) -> Lookup:
        """Whether the answer for NAME/RDTYPE validated (the AD bit)."""
        found = self.lookup(name, rdtype)
        return found if found.error is not None else Lookup(found.value.secure)  # type: ignore[attr-defined]

    def answered(self, name: str, rdtype: str) -> str:
        """One line of evidence: the answer's DNSSEC state (the AD bit), as the report shows it."""
        found = self.secure(name, rdtype)
        if isinstance(found.error, DNSSECBogus):
            state = "bogus (signed, but the signatures do not validate: the resolver answers SERVFAIL)"
        else:
            state = str(found.error) if found.error else "secure (AD)" if found.value else "insecure (no AD bit)"
        return f"{name} {rdtype}: {state}"

    def cname(self, host: str) -> Lookup:
        """The CNAME target of HOST, or None when HOST is no alias."""
        found = self.lookup(host, "CNAME")
        if found.error is not None:
            return found
        records = found.value.records  # type: ignore[attr-defined]
        return Lookup(str(records[0].target).rstrip(".") if records else None)

    def expansion(self, host: str, rdtype: str) -> tuple[str, bool]:
        """HOST's fully CNAME-expanded name, and whether every CNAME on the way and the expanded name's RDTYPE
        answer validated (the AD bit): what RFC 7672 §2.2.2 asks before TLSA is looked up at an alias's target."""
        name, secure = host, True
        for _ in range(MAX_CNAME_CHAIN):
            answer = self.dns.lookup(name, "CNAME")
            secure = secure and answer.secure
            if not answer.records:
                break
            name = str(answer.records[0].target).rstrip(".")  # type: ignore[attr-defined]
        return name, secure and self.dns.lookup(name, rdtype).secure

    def addresses(self, host: str) -> Lookup:
        try:
            return Lookup(self.dns.addresses(host))
        except DNSCheckError as error:
            return Lookup([], error)


class AddressFacts(_Memo):
    """One MX address: its plain session, its TLS probe, certificate, DANE match and host names."""

    def __init__(self, domain: DomainFacts, host: str, target: Target, *, shared: RunDirectory | None = None) -> None:
        self.domain = domain
        self.host = host
        self.target = target
        self.shared = shared  # under xdist: the run directory where each probe is claimed and published once
        super().__init__()

    @property
    def address(self) -> str:
        return self.target.host

    def _session(self) -> SMTPSession:
        return self.target.session(Declared(tls="none"))  # probes start in plain text whatever the run's --smtp-tls

    @property
    def smtp(self) -> MXProbeResult:
        return self._memo("smtp", self._smtp)

    def _smtp(self) -> MXProbeResult:
        from ..smtp.mxprobe import MXProbeResult, outside_domain, probe_mx
        from ..smtp.transcript import Transcript

        def lost() -> MXProbeResult:
            outside = f"smtpcheck-relay-test@{outside_domain(self.domain.domain)}"
            return MXProbeResult(self.domain.domain, outside, Transcript(self.address), failure=self._lost("session"))

        return self._once("smtp", lambda: probe_mx(self._session(), self.domain.domain), MXProbeResult.to_json,
                          MXProbeResult.from_json, lost)

    @property
    def tls(self) -> TLSProbeResult:
        return self._memo("tls", self._tls)

    def _tls(self) -> TLSProbeResult:
        from ..smtp.tlsprobe import Handshake, TLSProbe, TLSProbeResult

        def session(settings: ProbeTLSSettings) -> SMTPSession:
            made = self._session()
            made.options = replace(made.options, tls=settings)
            return made

        def lost() -> TLSProbeResult:
            why = self._lost("handshakes")
            return TLSProbeResult(why, Handshake("this client's defaults", "error", detail=why), (), None, None, {}, {})

        probe = TLSProbe(session, self.target.options.tls, spacing=self.domain.settings.spacing)
        return self._once("tls", probe.run, TLSProbeResult.to_json, TLSProbeResult.from_json, lost)

    def _once(self, name: str, run: Callable[[], T], encode: Callable[[T], Any], decode: Callable[[Any], T],
              lost: Callable[[], T]) -> T:
        """RUN here, or under xdist once in the whole run: the first worker to claim it runs it, the others
        read its result."""
        if self.shared is None:
            return run()
        key = f"baseline {self.domain.domain} {self.host} {self.address}:{self.target.port} {name}"
        return self.shared.once(key, run, encode, decode, lost)

    def _lost(self, what: str) -> str:
        return (f"the pytest-xdist worker that probed {self.address} ({what}) stopped before it finished; the "
                "probe was not run again, so this verdict is unknown")

    @property
    def certificate(self) -> CertificateFacts | str:
        """The certificate's facts, or why there are none."""
        return self._memo("certificate", self._certificate)

    def _certificate(self) -> CertificateFacts | str:
        from ..smtp.certfacts import certificate_facts

        probe = self.tls
        if probe.failure is not None:
            return f"no TLS session: {probe.failure}"
        try:
            return certificate_facts(probe.chain)
        except ValueError as error:
            return f"the certificate could not be read: {error}"

    @property
    def dane(self) -> DaneResult | str:
        """The DANE match of the chain this address presented, or why it could not be judged."""
        return self._memo("dane", self._dane)

    def _dane(self) -> DaneResult | str:
        from ..dns import dane_match

        probe = self.tls
        found = self.tlsa
        if isinstance(found, str):
            return found
        records, names, where = found
        if not records.records:
            return f"no TLSA records at {where}"
        if not records.secure:
            return f"the TLSA records at {records.name} are not DNSSEC-signed: senders ignore them"
        if probe.failure is not None:
            return f"no TLS session to match the TLSA records against: {probe.failure}"
        return dane_match(records, list(probe.chain), host=names)

    @property
    def tlsa(self) -> tuple[TLSAResult, tuple[str, ...], str] | str:
        """The TLSA records senders use for this MX host, the names a DANE-TA certificate may carry, and where
        they were looked for (one line of evidence); or why the lookup failed."""
        return self._memo("tlsa", self._tlsa)

    def _tlsa(self) -> tuple[TLSAResult, tuple[str, ...], str] | str:
        """RFC 7672 §2.2.2: for an MX host that is an alias whose whole expansion (every CNAME and the final
        address records) is DNSSEC-validated, the TLSA base domain is first the fully expanded name, then,
        when that has no TLSA records, the MX host name itself; an insecure expansion is not used, only the
        MX host name. Port 25 whatever port the run connects to: senders look there (§2.2). With DANE-TA, the
        certificate may name the base domain or the MX host (§3.2.2)."""
        try:
            expanded, secure = self.domain.expansion(self.host, "AAAA" if ":" in self.address else "A")
            if expanded != self.host and secure:
                records = self.domain.dns.tlsa(expanded, DANE_PORT)
                if records.records:
                    return records, (expanded, self.host), (
                        f"{records.name}, at the CNAME-expanded name of {self.host} (RFC 7672 §2.2.2)")
                skipped = f"none at {records.name}, the CNAME-expanded name, so at the MX host name"
            elif expanded != self.host:
                skipped = (f"not at {expanded}: the CNAME expansion of {self.host} is not DNSSEC-validated, so "
                           "only the MX host name counts")
            records = self.domain.dns.tlsa(self.host, DANE_PORT)
        except DNSCheckError as error:
            return f"TLSA lookup for the MX host {self.host} failed: {error}"
        where = records.name if expanded == self.host else f"{records.name} ({skipped}; RFC 7672 §2.2.2)"
        return records, (self.host,), where

    @property
    def names(self) -> HostNames | str:
        """The greeting and EHLO names (None where the session got none) against the FCrDNS of the address, or why
        the PTR lookup failed: the FCrDNS is DNS's, whatever the session did."""
        return self._memo("names", self._names)

    def _names(self) -> HostNames | str:
        from ..dns import host_names

        probe = self.smtp
        try:
            return host_names(self.domain.dns.resolver, self.address, _first_word(probe.greeting),
                              _first_word(probe.ehlo))
        except DNSCheckError as error:
            return f"PTR lookup for {self.address} failed: {error}"


def _first_word(reply: Reply | None) -> str | None:
    words = reply.lines[0].split() if reply is not None and reply.lines else []
    return words[0] if words else None


def probe_ahead(needed: dict[AddressFacts, set[str]]) -> list[threading.Thread]:
    """Probe every address at once, each in its own thread, its own probes one after another (so its handshakes
    stay spaced): a battery on two MX hosts takes about as long as on one. The checks then read the results,
    waiting where a probe is still running."""
    from ..preload import BASELINE_PROBES, preload

    preload(BASELINE_PROBES)  # the probe threads import nothing of the plugin's (see preload.py)
    order = ("smtp", "tls", "names", "dane")

    def probe(facts: AddressFacts, names: set[str]) -> None:
        for name in order:
            if name in names:
                getattr(facts, name)

    threads = [threading.Thread(target=probe, args=(facts, names), name=f"smtpcheck-baseline-{facts.address}",
                                daemon=True) for facts, names in needed.items()]
    for thread in threads:
        thread.start()
    return threads
