"""The run's and each test's settings: typed values, the layers they come from, one precedence, every rule once.

A value can come in by six doors: the command line, an ini file, a profile, a test's
``@pytest.mark.smtp(...)`` marker (or its ``smtp_connect(...)`` call), a ``.smtp`` file's front
matter, and ``smtpcheck record``'s options. Each door hands its raw values over as a
:data:`Layer` of :class:`Given` values that say where they were written; the rules here check
them all alike, and a bad one raises :class:`SettingsError` naming the door as the user wrote it
(``--smtp-timeout``, ``smtp_timeout (pytest.ini)``, ``smtpcheck.toml: profiles.ci.timeout``,
``relay.smtp: front matter timeout``, ``@pytest.mark.smtp(timeout=-1) on test_x``).

Precedence, highest first (:data:`PRECEDENCE`): the test's own declaration (marker or front
matter), the command line, the profile, ini, the default. A test that must run in plain text says
``tls = "none"`` and stays right under ``--smtp-tls=starttls``, as pytest-timeout's marker beats
``--timeout``. :func:`resolve` merges the run's layers once; :meth:`Settings.for_test` lays a
test's declaration over them. Both keep where each value came from, for the report.

Pytest-free: the pytest face (:mod:`pytest_smtpcheck.plugin`) turns a SettingsError into a usage error.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import NamedTuple, TypeVar

from . import addresses
from .errors import SettingsError
from .vocabulary import (
    AS_VIA_MODES,
    DEFAULT_CONCURRENCY,
    DEFAULT_HELO,
    DEFAULT_TIMEOUT,
    LISTENERS,
    MASK,
    MAX_SECONDS,
    PASSWORD_ENV,
    SANDBOX_POLICIES,
    STANDARD_PORTS,
    TLS_MODES,
    TOKEN_ENV,
    AsVia,
    Listener,
    SandboxPolicy,
    Secret,
    TLSMode,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_HELO",
    "DEFAULT_TIMEOUT",
    "DESTINATIONS",
    "MAX_CONCURRENCY",
    "MAX_SECONDS",
    "PRECEDENCE",
    "TEST_KEYS",
    "Declared",
    "Effective",
    "Given",
    "Layer",
    "SessionOptions",
    "Settings",
    "SettingsError",
    "TLSSettings",
    "declared",
    "describe",
    "environment_secret",
    "parse_ca_file",
    "parse_choice",
    "parse_directories",
    "parse_flag",
    "parse_helo",
    "parse_integer",
    "parse_port",
    "parse_resolver",
    "parse_seconds",
    "parse_target",
    "parse_text",
    "resolve",
    "winner",
]

MAX_CONCURRENCY = 256
DNS_PORT = 53

PRECEDENCE = ("the test's marker or front matter", "command line", "profile", "ini", "default")
DESTINATIONS = ("target", "mx", "sandbox")  # where sessions go: exactly one per layer
# Keys a test may declare for itself (marker, smtp_connect(), front matter).
TEST_KEYS = ("listener", "port", "tls", "helo", "timeout", "deadline", "as", "as_via", "vars",
             "allow_plaintext_auth")
# Variables that would carry a credential: they come from the environment only, never from a door that a
# report shows or a file keeps.
_CREDENTIAL_VARS = ("SMTP_PASSWORD", "SMTP_TOKEN")

_OTHER_LISTENERS = tuple(name for name in LISTENERS if name != "smtp")  # the smtp listener's port is `port`
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HELO = re.compile(r"[!-~]{1,255}")  # one word of printable ASCII: a host name or an [address literal]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_TRUE = ("true", "yes", "y", "on", "1")
_FALSE = ("false", "no", "n", "off", "0")

T = TypeVar("T")
C = TypeVar("C", bound=str)


class Given(NamedTuple):
    """A value as one door gave it: the name to blame it on, the origin the report shows, the base of its paths."""

    value: object
    where: str  # "--smtp-timeout", "smtp_timeout (pytest.ini)", "relay.smtp: front matter timeout", ...
    origin: str  # "command line", "ini (pytest.ini)", "profile ci (smtpcheck.toml)", "marker on test_x", ...
    base: Path | None = None  # relative paths are relative to this directory


class Effective(NamedTuple):
    """One setting in effect, for the report: its key as a profile writes it, its value, where it came from."""

    key: str
    value: object  # None: not set (no deadline, no user, ...)
    origin: str

    def __str__(self) -> str:
        return f"{self.key} {describe(self.value)} ({self.origin})"


Layer = Mapping[str, Given]  # one door's values by key (profiles.PROFILE_KEYS for the run's, TEST_KEYS for a test's)


@dataclass(frozen=True)
class TLSSettings:
    """How a session trusts the server: verification is on unless the engineer turns it off."""

    verify: bool = True
    ca_file: str | None = None
    server_name: str | None = None  # name checked against the certificate; default: the host connected to


@dataclass(frozen=True)
class SessionOptions:
    """Everything one SMTP session needs to know besides where it connects: resolved, checked, one object."""

    helo: str = DEFAULT_HELO
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float | None = None  # None: the reply timeout
    deadline: float | None = None
    tls_mode: TLSMode = "none"
    tls: TLSSettings = field(default_factory=TLSSettings)
    present_as: str | None = None
    present_via: AsVia = "xclient"
    present_as_door: str | None = None  # where present_as was written (`--smtp-as`, a marker, ...), for messages


@dataclass(frozen=True)
class Declared:
    """What one test declares for itself (marker, smtp_connect() or front matter), checked; None: the run's."""

    listener: Listener | None = None
    port: int | None = None
    tls: TLSMode | None = None
    helo: str | None = None
    timeout: float | None = None
    deadline: float | None = None
    as_address: str | None = None
    as_via: AsVia | None = None
    allow_plaintext_auth: bool | None = None  # the run's real credentials may go out without TLS (a trusted network)
    vars: Mapping[str, str] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)  # key -> "marker on test_x", "front matter of f.smtp"
    # key -> the door as written ("@pytest.mark.smtp(as_address='192.0.2.7') on test_x", "relay.smtp:3: front matter
    # as"): rules that need the run (Settings.check_test) refuse a value after it was read, naming it
    doors: Mapping[str, str] = field(default_factory=dict, compare=False)

    def session_options(self, base: SessionOptions) -> SessionOptions:
        """*base* (the run's, for one target) with this declaration laid over it: the test's own word wins.

        The submissions listener speaks TLS from the first byte, unless the test itself says otherwise.
        """
        tls: TLSMode = self.tls or ("implicit" if self.listener == "submissions" else base.tls_mode)
        return replace(
            base, tls_mode=tls, helo=self.helo or base.helo, timeout=self.timeout or base.timeout,
            deadline=self.deadline or base.deadline, present_as=self.as_address or base.present_as,
            present_via=self.as_via or base.present_via,
            present_as_door=self.doors.get("as") if self.as_address else base.present_as_door,
        )

    def effective(self) -> list[Effective]:
        """What this declaration sets, each with its origin (``helo x (marker on test_x)``), for the test's report."""
        rows = [Effective("as" if name == "as_address" else name, getattr(self, name), self.origins.get(
            "as" if name == "as_address" else name, "")) for name in _TEST_FIELDS if getattr(self, name) is not None]
        return rows + [Effective(f"vars.{name}", value, self.origins.get("vars", ""))
                       for name, value in sorted(self.vars.items())]

    def over(self, other: Declared) -> Declared:
        """This declaration laid over *other* (a call's keywords over the marker): set values win."""
        mine = {key: getattr(self, key) for key in _TEST_FIELDS if getattr(self, key) is not None}
        return replace(other, **mine, vars={**other.vars, **self.vars}, origins={**other.origins, **self.origins},
                       doors={**other.doors, **self.doors})


