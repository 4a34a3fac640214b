"""Where sessions connect: the target given on the command line, or the embedded sandbox.

Python tests (through fixtures) and `.smtp` files (through the collector) both
ask the run's :class:`Targets` for the target, so they always agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from .errors import hide_for_server_faults
from .options import LISTENERS, STANDARD_PORTS, Settings
from .transcript import Secret, Transcript

__tracebackhide__ = hide_for_server_faults  # server faults are reported at the test's line

if TYPE_CHECKING:
    from .client import SMTPSession
    from .sandbox import Sandbox


@dataclass(frozen=True)
class Target:
    """A mail server under test and how to talk to it."""

    host: str
    ports: Mapping[str, int]
    tls: str = "none"
    helo: str = Settings.helo
    timeout: float = Settings.timeout
    connect_timeout: float | None = None
    deadline: float | None = None
    ca_file: str | None = None
    verify: bool = True
    tls_name: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    vars: Mapping[str, str] = field(default_factory=dict, repr=False)
    sandbox: bool = False

    @property
    def label(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def port(self) -> int:
        return self.port_for("smtp")

    def port_for(self, listener: str) -> int:
        if listener not in LISTENERS:
            raise ValueError(f"unknown listener {listener!r}; use one of {', '.join(LISTENERS)}")
        return self.ports.get(listener, STANDARD_PORTS[listener])

    def tls_for(self, listener: str) -> str:
        return "implicit" if listener == "submissions" else self.tls

    def var(self, name: str) -> str:
        """A variable the test needs, with an error that says how to define it."""
        if name in self.vars:
            return self.vars[name]
        pytest.fail(f"this test needs the variable {name}: run with --smtp-var {name}=VALUE", pytrace=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()

    def session(
        self,
        *,
        listener: str = "smtp",
        port: int | None = None,
        tls: str | None = None,
        helo: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> SMTPSession:
        """An unconnected session to one of the target's listeners; keyword arguments override the run's options."""
        from .client import TLS_MODES, SMTPSession
        from .tls import TLSSettings

        mode = tls or self.tls_for(listener)
        if mode not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {mode!r}")
        transcript = Transcript()
        transcript.add_secret(*self.secrets)
        return SMTPSession(
            self.host,
            port or self.port_for(listener),
            helo=helo or self.helo,
            timeout=timeout or self.timeout,
            connect_timeout=self.connect_timeout,
            deadline=deadline or self.deadline,
            tls_mode=mode,
            tls=TLSSettings(verify=self.verify, ca_file=self.ca_file, server_name=self.tls_name),
            transcript=transcript,
        )


class Targets:
    """The run's target, resolved on first use: the sandbox only starts if a test needs it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._target: Target | None = None
        self._sandbox: Sandbox | None = None

    def target(self) -> Target:
        if self._target is None:
            self._target = self._given() if self.settings.host else self._start_sandbox()
        return self._target

    def variables(self) -> dict[str, str]:
        """The target's variables, known without connecting or starting the sandbox (for collection)."""
        if self._target is not None:
            return dict(self._target.vars)
        if self.settings.host:
            return dict(self._given().vars)
        from .sandbox import Sandbox

        return _sandbox_vars(Sandbox, self.settings)

    @property
    def resolved(self) -> Target | None:
        return self._target

    @property
    def sandbox(self) -> Sandbox | None:
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None

    def _given(self) -> Target:
        s = self.settings
        return Target(
            host=s.host, ports=s.ports, tls=s.tls, helo=s.helo, timeout=s.timeout,
            connect_timeout=s.connect_timeout, deadline=s.deadline,
            ca_file=s.ca_file, verify=s.verify, tls_name=s.tls_name, username=s.user, password=s.password,
            vars={**_credential_vars(s.user, s.password), **s.vars},
        )

    def _start_sandbox(self) -> Target:
        from .sandbox import Sandbox

        s = self.settings
        sandbox = Sandbox(misconfigured=s.sandbox == "misconfigured")
        sandbox.start()
        self._sandbox = sandbox
        return Target(
            host=sandbox.host, ports=dict(sandbox.ports), tls=s.tls, helo=s.helo, timeout=s.timeout,
            connect_timeout=s.connect_timeout,
            deadline=s.deadline, ca_file=sandbox.ca_file, verify=s.verify, tls_name=s.tls_name,
            username=sandbox.username, password=Secret(sandbox.password),
            vars=_sandbox_vars(sandbox, s),
            sandbox=True,
        )


def _sandbox_vars(sandbox, settings: Settings) -> dict[str, str]:
    return {
        "SMTP_DOMAIN": sandbox.domain,
        **_credential_vars(sandbox.username, sandbox.password),
        **settings.vars,
    }


def _credential_vars(user: str | None, password: str | None) -> dict[str, str]:
    found = {"SMTP_USER": user, "SMTP_PASSWORD": Secret(password) if password else None}
    return {name: value for name, value in found.items() if value}
