"""TLS for SMTP sessions: contexts that verify by default, and what a report says about the handshake.

Imported only when a session actually starts TLS, so plain runs never load `ssl`.
"""

from __future__ import annotations

import ssl
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TLSSettings:
    """How a session trusts the server: verification is on unless the engineer turns it off."""

    verify: bool = True
    ca_file: str | None = None
    server_name: str | None = None  # name checked against the certificate; default: the host connected to


@dataclass(frozen=True)
class TLSInfo:
    version: str
    cipher: str
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: str
    not_after: str
    verified: bool

    def summary(self) -> str:
        sans = ", ".join(self.sans) or "none"
        return (
            f"TLS established: {self.version} {self.cipher}; certificate subject {self.subject}, "
            f"issuer {self.issuer}, SANs {sans}, valid {self.not_before} to {self.not_after}"
            + ("" if self.verified else " (NOT verified: --smtp-no-verify)")
        )

    def to_data(self) -> dict:
        return asdict(self)


def make_context(settings: TLSSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe(sock: ssl.SSLSocket, verified: bool) -> TLSInfo:
    cipher = sock.cipher()
    cert = sock.getpeercert() if verified else None
    if not cert:
        cert = _decode_unverified(sock.getpeercert(binary_form=True))
    return TLSInfo(
        version=sock.version() or "?",
        cipher=cipher[0] if cipher else "?",
        subject=_name(cert.get("subject", ())),
        issuer=_name(cert.get("issuer", ())),
        sans=tuple(f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ())),
        not_before=cert.get("notBefore", "?"),
        not_after=cert.get("notAfter", "?"),
        verified=verified,
    )


def explain(error: ssl.SSLError, server_name: str) -> str:
    """Turn an ssl error into what an engineer needs to read in a report."""
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or str(error)
        hint = {
            "self-signed certificate": "the server presents a self-signed certificate; pass its CA with --smtp-ca",
            "self signed certificate": "the server presents a self-signed certificate; pass its CA with --smtp-ca",
            "unable to get local issuer certificate": "the certificate's issuer is not trusted; pass the CA bundle with --smtp-ca",
        }.get(reason)
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            return f"certificate does not match the name {server_name!r} ({reason})"
        return f"certificate verification failed: {hint or reason}"
    reason = getattr(error, "reason", None) or str(error)
    if reason == "WRONG_VERSION_NUMBER" or "wrong version number" in str(error):
        return "the server did not answer the TLS handshake with TLS (plain text on a TLS port?)"
    return f"TLS handshake failed: {reason}"


def _name(rdns) -> str:
    return ", ".join(f"{key}={value}" for rdn in rdns for key, value in rdn) or "?"


def _decode_unverified(der: bytes | None) -> dict:
    """Certificate fields when verification is off; ssl only decodes verified certificates."""
    if not der:
        return {}
    try:
        from cryptography import x509
    except ImportError:  # cryptography comes with trustme; without it we report less, not fail
        return {}
    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        alt = [("DNS", name) for name in sans.get_values_for_type(x509.DNSName)]
        alt += [("IP Address", str(ip)) for ip in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        alt = []
    fmt = "%b %d %H:%M:%S %Y GMT"
    return {
        "subject": [[(attr.rfc4514_attribute_name, attr.value)] for attr in cert.subject],
        "issuer": [[(attr.rfc4514_attribute_name, attr.value)] for attr in cert.issuer],
        "subjectAltName": alt,
        "notBefore": cert.not_valid_before_utc.strftime(fmt),
        "notAfter": cert.not_valid_after_utc.strftime(fmt),
    }