_TEST_FIELDS = tuple(f.name for f in fields(Declared) if f.name not in ("vars", "origins", "doors"))  # single values


@dataclass(frozen=True)
class Settings:
    """The run's settings, checked and merged, before a target is resolved; ``origins`` says where each came from."""

    host: str | None = None  # None: --smtp-mx or the sandbox
    ports: dict[str, int] = field(default_factory=dict)  # explicit ports only; the rest are STANDARD_PORTS
    tls: TLSMode = "none"
    helo: str = DEFAULT_HELO
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float | None = None  # None: the reply timeout
    deadline: float | None = None
    ca_file: str | None = None  # an absolute path to a PEM bundle that loads
    verify: bool = True
    tls_name: str | None = None
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    vars: dict[str, str] = field(default_factory=dict)
    sandbox: SandboxPolicy = "secure"
    mx: str | None = None  # a DNS name without the trailing dot
    resolver: tuple[str, int] | None = None  # (IP address, port)
    concurrency: int = DEFAULT_CONCURRENCY
    as_address: str | None = None
    as_via: AsVia = "xclient"
    update: bool = False
    token: Secret | None = field(default=None, repr=False)
    password_env: str = PASSWORD_ENV
    profile: str | None = None
    message_dirs: tuple[str, ...] = ()  # absolute: directories outside the test tree that message files may come from
    # where each value came from, by profile key ("timeout", "listeners.submission", "vars.SMTP_DOMAIN", ...)
    origins: dict[str, str] = field(default_factory=dict, compare=False)
    doors: dict[str, str] = field(default_factory=dict, compare=False)  # key -> where it was written ("--smtp-as")

    def effective(self) -> list[Effective]:
        """Every setting in effect, defaults included, each with its origin: what the report lists."""
        origin = self.origins.get
        sandbox = self.host is None and self.mx is None
        rows = [Effective("target", addresses.joined(self.host, self.ports.get("smtp", STANDARD_PORTS["smtp"]))
                          if self.host else "every MX" if self.mx else "the embedded sandbox",
                          origin("target", "default"))]
        rows += [Effective("mx", self.mx, origin("mx", "default"))] if self.mx else []
        rows += [Effective("sandbox", self.sandbox, origin("sandbox", "default"))] if sandbox else []
        rows += [
            *self._listeners(),
            Effective("tls", self.tls, origin("tls", "default")),
            Effective("helo", self.helo, origin("helo", "default")),
            Effective("timeout", self.timeout, origin("timeout", "default")),
            Effective("connect_timeout", self.connect_timeout or self.timeout,
                      origin("connect_timeout", "default") if self.connect_timeout else "default: the reply timeout"),
            Effective("deadline", self.deadline, origin("deadline", "default")),
            Effective("ca", "the sandbox's own", "made for the run" + (
                f", not the one from {origin('ca')}" if self.ca_file else "")) if sandbox
            else Effective("ca", self.ca_file, origin("ca", "default")),
            Effective("tls_name", self.tls_name, origin("tls_name", "default")) if self.tls_name
            else Effective("tls_name", "the sandbox's address" if sandbox else "each MX host's name" if self.mx
                           else self.host, "default: the name connected to"),
            Effective("no_verify", not self.verify, origin("no_verify", "default")),
            Effective("user", self.user, origin("user", "default")),
            Effective("password", self.password, origin("password", "default")),
            Effective("token", self.token, origin("token", "default")),
            *(Effective(f"vars.{name}", value, origin(f"vars.{name}", "default"))
              for name, value in sorted(self.vars.items())),
            Effective("resolver", self.resolver, origin("resolver", "default")),
            Effective("concurrency", self.concurrency, origin("concurrency", "default")),
            Effective("as", self.as_address, origin("as", "default")),
            Effective("as_via", self.as_via, origin("as_via", "default")),
            Effective("message_dirs", ", ".join(self.message_dirs), origin("message_dirs", "default"))
            if self.message_dirs else Effective("message_dirs", "none", "default: the test tree only"),
            Effective("update", self.update, origin("update", "default")),
            Effective("profile", self.profile, origin("profile", "default")),
        ]
        return rows

    def _listeners(self) -> list[Effective]:
        """The listeners' ports as they apply: the sandbox has all three, on ports it picks when it starts; a
        target (or each MX address) has the smtp one, and another only when the run gives its port."""
        if self.host is None and self.mx is None:
            return [Effective(key, "the sandbox's", "picked at its start")
                    for key in ("port", *(f"listeners.{name}" for name in _OTHER_LISTENERS))]
        origin = self.origins.get
        rows = [Effective("port", self.ports.get("smtp", STANDARD_PORTS["smtp"]), origin("port", "default"))]
        return rows + [Effective(f"listeners.{name}", self.ports[name], origin(f"listeners.{name}", "default"))
                       if name in self.ports else Effective(f"listeners.{name}", "not given", "tests that need it skip")
                       for name in _OTHER_LISTENERS]

    def check_test(self, test: Declared) -> None:
        """A test's own declaration against this run: the rules that need the run's destination, as resolve()
        applies them to the run's doors; a refusal names the test's door."""
        as_where = (test.doors.get("as", "as_address") if test.as_address
                    else self.doors.get("as", "--smtp-as") if self.as_address else None)
        _presenting(as_where, test.doors.get("as_via", "as_via") if test.as_via else None,
                    self.host is None and self.mx is None)

    def secrets(self) -> tuple[Secret, ...]:
        """The run's secret values (password, token): masked in every output."""
        return tuple(value for value in (self.password, self.token) if value)

    def session_options(self, *, ca_file: str | None = None, server_name: str | None = None) -> SessionOptions:
        """The run's options for one session; a target may bring its own CA (the sandbox) or name (an MX host)."""
        return SessionOptions(
            helo=self.helo, timeout=self.timeout, connect_timeout=self.connect_timeout, deadline=self.deadline,
            tls_mode=self.tls,
            tls=TLSSettings(verify=self.verify, ca_file=ca_file or self.ca_file,
                            server_name=self.tls_name or server_name),
            present_as=self.as_address, present_via=self.as_via, present_as_door=self.doors.get("as"),
        )

    def hint(self, key: str) -> str:
        """How the user gives the setting *key*, for skip reasons: never a password on the command line."""
        if key == "password":
            return f"set the environment variable {self.password_env} (a password is never an option)"
        if key == "token":
            return f"set the environment variable {TOKEN_ENV}"
        flag = {"listeners": "--smtp-listener", "vars": "--smtp-var"}.get(key, "--smtp-" + key.replace("_", "-"))
        return f"give {flag} (ini smtp_{key}, profile key {key})"


