"""DNS checks for mail servers: MX, FCrDNS, SPF, DMARC, MTA-STS, TLS-RPT and DANE over one resolver.

Imported only when a DNS feature is used, so dnspython stays out of every other run.
"""

from .checks import DNSChecks
from .dane import DaneResult, TLSARecord, TLSAResult, dane_match
from .dmarc import DMARCResult
from .errors import DNSCheckError, DNSSECBogus, DNSServerFailure, DNSTimeout
from .mta_sts import MTASTSPolicy, MTASTSRecord, MTASTSResult
from .records import FCrDNS, HostNames, MXRecord, MXTarget, MXTargets, host_names, mx_targets
from .resolver import Answer, Resolver
from .spf import SPFResult
from .tls_rpt import TLSRPTResult

__all__ = [
    "Answer",
    "DMARCResult",
    "DNSCheckError",
    "DNSChecks",
    "DNSSECBogus",
    "DNSServerFailure",
    "DNSTimeout",
    "DaneResult",
    "FCrDNS",
    "HostNames",
    "MTASTSPolicy",
    "MTASTSRecord",
    "MTASTSResult",
    "MXRecord",
    "MXTarget",
    "MXTargets",
    "Resolver",
    "SPFResult",
    "TLSARecord",
    "TLSAResult",
    "TLSRPTResult",
    "dane_match",
    "host_names",
    "mx_targets",
]
