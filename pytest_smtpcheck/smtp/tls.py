"""TLS for SMTP sessions: contexts that verify by default, and what a report says about the handshake.

Imported only when a session actually starts TLS, so plain runs never load `ssl`.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ..errors import hide_for_server_faults
from ..settings import TLSSettings  # the trust a session uses is a setting: resolved with the others

__all__ = [
    "ProbeTLSSettings", "TLSInfo", "TLSSettings", "TLSVersionName", "describe", "explain", "make_context",
    "peer_certificate", "peer_chain",
]

__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line


TLSVersionName = Literal["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]  # as ssl's version() names them


@dataclass(frozen=True)
class ProbeTLSSettings(TLSSettings):
    """The run's trust, for probes that ask what a server accepts: trust judged apart from the name,
    one range of protocol versions offered, or one class of cipher suites."""

    check_name: bool = True  # with verify, also match server_name
    versions: tuple[TLSVersionName, TLSVersionName] | None = None  # offer only this range of versions
    ciphers: str | None = None  # an OpenSSL cipher string for TLS 1.2 and below


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


def make_context(settings: TLSSettings) -> ssl.SSLContext:
    """A client context; ssl.SSLError when this OpenSSL cannot offer what a probe asks."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    probe = settings if isinstance(settings, ProbeTLSSettings) else ProbeTLSSettings()
    if not settings.verify or not probe.check_name:
        context.check_hostname = False
    if not settings.verify:
        context.verify_mode = ssl.CERT_NONE
    if probe.versions is not None:
        # the system's OpenSSL configuration may forbid old versions at security level 2: a probe lowers it
        context.set_ciphers(probe.ciphers or "ALL:@SECLEVEL=0")
        with warnings.catch_warnings():  # offering TLS 1.0 is deprecated: a probe does it to see it refused
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version, context.maximum_version = (ssl.TLSVersion[_ENUM[v]] for v in probe.versions)
    elif probe.ciphers is not None:
        context.set_ciphers(probe.ciphers)
    return context


_ENUM = {"SSLv3": "SSLv3", "TLSv1": "TLSv1", "TLSv1.1": "TLSv1_1", "TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3"}


def describe(sock: ssl.SSLSocket, verified: bool) -> TLSInfo:
    cipher = sock.cipher()
    cert: dict[str, Any] = dict(sock.getpeercert() or {}) if verified else {}
    if not cert:
        cert = _decode_unverified(sock.getpeercert(binary_form=True))
    return TLSInfo(
        version=sock.version() or "?",
        cipher=cipher[0] if cipher else "?",
        subject=_name(cert.get("subject", ())),
        issuer=_name(cert.get("issuer", ())),
        sans=tuple(f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ())),
        not_before=str(cert.get("notBefore", "?")),
        not_after=str(cert.get("notAfter", "?")),
        verified=verified,
    )


# OpenSSL's X509_V_ERR_* codes for the verification failures an engineer meets most
_NOT_YET_VALID, _EXPIRED, _SELF_SIGNED, _SELF_SIGNED_IN_CHAIN, _UNKNOWN_ISSUER = 9, 10, 18, 19, 20
_NAME_MISMATCH = (62, 64)  # hostname, IP address
_PLAINTEXT = {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
              "HTTP_REQUEST"}


def explain(error: ssl.SSLError, server_name: str, sock: ssl.SSLSocket | None = None) -> str:
    """Turn an ssl error into what an engineer needs to read in a report.

    *sock* is the socket whose handshake failed: its unverified certificate, when
    Python hands it out, puts names and dates into the message.
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        return _explain_verification(error, server_name, peer_certificate(sock) if sock is not None else {})
    reason = getattr(error, "reason", None) or str(error)
    if reason in _PLAINTEXT or "wrong version number" in str(error):
        return ("the server did not answer the TLS handshake with TLS (plain text on a TLS port? "
                "a plain SMTP port needs --smtp-tls=starttls or none)")
    if isinstance(error, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
        return "the server closed the connection during the TLS handshake"
    return f"TLS handshake failed: {reason}"


def _explain_verification(error: ssl.SSLCertVerificationError, server_name: str, cert: dict[str, Any]) -> str:
    code, reason = error.verify_code, error.verify_message or str(error)
    now = datetime.now(timezone.utc)
    if code in _NAME_MISMATCH or "mismatch" in reason:
        sans = ", ".join(f"{kind}:{value}" for kind, value in cert.get("subjectAltName", ()))
        listed = f"it is for {sans}" if sans else f"it lists no names, subject {_name(cert.get('subject', ()))}"
        return (f"certificate does not match the name {server_name!r} ({listed if cert else reason}); "
                "connect by a name it lists, or check another name with --smtp-tls-name")
    if code == _EXPIRED and cert.get("notAfter"):
        return f"certificate has expired (notAfter {cert['notAfter']}, now {_openssl_time(now)})"
    if code == _NOT_YET_VALID and cert.get("notBefore"):
        return f"certificate is not yet valid (notBefore {cert['notBefore']}, now {_openssl_time(now)}; clock skew?)"
    if code == _SELF_SIGNED:
        subject = f" ({_name(cert['subject'])})" if cert.get("subject") else ""
        return f"certificate is self-signed{subject} and not trusted; pass it with --smtp-ca"
    if code == _SELF_SIGNED_IN_CHAIN:
        return "certificate chain ends in a self-signed root that is not trusted; pass that root with --smtp-ca"
    if code == _UNKNOWN_ISSUER:
        issuer = f" ({_name(cert['issuer'])})" if cert.get("issuer") else ""
        return f"certificate issuer{issuer} is not trusted; pass the CA bundle with --smtp-ca"
    return f"certificate verification failed: {reason}"


def peer_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server sent (DER, leaf first), whether or not they verified.

    ssl drops the certificate when verification fails, but the SSL object keeps the
    chain it received: public from Python 3.13, `_sslobj.get_unverified_chain()` in
    3.10-3.12 (the one private name this module uses; nothing else exposes it).
    """
    try:
        getter = getattr(sock, "get_unverified_chain", None) or sock._sslobj.get_unverified_chain  # type: ignore[attr-defined]
        chain = getter() or []
    except (AttributeError, ValueError):
        return []
    return [cert if isinstance(cert, bytes) else ssl.PEM_cert_to_DER_cert(cert.public_bytes()) for cert in chain]


def peer_certificate(sock: ssl.SSLSocket) -> dict[str, Any]:
    """The server's leaf certificate as getpeercert() would decode it, even when verification failed."""
    try:
        chain = peer_chain(sock)
        return _decode_unverified(chain[0] if chain else None)
    except Exception:  # noqa: BLE001 - a better message is a bonus, never a new failure
        return {}


def _name(rdns: Any) -> str:
    return ", ".join(f"{key}={value}" for rdn in rdns for key, value in rdn) or "?"


def _decode_unverified(der: bytes | None) -> dict[str, Any]:
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
    return {
        "subject": [[(attr.rfc4514_attribute_name, attr.value)] for attr in cert.subject],
        "issuer": [[(attr.rfc4514_attribute_name, attr.value)] for attr in cert.issuer],
        "subjectAltName": alt,
        "notBefore": _openssl_time(cert.not_valid_before_utc),
        "notAfter": _openssl_time(cert.not_valid_after_utc),
    }


def _openssl_time(moment: datetime) -> str:
    """A UTC time as getpeercert() shows it: ``Jan  2 03:04:05 2021 GMT``."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    month = months[moment.month - 1]  # not strftime's %b, which depends on the locale
    return f"{month} {moment.day:2d} {moment:%H:%M:%S} {moment.year} GMT"
