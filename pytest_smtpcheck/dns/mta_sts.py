"""MTA-STS (RFC 8461): the `_mta-sts` TXT record, the HTTPS policy, and whether the MX hosts match it.

The policy host is resolved with the run's resolver and connected to by address,
with SNI and certificate verification by name, the way a sending MTA does it:
a test resolver therefore decides which server answers, and no system resolver
is asked.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import DNSCheckError
from .records import addresses, mx
from .resolver import Resolver

__all__ = [
    "MTASTSPolicy",
    "MTASTSRecord",
    "MTASTSResult",
    "fetch_policy",
    "mta_sts",
    "parse_policy",
    "parse_record",
    "versioned",
]

MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 §3.3
MAX_AGE_LIMIT = 31557600
MODES = ("enforce", "testing", "none")
_ID = re.compile(r"[a-zA-Z0-9]{1,32}")


@dataclass(frozen=True)
class MTASTSRecord:
    """The TXT record at `_mta-sts.DOMAIN`; `id` changes whenever the policy does."""

    text: str
    id: str | None


@dataclass(frozen=True)
class MTASTSPolicy:
    """The policy served at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`."""

    mode: str | None
    mx: list[str]
    max_age: int | None
    version: str | None = None

    def matches(self, host: str) -> bool:
        """RFC 8461 §4.1: a pattern matches the host exactly, or `*.` stands for one leftmost label."""
        host = host.rstrip(".").lower()
        for pattern in (p.rstrip(".").lower() for p in self.mx):
            if pattern == host or (pattern.startswith("*.") and host.partition(".")[2] == pattern[2:]):
                return True
        return False


@dataclass(frozen=True)
class MTASTSResult:
    """The record, the policy (None when it could not be fetched or parsed) and everything wrong with them."""

    domain: str
    record: MTASTSRecord | None
    policy: MTASTSPolicy | None
    problems: list[str]
    mx_hosts: list[str] = field(default_factory=list, repr=False)

    def unmatched(self, hosts: Iterable[str] | None = None) -> list[str]:
        """HOSTS (default: the domain's MX hosts) that the policy's mx patterns do not cover."""
        hosts = list(self.mx_hosts if hosts is None else hosts)
        if self.policy is None:
            return hosts
        return [host for host in hosts if not self.policy.matches(host)]

    def mx_matches(self, hosts: Iterable[str] | None = None) -> bool:
        """Every host in HOSTS (default: the domain's MX hosts) matches the policy; False without a policy."""
        return self.policy is not None and not self.unmatched(hosts)


def versioned(texts: list[str], prefix: str) -> tuple[list[str], str]:
    """The TXT records that begin exactly with PREFIX, and a note on the ones that look versioned but do not.

    RFC 8461 §3.1 (`v=STSv1;`) and RFC 8460 §3 (`v=TLSRPTv1;`): the others are discarded
    before the records are counted, so `v=STSv10; id=1` or a bare `v=TLSRPTv1` next to a
    good record leaves exactly one.
    """
    kept = [text for text in texts if text.startswith(prefix)]
    lookalikes = [text for text in texts if text not in kept and text.lower().startswith(prefix[:4].lower())]
    note = f" (discarded, as senders do: {', '.join(repr(t[:60]) for t in lookalikes)}, " \
        f"which do not begin with exactly {prefix!r})" if lookalikes else ""
    return kept, note


def parse_record(text: str) -> tuple[MTASTSRecord, list[str]]:
    """The id of a `v=STSv1; id=…;` record and the record's problems (RFC 8461 §3.1)."""
    fields = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (part.partition("=") for part in text.split(";") if part.strip())
    )
    problems = []
    record_id = fields.get("id")
    if record_id is None:
        problems.append(f"the record {text!r} has no id= field")
    elif not _ID.fullmatch(record_id):
        problems.append(f"id={record_id!r} must be 1 to 32 letters and digits (RFC 8461 §3.1)")
    return MTASTSRecord(text, record_id), problems


def parse_policy(text: str) -> tuple[MTASTSPolicy, list[str]]:
    """Fields of a policy file (`key: value` lines, CRLF or LF) and its problems (RFC 8461 §3.2)."""
    values: dict[str, str] = {}
    patterns: list[str] = []
    problems: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not colon:
            problems.append(f"policy line {line[:60]!r} is not `key: value`")
        elif key == "mx":
            patterns.append(value)
        elif key in values:
            problems.append(f"policy field {key} appears twice")
        else:
            values[key] = value
    if values.get("version") != "STSv1":
        problems.append(f"policy version is {values.get('version')!r}, not 'STSv1'")
    mode = values.get("mode")
    if mode not in MODES:
        problems.append(f"policy mode is {mode!r}, not one of {', '.join(MODES)}" if mode else "policy has no mode")
    max_age = int(values["max_age"]) if values.get("max_age", "").isdigit() else None
    if max_age is None:
        problems.append(f"policy max_age {values.get('max_age')!r} is not a number of seconds")
    elif max_age > MAX_AGE_LIMIT:
        problems.append(f"policy max_age {max_age} exceeds {MAX_AGE_LIMIT} s (one year)")
    if not patterns and mode != "none":
        problems.append("policy has no mx patterns")
    return MTASTSPolicy(mode, patterns, max_age, values.get("version")), problems


class _AddressedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address, with SNI and certificate verification for the host name."""

    def __init__(self, host: str, address: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def fetch_policy(
    resolver: Resolver, domain: str, *, port: int = 443, ca_file: str | None = None
) -> tuple[str | None, list[str]]:
    """The policy text, or None and why: no redirects, 200 only, at most 64 KiB, a verified certificate."""
    host = f"mta-sts.{domain}"
    url = f"https://{host}{'' if port == 443 else f':{port}'}/.well-known/mta-sts.txt"
    try:
        found = addresses(resolver, host)
    except DNSCheckError as exc:
        return None, [f"{host}: address lookup failed: {exc}"]
    if not found:
        return None, [f"{host} has no A/AAAA record: the policy cannot be fetched"]
    context = ssl.create_default_context(cafile=ca_file)
    failures = []
    for address in found:
        connection = _AddressedHTTPS(host, address, port, context, resolver.timeout)
        try:
            connection.request("GET", "/.well-known/mta-sts.txt", headers={"User-Agent": "pytest-smtpcheck"})
            response = connection.getresponse()
            body = response.read(MAX_POLICY_BYTES + 1)
        except ssl.SSLCertVerificationError as exc:
            failures.append(f"{url} at {address}: the certificate did not verify: {exc.verify_message}")
            continue
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{url} at {address}: {exc or type(exc).__name__}")
            continue
        finally:
            connection.close()
        if 300 <= response.status < 400:
            return None, [f"{url} answered {response.status} (redirect to {response.getheader('Location')}); "
                          "RFC 8461 §3.3 forbids following redirects: serve the policy at this URL"]
        if response.status != 200:
            return None, [f"{url} answered HTTP {response.status} {response.reason}"]
        if len(body) > MAX_POLICY_BYTES:
            return None, [f"{url}: the policy is larger than 64 KiB (RFC 8461 §3.3): senders discard it"]
        problems = []
        content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "text/plain":
            problems.append(f"{url} is served as {content_type or 'no Content-Type'}, not text/plain")
        return body.decode("utf-8", "replace"), problems
    return None, failures


def mta_sts(resolver: Resolver, domain: str, *, port: int = 443, ca_file: str | None = None) -> MTASTSResult:
    """Record, policy and problems of DOMAIN's MTA-STS, including MX hosts the policy does not cover."""
    domain = domain.rstrip(".")
    try:
        texts, discarded = versioned(resolver.query(f"_mta-sts.{domain}", "TXT").texts, "v=STSv1;")
        mx_hosts = [r.host for r in mx(resolver, domain) if not r.null]
    except DNSCheckError as exc:
        return MTASTSResult(domain, None, None, [f"MTA-STS lookup failed: {exc}"])
    if not texts:
        return MTASTSResult(domain, None, None, [
            f"no MTA-STS record (TXT \"v=STSv1; id=…\") at _mta-sts.{domain}{discarded}"], mx_hosts)
    if len(texts) > 1:
        return MTASTSResult(domain, None, None, [
            f"{len(texts)} MTA-STS records at _mta-sts.{domain}: senders ignore MTA-STS (RFC 8461 §3.1)"
        ], mx_hosts)
    record, problems = parse_record(texts[0])
    text, fetch_problems = fetch_policy(resolver, domain, port=port, ca_file=ca_file)
    problems += fetch_problems
    policy = None
    if text is not None:
        policy, policy_problems = parse_policy(text)
        problems += policy_problems
        problems += [f"MX host {host} does not match the policy's mx patterns {policy.mx}"
                     for host in mx_hosts if not policy.matches(host)]
    return MTASTSResult(domain, record, policy, problems, mx_hosts)
