"""SMTP TLS Reporting (RFC 8460): where senders report failed TLS to this domain's MX hosts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DNSCheckError
from .mta_sts import versioned
from .resolver import Resolver

__all__ = ["TLSRPTResult", "tls_rpt"]

_URI = re.compile(r"(mailto:[^@\s]+@[^@\s]+|https://\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class TLSRPTResult:
    """The TXT record at `_smtp._tls.DOMAIN` and its report addresses (`rua`)."""

    domain: str
    record: str | None
    rua: list[str]
    problems: list[str]


def tls_rpt(resolver: Resolver, domain: str) -> TLSRPTResult:
    """The TLS-RPT record of DOMAIN: exactly one record beginning `v=TLSRPTv1;`, with mailto: or https: report URIs."""
    domain = domain.rstrip(".")
    name = f"_smtp._tls.{domain}"
    try:
        texts, discarded = versioned(resolver.query(name, "TXT").texts, "v=TLSRPTv1;")
    except DNSCheckError as exc:
        return TLSRPTResult(domain, None, [], [f"TLS-RPT lookup failed: {exc}"])
    if not texts:
        return TLSRPTResult(domain, None, [], [f"no TLS-RPT record (TXT \"v=TLSRPTv1; rua=…\") at {name}{discarded}"])
    if len(texts) > 1:
        return TLSRPTResult(domain, None, [], [f"{len(texts)} TLS-RPT records at {name}: senders use none"])
    fields = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in texts[0].split(";") if p.strip())}
    rua = [uri.strip() for uri in fields.get("rua", "").split(",") if uri.strip()]
    problems = [] if rua else [f"the record at {name} has no rua= report address"]
    problems += [f"rua {uri!r} is neither mailto: nor https:" for uri in rua if not _URI.fullmatch(uri)]
    return TLSRPTResult(domain, texts[0], rua, problems)
