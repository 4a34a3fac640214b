"""SASL client mechanisms for SMTP AUTH (RFC 4954), without any I/O.

Each mechanism is a small object the session drives: ``initial_response()`` for
the AUTH line, ``respond(challenge)`` for each ``334`` challenge (both raw bytes;
``auth_line()`` and ``response_line()`` do the base64). Keeping the wire out makes
every mechanism testable against the published examples byte for byte, and lets
the session stay the only place that reads and writes sockets. ``secrets()`` lists
every string that must be masked before a transcript is recorded.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable

from ..vocabulary import AUTH_MECHANISMS, Secret, secret_forms

__all__ = [
    "MECHANISMS",
    "CramMD5",
    "Login",
    "Mechanism",
    "OAuthBearer",
    "Plain",
    "SASLError",
    "UnknownMechanism",
    "XOAuth2",
    "auth_line",
    "decode_challenge",
    "mechanism",
    "response_line",
]


class SASLError(ValueError):
    """A mechanism cannot go on: a bad argument, or a server challenge it cannot answer."""


class UnknownMechanism(SASLError):
    """A mechanism name the plugin does not implement."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Mechanism:
    """One AUTH exchange with one set of credentials; use a fresh object per AUTH command."""

    name = ""

    def __init__(self, user: str, secret: str) -> None:
        if not secret:
            raise SASLError(f"{self.name} needs a password or token, and none was given (it is empty)")
        if any(c in user for c in "\0\x01\r\n"):
            raise SASLError(f"the AUTH user name {user!r} contains a control character (NUL, ^A, CR or LF): "
                            "it would end a SASL field early; give the account name alone")
        if any(c in secret for c in "\0\x01\r\n"):
            raise SASLError(f"the {self.name} password or token contains a control character (NUL, ^A, CR or LF); "
                            "check how it was copied into the environment variable (a trailing newline?)")
        self.user = user
        self.secret = Secret(secret)
        self.error: str | None = None  # the server's error challenge, for mechanisms that get one
        self._sent: list[bytes] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(user={self.user!r}, secret={self.secret!r})"

    def initial_response(self) -> bytes | None:
        """What goes on the AUTH line itself (RFC 4954 initial response), or None for a challenge-first mechanism."""
        return None

    def respond(self, challenge: bytes) -> bytes:
        """The answer to one decoded ``334`` challenge."""
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """Every string that must not reach a transcript: the secret, its encodings, and every response sent so far.

        Longest first, so a longer form is masked before a part of it. Ask again after each ``respond()``:
        challenge-dependent answers (CRAM-MD5) join the list when they are made.
        """
        forms = set(secret_forms(self.secret, self.user))
        for sent in self._sent:
            forms.update((sent.decode("utf-8", "replace"), _b64(sent)))
        forms.discard("")
        return sorted(forms, key=len, reverse=True)

    def _send(self, data: bytes) -> bytes:
        self._sent.append(data)
        return data


class _ClientFirst(Mechanism):
    """A mechanism whose whole credential fits the initial response (PLAIN, XOAUTH2, OAUTHBEARER).

    A client may leave the initial response off the AUTH line (RFC 4954 §4); the server then sends an empty
    challenge and gets the same bytes as the answer.
    """

    def _credentials(self) -> bytes:
        raise NotImplementedError

    def initial_response(self) -> bytes:
        return self._send(self._credentials())

    def respond(self, challenge: bytes) -> bytes:
        if not self._sent and not challenge:
            return self.initial_response()
        return self._server_error(challenge)

    def _server_error(self, challenge: bytes) -> bytes:
        raise SASLError(f"{self.name} expects no challenge after the credentials, but the server sent {challenge!r}")


class Plain(_ClientFirst):
    """PLAIN (RFC 4616): ``authzid NUL authcid NUL password``, with an empty authzid."""

    name = "PLAIN"

    def _credentials(self) -> bytes:
        return f"\0{self.user}\0{self.secret}".encode()


class Login(Mechanism):
    """LOGIN (draft-murchison-sasl-login): the user name, then the password, each answering a prompt."""

    name = "LOGIN"

    def __init__(self, user: str, secret: str) -> None:
        super().__init__(user, secret)
        self._step = 0

    def respond(self, challenge: bytes) -> bytes:
        self._step += 1
        if self._step == 1:
            return self.user.encode()  # the user name is not a secret: it stays readable in the transcript
        if self._step == 2:
            return self._send(self.secret.encode())
        raise SASLError(f"LOGIN sends a user name and a password, but the server asked a third time: {challenge!r}")


