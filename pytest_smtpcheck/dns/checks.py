"""`DNSChecks`: the object the `smtp_dns` fixture gives a test, every check over one resolver."""

from __future__ import annotations

from ..errors import hide_for_server_faults
from .dane import TLSAResult, tlsa
from .dmarc import DMARCResult, dmarc
from .mta_sts import MTASTSResult, mta_sts
from .records import FCrDNS, MXRecord, MXTargets, addresses, fcrdns, mx, mx_targets
from .resolver import Answer, Resolver
from .spf import SPFResult, spf
from .tls_rpt import TLSRPTResult, tls_rpt

__all__ = ["DNSChecks"]

__tracebackhide__ = hide_for_server_faults  # a DNS failure is reported at the test's line


class DNSChecks:
    """The DNS checks of a run; each method asks the run's resolver, whose cache they share.

    `domain` is the run's mail domain (`--smtp-mx`, else the SMTP_DOMAIN variable), or None;
    `https_port` and `https_ca_file` are where `mta_sts()` fetches policies by default (for test servers).
    """

    def __init__(self, resolver: Resolver, *, domain: str | None = None, https_port: int = 443,
                 https_ca_file: str | None = None) -> None:
        self.resolver = resolver
        self.domain = domain
        self.https_port = https_port
        self.https_ca_file = https_ca_file

    def __repr__(self) -> str:
        return f"DNSChecks({self.resolver!r}, domain={self.domain!r})"

    def lookup(self, name: str, rdtype: str) -> Answer:
        """The raw answer, for what the other methods do not cover: `.status` ok / nxdomain / nodata, `.secure`."""
        return self.resolver.query(name, rdtype)

    def mx(self, domain: str) -> list[MXRecord]:
        """MX records by preference; [] for none; a null MX has `.null`."""
        return mx(self.resolver, domain)

    def addresses(self, host: str) -> list[str]:
        """A and AAAA addresses of HOST."""
        return addresses(self.resolver, host)

    def fcrdns(self, address: str) -> FCrDNS:
        """PTR names of ADDRESS and whether one resolves back to it."""
        return fcrdns(self.resolver, address)

    def mx_targets(self, domain: str) -> MXTargets:
        """Every MX host and address in test order, or the problem that leaves none."""
        return mx_targets(self.resolver, domain)

    def spf(self, domain: str) -> SPFResult:
        """The SPF record, its problems, `.evaluate(ip, sender)` and `.explanation(ip, sender)`."""
        return spf(self.resolver, domain)

    def dmarc(self, domain: str) -> DMARCResult:
        """The DMARC policy receivers apply to mail from DOMAIN (RFC 9989 tree walk), and where reports go."""
        return dmarc(self.resolver, domain)

    def mta_sts(self, domain: str, *, port: int | None = None, ca_file: str | None = None) -> MTASTSResult:
        """The MTA-STS record and policy, fetched over HTTPS; PORT and CA_FILE are for test servers."""
        return mta_sts(self.resolver, domain, port=port or self.https_port, ca_file=ca_file or self.https_ca_file)

    def tls_rpt(self, domain: str) -> TLSRPTResult:
        """The TLS-RPT record and its report addresses."""
        return tls_rpt(self.resolver, domain)

    def tlsa(self, host: str, port: int = 25) -> TLSAResult:
        """TLSA records of HOST:PORT with `.secure`; DNSSEC-bogus raises `DNSSECBogus`."""
        return tlsa(self.resolver, host, port)
