"""The run's settings: command line, profile, ini and defaults, read once into one typed :class:`Settings`.

Every value is checked at start-up, and a bad one stops the run with a one-line usage error (exit
status 4) that names the option the way the user wrote it: ``--smtp-timeout`` on the command line,
``smtp_timeout (pytest.ini)`` in an ini file, ``smtpcheck.toml: profiles.ci.timeout`` in a profile.
Failing before the first connection beats failing every test the same way, or a silent fallback.

Precedence, highest first: command line, profile, ini, built-in default (markers and ``.smtp`` front
matter apply later, per test, between the command line and the profile). ``Settings.origins`` says
where each value came from. Passwords and tokens come from the environment only.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

import pytest

from . import addresses
from .profiles import PROFILE_ENV, Profile, find_profile_file, select_profile
from .vocabulary import AS_VIA_MODES, LISTENERS, PASSWORD_ENV, SANDBOX_POLICIES, STANDARD_PORTS, TLS_MODES, Secret

__all__ = [
    "AS_VIA_MODES",
    "DEFAULT_CONCURRENCY",
    "LISTENERS",
    "MAX_SECONDS",
    "PASSWORD_ENV",
    "PROFILE_ENV",
    "PROFILE_KEYS",
    "STANDARD_PORTS",
    "TOKEN_ENV",
    "Settings",
    "add_options",
    "parse_target",
    "read_settings",
]

TOKEN_ENV = "SMTPCHECK_TOKEN"
# Sessions open at once per target. Well under Postfix's smtpd_client_connection_count_limit (50) and
# Exchange's default of 20 connections per source, so a test run never looks like an attack; 1 = one at a time.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 256
# RFC 5321 (4.5.3.2) asks clients to wait at most 10 minutes for any reply; an hour is surely a typo.
MAX_SECONDS = 3600.0
DEFAULT_HELO = "probe.smtpcheck.invalid"
DNS_PORT = 53

_OTHER_LISTENERS = tuple(name for name in LISTENERS if name != "smtp")  # the smtp listener's port is --smtp-port
_DESTINATIONS = ("target", "mx", "sandbox")  # where sessions go: exactly one per source
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HELO = re.compile(r"[!-~]{1,255}")  # one word of printable ASCII: a host name or an [address literal]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_TRUE = ("true", "yes", "y", "on", "1")
_FALSE = ("false", "no", "n", "off", "0")
_ABSENT: Any = object()  # the ini default: tells a key left out from one set to an empty value

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The run's SMTP settings, checked, before a target is resolved."""

    host: str | None = None  # None: --smtp-mx or the sandbox
    ports: dict[str, int] = field(default_factory=dict)  # explicit ports only; the rest are STANDARD_PORTS
    tls: str = "none"
    helo: str = DEFAULT_HELO
    timeout: float = 30.0
    connect_timeout: float | None = None  # None: the reply timeout
    deadline: float | None = None
    ca_file: str | None = None  # an absolute path to a PEM bundle that loads
    verify: bool = True
    tls_name: str | None = None
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    vars: dict[str, str] = field(default_factory=dict)
    sandbox: str = "secure"
    mx: str | None = None  # a DNS name without the trailing dot
    resolver: tuple[str, int] | None = None  # (IP address, port)
    concurrency: int = DEFAULT_CONCURRENCY
    as_address: str | None = None
    as_via: str = "xclient"
    update: bool = False
    token: Secret | None = field(default=None, repr=False)
    password_env: str = PASSWORD_ENV
    profile: str | None = None
    # where each value came from, by profile key ("timeout", "listeners.submission", "vars.SMTP_DOMAIN", ...)
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    def hint(self, key: str) -> str:
        """How the user gives the setting *key*, for skip reasons: never a password on the command line."""
        if key == "password":
            return f"set the environment variable {self.password_env} (a password is never an option)"
        if key == "token":
            return f"set the environment variable {TOKEN_ENV}"
        option = _BY_KEY[key]
        twins = [f"ini {option.ini}"] if option.ini else []
        twins += [f"profile key {key}"] if option.profile else []
        return f"give {option.flag}" + (f" ({', '.join(twins)})" if twins else "")


class _Option(NamedTuple):
    """One setting as the user meets it: the option, its ini twin and its profile key."""

    key: str  # the profile key and the key of Settings.origins
    metavar: str | None  # None: a flag
    help: str
    flag: str
    ini: str | None  # None: command line only
    profile: bool
    repeat: bool

    @property
    def dest(self) -> str:
        return self.ini or f"smtp_{self.key}"


