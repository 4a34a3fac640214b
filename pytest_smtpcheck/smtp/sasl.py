"""SASL mechanisms for SMTP AUTH (RFC 4954), client and server side, without any I/O.

Each client mechanism is a small object the session drives: ``initial_response()`` for
the AUTH line, ``respond(challenge)`` for each ``334`` challenge (both raw bytes;
``auth_line()`` and ``response_line()`` do the base64). Keeping the wire out makes
every mechanism testable against the published examples byte for byte, and lets
the session stay the only place that reads and writes sockets. ``secrets()`` lists
every string that must be masked before a transcript is recorded.

The server side (``SASLServer``, which the sandbox drives) parses what the client
side builds: each mechanism's message format is one pair of functions here
(``plain_message``/``parse_plain`` and so on), so the two sides cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets as random
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ..vocabulary import AUTH_MECHANISMS, MASK, SHORTEST_SECRET, Secret

__all__ = [
    "MECHANISMS",
    "Account",
    "CramMD5",
    "Login",
    "Mechanism",
    "OAuthBearer",
    "Plain",
    "SASLError",
    "SASLServer",
    "UnknownMechanism",
    "Verdict",
    "XOAuth2",
    "auth_line",
    "cram_md5_message",
    "decode_challenge",
    "decode_response",
    "mechanism",
    "oauthbearer_message",
    "parse_cram_md5",
    "parse_oauthbearer",
    "parse_plain",
    "parse_xoauth2",
    "plain_message",
    "response_line",
    "secret_forms",
    "xoauth2_message",
]


class SASLError(ValueError):
    """A mechanism cannot go on: a bad argument, or a server challenge it cannot answer."""


class UnknownMechanism(SASLError):
    """A mechanism name the plugin does not implement."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise SASLError(f"{what} is not base64 (RFC 4954 §4): {text!r}") from None


# -- the messages each mechanism carries: built by the client, parsed by the server ------------------------


def plain_message(user: str, password: str) -> bytes:
    """PLAIN (RFC 4616 §2): ``authzid NUL authcid NUL passwd``, with an empty authzid."""
    return f"\0{user}\0{password}".encode()


def parse_plain(data: bytes) -> tuple[str, str, str]:
    """``(authzid, user, password)`` from a PLAIN message."""
    fields = _text(data, "PLAIN").split("\0")
    if len(fields) != 3 or not fields[1]:
        raise SASLError("a PLAIN response is authzid NUL user NUL password (RFC 4616 §2)")
    return fields[0], fields[1], fields[2]


def cram_md5_message(user: str, password: str, challenge: bytes) -> bytes:
    """CRAM-MD5 (RFC 2195 §2): ``user SP hex(HMAC-MD5(password, challenge))``."""
    return f"{user} {_cram_md5_digest(password, challenge)}".encode()


def _cram_md5_digest(password: str, challenge: bytes) -> str:
    return hmac.new(password.encode(), challenge, "md5").hexdigest()


def parse_cram_md5(data: bytes) -> tuple[str, str]:
    """``(user, digest)`` from a CRAM-MD5 response."""
    user, space, digest = _text(data, "CRAM-MD5").rpartition(" ")
    if not space or not user:
        raise SASLError("a CRAM-MD5 response is the user name, a space and the hex digest (RFC 2195 §2)")
    return user, digest