# The run: layers merged once


def resolve(layers: Sequence[Layer], environ: Mapping[str, str] | None = None) -> Settings:
    """Check and merge the run's layers, highest first (command line, profile, ini); keep each value's origin."""
    environ = os.environ if environ is None else environ
    origins: dict[str, str] = {}
    doors: dict[str, str] = {}

    def pick(key: str, convert: Callable[[Given], T], default: T) -> T:
        given = winner(layers, key)
        origins[key] = given.origin if given else "default"
        if given is not None:
            doors[key] = given.where
        return default if given is None else convert(given)

    destination = _destination(layers)
    chosen = {destination.key: destination.given} if destination.given else {}
    for key in DESTINATIONS:
        origins[key] = chosen[key].origin if key in chosen else "default"
    host, target_port = parse_target(chosen["target"].value, chosen["target"].where) if "target" in chosen else (
        None, None)
    password_env = pick("password", _password_env, PASSWORD_ENV)
    as_address = pick("as", _ip, None)
    as_via: AsVia = pick("as_via", lambda given: parse_choice(given.value, given.where, AS_VIA_MODES), "xclient")
    _presenting(doors.get("as"), doors.get("as_via"), "target" not in chosen and "mx" not in chosen)
    return Settings(
        host=host,
        ports=_ports(layers, destination, target_port, origins),
        tls=pick("tls", lambda given: parse_choice(given.value, given.where, TLS_MODES), "none"),
        helo=pick("helo", lambda given: parse_helo(given.value, given.where), DEFAULT_HELO),
        timeout=pick("timeout", lambda given: parse_seconds(given.value, given.where), DEFAULT_TIMEOUT),
        connect_timeout=pick("connect_timeout", lambda given: parse_seconds(given.value, given.where), None),
        deadline=pick("deadline", lambda given: parse_seconds(given.value, given.where), None),
        ca_file=pick("ca", lambda given: parse_ca_file(given.value, given.where, given.base), None),
        verify=not pick("no_verify", parse_flag, False),
        tls_name=pick("tls_name", lambda given: _address(addresses.host, given.value, given.where), None),
        user=pick("user", lambda given: parse_text(given.value, given.where), None),
        password=_environment(environ, password_env, "password", origins),
        vars=_merged(layers, "vars", lambda name, value, where: _variable(name, value, where, password_env), origins),
        sandbox=parse_choice(chosen["sandbox"].value, chosen["sandbox"].where, SANDBOX_POLICIES)
        if "sandbox" in chosen else "secure",
        mx=_address(addresses.dns_name, chosen["mx"].value, chosen["mx"].where) if "mx" in chosen else None,
        resolver=pick("resolver", lambda given: parse_resolver(given.value, given.where), None),
        concurrency=pick("concurrency", lambda given: parse_integer(given.value, given.where, 1, MAX_CONCURRENCY),
                         DEFAULT_CONCURRENCY),
        as_address=as_address,
        as_via=as_via,
        update=pick("update", parse_flag, False),
        token=_environment(environ, TOKEN_ENV, "token", origins),
        password_env=password_env,
        message_dirs=pick("message_dirs", parse_directories, ()),
        origins=origins,
        doors=doors,
    )


