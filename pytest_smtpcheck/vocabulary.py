"""The words every part of the plugin shares, defined once: listeners, TLS modes, AUTH mechanisms, the mask,
and the defaults the options' help quotes.

Options, markers, `.smtp` front matter, profiles, the sandbox and the reports all
import these; none of them keeps a list of its own. Nothing here costs more than a
constant: the options are declared from it in every pytest run of the environment.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "AS_VIA_MODES",
    "AUTH_MECHANISMS",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_HELO",
    "DEFAULT_TIMEOUT",
    "LISTENERS",
    "MASK",
    "MAX_SECONDS",
    "PASSWORD_ENV",
    "SANDBOX_POLICIES",
    "SHORTEST_SECRET",
    "STANDARD_PORTS",
    "TLS_MODES",
    "TOKEN_ENV",
    "AsVia",
    "Listener",
    "SandboxPolicy",
    "Secret",
    "TLSMode",
    "mask_auth_line",
]

Listener = Literal["smtp", "submission", "submissions"]
TLSMode = Literal["none", "starttls", "implicit"]
AsVia = Literal["xclient", "proxy-v1", "proxy-v2"]  # how a session presents another client address
SandboxPolicy = Literal["secure", "misconfigured"]

LISTENERS: tuple[Listener, ...] = get_args(Listener)
STANDARD_PORTS: dict[Listener, int] = {"smtp": 25, "submission": 587, "submissions": 465}
TLS_MODES: tuple[TLSMode, ...] = get_args(TLSMode)
AS_VIA_MODES: tuple[AsVia, ...] = get_args(AsVia)
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")
SANDBOX_POLICIES: tuple[SandboxPolicy, ...] = get_args(SandboxPolicy)
PASSWORD_ENV = "SMTPCHECK_PASSWORD"  # the environment variable of the AUTH password (a profile may name another)
TOKEN_ENV = "SMTPCHECK_TOKEN"  # the environment variable of the OAuth token

# Sessions open at once per target. Well under Postfix's smtpd_client_connection_count_limit (50) and
# Exchange's default of 20 connections per source, so a test run never looks like an attack; 1 = one at a time.
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 30.0
# RFC 5321 (4.5.3.2) asks clients to wait at most 10 minutes for any reply; an hour is surely a typo.
MAX_SECONDS = 3600.0
DEFAULT_HELO = "probe.smtpcheck.invalid"

MASK = "****"
SHORTEST_SECRET = 3  # shorter values are not masked: they would blot out ordinary text


class Secret(str):
    """A password or token: sent as itself, shown as ``****`` by repr (so pytest's assertion output never prints it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


def mask_auth_line(line: str) -> str:
    """A hand-written `AUTH MECH initial-response` line carries credentials: keep only the mechanism."""
    words = line.split()
    if len(words) > 2 and words[0].upper() == "AUTH":
        return f"{words[0]} {words[1]} {MASK}"
    return line
