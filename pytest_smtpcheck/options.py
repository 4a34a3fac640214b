"""Command-line options and their ini twins, read once and checked at start-up.

A bad value stops the run before any connection with a one-line usage error,
rather than failing every test the same way.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import pytest

LISTENERS = ("smtp", "submission", "submissions")
STANDARD_PORTS = {"smtp": 25, "submission": 587, "submissions": 465}
SANDBOX_POLICIES = ("secure", "misconfigured")
PASSWORD_ENV = "SMTPCHECK_PASSWORD"
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# (option, ini name, ini type, metavar, help); options default to None so the ini value shows through.
_OPTIONS = [
    ("--smtp-target", "smtp_target", "string", "HOST[:PORT]",
     "server to test, e.g. mx.example.com or [2001:db8::25]:2525; without it, the embedded sandbox MX"),
    ("--smtp-port", "smtp_port", "string", "PORT", "port of the smtp listener (default 25, or the port in --smtp-target)"),
    ("--smtp-listener", "smtp_listeners", "linelist", "NAME=PORT",
     "port of another listener: submission=587, submissions=465 (repeatable)"),
    ("--smtp-tls", "smtp_tls", "string", "MODE",
     "none: plain TCP; starttls: sessions upgrade before the test gets them; implicit: TLS from the first byte"),
    ("--smtp-helo", "smtp_helo", "string", "NAME", "name sent with EHLO/HELO (default: probe.smtpcheck.invalid)"),
    ("--smtp-timeout", "smtp_timeout", "string", "SECONDS", "how long to wait for each reply (default 30)"),
    ("--smtp-connect-timeout", "smtp_connect_timeout", "string", "SECONDS",
     "how long to wait for the TCP connection (default: the reply timeout)"),
    ("--smtp-deadline", "smtp_deadline", "string", "SECONDS",
     "overall time one session may take, however the server drips its replies (default: none)"),
    ("--smtp-ca", "smtp_ca", "string", "FILE", "CA bundle (PEM) that signs the server's certificate"),
    ("--smtp-tls-name", "smtp_tls_name", "string", "NAME",
     "name the certificate must match, when you connect by address (default: the target host)"),
    ("--smtp-user", "smtp_user", "string", "USER", f"AUTH user; the password is read from ${PASSWORD_ENV}, never from the command line"),
    ("--smtp-var", "smtp_vars", "linelist", "NAME=VALUE", "variable for .smtp files and smtp_server.vars (repeatable)"),
    ("--smtp-sandbox", "smtp_sandbox", "string", "POLICY",
     "policy of the embedded sandbox: secure (default) or misconfigured (open relay, AUTH in plain text)"),
]


@dataclass(frozen=True)
class Settings:
    """The run's SMTP settings, before a target is resolved."""

    host: str | None = None
    ports: dict[str, int] = field(default_factory=dict)  # explicit ports only
    tls: str = "none"
    helo: str = "probe.smtpcheck.invalid"
    timeout: float = 30.0
    connect_timeout: float | None = None
    deadline: float | None = None
    ca_file: str | None = None
    verify: bool = True
    tls_name: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    vars: dict[str, str] = field(default_factory=dict)
    sandbox: str = "secure"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("smtpcheck", "SMTP acceptance tests (pytest-smtpcheck)")
    for option, ini, kind, metavar, text in _OPTIONS:
        repeatable = kind == "linelist"
        group.addoption(option, action="append" if repeatable else "store", dest=ini, metavar=metavar,
                        default=None, help=text)
        parser.addini(ini, f"{text} (ini twin of {option})", type=kind)
    group.addoption("--smtp-no-verify", action="store_true", dest="smtp_no_verify", default=None,
                    help="do not verify the server's TLS certificate (the report says so)")
    parser.addini("smtp_no_verify", "do not verify TLS certificates (ini twin of --smtp-no-verify)", type="bool",
                  default=False)