def _presenting(as_where: str | None, via_where: str | None, to_sandbox: bool) -> None:
    """The one rule for presenting another client address, at the run's doors and a test's (*as_where*: where
    the address was given, None: none is; *via_where*: where a method was): a method needs an address, and the
    embedded sandbox takes neither XCLIENT nor a PROXY header."""
    if as_where is None and via_where is not None:
        raise SettingsError(via_where, "needs an address to present (--smtp-as)")
    if as_where is not None and to_sandbox:
        raise SettingsError(as_where, "needs --smtp-target or --smtp-mx: "
                            "the embedded sandbox takes neither XCLIENT nor a PROXY header")


def environment_secret(name: str, environ: Mapping[str, str] | None = None) -> Secret | None:
    """A value read from the environment: always a secret (masked everywhere); empty counts as unset."""
    value = (os.environ if environ is None else environ).get(name)
    return Secret(value) if value else None


def _environment(environ: Mapping[str, str], name: str, key: str, origins: dict[str, str]) -> Secret | None:
    """A password or token: read from the environment only."""
    value = environment_secret(name, environ)
    origins[key] = f"environment ({name})" if value else "default"
    return value


def winner(layers: Sequence[Layer], key: str) -> Given | None:
    """KEY as the highest layer that gives it has it, or None: the one precedence, for the battery's keys too."""
    return next((layer[key] for layer in layers if key in layer), None)