def _option(key: str, metavar: str | None, help: str, *, flag: str | None = None, ini: bool = True,
            profile: bool = True, repeat: bool = False) -> _Option:
    return _Option(key, metavar, help, flag or "--smtp-" + key.replace("_", "-"), f"smtp_{key}" if ini else None,
                   profile, repeat)


_OPTIONS = (
    _option("target", "HOST[:PORT]",
            "server to test, e.g. mx.example.com or [2001:db8::25]:2525; without it, the embedded sandbox MX"),
    _option("mx", "DOMAIN", "run every SMTP test once per MX host and address of DOMAIN (instead of --smtp-target)"),
    _option("port", "PORT", "port of the smtp listener (default 25, or the port in --smtp-target)"),
    _option("listeners", "NAME=PORT", f"port of another listener: {', '.join(_OTHER_LISTENERS)} (repeatable)",
            flag="--smtp-listener", repeat=True),
    _option("tls", "MODE", f"how sessions start: {', '.join(TLS_MODES)} (default none; submissions: always implicit)"),
    _option("helo", "NAME", f"name sent with EHLO/HELO (default: {DEFAULT_HELO})"),
    _option("timeout", "SECONDS", f"how long to wait for each reply (default 30, at most {MAX_SECONDS:g})"),
    _option("connect_timeout", "SECONDS", "how long to wait for the TCP connection (default: the reply timeout)"),
    _option("deadline", "SECONDS",
            "overall time one session may take, however the server drips its replies (default: none)"),
    _option("ca", "FILE", "CA bundle (PEM) that signs the server's certificate"),
    _option("tls_name", "NAME", "name the certificate must match, when you connect by address (default: the host)"),
    _option("no_verify", None, "do not verify the server's TLS certificate (the report says so)"),
    _option("user", "USER", f"AUTH user; the password is read from ${PASSWORD_ENV}, never from the command line"),
    _option("vars", "NAME=VALUE", "variable for .smtp files and smtp_server.var() (repeatable)",
            flag="--smtp-var", repeat=True),
    _option("sandbox", "POLICY", f"policy of the embedded sandbox: {', '.join(SANDBOX_POLICIES)} (default secure)"),
    _option("resolver", "IP[:PORT]", "DNS resolver for every query of the run (default: the system's)"),
    _option("concurrency", "N",
            f"at most N sessions open at once per target (default {DEFAULT_CONCURRENCY}; 1: one at a time)"),
    _option("as", "IP", "present IP to the server as the client's address (XCLIENT or a PROXY header)"),
    _option("as_via", "METHOD", f"how --smtp-as is presented: {', '.join(AS_VIA_MODES)} (default xclient)"),
    _option("update", None, "rewrite the first mismatched expectation of each .smtp file with the reply received",
            ini=False, profile=False),
    _option("profile", "NAME", f"profile from smtpcheck.toml or [tool.smtpcheck] (or ${PROFILE_ENV})",
            ini=False, profile=False),
)
_BY_KEY = {option.key: option for option in _OPTIONS}
# `password = { env = "VAR" }` is a profile key only: a password has no option and no ini key.
PROFILE_KEYS = (*(option.key for option in _OPTIONS if option.profile), "password")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("smtpcheck", "SMTP acceptance tests (pytest-smtpcheck)")
    for option in _OPTIONS:
        if option.metavar is None:
            group.addoption(option.flag, action="store_true", dest=option.dest, default=None, help=option.help)
        else:
            group.addoption(option.flag, action="append" if option.repeat else "store", dest=option.dest,
                            metavar=option.metavar, default=None, help=option.help)
        if option.ini:
            kind: Literal["linelist", "string"] = "linelist" if option.repeat else "string"  # our rules check the text
            parser.addini(option.ini, f"{option.help} (ini twin of {option.flag})", type=kind, default=_ABSENT)


class _Given(NamedTuple):
    """A value as one source gave it, with the name to blame it on and the directory its paths are relative to."""

    value: Any
    where: str
    origin: str
    base: Path


_Source = dict[str, _Given]


