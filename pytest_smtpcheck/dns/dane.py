"""DANE for SMTP (RFC 7672): TLSA records, and whether one matches the certificate chain a server presented."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ..errors import hide_for_server_faults
from .errors import DNSCheckError
from .resolver import Resolver

__all__ = ["DaneResult", "TLSARecord", "TLSAResult", "dane_match", "tlsa"]

__tracebackhide__ = hide_for_server_faults  # a DNS failure is reported at the test's line

USABLE_USAGES = (2, 3)  # DANE-TA and DANE-EE; RFC 7672 §3.1.3: PKIX-TA/EE (0, 1) are unusable for SMTP
SELECTORS = (0, 1)  # full certificate, SubjectPublicKeyInfo
MATCHING_TYPES = (0, 1, 2)  # exact, SHA-256, SHA-512


@dataclass(frozen=True, order=True)
class TLSARecord:
    """One TLSA record: certificate usage, selector, matching type and the association data."""

    usage: int
    selector: int
    mtype: int
    data: bytes

    def __repr__(self) -> str:
        hexdata = self.data.hex()
        return f"TLSA({self.usage} {self.selector} {self.mtype} {hexdata[:16]}{'…' if len(hexdata) > 16 else ''})"

    @property
    def usable(self) -> bool:
        return self.usage in USABLE_USAGES and self.selector in SELECTORS and self.mtype in MATCHING_TYPES


@dataclass(frozen=True)
class TLSAResult:
    """The TLSA RRset at `_PORT._tcp.HOST`; `secure` is the AD bit (DNSSEC-validated)."""

    name: str
    records: list[TLSARecord]
    secure: bool


@dataclass(frozen=True)
class DaneResult:
    """`usable`: secure TLSA records of a usable kind exist; `matched`: one of them matches the chain."""

    usable: bool
    matched: bool
    records: list[TLSARecord]
    match: TLSARecord | None = None


def tlsa(resolver: Resolver, host: str, port: int = 25) -> TLSAResult:
    """TLSA records of HOST:PORT over TCP; a DNSSEC-bogus answer raises `DNSSECBogus`."""
    name = f"_{port}._tcp.{host.rstrip('.')}"
    answer = resolver.query(name, "TLSA")
    records = sorted(
        TLSARecord(r.usage, r.selector, r.mtype, r.cert) for r in answer.records  # type: ignore[attr-defined]
    )
    return TLSAResult(name, records, answer.secure)


def _association(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    if selector == 0:
        data = cert.public_bytes(serialization.Encoding.DER)
    else:
        data = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def _chains_to(certs: list[x509.Certificate], anchor: int) -> bool:
    """Each certificate from the leaf up to index ANCHOR is signed by the next one."""
    try:
        for child, parent in itertools.pairwise(certs[: anchor + 1]):
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _names_match(cert: x509.Certificate, host: str) -> bool:
    """RFC 7672 §3.2.3: with DANE-TA the leaf must still name the host (a wildcard covers one label)."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        return False
    host = host.rstrip(".").lower()
    for name in (n.lower() for n in names):
        if name == host or (name.startswith("*.") and host.partition(".")[2] == name[2:] and "." in name[2:]):
            return True
    return False


def dane_match(records: TLSAResult, chain: Sequence[bytes], *,
               host: str | tuple[str, ...] | None = None) -> DaneResult:
    """Match secure, usable TLSA records against CHAIN (DER, leaf first).

    DANE-EE (3) matches the leaf; DANE-TA (2) matches an issuer in the chain that the
    leaf chains up to, and, given HOST (or several reference names: an alias's expanded
    name and the MX host, RFC 7672 §3.2.2), the leaf must name it (one of them).
    Insecure records are never usable: without DNSSEC they prove nothing.
    """
    hosts = (host,) if isinstance(host, str) else host or ()
    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError as exc:
        raise DNSCheckError(f"DANE check for {records.name}: the server's chain is not DER: {exc}") from None
    usable = [r for r in records.records if r.usable] if records.secure else []
    for record in usable:
        candidates = list(enumerate(certs))[:1] if record.usage == 3 else list(enumerate(certs))[1:]
        for index, cert in candidates:
            if _association(cert, record.selector, record.mtype) != record.data:
                continue
            if record.usage == 2 and (not _chains_to(certs, index) or (
                    hosts and not any(_names_match(certs[0], name) for name in hosts))):
                continue
            return DaneResult(True, True, records.records, record)
    return DaneResult(bool(usable), False, records.records)
