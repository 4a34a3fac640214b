"""One resolver for every DNS question of a run: DNSSEC-aware, cached, and explicit about failure.

A stub query to one validating resolver (the one `--smtp-resolver` names, or the
first of /etc/resolv.conf) with the DO bit set, so that the AD bit in the answer
tells whether the data validated. Timeouts, SERVFAIL, NXDOMAIN and NODATA stay
distinct, and a SERVFAIL that hides DNSSEC-bogus data becomes `DNSSECBogus`.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Literal

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from ..addresses import joined
from ..errors import hide_for_server_faults
from .errors import DNSCheckError, DNSSECBogus, DNSServerFailure, DNSTimeout

__tracebackhide__ = hide_for_server_faults  # a DNS failure is reported at the test's line

Status = Literal["ok", "nxdomain", "nodata"]

# Extended DNS Error codes (RFC 8914) that mean "DNSSEC validation failed".
_DNSSEC_EDE = {1, 2, 5, 6, 7, 8, 9, 10, 11, 12}
_MAX_CNAME_CHAIN = 8


@dataclass(frozen=True)
class Answer:
    """The outcome of one question: `status` ok / nxdomain / nodata, the records, and the AD bit."""

    name: str
    rdtype: str
    status: Status
    records: tuple[dns.rdata.Rdata, ...] = field(default=(), repr=False)
    secure: bool = False

    @property
    def texts(self) -> list[str]:
        """TXT records as text: each record's strings joined (RFC 7208 §3.3), undecodable bytes replaced."""
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self.records]  # type: ignore[attr-defined]

    @property
    def void(self) -> bool:
        """NXDOMAIN or NODATA: what RFC 7208 calls a void lookup."""
        return self.status != "ok"


def to_text(name: dns.name.Name) -> str:
    """A name as people write it: no trailing dot (the root stays ".")."""
    text: str = name.to_text(omit_final_dot=True)
    return text or "."


class Resolver:
    """Sends every query of the run to one resolver and remembers the answers.

    Thread-safe: sessions run in threads, and two threads asking the same question
    wait for one query. Errors are remembered too, so that one run sees one DNS.
    """

    def __init__(self, nameserver: str | None = None, port: int = 53, *, timeout: float = 5.0) -> None:
        if nameserver is None:
            servers = dns.resolver.Resolver(configure=True).nameservers
            if not servers:
                raise DNSCheckError("no nameserver in /etc/resolv.conf: give one with --smtp-resolver=IP[:PORT]")
            nameserver = str(servers[0])
        self.nameserver = nameserver
        self.port = port
        self.timeout = timeout
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, int], threading.Lock] = {}
        self._cache: dict[tuple[str, int], Answer | DNSCheckError] = {}

    def __repr__(self) -> str:
        return f"Resolver({self.nameserver!r}, {self.port})"

    @property
    def where(self) -> str:
        return joined(self.nameserver, self.port)

    def query(self, name: str, rdtype: str) -> Answer:
        """The answer to NAME RDTYPE; raises `DNSTimeout`, `DNSServerFailure` or `DNSSECBogus`."""
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise DNSCheckError(f"{name!r} is not a valid domain name: {exc}") from None
        qtype = dns.rdatatype.from_text(rdtype)
        key = (qname.to_text().lower(), int(qtype))
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            result = self._cache.get(key)
            if result is None:
                try:
                    result = self._resolve(qname, qtype)
                except DNSCheckError as exc:
                    result = exc
                with self._lock:
                    self._cache[key] = result
        if isinstance(result, DNSCheckError):
            raise copy.copy(result).with_traceback(None)
        return result

    def _send(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType, *, cd: bool) -> dns.message.Message:
        query = dns.message.make_query(qname, qtype, use_edns=0, want_dnssec=True, payload=1232)
        query.flags |= dns.flags.AD  # RFC 6840 §5.7: ask for the AD bit
        if cd:
            query.flags |= dns.flags.CD
        described = f"{to_text(qname)} {dns.rdatatype.to_text(qtype)}"
        try:
            response, _ = dns.query.udp_with_fallback(query, self.nameserver, timeout=self.timeout, port=self.port)
        except dns.exception.Timeout:
            raise DNSTimeout(
                f"DNS query {described}: no answer from the resolver at {self.where} within {self.timeout:g} s; "
                "check that it runs and that this machine may query it (--smtp-resolver)"
            ) from None
        except (OSError, dns.exception.DNSException) as exc:
            raise DNSServerFailure(
                f"DNS query {described}: the resolver at {self.where} could not be used: {exc or type(exc).__name__}"
            ) from None
        return response

    def _resolve(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> Answer:
        response = self._send(qname, qtype, cd=False)
        described = f"{to_text(qname)} {dns.rdatatype.to_text(qtype)}"
        rcode = response.rcode()
        if rcode == dns.rcode.SERVFAIL:
            self._raise_servfail(qname, qtype, response)
        secure = bool(response.flags & dns.flags.AD)
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise DNSServerFailure(
                f"DNS query {described}: the resolver at {self.where} answered {dns.rcode.to_text(rcode)}"
            )
        target = qname
        for _ in range(_MAX_CNAME_CHAIN):
            rrset = _find(response, target, qtype)
            if rrset is not None:
                return Answer(to_text(qname), dns.rdatatype.to_text(qtype), "ok", tuple(rrset), secure)
            cname = _find(response, target, dns.rdatatype.CNAME)
            if cname is None:
                break
            target = cname[0].target
        status: Status = "nxdomain" if rcode == dns.rcode.NXDOMAIN else "nodata"
        return Answer(to_text(qname), dns.rdatatype.to_text(qtype), status, (), secure)

    def _raise_servfail(
        self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType, response: dns.message.Message
    ) -> None:
        """SERVFAIL: bogus DNSSEC if the same question with checking disabled (CD) gets an answer."""
        described = f"{to_text(qname)} {dns.rdatatype.to_text(qtype)}"
        errors = response.extended_errors()
        reasons = "; ".join(f"EDE {e.code} {e.text or ''}".strip() for e in errors)
        dnssec_reason = not errors or any(e.code in _DNSSEC_EDE for e in errors)
        if dnssec_reason:
            try:
                unchecked = self._send(qname, qtype, cd=True)
            except DNSCheckError:
                unchecked = None
            if unchecked is not None and unchecked.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                raise DNSSECBogus(
                    f"DNS query {described}: DNSSEC validation failed (bogus) at the resolver {self.where}"
                    f"{' (' + reasons + ')' if reasons else ''}; the answer exists without validation, but its "
                    "signatures or denial proof do not verify: re-sign the zone or fix its DS record at the parent"
                )
        raise DNSServerFailure(
            f"DNS query {described}: the resolver at {self.where} answered SERVFAIL"
            f"{' (' + reasons + ')' if reasons else ''}; the domain's name servers may be unreachable or broken"
        )


def _find(
    response: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    return response.get_rrset(response.answer, name, dns.rdataclass.IN, rdtype)


__all__ = ["Answer", "Resolver", "to_text"]