def read_settings(config: pytest.Config) -> Settings:
    """Read and check every option; raises pytest.UsageError with a one-line message."""

    def value(name: str):
        given = config.getoption(name)
        return given if given is not None else config.getini(name)

    host, port = parse_target(value("smtp_target") or None)
    ports = dict(parse_assignments(value("smtp_listeners") or [], "--smtp-listener", _listener_port))
    explicit_port = value("smtp_port") or None
    if explicit_port is not None:
        explicit_port = parse_port(explicit_port, "--smtp-port")
        if port is not None and port != explicit_port:
            raise pytest.UsageError(f"--smtp-target says port {port} but --smtp-port says {explicit_port}; give one")
        port = explicit_port
    if port is not None:
        ports["smtp"] = port
    if host is None and ports:
        raise pytest.UsageError("--smtp-port/--smtp-listener need --smtp-target (the sandbox picks its own ports)")
    tls = value("smtp_tls") or "none"
    if tls not in ("none", "starttls", "implicit"):
        raise pytest.UsageError(f"--smtp-tls must be none, starttls or implicit, not {tls!r}")
    sandbox = value("smtp_sandbox") or "secure"
    if sandbox not in SANDBOX_POLICIES:
        raise pytest.UsageError(f"--smtp-sandbox must be secure or misconfigured, not {sandbox!r}")
    if host is not None and value("smtp_sandbox"):
        raise pytest.UsageError("--smtp-sandbox applies only without --smtp-target")
    ca_file = value("smtp_ca") or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise pytest.UsageError(f"--smtp-ca: no such file: {ca_file}")
    deadline = value("smtp_deadline")
    connect_timeout = value("smtp_connect_timeout")
    return Settings(
        host=host,
        ports=ports,
        tls=tls,
        helo=value("smtp_helo") or Settings.helo,
        timeout=parse_seconds(value("smtp_timeout") or Settings.timeout, "--smtp-timeout"),
        connect_timeout=parse_seconds(connect_timeout, "--smtp-connect-timeout") if connect_timeout else None,
        deadline=parse_seconds(deadline, "--smtp-deadline") if deadline else None,
        ca_file=ca_file,
        verify=not value("smtp_no_verify"),
        tls_name=value("smtp_tls_name") or None,
        user=value("smtp_user") or None,
        password=_secret(os.environ.get(PASSWORD_ENV)),
        vars=dict(parse_assignments(value("smtp_vars") or [], "--smtp-var", _var_value)),
        sandbox=sandbox,
    )


def parse_target(text: str | None) -> tuple[str | None, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address."""
    if text is None:
        return None, None
    text = text.strip()
    bracketed = re.fullmatch(r"\[([0-9A-Fa-f:.%\w]+)\](?::(.*))?", text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
    elif text.count(":") > 1:
        host, port = text, None
    else:
        host, _, port = text.partition(":")
        port = port if _ else None
    if not host or not re.fullmatch(r"[A-Za-z0-9_.:%-]+", host):
        raise pytest.UsageError(f"--smtp-target: {text!r} is not HOST[:PORT] (IPv6 in brackets: [2001:db8::1]:25)")
    return host, parse_port(port, "--smtp-target") if port is not None else None


def parse_port(text: str, option: str) -> int:
    if not str(text).isdigit() or not 0 < int(text) < 65536:
        raise pytest.UsageError(f"{option}: port must be a number from 1 to 65535, not {text!r}")
    return int(text)


def parse_seconds(text: str | float, option: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise pytest.UsageError(f"{option} must be a positive number of seconds, not {text!r}")
    return seconds


def parse_assignments(items: list[str], option: str, convert) -> list[tuple[str, object]]:
    pairs = []
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise pytest.UsageError(f"{option}: expected NAME=VALUE, got {item!r}")
        pairs.append(convert(name.strip(), raw.strip(), option))
    return pairs


def _secret(value: str | None):
    from .transcript import Secret

    return Secret(value) if value else None


def _listener_port(name: str, raw: str, option: str) -> tuple[str, int]:
    if name not in LISTENERS:
        raise pytest.UsageError(f"{option}: unknown listener {name!r}; use one of {', '.join(LISTENERS)}")
    return name, parse_port(raw, f"{option} {name}")


def _var_value(name: str, raw: str, option: str) -> tuple[str, str]:
    if not _VAR_NAME.fullmatch(name):
        raise pytest.UsageError(f"{option}: {name!r} is not a variable name (letters, digits, underscore)")
    return name, raw