def read_settings(config: pytest.Config) -> Settings:
    """Read and check every setting; raises pytest.UsageError with a one-line message naming the culprit."""
    profile = _profile(config)
    sources = [_command_line(config), _profile_values(profile) if profile else {}, _ini(config)]
    origins: dict[str, str] = {"profile": _profile_origin(config, profile)}

    def pick(key: str, convert: Callable[[_Given], T], default: T) -> T:
        given = _winner(sources, key)
        origins[key] = given.origin if given else "default"
        return default if given is None else convert(given)

    destination = _destination(sources)
    chosen = {destination.key: destination.given} if destination.given else {}
    for key in _DESTINATIONS:
        origins[key] = chosen[key].origin if key in chosen else "default"
    host, target_port = parse_target(chosen["target"].value, chosen["target"].where) if "target" in chosen else (
        None, None)
    password_env = pick("password", _password_env, PASSWORD_ENV)
    as_address = pick("as", lambda given: _checked(addresses.ip, _text(given.value, given.where), given.where), None)
    as_via = pick("as_via", lambda given: _choice(given.value, given.where, AS_VIA_MODES), "xclient")
    if as_address is None and (as_via_given := _winner(sources, "as_via")):
        raise pytest.UsageError(f"{as_via_given.where}: needs an address to present (--smtp-as)")
    if as_address is not None and "target" not in chosen and "mx" not in chosen:
        where = _winner(sources, "as")
        raise pytest.UsageError(f"{where.where if where else '--smtp-as'}: needs --smtp-target or --smtp-mx: "
                                "the embedded sandbox takes neither XCLIENT nor a PROXY header")
    return Settings(
        host=host,
        ports=_ports(sources, destination, target_port, origins),
        tls=pick("tls", lambda given: _choice(given.value, given.where, TLS_MODES), "none"),
        helo=pick("helo", _helo, DEFAULT_HELO),
        timeout=pick("timeout", _seconds, 30.0),
        connect_timeout=pick("connect_timeout", _seconds, None),
        deadline=pick("deadline", _seconds, None),
        ca_file=pick("ca", _ca_file, None),
        verify=not pick("no_verify", _flag, False),
        tls_name=pick("tls_name", lambda given: _checked(addresses.host, _text(given.value, given.where), given.where),
                      None),
        user=pick("user", lambda given: _text(given.value, given.where), None),
        password=_environment(password_env, "password", origins),
        vars=_merged(sources, "vars", _variable, origins),
        sandbox=_choice(chosen["sandbox"].value, chosen["sandbox"].where, SANDBOX_POLICIES) if "sandbox" in chosen
        else "secure",
        mx=_checked(addresses.dns_name, _text(chosen["mx"].value, chosen["mx"].where), chosen["mx"].where)
        if "mx" in chosen
        else None,
        resolver=pick("resolver", lambda given: parse_resolver(_text(given.value, given.where), given.where), None),
        concurrency=pick("concurrency", lambda given: _integer(given.value, given.where, 1, MAX_CONCURRENCY),
                         DEFAULT_CONCURRENCY),
        as_address=as_address,
        as_via=as_via,
        update=pick("update", _flag, False),
        token=_environment(TOKEN_ENV, "token", origins),
        password_env=password_env,
        profile=profile.name if profile else None,
        origins=origins,
    )


# Sources, highest precedence first: command line, profile, ini


def _command_line(config: pytest.Config) -> _Source:
    here = config.invocation_params.dir
    return {option.key: _Given(value, option.flag, "command line", here)
            for option in _OPTIONS if (value := config.getoption(option.dest)) is not None}


def _ini(config: pytest.Config) -> _Source:
    """Ini values, named after their file; `-o NAME=VALUE` overrides are named as such."""
    overridden = {item.partition("=")[0].strip() for item in config.getoption("override_ini") or ()}
    source = {}
    for option in _OPTIONS:
        if option.ini is None or (value := config.getini(option.ini)) is _ABSENT:
            continue
        if option.ini in overridden or config.inipath is None:
            source[option.key] = _Given(value, f"-o {option.ini}", "command line (-o)", config.invocation_params.dir)
        else:
            name = config.inipath.name
            source[option.key] = _Given(value, f"{option.ini} ({name})", f"ini ({name})", config.inipath.parent)
    return source


def _profile(config: pytest.Config) -> Profile | None:
    file = find_profile_file(config.rootpath, PROFILE_KEYS)
    given = config.getoption("smtp_profile")
    if given is not None:
        return select_profile(file, _text(given, "--smtp-profile"), "--smtp-profile")
    return select_profile(file, os.environ.get(PROFILE_ENV) or None, PROFILE_ENV)


def _profile_origin(config: pytest.Config, profile: Profile | None) -> str:
    if profile is None:
        return "default"
    if config.getoption("smtp_profile") is not None:
        return "command line"
    if os.environ.get(PROFILE_ENV):
        return f"environment ({PROFILE_ENV})"
    return profile.file.path.name


