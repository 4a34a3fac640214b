"""What a STARTTLS endpoint accepts: protocol versions, weak cipher classes, and the suite it negotiates.

testssl.sh and internet.nl ask a server these questions with one handshake per
offer; so does this module, each over a session of the session library (greeting,
EHLO, STARTTLS, handshake, QUIT), so every handshake has its transcript. The
caller gives a factory for those sessions (it holds the per-target cap) and the
pause between handshakes, which keeps the probe under a server's connection-rate
limits. No pytest here: the baseline battery and scripts judge the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ..errors import SMTPCheckError, TLSFailed
from .tls import ProbeTLSSettings, TLSSettings, TLSVersionName

if TYPE_CHECKING:
    from .session import SMTPSession
    from .transcript import Transcript

__all__ = [
    "CIPHER_CLASSES", "VERSIONS", "CipherClass", "Handshake", "Outcome", "SessionFactory", "TLSProbe",
    "TLSProbeResult", "forward_secret",
]

Outcome = Literal["accepted", "refused", "untestable", "error"]
SessionFactory = Callable[[ProbeTLSSettings], "SMTPSession"]  # an unconnected session that uses these TLS settings

VERSIONS: tuple[TLSVersionName, ...] = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
OBSOLETE_VERSIONS: tuple[TLSVersionName, ...] = ("SSLv3", "TLSv1", "TLSv1.1")  # RFC 8996; RFC 7568 for SSLv3


@dataclass(frozen=True)
class CipherClass:
    """A class of TLS ≤ 1.2 cipher suites a server should refuse, offered together in one handshake."""

    name: str
    openssl: str  # the OpenSSL cipher string that selects the class
    why: str


# internet.nl's "insufficient" classes, and static RSA key exchange (no forward secrecy, "phase out").
# A class this machine's OpenSSL no longer has (EXPORT, RC4, DES, 3DES in OpenSSL 3) is reported untestable.
CIPHER_CLASSES: tuple[CipherClass, ...] = (
    CipherClass("NULL", "eNULL", "no encryption at all"),
    CipherClass("anonymous", "aNULL", "no server authentication: anyone in the path can impersonate the server"),
    CipherClass("EXPORT", "EXPORT", "40/56-bit export keys, broken since the 1990s (FREAK, Logjam)"),
    CipherClass("RC4", "RC4", "RC4 is prohibited in TLS (RFC 7465)"),
    CipherClass("DES", "DES:3DES", "64-bit blocks: DES is broken, 3DES falls to Sweet32"),
    CipherClass("MD5", "MD5", "MD5 message authentication"),
    CipherClass("static-RSA", "kRSA", "RSA key exchange: no forward secrecy (recorded traffic opens with the key)"),
)


@dataclass(frozen=True)
class Handshake:
    """One probing handshake: what was offered, what came of it, and the session that shows it."""

    offered: str  # "TLSv1.1 only", "cipher class RC4 (TLS ≤ 1.2)", "this client's defaults"
    outcome: Outcome
    version: str | None = None  # negotiated, when accepted
    cipher: str | None = None
    detail: str = ""  # why refused, untestable or in error
    transcript: Transcript | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"offered": self.offered, "outcome": self.outcome, "version": self.version, "cipher": self.cipher,
                "detail": self.detail, "transcript": self.transcript and self.transcript.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Handshake:
        from .transcript import Transcript

        transcript = data["transcript"] and Transcript.from_json(data["transcript"])
        return cls(data["offered"], data["outcome"], data["version"], data["cipher"], data["detail"], transcript)

    def line(self) -> str:
        """One line of evidence for a report."""
        if self.outcome == "accepted":
            return f"{self.offered} -> accepted: {self.version} {self.cipher}"
        got = f": {self.detail}" if self.detail else ""
        return f"{self.offered} -> {self.outcome}{got}"


@dataclass(frozen=True)
class TLSProbeResult:
    """Every handshake of a probe; `default` is the one offering this client's defaults, with the chain it got."""

    failure: str | None  # why no TLS session could be had (STARTTLS not offered, refused, handshake failed)
    default: Handshake
    chain: tuple[bytes, ...]  # DER, leaf first, from the default handshake
    trusted: bool | None  # the chain verified against the run's CA store (None: no handshake)
    trust_problem: str | None
    versions: dict[str, Handshake]
    ciphers: dict[str, Handshake]

    @property
    def accepted_versions(self) -> list[str]:
        return [name for name, shake in self.versions.items() if shake.outcome == "accepted"]

    @property
    def forward_secret(self) -> bool | None:
        """Whether the suite negotiated with this client's defaults has forward secrecy (None: no handshake)."""
        if self.default.outcome != "accepted":
            return None
        return forward_secret(self.default.version or "", self.default.cipher or "")

    def evidence(self) -> list[str]:
        return [shake.line() for shake in [self.default, *self.versions.values(), *self.ciphers.values()]]

    def to_json(self) -> dict[str, Any]:
        """The result as JSON, for the xdist run directory: the other workers judge the same handshakes."""
        import base64

        return {"failure": self.failure, "default": self.default.to_json(),
                "chain": [base64.b64encode(der).decode("ascii") for der in self.chain],
                "trusted": self.trusted, "trust_problem": self.trust_problem,
                "versions": {name: shake.to_json() for name, shake in self.versions.items()},
                "ciphers": {name: shake.to_json() for name, shake in self.ciphers.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TLSProbeResult:
        import base64

        return cls(data["failure"], Handshake.from_json(data["default"]),
                   tuple(base64.b64decode(der) for der in data["chain"]), data["trusted"], data["trust_problem"],
                   {name: Handshake.from_json(shake) for name, shake in data["versions"].items()},
                   {name: Handshake.from_json(shake) for name, shake in data["ciphers"].items()})


def forward_secret(version: str, cipher: str) -> bool:
    """TLS 1.3 always uses an ephemeral key exchange; before it, only (EC)DHE suites do."""
    return version == "TLSv1.3" or cipher.startswith(("ECDHE-", "DHE-", "EDH-"))


class TLSProbe:
    """Probes one SMTP endpoint; *spacing* seconds pass between the end of one handshake and the next connection."""

    def __init__(self, sessions: SessionFactory, base: TLSSettings, *, spacing: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.sessions = sessions
        self.base = ProbeTLSSettings(verify=base.verify, ca_file=base.ca_file, server_name=base.server_name)
        self.spacing = spacing
        self._sleep = sleep
        self._last: float | None = None

    def run(self, *, versions: Iterable[TLSVersionName] = VERSIONS,
            ciphers: Iterable[CipherClass] = CIPHER_CLASSES) -> TLSProbeResult:
        """The default handshake (trust checked, name not), then one per other version and per cipher class."""
        default, chain, trusted, problem = self._default()
        if default.outcome != "accepted":  # no TLS at all: nothing more to ask
            return TLSProbeResult(default.detail, default, (), None, None, {}, {})
        found: dict[str, Handshake] = {}
        for version in versions:
            if version == default.version:
                found[version] = replace(default, offered=f"{version} (negotiated with this client's defaults)")
            else:
                found[version] = self.handshake(f"{version} only", replace(self.base, verify=False,
                                                                          versions=(version, version)))
        classes = {cls.name: self.handshake(f"cipher class {cls.name} ({cls.openssl}, TLS ≤ 1.2)", replace(
            self.base, verify=False, versions=("TLSv1", "TLSv1.2"), ciphers=f"{cls.openssl}:@SECLEVEL=0"))
            for cls in ciphers}
        return TLSProbeResult(None, default, chain, trusted, problem, found, classes)

    def _default(self) -> tuple[Handshake, tuple[bytes, ...], bool | None, str | None]:
        """Verify the chain (not the name: that is its own check); on a trust failure, once more unverified for
        the chain, which ssl does not keep from a failed handshake."""
        trusting = replace(self.base, verify=True, check_name=False)
        shake, chain = self._shake("this client's defaults", trusting)
        if shake.outcome == "accepted":
            return shake, chain, True, None
        if shake.outcome != "refused" or "certificate" not in shake.detail:
            return shake, (), None, None
        unverified = replace(self.base, verify=False)
        again, chain = self._shake("this client's defaults, certificate not verified", unverified)
        return again, chain, False, shake.detail

    def handshake(self, offered: str, settings: ProbeTLSSettings) -> Handshake:
        return self._shake(offered, settings)[0]

    def _shake(self, offered: str, settings: ProbeTLSSettings) -> tuple[Handshake, tuple[bytes, ...]]:
        cannot = _cannot_offer(settings)
        if cannot is not None:
            return Handshake(offered, "untestable", detail=cannot), ()
        self._pause()
        session = self.sessions(settings)
        try:
            session.connect()
            ehlo = session.ehlo()
            if not session.supports("STARTTLS"):
                return Handshake(offered, "error", detail=f"STARTTLS not offered (EHLO: {ehlo.wire_lines()[0]})",
                                 transcript=session.transcript), ()
            reply = session.starttls()
            if reply.code != 220:
                return Handshake(offered, "error", detail=f"STARTTLS answered {reply.wire_lines()[0]}",
                                 transcript=session.transcript), ()
            info = session.tls_info
            assert info is not None
            return (Handshake(offered, "accepted", info.version, info.cipher, transcript=session.transcript),
                    tuple(session.peer_chain()))
        except TLSFailed as error:
            return Handshake(offered, "refused", detail=str(error), transcript=session.transcript), ()
        except SMTPCheckError as error:
            return Handshake(offered, "error", detail=str(error), transcript=session.transcript), ()
        finally:
            session.quit_quietly()
            self._last = time.monotonic()

    def _pause(self) -> None:
        if self._last is not None:
            wait = self.spacing - (time.monotonic() - self._last)
            if wait > 0:
                self._sleep(wait)


def _cannot_offer(settings: ProbeTLSSettings) -> str | None:
    """Why this machine's OpenSSL cannot make the offer (so a refusal would not be the server's), or None."""
    import ssl

    from .tls import make_context

    if settings.versions is not None:
        low, high = settings.versions
        flags = {"SSLv3": ssl.HAS_SSLv3, "TLSv1": ssl.HAS_TLSv1, "TLSv1.1": ssl.HAS_TLSv1_1,
                 "TLSv1.2": ssl.HAS_TLSv1_2, "TLSv1.3": ssl.HAS_TLSv1_3}
        if low == high and not flags[low]:
            return f"this machine's OpenSSL ({ssl.OPENSSL_VERSION}) cannot offer {low}"
    try:
        context = make_context(replace(settings, verify=False))
    except (ssl.SSLError, ValueError) as error:
        return f"this machine's OpenSSL ({ssl.OPENSSL_VERSION}) has no such suites: {error}"
    if settings.ciphers is not None and not any(
            c["protocol"] != "TLSv1.3" for c in context.get_ciphers()):
        return f"this machine's OpenSSL ({ssl.OPENSSL_VERSION}) has no suites of this class"
    return None
