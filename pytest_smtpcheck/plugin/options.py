"""The pytest face of the run's settings: flags and ini keys in, one layer per door, a usage error out.

The rules and the precedence live in :mod:`pytest_smtpcheck.settings`; this module only
declares the options to pytest, reads what the user gave (command line, ini, profile) as
layers named the way the user wrote them, and turns a refusal into a one-line usage error
(exit status 4) before the first connection.

It loads in every pytest run of the environment, so it declares the options from constants alone;
the rules (settings.py) load when there is something to read: :func:`settings_given`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import pytest

from ..errors import SettingsError
from ..profiles import PROFILE_ENV, Profile, find_profile_file, select_profile
from ..vocabulary import (
    AS_VIA_MODES,
    DEFAULT_CONCURRENCY,
    DEFAULT_HELO,
    DEFAULT_TIMEOUT,
    LISTENERS,
    MAX_SECONDS,
    PASSWORD_ENV,
    SANDBOX_POLICIES,
    TLS_MODES,
    TOKEN_ENV,
)
from .keys import LAYERS

if TYPE_CHECKING:
    from ..settings import Layer, Settings

__all__ = ["add_options", "read_settings", "settings_given", "usage_errors"]

_OTHER_LISTENERS = tuple(name for name in LISTENERS if name != "smtp")  # the smtp listener's port is --smtp-port
_ABSENT: Any = object()  # the ini default: tells a key left out from one set to an empty value
# how pytest splits an ini value; our rules check the text ("args": shell-like words, as pytest's "paths")
_IniType = Literal["linelist", "string", "args"]


class _Option(NamedTuple):
    """One setting as the user meets it: the option, its ini twin and its profile key."""

    key: str  # the profile key and the key of Settings.origins
    metavar: str | None  # None: a flag
    help: str
    flag: str | None  # None: ini only
    ini: str | None  # None: command line only
    repeat: bool
    ini_type: _IniType

    @property
    def dest(self) -> str:
        return self.ini or f"smtp_{self.key}"


def _option(key: str, metavar: str | None, help: str, *, flag: str | None = None, ini: bool = True,
            repeat: bool = False, command_line: bool = True, ini_type: _IniType | None = None) -> _Option:
    return _Option(key, metavar, help, (flag or "--smtp-" + key.replace("_", "-")) if command_line else None,
                   f"smtp_{key}" if ini else None, repeat, ini_type or ("linelist" if repeat else "string"))


_OPTIONS = (
    _option("target", "HOST[:PORT]",
            "server to test, e.g. mx.example.com or [2001:db8::25]:2525; without it, the embedded sandbox MX"),
    _option("mx", "DOMAIN", "run every SMTP test once per MX host and address of DOMAIN (instead of --smtp-target)"),
    _option("port", "PORT", "port of the smtp listener (default 25, or the port in --smtp-target)"),
    _option("listeners", "NAME=PORT", f"port of another listener: {', '.join(_OTHER_LISTENERS)} (repeatable)",
            flag="--smtp-listener", repeat=True),
    _option("tls", "MODE", f"how sessions start: {', '.join(TLS_MODES)} (default none; submissions: always implicit)"),
    _option("helo", "NAME", f"name sent with EHLO/HELO (default: {DEFAULT_HELO})"),
    _option("timeout", "SECONDS",
            f"how long to wait for each reply (default {DEFAULT_TIMEOUT:g}, at most {MAX_SECONDS:g})"),
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
            ini=False),
    _option("profile", "NAME", f"profile from smtpcheck.toml or [tool.smtpcheck] (or ${PROFILE_ENV})", ini=False),
    _option("message_dirs", "DIR", "directories outside the test tree that `! message file=` may send files from "
            "(paths relative to the ini file, each must exist); by default only the test tree's",
            command_line=False, ini_type="args"),
    # the bundled battery (pytest_smtpcheck.baseline.settings reads these)
    _option("baseline", None, "add the bundled acceptance battery for the --smtp-mx domain (docs/baseline.md)",
            ini=False),
    _option("baseline_domains", "DOMAIN", "run the battery for DOMAIN too (repeatable; implies --smtp-baseline)",
            flag="--smtp-baseline-domain", repeat=True, ini=False),
    _option("json", "FILE", "write each baseline check's outcome to FILE as JSON", ini=False),
    _option("baseline_days_left", "DAYS", "certificate-expiry fails below this many days left (default 14)"),
    _option("baseline_spacing", "SECONDS", "pause between two TLS handshakes to one address (default 1; 0: none)"),
    _option("mta_sts_port", "PORT", "HTTPS port MTA-STS policies are fetched from (default 443; for test servers)"),
    _option("mta_sts_ca", "FILE", "CA bundle for MTA-STS policy servers (default: the system's store)"),
    _option("waive", "CHECK[ HOST]=REASON", "waive a baseline check (for HOST only): it runs, and its failure is "
            "reported as expected, with REASON (repeatable)", repeat=True),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("smtpcheck", "SMTP acceptance tests (pytest-smtpcheck)")
    for option in _OPTIONS:
        if option.flag is not None and option.metavar is None:
            group.addoption(option.flag, action="store_true", dest=option.dest, default=None, help=option.help)
        elif option.flag is not None:
            group.addoption(option.flag, action="append" if option.repeat else "store", dest=option.dest,
                            metavar=option.metavar, default=None, help=option.help)
        if option.ini:
            twin = f" (ini twin of {option.flag})" if option.flag else ""
            parser.addini(option.ini, option.help + twin, type=option.ini_type, default=_ABSENT)


def settings_given(config: pytest.Config) -> bool:
    """Whether any door gives a setting: an option, an ini key, a profile (or its file), the password or token.

    If none does, every setting is its default, which cannot be wrong: the settings are then read when a test
    first needs them, and a run without SMTP tests never loads the code that reads them. A malformed profile
    file is a usage error here, at start-up, as when it is read."""
    with usage_errors():
        return (any(config.getoption(option.dest) is not None for option in _OPTIONS if option.flag)
                or any(option.ini is not None and config.getini(option.ini) is not _ABSENT for option in _OPTIONS)
                or any(os.environ.get(name) for name in (PROFILE_ENV, PASSWORD_ENV, TOKEN_ENV))
                or find_profile_file(config.rootpath) is not None)


def read_settings(config: pytest.Config) -> Settings:
    """Read and check every setting; raises pytest.UsageError with a one-line message naming the culprit.

    The run's layers, highest first (command line, profile, ini), are kept in the stash under LAYERS, read once
    for settings read elsewhere (the battery's)."""
    from ..settings import resolve

    with usage_errors():
        profile = _profile(config)
        layers = config.stash[LAYERS] = [_command_line(config), profile.layer() if profile else {}, _ini(config)]
        settings = resolve(layers)
        settings.origins["profile"] = _profile_origin(config, profile)
        return replace(settings, profile=profile.name if profile else None)


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn a SettingsError raised inside into pytest.UsageError: one line, exit status 4, no traceback."""
    try:
        yield
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from None


def _command_line(config: pytest.Config) -> Layer:
    from ..settings import Given

    here = config.invocation_params.dir
    return {option.key: Given(value, option.flag, "command line", here) for option in _OPTIONS
            if option.flag and option.key != "profile" and (value := config.getoption(option.dest)) is not None}


def _ini(config: pytest.Config) -> Layer:
    """Ini values, named after their file; `-o NAME=VALUE` overrides are named as such."""
    from ..settings import Given

    overridden = {item.partition("=")[0].strip() for item in config.getoption("override_ini") or ()}
    layer = {}
    for option in _OPTIONS:
        if option.ini is None or (value := config.getini(option.ini)) is _ABSENT:
            continue
        if option.ini in overridden or config.inipath is None:
            layer[option.key] = Given(value, f"-o {option.ini}", "command line (-o)", config.invocation_params.dir)
        else:
            name = config.inipath.name
            layer[option.key] = Given(value, f"{option.ini} ({name})", f"ini ({name})", config.inipath.parent)
    return layer


def _profile(config: pytest.Config) -> Profile | None:
    from ..settings import parse_text

    file = find_profile_file(config.rootpath)
    given = config.getoption("smtp_profile")
    if given is not None:
        return select_profile(file, parse_text(given, "--smtp-profile"), "--smtp-profile")
    return select_profile(file, os.environ.get(PROFILE_ENV) or None, PROFILE_ENV)


def _profile_origin(config: pytest.Config, profile: Profile | None) -> str:
    if profile is None:
        return "default"
    if config.getoption("smtp_profile") is not None:
        return "command line"
    if os.environ.get(PROFILE_ENV):
        return f"environment ({PROFILE_ENV})"
    return profile.file.path.name