def _profile_values(profile: Profile) -> _Source:
    return {key: _Given(value, profile.where(key), profile.origin, profile.base)
            for key, value in profile.values.items()}


def _environment(name: str, key: str, origins: dict[str, str]) -> Secret | None:
    """A secret from the environment: the only place a password or token is read from."""
    value = os.environ.get(name)
    origins[key] = f"environment ({name})" if value else "default"
    return Secret(value) if value else None


def _winner(sources: list[_Source], key: str) -> _Given | None:
    return next((source[key] for source in sources if key in source), None)


# Rules that span settings


class _Destination(NamedTuple):
    """Where sessions go, and the rank of the source that said so (len(sources) for the default)."""

    key: str  # "target", "mx" or "sandbox"
    given: _Given | None
    rank: int


def _destination(sources: list[_Source]) -> _Destination:
    """The highest source that names a target, an MX domain or the sandbox decides; one of them per source."""
    for rank, source in enumerate(sources):
        named = [key for key in _DESTINATIONS if key in source]
        if len(named) > 1:
            first, second = (source[key].where for key in named[:2])
            raise pytest.UsageError(f"{first} and {second} exclude each other; give one")
        if named:
            return _Destination(named[0], source[named[0]], rank)
    return _Destination("sandbox", None, len(sources))


def _ports(sources: list[_Source], destination: _Destination, target_port: int | None,
           origins: dict[str, str]) -> dict[str, int]:
    """Explicit ports: the smtp one from --smtp-port or the target (the higher source wins), others from listeners."""
    ports = _merged(sources, "listeners", _listener, origins)
    smtp = None  # (rank, port, origin)
    if target_port is not None and destination.given:
        smtp = (destination.rank, target_port, destination.given.origin)
    rank, given = next(((rank, source["port"]) for rank, source in enumerate(sources) if "port" in source),
                       (len(sources), None))
    if given is not None:
        port = parse_port(given.value, given.where)
        if smtp and smtp[0] == rank and smtp[1] != port and destination.given:
            raise pytest.UsageError(f"{destination.given.where} says port {smtp[1]} but {given.where} says {port}; "
                                    "give one")
        if smtp is None or rank < smtp[0]:
            smtp = (rank, port, given.origin)
    origins["port"] = smtp[2] if smtp else "default"
    if smtp:
        ports["smtp"] = smtp[1]
    if destination.key == "sandbox" and ports:
        culprit = given or _winner(sources, "listeners")
        where = culprit.where if culprit else "--smtp-port"
        raise pytest.UsageError(f"{where}: needs --smtp-target or --smtp-mx (the sandbox picks its own ports)")
    return ports


def _merged(sources: list[_Source], key: str, convert: Callable[[str, object, str], tuple[str, T]],
            origins: dict[str, str]) -> dict[str, T]:
    """NAME=VALUE settings merge name by name across sources; for each name the highest source wins."""
    merged: dict[str, T] = {}
    for source in reversed(sources):
        if key in source:
            for name, raw, where in _pairs(source[key]):
                checked, value = convert(name, raw, where)
                merged[checked] = value
                origins[f"{key}.{checked}"] = source[key].origin
    if not merged:
        origins[key] = "default"
    return merged


# One rule per kind of value; the command line, ini files and profiles all go through these.


def _text(value: object, where: str) -> str:
    """A string value, stripped; TOML may give another type, and an empty value is never taken as "none"."""
    if not isinstance(value, str):
        raise pytest.UsageError(f"{where}: must be a string, not {value!r}")
    text = _plain(value, where).strip()
    if not text:
        raise pytest.UsageError(f"{where}: empty; leave it out for the default")
    return text


def _plain(text: str, where: str) -> str:
    """No control characters anywhere: a CR or LF in a value would end an SMTP command line early."""
    if _CONTROL.search(text):
        raise pytest.UsageError(f"{where}: control characters (CR, LF, ...) are not allowed: {text!r}")
    return text


def _choice(value: object, where: str, choices: tuple[str, ...]) -> str:
    text = _text(value, where)
    if text not in choices:
        raise pytest.UsageError(f"{where}: must be one of {', '.join(choices)}, not {text!r}")
    return text


def _integer(value: object, where: str, low: int, high: int) -> int:
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value)
    if number is None or not low <= number <= high:
        raise pytest.UsageError(f"{where}: must be a whole number from {low} to {high}, not {value!r}")
    return number