class CramMD5(Mechanism):
    """CRAM-MD5 (RFC 2195): ``user SP hex(HMAC-MD5(password, challenge))``."""

    name = "CRAM-MD5"

    def respond(self, challenge: bytes) -> bytes:
        if self._sent:
            raise SASLError(f"CRAM-MD5 answers one challenge, but the server sent another: {challenge!r}")
        if not challenge:
            raise SASLError("the server's CRAM-MD5 challenge is empty; it must be a <…@host> string (RFC 2195)")
        digest = hmac.new(self.secret.encode(), challenge, "md5").hexdigest()
        return self._send(f"{self.user} {digest}".encode())


class _OAuth(_ClientFirst):
    """OAuth 2.0 bearer tokens: a failure arrives as a JSON challenge that the client must acknowledge."""

    acknowledgement = b""

    def _server_error(self, challenge: bytes) -> bytes:
        if self.error is not None:
            raise SASLError(f"{self.name}: the server sent a second challenge after its error: {challenge!r}")
        self.error = _describe_oauth_error(challenge)
        return self.acknowledgement


def _describe_oauth_error(challenge: bytes) -> str:
    """The server's JSON error (RFC 7628 §3.2.2) as one readable line, or the raw bytes when it is not JSON."""
    try:
        fields = json.loads(challenge)
    except (ValueError, UnicodeDecodeError):
        return challenge.decode("utf-8", "replace")
    if not isinstance(fields, dict):
        return challenge.decode("utf-8", "replace")
    return " ".join(f"{key}={value}" for key, value in fields.items())


class XOAuth2(_OAuth):
    """XOAUTH2 (Google, Microsoft): ``user=U ^A auth=Bearer T ^A ^A``; an error challenge is answered empty."""

    name = "XOAUTH2"

    def _credentials(self) -> bytes:
        return f"user={self.user}\x01auth=Bearer {self.secret}\x01\x01".encode()


class OAuthBearer(_OAuth):
    """OAUTHBEARER (RFC 7628): a GS2 header, optional host and port, the bearer token.

    An error challenge is answered with a single ``^A`` (§3.2.3), after which the server fails the AUTH.
    """

    name = "OAUTHBEARER"
    acknowledgement = b"\x01"

    def __init__(self, user: str, secret: str, *, host: str | None = None, port: int | None = None) -> None:
        super().__init__(user, secret)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise SASLError(f"OAUTHBEARER port must be a TCP port number (1-65535), not {port!r}")
        if host is not None and (not host or any(c in host for c in "\x01\r\n")):
            raise SASLError(f"OAUTHBEARER host must be the server's host name as connected to, not {host!r}")
        self.host = host
        self.port = port

    def _credentials(self) -> bytes:
        # RFC 5801 saslname: "=" and "," would end the field, so they travel as =3D and =2C.
        authzid = self.user.replace("=", "=3D").replace(",", "=2C")
        fields = [f"n,a={authzid}," if authzid else "n,,"]
        if self.host is not None:
            fields.append(f"host={self.host}")
        if self.port is not None:
            fields.append(f"port={self.port}")
        fields.append(f"auth=Bearer {self.secret}")
        return ("\x01".join(fields) + "\x01\x01").encode()


MECHANISMS: dict[str, Callable[..., Mechanism]] = {
    "PLAIN": Plain,
    "LOGIN": Login,
    "CRAM-MD5": CramMD5,
    "XOAUTH2": XOAuth2,
    "OAUTHBEARER": OAuthBearer,
}


def mechanism(name: str, user: str, secret: str, **options: str | int | None) -> Mechanism:
    """A fresh mechanism object by its AUTH name (any case); *options* are OAUTHBEARER's ``host`` and ``port``."""
    factory = MECHANISMS.get(name.upper())
    if factory is None:
        raise UnknownMechanism(f"AUTH mechanism must be one of {', '.join(AUTH_MECHANISMS)}, not {name!r}")
    if options and factory is not OAuthBearer:
        raise SASLError(f"{name.upper()} takes no options (only OAUTHBEARER takes host= and port=), "
                        f"got {', '.join(sorted(options))}")
    return factory(user, secret, **options)


def auth_line(mech: Mechanism, *, initial_response: bool = True) -> str:
    """The ``AUTH`` command: with the base64 initial response where the mechanism has one, unless asked not to.

    An empty initial response is sent as ``=`` (RFC 4954 §4), which tells it apart from no response at all.
    """
    data = mech.initial_response() if initial_response else None
    if data is None:
        return f"AUTH {mech.name}"
    return f"AUTH {mech.name} {_b64(data) or '='}"


def decode_challenge(text: str) -> bytes:
    """The bytes of a ``334`` reply's text, which RFC 4954 requires to be base64."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise SASLError(f"the server's 334 challenge is not base64 (RFC 4954 §4): {text!r}") from None


def response_line(mech: Mechanism, challenge_text: str) -> str:
    """The line answering a ``334 <challenge_text>`` reply: the mechanism's response in base64 (may be empty)."""
    return _b64(mech.respond(decode_challenge(challenge_text)))
