"""The battery's settings, read from the same layers (command line, profile, ini) and checked by the same rules
as the run's (:mod:`pytest_smtpcheck.settings`); a bad value names its door as the user wrote it.

Keys (profile key / ini ``smtp_KEY`` / option): ``baseline`` (``--smtp-baseline``), ``baseline_domains``
(``--smtp-baseline-domain``, repeatable; default: the ``--smtp-mx`` domain), ``json`` (``--smtp-json``),
``baseline_days_left`` (certificate days left below which ``certificate-expiry`` fails, default 14),
``baseline_spacing`` (seconds between two TLS handshakes to one address, default 1), ``mta_sts_port`` and
``mta_sts_ca`` (where MTA-STS policies are fetched: default 443 and the system's CA store), and ``waive``
(check id, optionally a space and an MX host, to the reason: a ticket number and why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .. import addresses
from ..settings import (
    Effective,
    Given,
    Layer,
    Settings,
    SettingsError,
    parse_ca_file,
    parse_flag,
    parse_integer,
    parse_port,
    parse_seconds,
    parse_text,
    winner,
)

__all__ = ["DEFAULT_DAYS_LEFT", "DEFAULT_SPACING", "KEYS", "BaselineSettings", "resolve_baseline"]

DEFAULT_DAYS_LEFT = 14
DEFAULT_SPACING = 1.0  # seconds between handshakes to one address: well under any connection-rate limit
MAX_DAYS_LEFT = 3650
KEYS = ("baseline", "baseline_domains", "json", "baseline_days_left", "baseline_spacing", "mta_sts_port",
        "mta_sts_ca", "waive")


@dataclass(frozen=True)
class BaselineSettings:
    """Whether the battery runs, on which domains, and how it judges and paces itself."""

    enabled: bool = False
    domains: tuple[str, ...] = ()
    json: str | None = None
    days_left: int = DEFAULT_DAYS_LEFT
    spacing: float = DEFAULT_SPACING
    mta_sts_port: int = 443
    mta_sts_ca: str | None = None
    waivers: Mapping[str, str] = field(default_factory=dict)  # "ipv6" or "ipv6 mx1.example.com" -> reason
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)  # key -> where it came from

    def effective(self) -> list[Effective]:
        """The battery's settings, defaults included, each with its origin: what the report lists beside the
        run's (only when the battery runs)."""
        if not self.enabled:
            return []
        origin = self.origins.get
        waived = "; ".join(f"{key} = {reason}" for key, reason in sorted(self.waivers.items())) or None
        return [
            Effective("baseline", True, origin("baseline", "default")),
            Effective("baseline_domains", ", ".join(self.domains), origin("baseline_domains", "default")),
            Effective("json", self.json, origin("json", "default")),
            Effective("baseline_days_left", self.days_left, origin("baseline_days_left", "default")),
            Effective("baseline_spacing", self.spacing, origin("baseline_spacing", "default")),
            Effective("mta_sts_port", self.mta_sts_port, origin("mta_sts_port", "default")),
            Effective("mta_sts_ca", self.mta_sts_ca, origin("mta_sts_ca", "default: the system's CA store")),
            Effective("waive", waived, origin("waive", "default")),
        ]

    def waiver(self, check: str, host: str | None) -> str | None:
        """The reason CHECK is waived for HOST (a waiver for the host first, then one for every host), or None."""
        if host is not None and (reason := self.waivers.get(f"{check} {host.lower()}")):
            return reason
        return self.waivers.get(check)


def resolve_baseline(layers: Sequence[Layer], run: Settings) -> BaselineSettings:
    """The battery's settings from the run's layers (highest first)."""

    domains_given = winner(layers, "baseline_domains")
    domains = tuple(_domain(value, domains_given.where) for value in _listed(domains_given)) if domains_given else ()
    asked = winner(layers, "baseline")
    enabled = bool(domains) or (asked is not None and parse_flag(asked))
    if enabled and not domains:
        if run.mx is None:
            raise SettingsError(asked.where if asked else "--smtp-baseline",
                                "needs a mail domain: give --smtp-mx=DOMAIN (or run `smtpcheck check DOMAIN`)")
        domains = (run.mx,)
    days = winner(layers, "baseline_days_left")
    spacing = winner(layers, "baseline_spacing")
    port = winner(layers, "mta_sts_port")
    ca = winner(layers, "mta_sts_ca")
    json = winner(layers, "json")
    waivers: dict[str, str] = {}
    waived_by: list[str] = []
    for layer in reversed(layers):  # waivers merge check by check; for one check the highest layer wins
        if "waive" in layer:
            waivers.update(_waivers(layer["waive"]))
            waived_by.insert(0, layer["waive"].origin)
    origins = {key: given.origin for key in KEYS if (given := winner(layers, key)) is not None}
    if waived_by:
        origins["waive"] = ", ".join(dict.fromkeys(waived_by))  # merged: every door that waived something
    if enabled and domains_given is None:
        origins["baseline_domains"] = "default: the mx domain"
    if enabled and "baseline" not in origins:
        origins["baseline"] = domains_given.origin if domains_given else "default"
    return BaselineSettings(
        enabled=enabled,
        domains=domains,
        json=parse_text(json.value, json.where) if json else None,
        days_left=_days(days) if days else DEFAULT_DAYS_LEFT,
        spacing=_spacing(spacing) if spacing else DEFAULT_SPACING,
        mta_sts_port=parse_port(port.value, port.where) if port else 443,
        mta_sts_ca=parse_ca_file(ca.value, ca.where, ca.base) if ca else None,
        waivers=waivers,
        origins=origins,
    )


def _listed(given: Given) -> list[object]:
    return list(given.value) if isinstance(given.value, (list, tuple)) else [given.value]


def _domain(value: object, where: str) -> str:
    try:
        return addresses.dns_name(parse_text(value, where))
    except addresses.AddressError as error:
        raise SettingsError(where, str(error)) from None


def _days(given: Given) -> int:
    return parse_integer(given.value, given.where, 0, MAX_DAYS_LEFT)


def _spacing(given: Given) -> float:
    if str(given.value).strip() in ("0", "0.0"):
        return 0.0  # no pause at all: for a lab on loopback
    return parse_seconds(given.value, given.where)


def _waivers(given: Given) -> dict[str, str]:
    """`{ "ipv6" = "CHG-1234: …", "tls-version mx2.example.com" = "…" }` from a profile, or `CHECK [HOST] = REASON`
    lines (ini, repeated --smtp-waive)."""
    from .checks import CHECK_IDS  # the battery's ids: loaded only when something is waived

    if isinstance(given.value, Mapping):
        items = [(str(key), value, f"{given.where}.{key}") for key, value in given.value.items()]
    else:
        items = []
        for line in _listed(given):
            key, equals, reason = str(line).partition("=")
            if not equals:
                raise SettingsError(given.where, f"expected CHECK [HOST] = REASON, not {line!r}")
            items.append((key.strip(), reason.strip(), given.where))
    waivers = {}
    for key, reason, where in items:
        check, _, host = key.strip().partition(" ")
        if check not in CHECK_IDS:
            raise SettingsError(where, f"no check is called {check!r}; the checks: {', '.join(CHECK_IDS)}")
        text = parse_text(reason, where).strip()  # an empty reason is refused there
        name = f"{check} {_domain(host.strip(), where).lower()}" if host.strip() else check
        waivers[name] = text
    return waivers