def parse_port(value: object, where: str) -> int:
    """The one rule for a port, wherever one appears: target, --smtp-port, listeners, resolver."""
    return _integer(value, where, 1, 65535)


def _seconds(given: _Given) -> float:
    value = given.value
    seconds = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            pass
    if not 0 < seconds <= MAX_SECONDS:  # also false for nan
        raise pytest.UsageError(f"{given.where}: must be a number of seconds above 0 and at most {MAX_SECONDS:g}, "
                                f"not {value!r}")
    return seconds


def _flag(given: _Given) -> bool:
    """True from the command line; true/false in TOML; pytest's yes/no words in ini files."""
    value = given.value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise pytest.UsageError(f"{given.where}: must be true or false, not {value!r}")


def _helo(given: _Given) -> str:
    text = _text(given.value, given.where)
    if not _HELO.fullmatch(text):
        raise pytest.UsageError(f"{given.where}: must be one host name or [address], without spaces, not {text!r}")
    return text


def _ca_file(given: _Given) -> str:
    """A CA bundle that loads: a wrong file is the user's mistake, not the server's certificate problem."""
    path = given.base / Path(_text(given.value, given.where)).expanduser()
    if not path.is_file():
        raise pytest.UsageError(f"{given.where}: no such file: {path}")
    import ssl

    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as error:
        raise pytest.UsageError(f"{given.where}: {path} is not a PEM bundle of CA certificates ({error})") from None
    return str(path)


def _password_env(given: _Given) -> str:
    value = given.value
    if isinstance(value, str):
        raise pytest.UsageError(f'{given.where}: never write a password in a file; use password = {{ env = "VAR" }}')
    if not (isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str)
            and _VAR_NAME.fullmatch(value["env"])):
        raise pytest.UsageError(f'{given.where}: must be {{ env = "VAR" }}, naming an environment variable, '
                                f"not {value!r}")
    return value["env"]


def _pairs(given: _Given) -> list[tuple[str, object, str]]:
    """A TOML table (profiles) or NAME=VALUE lines (command line, ini), as (name, value, where) triples."""
    if isinstance(given.value, Mapping):
        return [(str(name), value, f"{given.where}.{name}") for name, value in given.value.items()]
    if not isinstance(given.value, list):
        raise pytest.UsageError(f"{given.where}: must be a table of NAME = VALUE, not {given.value!r}")
    pairs: list[tuple[str, object, str]] = []
    for item in given.value:
        name, equals, value = item.partition("=") if isinstance(item, str) else ("", "", "")
        if not equals:
            raise pytest.UsageError(f"{given.where}: expected NAME=VALUE, not {item!r}")
        pairs.append((name.strip(), value.strip(), given.where))
    return pairs


def _listener(name: str, value: object, where: str) -> tuple[str, int]:
    if name not in _OTHER_LISTENERS:
        raise pytest.UsageError(f"{where}: unknown listener {name!r}; use one of {', '.join(_OTHER_LISTENERS)} "
                                "(the smtp listener's port is --smtp-port)")
    return name, parse_port(value, where)


def _variable(name: str, value: object, where: str) -> tuple[str, str]:
    if not _VAR_NAME.fullmatch(name):
        raise pytest.UsageError(f"{where}: {name!r} is not a variable name (letters, digits, underscore)")
    if not isinstance(value, str):
        raise pytest.UsageError(f"{where}: must be a string, not {value!r}")
    return name, _plain(value, where)


# Addresses and names


def parse_target(text: str | None, where: str = "--smtp-target") -> tuple[str | None, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address (whose last group is never a port)."""
    if text is None:
        return None, None
    host, port = _checked(addresses.host_and_port, _text(text, where), where)
    return _checked(addresses.host, host, where), None if port is None else parse_port(port, where)


def parse_resolver(text: str, where: str) -> tuple[str, int]:
    """`IP`, `IP:PORT`, `[v6]:PORT` or a bare IPv6 address: a resolver is an address, never a name to resolve."""
    host, port = _checked(addresses.host_and_port, _text(text, where), where)
    return _checked(addresses.ip, host, where), DNS_PORT if port is None else parse_port(port, where)


def _checked(rule: Callable[[str], T], text: str, where: str) -> T:
    """Apply one of the shared address rules; its error becomes a usage error naming the option as written."""
    try:
        return rule(text)
    except addresses.AddressError as error:
        raise pytest.UsageError(f"{where}: {error}") from None
