"""Where sessions connect: the target given on the command line, every MX address of `--smtp-mx`, or the sandbox.

Python tests (through fixtures) and `.smtp` files (through the collector) both
ask the run's :class:`Targets` for a target, so they always agree; and each
session a target makes holds a place under the run's per-target cap. The run's
DNS (one cached resolver) lives here too, so MX resolution, `smtp_dns` and
`dane()` share one view of DNS.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from .addresses import joined
from .errors import ConnectFailed, SessionMisuse, Unavailable, hide_for_server_faults
from .settings import DNS_PORT, Declared, SessionOptions, Settings, parse_choice
from .vocabulary import LISTENERS, PASSWORD_ENV, STANDARD_PORTS, TOKEN_ENV, Listener, Secret

__all__ = ["Target", "Targets"]
__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line

if TYPE_CHECKING:
    from .dns import DNSChecks, HostNames
    from .mx import MXEntry
    from .sandbox import Sandbox
    from .smtp.cap import Cap, Slot
    from .smtp.session import SMTPSession

ACCOUNT_VARS = ("SMTP_USER", "SMTP_PASSWORD")
TOKEN_VAR = "SMTP_TOKEN"  # an OAuth token for XOAUTH2 / OAUTHBEARER, from $SMTPCHECK_TOKEN
DNS_TIMEOUT = 5.0  # seconds per DNS query at most (less with a shorter --smtp-timeout)
NO_DNS_REASON = (
    "DNS checks need a mail domain and a resolver: give --smtp-mx=DOMAIN (or --smtp-target=HOST "
    "--smtp-var SMTP_DOMAIN=DOMAIN) and --smtp-resolver=IP[:PORT]; without them no DNS is asked"
)


@dataclass(frozen=True)
class Target:
    """A mail server under test, how to talk to it (the run's session options), and its account."""

    host: str
    ports: Mapping[str, int]
    options: SessionOptions = field(default_factory=SessionOptions)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_env: str = PASSWORD_ENV
    vars: Mapping[str, str] = field(default_factory=dict, repr=False)
    sandbox: bool = False
    policy: str = ""  # the sandbox's, for labels
    cap: Cap | None = field(default=None, repr=False, compare=False)
    mx_host: str | None = None  # --smtp-mx: the MX host this address belongs to (TLS and DANE use its name)
    problem: str | None = None  # --smtp-mx: why there is nothing to connect to; sessions fail with it
    dns: Callable[[], DNSChecks] | None = field(default=None, repr=False, compare=False)  # the run's DNS

    @property
    def label(self) -> str:
        return joined(self.host, self.port)

    @property
    def port(self) -> int:
        return self.port_for("smtp")

    def port_for(self, listener: str) -> int:
        known = parse_choice(listener, "smtp_server.port_for()", LISTENERS)
        return self.ports.get(known, STANDARD_PORTS[known])

    def has_listener(self, listener: str) -> bool:
        """The smtp listener always; the others when the run gave their port (the sandbox has all three)."""
        return listener == "smtp" or listener in self.ports

    def var(self, name: str) -> str:
        """A variable the test needs; without it Unavailable (a skip) names the option that gives it."""
        if name in self.vars:
            return self.vars[name]
        unavailable_variable(name, self.password_env, self.vars)

    def host_names(self, session: SMTPSession) -> HostNames:
        """Whether the names the server gives in its greeting and EHLO reply are the FCrDNS name of its address.

        Connects the session if needed, and sends EHLO if the test has not yet; asks the run's resolver.
        """
        from .dns import host_names

        if self.dns is None:
            raise SessionMisuse("host_names() needs the run's DNS: use the smtp_server fixture's target")
        greeting = session.greeting
        ehlo = next((reply for reply in reversed(session.replies)
                     if reply.command and reply.command.upper().startswith("EHLO ")), None) or session.ehlo()
        return host_names(self.dns().resolver, session.transcript.address,
                          _first_word(greeting.lines if greeting and greeting.code == 220 else ()),
                          _first_word(ehlo.lines if ehlo.code == 250 else ()))

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.password, self.vars.get(TOKEN_VAR)) if value)

    def session(self, test: Declared = Declared(), *, auto_connect: bool = False,  # noqa: B008
                credentials: Iterable[str] = ()) -> SMTPSession:
        """An unconnected session to the listener the test names (smtp by default), with the test's own settings
        laid over the run's. The run's secrets, its variables' values and *credentials* (AUTH secrets a `.smtp`
        file takes from a variable or the environment) go out in AUTH only under TLS, except to the sandbox,
        whose credentials are dummies."""
        from .smtp.session import SMTPSession
        from .smtp.transcript import Transcript

        transcript = Transcript(listener=test.listener or "smtp")
        transcript.add_secret(*self.secrets)
        options = test.session_options(self.options)
        port = test.port or self.port_for(test.listener or "smtp")
        cap, address = self.cap, joined(self.host, port)
        slot: Callable[[], Slot] | None = None if cap is None else lambda: cap.acquire(address,
                                                                                      patience=options.timeout)
        if self.problem is not None:
            slot = _failing(self.problem)  # nothing to connect to: the session's first use fails saying why
        return SMTPSession(self.host, port, options, transcript=transcript, slot=slot, auto_connect=auto_connect,
                           dns=self.dns,
                           tls_only_secrets=() if self.sandbox else (*self.secrets, *self.vars.values(), *credentials),
                           allow_plaintext_auth=bool(test.allow_plaintext_auth))


