"""What a server's certificate chain says, for checks that judge it: names, days left, key, signature hashes.

Read with cryptography from the DER chain the handshake got, trusted or not, so
an untrusted certificate is still described. The strength rules follow the Dutch
NCSC TLS guidelines that internet.nl applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

__all__ = ["CertificateFacts", "certificate_facts", "name_covering"]

GOOD_CURVES = ("secp256r1", "secp384r1", "secp521r1")
MIN_RSA_BITS = 2048
WEAK_HASHES = ("md5", "sha1", "md2", "md4", "sha224")


@dataclass(frozen=True)
class CertificateFacts:
    """The leaf's names, validity and key, and each sent certificate's signature hash (the root's excepted)."""

    subject: str
    issuer: str
    names: tuple[str, ...]  # DNS names of the subjectAltName (the only names RFC 6125 matches)
    not_after: datetime
    days_left: int
    key: str  # "RSA 2048", "EC secp256r1", "Ed25519"
    key_problem: str | None
    signatures: tuple[tuple[str, str], ...]  # (subject, hash name) for the leaf and the intermediates sent
    signature_problem: str | None

    def lines(self) -> list[str]:
        """Evidence for a report."""
        return [
            f"subject {self.subject}, issuer {self.issuer}",
            f"names: {', '.join(self.names) or 'none (no DNS subjectAltName)'}",
            f"valid until {self.not_after:%Y-%m-%d %H:%M} UTC ({self.days_left} days left)",
            f"key: {self.key}",
            *(f"signature of {subject}: {digest}" for subject, digest in self.signatures),
        ]


def certificate_facts(chain: Sequence[bytes], now: datetime | None = None) -> CertificateFacts:
    """Facts of CHAIN (DER, leaf first); ValueError if the leaf is not a certificate."""
    from cryptography import x509

    certs = [x509.load_der_x509_certificate(der) for der in chain]
    if not certs:
        raise ValueError("the server sent no certificate")
    leaf = certs[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    not_after = leaf.not_valid_after_utc
    moment = now or datetime.now(timezone.utc)
    key, key_problem = _key(leaf)
    signatures = tuple((cert.subject.rfc4514_string() or "?", _hash_name(cert)) for cert in certs
                       if cert.subject != cert.issuer)  # a self-signed root's own signature proves nothing
    weak = [f"{subject} is signed with {digest}" for subject, digest in signatures if digest in WEAK_HASHES]
    return CertificateFacts(
        subject=leaf.subject.rfc4514_string() or "(empty)",
        issuer=leaf.issuer.rfc4514_string() or "(empty)",
        names=names,
        not_after=not_after,
        days_left=(not_after - moment).days,
        key=key,
        key_problem=key_problem,
        signatures=signatures,
        signature_problem="; ".join(weak) or None,
    )


def name_covering(names: Sequence[str], host: str) -> str | None:
    """The certificate name that covers HOST (RFC 6125 §6.4: a wildcard only as the whole left-most label)."""
    host = host.rstrip(".").lower()
    for name in names:
        pattern = name.rstrip(".").lower()
        if pattern == host:
            return name
        parent = host.split(".", 1)[1] if "." in host else None
        if pattern.startswith("*.") and pattern.count(".") >= 2 and parent == pattern[2:]:
            return name
    return None


def _key(cert: Certificate) -> tuple[str, str | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        short = bits < MIN_RSA_BITS
        return f"RSA {bits}", f"an RSA key of {bits} bits is too short: use at least {MIN_RSA_BITS}" if short else None
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = key.curve.name
        good = curve in GOOD_CURVES
        return f"EC {curve}", None if good else f"the curve {curve} is not one of {', '.join(GOOD_CURVES)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}", "DSA keys are deprecated: use RSA (2048+) or ECDSA (P-256/P-384)"
    return type(key).__name__, "an unknown key type: use RSA (2048+) or ECDSA (P-256/P-384)"


def _hash_name(cert: Certificate) -> str:
    digest = cert.signature_hash_algorithm
    return digest.name if digest is not None else "none (EdDSA signs the message itself)"