def xoauth2_message(user: str, token: str) -> bytes:
    """XOAUTH2: ``user=U ^A auth=Bearer T ^A ^A``."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def parse_xoauth2(data: bytes) -> tuple[str, str | None]:
    """``(user, token)`` from an XOAUTH2 message; the token is None when ``auth`` is not a bearer token."""
    fields = _key_values(_text(data, "XOAUTH2"))
    return fields.get("user", ""), _bearer(fields.get("auth", ""))


def oauthbearer_message(user: str, token: str, *, host: str | None = None, port: int | None = None) -> bytes:
    """OAUTHBEARER (RFC 7628 §3.1): a GS2 header naming the user, optional host and port, the bearer token."""
    # RFC 5801 saslname: "=" and "," would end the field, so they travel as =3D and =2C.
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    fields = [f"n,a={authzid}," if authzid else "n,,"]
    if host is not None:
        fields.append(f"host={host}")
    if port is not None:
        fields.append(f"port={port}")
    fields.append(f"auth=Bearer {token}")
    return ("\x01".join(fields) + "\x01\x01").encode()


def parse_oauthbearer(data: bytes) -> tuple[str, str | None]:
    """``(user, token)`` from an OAUTHBEARER message (user "" when the header names none)."""
    header, _, rest = _text(data, "OAUTHBEARER").partition("\x01")
    gs2 = header.split(",")
    if len(gs2) != 3 or gs2[0] != "n" or (gs2[1] and not gs2[1].startswith("a=")) or gs2[2]:
        raise SASLError("an OAUTHBEARER message starts with the GS2 header n,a=USER, (RFC 7628 §3.1)")
    user = gs2[1][2:].replace("=2C", ",").replace("=3D", "=")
    return user, _bearer(_key_values(rest).get("auth", ""))


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise SASLError(f"the {name} response is not UTF-8") from None


def _key_values(text: str) -> dict[str, str]:
    return dict(field.partition("=")[::2] for field in text.split("\x01") if field)


def _bearer(auth: str) -> str | None:
    scheme, _, token = auth.partition(" ")
    return token if scheme.lower() == "bearer" else None


def secret_forms(secret: str, user: str = "") -> list[str]:
    """Every form in which *secret* can reach a wire or a report: itself and the SASL messages that carry it.

    Built by the mechanisms' own message functions, so masking follows any change to what they send.
    Longest first, so that masking a longer form is not spoiled by masking a part of it first.
    """
    if len(secret) < SHORTEST_SECRET:
        return []
    plain = plain_message(user, secret)
    messages = {secret.encode(), plain, plain[1:], xoauth2_message(user, secret),
                oauthbearer_message(user, secret), oauthbearer_message("", secret)}
    forms = {message.decode() for message in messages} | {_b64(message) for message in messages}
    return sorted(forms, key=len, reverse=True)


# -- the client side ----------------------------------------------------------------------------------------


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
        return plain_message(self.user, self.secret)


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
        return self._send(cram_md5_message(self.user, self.secret, challenge))


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
        return xoauth2_message(self.user, self.secret)


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
        return oauthbearer_message(self.user, self.secret, host=self.host, port=self.port)


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
    return _b64decode(text, "the server's 334 challenge")


def response_line(mech: Mechanism, challenge_text: str) -> str:
    """The line answering a ``334 <challenge_text>`` reply: the mechanism's response in base64 (may be empty)."""
    return _b64(mech.respond(decode_challenge(challenge_text)))


# -- the server side ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """The account a SASL server accepts: a password (PLAIN, LOGIN, CRAM-MD5) and an OAuth bearer token."""

    user: str
    password: str
    token: str

    def __repr__(self) -> str:
        return f"Account(user={self.user!r}, password={MASK!r}, token={MASK!r})"


@dataclass(frozen=True)
class Verdict:
    """How an exchange ended: the user authenticated, or None when the credentials were wrong (535)."""

    user: str | None


_Exchange = Generator[bytes, bytes, "str | None"]  # yields challenges, is sent responses, returns the user