def _failing(problem: str) -> Callable[[], Slot]:
    """A slot that never opens: the session fails where the test first uses it, as a refused connection does."""

    def fail() -> Slot:
        raise ConnectFailed(problem)

    return fail


def _first_word(lines: tuple[str, ...]) -> str | None:
    """The host name a greeting or EHLO reply starts with."""
    words = lines[0].split() if lines else []
    return words[0] if words else None


def unavailable_variable(name: str, password_env: str = PASSWORD_ENV, given: Iterable[str] = ()) -> NoReturn:
    """The test needs variable *name*: raise the reason, naming the option (or environment variable) that gives it."""
    __tracebackhide__ = True
    raise Unavailable(missing_reason(name, password_env, given), name)


def did_you_mean(name: str, given: Iterable[str]) -> str:
    """` (did you mean SMTP_DOMAIN?)` when a given variable is spelt almost like *name*: a typo otherwise skips
    the test in silence, and CI stays green. Environment names are compared for `env:` references."""
    from difflib import get_close_matches

    if name.startswith("env:"):
        close = get_close_matches(name[4:], os.environ, n=1, cutoff=0.8)
        return f" (did you mean ${{env:{close[0]}}}?)" if close else ""
    close = get_close_matches(name, list(given), n=1, cutoff=0.8)
    return f" (did you mean {close[0]}? that one is given)" if close else ""


def missing_reason(name: str, password_env: str = PASSWORD_ENV, given: Iterable[str] = ()) -> str:
    return _missing_reason(name, password_env) + did_you_mean(name, given)


def _missing_reason(name: str, password_env: str) -> str:
    if name in ACCOUNT_VARS:
        return ("needs an account: give --smtp-user USER and set the password in the environment variable "
                f"{password_env}")
    if name == TOKEN_VAR:
        return f"needs an OAuth token: set it in the environment variable {TOKEN_ENV}"
    if name.startswith("env:"):
        return f"needs the environment variable {name[4:]}, which is not set"
    return f"needs the variable {name}: give --smtp-var {name}=VALUE"