class _Destination(NamedTuple):
    """Where sessions go, and the rank of the layer that said so (len(layers) for the default)."""

    key: str  # "target", "mx" or "sandbox"
    given: Given | None
    rank: int


def _destination(layers: Sequence[Layer]) -> _Destination:
    """The highest layer that names a target, an MX domain or the sandbox decides; one of them per layer."""
    for rank, layer in enumerate(layers):
        named = [key for key in DESTINATIONS if key in layer]
        if len(named) > 1:
            first, second = (layer[key].where for key in named[:2])
            raise SettingsError(first, f"{second} exclude each other; give one", joined=" and ")
        if named:
            return _Destination(named[0], layer[named[0]], rank)
    return _Destination("sandbox", None, len(layers))


def _ports(layers: Sequence[Layer], destination: _Destination, target_port: int | None,
           origins: dict[str, str]) -> dict[str, int]:
    """Explicit ports: the smtp one from `port` or the target (the higher layer wins), others from listeners."""
    ports = _merged(layers, "listeners", _listener_port, origins)
    smtp = None  # (rank, port, origin)
    if target_port is not None and destination.given:
        smtp = (destination.rank, target_port, destination.given.origin)
    rank, given = next(((rank, layer["port"]) for rank, layer in enumerate(layers) if "port" in layer),
                       (len(layers), None))
    if given is not None:
        port = parse_port(given.value, given.where)
        if smtp and smtp[0] == rank and smtp[1] != port and destination.given:
            raise SettingsError(destination.given.where, f"says port {smtp[1]} but {given.where} says {port}; "
                                "give one", joined=" ")
        if smtp is None or rank < smtp[0]:
            smtp = (rank, port, given.origin)
    origins["port"] = smtp[2] if smtp else "default"
    if smtp:
        ports["smtp"] = smtp[1]
    if destination.key == "sandbox" and ports:
        culprit = given or winner(layers, "listeners")
        raise SettingsError(culprit.where if culprit else "--smtp-port",
                            "needs --smtp-target or --smtp-mx (the sandbox picks its own ports)")
    return ports


