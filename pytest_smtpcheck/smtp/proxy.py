"""PROXY protocol headers (haproxy's proxy-protocol.txt), version 1 (text) and 2 (binary), for TCP.

A load balancer in front of an MX prepends one of these to the connection so the
MX judges the real client's address instead of the balancer's. A test that sends
the header itself can present any client address to a listener that trusts it,
and so check the relay rules as an outside client meets them.
"""

from __future__ import annotations

import ipaddress
import struct

__all__ = ["PROXY_V2_SIGNATURE", "ProxyHeaderError", "proxy_header"]

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_PROXY_COMMAND = 0x21  # version 2 in the high nibble, PROXY (not LOCAL) in the low one
_V2_TCP4, _V2_TCP6 = 0x11, 0x21  # AF_INET / AF_INET6 in the high nibble, STREAM in the low one

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyHeaderError(ValueError):
    """An argument that cannot go into a PROXY header."""


def _address(role: str, text: str) -> IPAddress:
    try:
        address = ipaddress.ip_address(str(text).strip("[]"))
    except ValueError:
        raise ProxyHeaderError(
            f"PROXY {role} address {text!r} is not an IP address; write a literal such as 203.0.113.9 or 2001:db8::9 "
            "(host names cannot go into a PROXY header)"
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        raise ProxyHeaderError(f"PROXY {role} address {text!r} has a zone (%{address.scope_id}), which a PROXY "
                               "header cannot carry; write the address without it")
    return address


def _port(role: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ProxyHeaderError(f"PROXY {role} port must be a TCP port number from 0 to 65535, not {value!r}")
    return value


def proxy_header(version: int, source_ip: str, source_port: int, dest_ip: str, dest_port: int) -> bytes:
    """The header a proxy would send before the first SMTP byte: the client is *source*, the MX is *dest*.

    Both addresses must be of one family (the header has one family field): present an IPv4 client
    to an IPv4 listener, an IPv6 client to an IPv6 one.
    """
    if version not in (1, 2) or isinstance(version, bool):
        raise ProxyHeaderError(f"PROXY protocol version must be 1 (text) or 2 (binary), not {version!r}")
    source, dest = _address("source", source_ip), _address("destination", dest_ip)
    sport, dport = _port("source", source_port), _port("destination", dest_port)
    if source.version != dest.version:
        raise ProxyHeaderError(
            f"PROXY source {source} is IPv{source.version} but destination {dest} is IPv{dest.version}: a PROXY "
            "header carries one address family; connect to the server over the client's family (e.g. to "
            "127.0.0.1 for an IPv4 client, ::1 for an IPv6 one)"
        )
    if version == 1:
        return f"PROXY TCP{source.version} {source} {dest} {sport} {dport}\r\n".encode("ascii")
    family = _V2_TCP4 if source.version == 4 else _V2_TCP6
    addresses = source.packed + dest.packed + struct.pack("!HH", sport, dport)
    return PROXY_V2_SIGNATURE + struct.pack("!BBH", _V2_PROXY_COMMAND, family, len(addresses)) + addresses