class Targets:
    """The run's targets, resolved on first use: the sandbox only starts, and DNS is only asked, if a test needs it."""

    def __init__(self, settings: Settings, cap: Cap | None = None) -> None:
        self.settings = settings
        self.cap = cap
        self._target: Target | None = None
        self._sandbox: Sandbox | None = None
        self._mx: dict[str, MXEntry] | None = None
        self._mx_targets: dict[str, Target] = {}
        self._dns: DNSChecks | None = None
        self._lock = threading.RLock()  # run-ahead threads may ask for a target at once; target() asks dns()

    def ids(self) -> list[str | None]:
        """The ids of the run's targets, for item names: with `--smtp-mx` one per MX host and address, in
        preference order; else None (the one target, no suffix)."""
        if self.settings.mx is None:
            return [None]
        return list(self._mx_entries())

    def target(self, target_id: str | None = None) -> Target:
        with self._lock:
            if self.settings.mx is not None:
                return self._mx_target(target_id)
            if self._target is None:
                self._target = self._given(self.settings.host) if self.settings.host else self._start_sandbox()
            return self._target

    def dns(self) -> DNSChecks:
        """The run's DNS checks over one cached resolver: `--smtp-resolver`, else the system's.

        Without `--smtp-resolver` or `--smtp-mx` it raises Unavailable (a skip): a run at the
        sandbox or at one host asks no DNS unless told to, not even the system's resolver.
        """
        with self._lock:
            if self._dns is None:
                s = self.settings
                if s.resolver is None and s.mx is None:
                    raise Unavailable(NO_DNS_REASON)
                from .dns import DNSChecks, Resolver

                nameserver, port = s.resolver or (None, DNS_PORT)
                resolver = Resolver(nameserver, port, timeout=min(s.timeout, DNS_TIMEOUT))
                self._dns = DNSChecks(resolver, domain=s.mx or self.variables().get("SMTP_DOMAIN"))
            return self._dns

    def variables(self) -> dict[str, str]:
        """The target's variables, known without connecting or starting the sandbox (for collection)."""
        if self._target is not None:
            return dict(self._target.vars)
        if self.settings.host or self.settings.mx:
            return self._variables()
        from .sandbox import Sandbox

        return _sandbox_vars(Sandbox, self.settings)

    def unavailable(self, missing: Mapping[str, int], listener: Listener | None, target_id: str | None
                    ) -> str | None:
        """Why a `.smtp` file cannot run in this run (a variable (name: first line) or listener it needs was not
        given, an address this machine cannot reach), or None."""
        if missing:
            name, line = min(missing.items(), key=lambda item: item[1])
            return f"line {line} {missing_reason(name, self.settings.password_env, self.variables())}"
        listener = listener or "smtp"
        if (self.settings.host or self.settings.mx) and listener != "smtp" and listener not in self.settings.ports:
            return listener_reason(listener)
        return self.unreachable(target_id)

    def unreachable(self, target_id: str | None) -> str | None:
        """Why this machine cannot reach the target of TARGET_ID (its address family has no route), or None."""
        if self.settings.mx is None or target_id is None:
            return None
        entry = self._mx_entries().get(target_id)
        return entry.skip if entry else None

    @property
    def resolved(self) -> Target | None:
        return self._target or next(iter(self._mx_targets.values()), None)

    @property
    def sandbox(self) -> Sandbox | None:
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None

    def _mx_entries(self) -> dict[str, MXEntry]:
        """The `--smtp-mx` plan, resolved once per process."""
        with self._lock:
            if self._mx is None:
                from .mx import plan

                assert self.settings.mx is not None
                self._mx = {entry.id: entry for entry in plan(self.dns(), self.settings.mx)}
            return self._mx

    def _mx_target(self, target_id: str | None) -> Target:
        if target_id is None:
            raise ValueError(f"--smtp-mx={self.settings.mx} runs every test once per MX address: "
                             f"say which one ({', '.join(self._mx_entries())})")
        if target_id not in self._mx_targets:
            entry = self._mx_entries()[target_id]
            self._mx_targets[target_id] = self._given(entry.address or entry.host, mx_host=entry.host,
                                                      problem=entry.problem)
        return self._mx_targets[target_id]

    def _variables(self) -> dict[str, str]:
        s = self.settings
        domain = {"SMTP_DOMAIN": s.mx} if s.mx else {}  # the MX domain is the mail domain unless --smtp-var says
        return {**domain, **_credential_vars(s.user, s.password, s.token), **s.vars}

    def _given(self, host: str, *, mx_host: str | None = None, problem: str | None = None) -> Target:
        s = self.settings
        return Target(
            host=host, ports=s.ports, options=s.session_options(server_name=mx_host), username=s.user,
            password=s.password, password_env=s.password_env, vars=self._variables(), cap=self.cap,
            mx_host=mx_host, problem=problem, dns=self.dns,
        )

    def _start_sandbox(self) -> Target:
        from .sandbox import Sandbox

        s = self.settings
        sandbox = Sandbox(misconfigured=s.sandbox == "misconfigured")
        sandbox.start()
        self._sandbox = sandbox
        return Target(
            host=sandbox.host, ports=dict(sandbox.ports), options=s.session_options(ca_file=sandbox.ca_file),
            username=sandbox.username, password=Secret(sandbox.password),
            vars=_sandbox_vars(sandbox, s),
            sandbox=True, policy=s.sandbox, cap=self.cap, dns=self.dns,
        )


def listener_reason(listener: Listener) -> str:
    return (f"needs the {listener} listener, which this run was not given: "
            f"give --smtp-listener {listener}={STANDARD_PORTS[listener]}")


def _sandbox_vars(sandbox: type[Sandbox] | Sandbox, settings: Settings) -> dict[str, str]:
    return {
        "SMTP_DOMAIN": sandbox.domain,
        **_credential_vars(sandbox.username, sandbox.password, sandbox.token),
        **settings.vars,
    }


def _credential_vars(user: str | None, password: str | None, token: str | None = None) -> dict[str, str]:
    found = {"SMTP_USER": user, "SMTP_PASSWORD": Secret(password) if password else None,
             TOKEN_VAR: Secret(token) if token else None}
    return {name: value for name, value in found.items() if value}