def _merged(layers: Sequence[Layer], key: str, convert: Callable[[str, object, str], tuple[str, T]],
            origins: dict[str, str]) -> dict[str, T]:
    """NAME=VALUE settings merge name by name across layers; for each name the highest layer wins."""
    merged: dict[str, T] = {}
    for layer in reversed(layers):
        if key in layer:
            for name, raw, where in _pairs(layer[key]):
                checked, value = convert(name, raw, where)
                merged[checked] = value
                origins[f"{key}.{checked}"] = layer[key].origin
    if not merged:
        origins[key] = "default"
    return merged


# A test: its own declaration, checked by the same rules


def declared(layer: Layer) -> Declared:
    """Check a test's declaration (marker, smtp_connect() keywords or front matter; keys of TEST_KEYS)."""
    for key, given in layer.items():
        if key not in TEST_KEYS:
            raise SettingsError(given.where, f"unknown setting; known: {', '.join(TEST_KEYS)}")

    def get(key: str, convert: Callable[[Given], T]) -> T | None:
        return convert(layer[key]) if key in layer else None

    variables = dict(_variable(name, raw, where) for name, raw, where in _pairs(layer["vars"])) if "vars" in layer \
        else {}
    return Declared(
        listener=get("listener", lambda given: parse_choice(given.value, given.where, LISTENERS)),
        port=get("port", lambda given: parse_port(given.value, given.where)),
        tls=get("tls", lambda given: parse_choice(given.value, given.where, TLS_MODES)),
        helo=get("helo", lambda given: parse_helo(given.value, given.where)),
        timeout=get("timeout", lambda given: parse_seconds(given.value, given.where)),
        deadline=get("deadline", lambda given: parse_seconds(given.value, given.where)),
        as_address=get("as", _ip),
        as_via=get("as_via", lambda given: parse_choice(given.value, given.where, AS_VIA_MODES)),
        allow_plaintext_auth=get("allow_plaintext_auth", _boolean),
        vars=variables,
        origins={key: given.origin for key, given in layer.items()},
        doors={key: given.where for key, given in layer.items()},
    )


