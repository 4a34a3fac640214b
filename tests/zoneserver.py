"""A small DNS server on 127.0.0.1 (UDP) that answers from a zone held in memory, as a validating resolver would.

The RFC 7208 suite needs zone data unbound will not serve as written: names that
do not answer at all (the suite's TIMEOUT), CNAME loops, a zone that changes with
every scenario. The baseline judges need zones that are not signed, zones whose
name servers fail, and zones whose signatures do not validate (bogus). The plugin's `Resolver` queries this server over the same path it
uses for a real resolver; the answers are built with dnspython's message API.
Responses are not truncated: the largest answer asked for is far below 1232 octets.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Collection
from dataclasses import dataclass, field

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

THREAD_NAME = "zoneserver"
# Seconds a client should wait for a silent name: short, since each such question waits it out, yet long
# enough that an answer delayed on a loaded machine (2 cores, a parallel run) is not read as a timeout.
TIMEOUT = 1.0
_MAX_CNAME_CHAIN = 8


@dataclass
class Node:
    """One owner name: its records, and whether a question for a type it has no record of gets no answer."""

    records: list[dns.rdata.Rdata] = field(default_factory=list)
    silent: bool = False


Zone = dict[dns.name.Name, Node]


def zone(nodes: dict[str, list[str]]) -> Zone:
    """A zone from owner names and zone-file lines `TYPE RDATA` (names in them absolute)."""
    return {
        dns.name.from_text(owner): Node([dns.rdata.from_text("IN", *line.split(" ", 1), relativize=False)
                                         for line in lines])
        for owner, lines in nodes.items()
    }


def _under(name: dns.name.Name, zones: Collection[dns.name.Name]) -> bool:
    return any(name.is_subdomain(cut) for cut in zones)


def answer(query: dns.message.Message, served: Zone, insecure: Collection[dns.name.Name] = (),
           servfail: Collection[dns.name.Name] = (), bogus: Collection[dns.name.Name] = ()
           ) -> dns.message.Message | None:
    """The response to QUERY from the SERVED zone, following CNAMEs in it; None for no answer at all.

    As a validating resolver answers a stub (RFC 4035 §3.2.3, RFC 6840 §5.7, §5.8): recursion available, the AD
    bit if the query asked for it (DO or AD) and no name of the chain lies in an INSECURE zone (the data of a
    signed zone validated), SERVFAIL for any name in a SERVFAIL zone (its name servers broken or unreachable,
    whether or not the query disables checking with CD). A name in a BOGUS zone (signed, its signatures failing
    validation) gets SERVFAIL with Extended DNS Error 6, DNSSEC Bogus (RFC 8914 §4.7), unless the query disables
    checking (CD): then its data, without the AD bit (RFC 4035 §3.2.2).
    """
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    if query.flags & dns.flags.AD or query.ednsflags & dns.flags.DO:
        response.flags |= dns.flags.AD
    question = query.question[0]
    name, rdtype, seen = question.name, question.rdtype, set()
    for _ in range(_MAX_CNAME_CHAIN):
        if _under(name, servfail):
            return _failed(response)
        if _under(name, bogus):
            if not query.flags & dns.flags.CD:
                return _failed(response, dns.edns.EDEOption(dns.edns.EDECode.DNSSEC_BOGUS, "signature crypto failed"))
            response.flags &= ~dns.flags.AD
        if _under(name, insecure):
            response.flags &= ~dns.flags.AD
        node = served.get(name)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        seen.add(name)
        found = [r for r in node.records if r.rdtype == rdtype]
        aliases = [r for r in node.records if r.rdtype == dns.rdatatype.CNAME]
        if found or (aliases and rdtype != dns.rdatatype.CNAME):
            rrset = response.find_rrset(response.answer, name, dns.rdataclass.IN, (found or aliases)[0].rdtype,
                                        create=True)
            for rdata in found or aliases:
                rrset.add(rdata, ttl=300)
        if found or not aliases:
            return None if node.silent and not found else response
        name = aliases[0].target  # type: ignore[attr-defined]
        if name in seen:
            return response  # a CNAME loop: the chain so far, as a server would send it
    return response


def _failed(response: dns.message.Message, *errors: dns.edns.EDEOption) -> dns.message.Message:
    """RESPONSE turned into SERVFAIL, with ERRORS as Extended DNS Errors (RFC 8914)."""
    response.answer.clear()
    response.flags &= ~dns.flags.AD
    response.set_rcode(dns.rcode.SERVFAIL)
    if errors:
        response.use_edns(0, options=list(errors))
    return response


class ZoneServer:
    """Serves `zone` on 127.0.0.1:`port` until `close()`; names in an `insecure` zone answer without the AD bit,
    names in a `servfail` zone fail, names in a `bogus` zone fail validation (replace all four between tests)."""

    def __init__(self) -> None:
        self.zone: Zone = {}
        self.insecure: Collection[dns.name.Name] = ()
        self.servfail: Collection[dns.name.Name] = ()
        self.bogus: Collection[dns.name.Name] = ()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue  # not a DNS query: ignored, as a server would
            response = answer(query, self.zone, self.insecure, self.servfail, self.bogus)
            if response is not None:
                self._sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._sock.close()