class SASLServer:
    """One AUTH exchange, server side: ``start()`` with the initial response, ``respond()`` to each answer.

    Each gives the next challenge (raw bytes, for a 334) or the Verdict. A response
    that does not parse raises SASLError (501); the caller decodes base64 with
    ``decode_response()`` and handles ``*`` (a cancelled exchange) itself.
    """

    def __init__(self, name: str, account: Account, *, hostname: str, scope: str = "") -> None:
        exchange = _SERVER_EXCHANGES.get(name.upper())
        if exchange is None:
            raise UnknownMechanism(f"AUTH mechanism must be one of {', '.join(AUTH_MECHANISMS)}, not {name!r}")
        self.name = name.upper()
        self._exchange = exchange
        self._account = account
        self._hostname = hostname
        self._scope = scope
        self._running: _Exchange | None = None

    def start(self, initial: bytes | None) -> bytes | Verdict:
        """The first step: *initial* is the AUTH line's response, None when it had none."""
        self._running = self._exchange(self, initial)
        return self._step(None)

    def respond(self, response: bytes) -> bytes | Verdict:
        """The next step, after the client answered a challenge."""
        if self._running is None:
            raise SASLError(f"{self.name}: respond() before start()")
        return self._step(response)

    def _step(self, response: bytes | None) -> bytes | Verdict:
        assert self._running is not None
        try:
            return self._running.send(response)  # type: ignore[arg-type]  # None starts the generator
        except StopIteration as done:
            self._running = None
            return Verdict(done.value)

    def _check(self, user: str, secret: str, expected: str) -> str | None:
        """*user* when it is the account's and *secret* is *expected* (compared in constant time)."""
        ok = user == self._account.user and hmac.compare_digest(secret.encode(), expected.encode())
        return user if ok else None

    def _plain(self, initial: bytes | None) -> _Exchange:
        authzid, user, password = parse_plain(initial if initial is not None else (yield b""))
        return self._check(user, password, self._account.password) if authzid in ("", user) else None

    def _login(self, initial: bytes | None) -> _Exchange:
        user = _text(initial if initial is not None else (yield b"Username:"), "LOGIN")
        password = _text((yield b"Password:"), "LOGIN")
        return self._check(user, password, self._account.password)

    def _cram_md5(self, initial: bytes | None) -> _Exchange:
        if initial is not None:
            raise SASLError("CRAM-MD5 starts with the server's challenge: the AUTH line takes no response")
        challenge = f"<{random.token_hex(8)}@{self._hostname}>".encode()
        user, digest = parse_cram_md5((yield challenge))
        return self._check(user, digest, _cram_md5_digest(self._account.password, challenge))

    def _xoauth2(self, initial: bytes | None) -> _Exchange:
        user, token = parse_xoauth2(initial if initial is not None else (yield b""))
        return (yield from self._bearer(user, token, "401", XOAuth2.acknowledgement))

    def _oauthbearer(self, initial: bytes | None) -> _Exchange:
        user, token = parse_oauthbearer(initial if initial is not None else (yield b""))
        return (yield from self._bearer(user, token, "invalid_token", OAuthBearer.acknowledgement))

    def _bearer(self, user: str, token: str | None, status: str, acknowledgement: bytes) -> _Exchange:
        """The user for the account's token; otherwise the JSON error challenge (RFC 7628 §3.2.2), acknowledged."""
        if token is not None and self._check(user, token, self._account.token):
            return user
        error = json.dumps({"status": status, "schemes": "bearer", "scope": self._scope}, separators=(",", ":"))
        if (yield error.encode()) != acknowledgement:
            raise SASLError(f"{self.name}: the client did not acknowledge the error challenge with {acknowledgement!r}")
        return None


_SERVER_EXCHANGES: dict[str, Callable[[SASLServer, bytes | None], _Exchange]] = {
    "PLAIN": SASLServer._plain,
    "LOGIN": SASLServer._login,
    "CRAM-MD5": SASLServer._cram_md5,
    "XOAUTH2": SASLServer._xoauth2,
    "OAUTHBEARER": SASLServer._oauthbearer,
}


def decode_response(text: str, *, initial: bool = False) -> bytes:
    """A client's response line (or the AUTH line's *initial* response, where ``=`` is empty) as bytes."""
    if initial and text == "=":
        return b""
    return _b64decode(text, "the AUTH response")