# One rule per kind of value; every door goes through these.


def parse_text(value: object, where: str) -> str:
    """A string value, stripped; TOML may give another type, and an empty value is never taken as "none"."""
    if not isinstance(value, str):
        raise SettingsError(where, f"must be a string, not {value!r}")
    text = _plain(value, where).strip()
    if not text:
        raise SettingsError(where, "empty; leave it out for the default")
    return text


def _plain(text: str, where: str) -> str:
    """No control characters anywhere: a CR or LF in a value would end an SMTP command line early."""
    if _CONTROL.search(text):
        raise SettingsError(where, f"control characters (CR, LF, ...) are not allowed: {text!r}")
    return text


def parse_choice(value: object, where: str, choices: tuple[C, ...]) -> C:
    """One of a vocabulary's words (TLS modes, listeners, sandbox policies, as_via methods), typed as such."""
    text = parse_text(value, where)
    for choice in choices:
        if text == choice:
            return choice
    raise SettingsError(where, f"must be one of {', '.join(choices)}, not {text!r}")


def parse_integer(value: object, where: str, low: int, high: int) -> int:
    """The one rule for a whole number in a range: concurrency, ports, days."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value)
    if number is None or not low <= number <= high:
        raise SettingsError(where, f"must be a whole number from {low} to {high}, not {value!r}")
    return number


def parse_port(value: object, where: str) -> int:
    """The one rule for a port, wherever one appears: target, port, listeners, resolver, a marker."""
    return parse_integer(value, where, 1, 65535)


def parse_seconds(value: object, where: str) -> float:
    """The one rule for a timeout, connect timeout or deadline: above 0, at most MAX_SECONDS."""
    seconds = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            pass
    if not 0 < seconds <= MAX_SECONDS:  # also false for nan
        raise SettingsError(where, f"must be a number of seconds above 0 and at most {MAX_SECONDS:g}, not {value!r}")
    return seconds


def parse_flag(given: Given) -> bool:
    """True from the command line; true/false in TOML; pytest's yes/no words in ini files."""
    value = given.value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise SettingsError(given.where, f"must be true or false, not {value!r}")


def _boolean(given: Given) -> bool:
    """A switch a test declares (a Python or TOML boolean): a string there is a typo, not a yes."""
    if not isinstance(given.value, bool):
        raise SettingsError(given.where, f"must be true or false, not {given.value!r}")
    return given.value


def parse_helo(value: object, where: str) -> str:
    """The one rule for the EHLO name: one word of printable ASCII, a host name or an [address literal]."""
    text = parse_text(value, where)
    if not _HELO.fullmatch(text):
        raise SettingsError(where, f"must be one host name or [address], without spaces, not {text!r}")
    return text


def parse_ca_file(value: object, where: str, base: Path | None = None) -> str:
    """A CA bundle that loads: a wrong file is the user's mistake, not the server's certificate problem."""
    path = (base or Path.cwd()) / Path(parse_text(value, where)).expanduser()
    if not path.is_file():
        raise SettingsError(where, f"no such file: {path}")
    import ssl

    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as error:
        raise SettingsError(where, f"{path} is not a PEM bundle of CA certificates ({error})") from None
    return str(path)


def parse_directories(given: Given) -> tuple[str, ...]:
    """Directories that exist (ini `smtp_message_dirs`, shell-like words): each relative to where it was written.

    A directory that is not there would silently allow nothing: a typo, or a path relative to the wrong place."""
    words = given.value if isinstance(given.value, list) else [given.value]
    found = []
    for word in words:
        written = parse_text(word, given.where)
        path = ((given.base or Path.cwd()) / Path(written).expanduser()).resolve()
        if not path.is_dir():
            problem = "not a directory" if path.exists() else "no such directory"
            raise SettingsError(given.where, f"{problem}: {written} ({path})")
        found.append(str(path))
    return tuple(found)


def _password_env(given: Given) -> str:
    value = given.value
    if isinstance(value, str):
        raise SettingsError(given.where, 'never write a password in a file; use password = { env = "VAR" }')
    if not (isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)
            and _VAR_NAME.fullmatch(value["env"])):
        raise SettingsError(given.where, f'must be {{ env = "VAR" }}, naming an environment variable, not {value!r}')
    return value["env"]


def _pairs(given: Given) -> list[tuple[str, object, str]]:
    """A table (profiles, markers, front matter) or NAME=VALUE lines (command line, ini), as (name, value, where)."""
    if isinstance(given.value, Mapping):
        return [(str(name), value, f"{given.where}.{name}") for name, value in given.value.items()]
    if not isinstance(given.value, list):
        raise SettingsError(given.where, f"must be a table of NAME = VALUE, not {given.value!r}")
    pairs: list[tuple[str, object, str]] = []
    for item in given.value:
        name, equals, value = item.partition("=") if isinstance(item, str) else ("", "", "")
        if not equals:
            raise SettingsError(given.where, f"expected NAME=VALUE, not {item!r}")
        pairs.append((name.strip(), value.strip(), given.where))
    return pairs


def _listener_port(name: str, value: object, where: str) -> tuple[str, int]:
    if name not in _OTHER_LISTENERS:
        raise SettingsError(where, f"unknown listener {name!r}; use one of {', '.join(_OTHER_LISTENERS)} "
                            "(the smtp listener's port is --smtp-port)")
    return name, parse_port(value, where)


def _variable(name: str, value: object, where: str, password_env: str | None = None) -> tuple[str, str]:
    """A NAME = VALUE variable; *password_env* is the run's password variable where known (a test's own
    declaration is checked before the run's settings are, so it names the default and the profile's way)."""
    if not _VAR_NAME.fullmatch(name):
        raise SettingsError(where, f"{name!r} is not a variable name (letters, digits, underscore)")
    if name in _CREDENTIAL_VARS:
        source = (TOKEN_ENV if name == "SMTP_TOKEN" else password_env
                  or f'{PASSWORD_ENV}, or the one a profile\'s password = {{ env = "VAR" }} names')
        raise SettingsError(where, f"{name} is never given as a variable, where a report or file would show it: "
                            f"set the environment variable {source}")
    if not isinstance(value, str):
        raise SettingsError(where, f"must be a string, not {value!r}")
    return name, _plain(value, where)


def _ip(given: Given) -> str:
    return _address(addresses.ip, given.value, given.where)


def parse_target(text: object, where: str = "--smtp-target") -> tuple[str | None, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address (whose last group is never a port)."""
    if text is None:
        return None, None
    host, port = _address(addresses.host_and_port, text, where)
    return _address(addresses.host, host, where), None if port is None else parse_port(port, where)


def parse_resolver(text: object, where: str) -> tuple[str, int]:
    """`IP`, `IP:PORT`, `[v6]:PORT` or a bare IPv6 address: a resolver is an address, never a name to resolve."""
    host, port = _address(addresses.host_and_port, text, where)
    return _address(addresses.ip, host, where), DNS_PORT if port is None else parse_port(port, where)


def _address(rule: Callable[[str], T], value: object, where: str) -> T:
    """Apply one of the shared address rules (addresses.py) to a text value; its error names the door."""
    try:
        return rule(parse_text(value, where))
    except addresses.AddressError as error:
        raise SettingsError(where, str(error)) from None


def describe(value: object) -> str:
    """A value as the report shows it: seconds with their unit, a resolver as IP:PORT, never a secret."""
    if value is None:
        return "none"
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g} s"
    if isinstance(value, tuple) and len(value) == 2:
        return addresses.joined(str(value[0]), int(value[1]))
    return str(value)
