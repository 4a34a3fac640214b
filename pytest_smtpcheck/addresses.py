"""Host names, addresses and ports as an engineer types them: one set of rules for options, profiles and the CLI.

Pytest-free, so `smtpcheck record` uses the same rules as the plugin; each
caller words the error's prefix (`--smtp-target: …`, `smtpcheck.toml: …`).
"""

from __future__ import annotations

import re

__all__ = ["AddressError", "dns_name", "host", "host_and_port", "ip", "joined"]

_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


class AddressError(ValueError):
    """Not a host, address or port; the message says what was given and how to write it."""


def host_and_port(text: str) -> tuple[str, str | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address (whose last group is never a port)."""
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text)
    if bracketed:
        return _ipv6(bracketed.group(1), text), bracketed.group(2)
    if text.count(":") > 1:
        return _ipv6(text, text), None
    name, colon, port = text.partition(":")
    return name, port if colon else None


def joined(host: str, port: int) -> str:
    """HOST:PORT as an engineer writes it: an IPv6 address in brackets (`[2001:db8::25]:25`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def ip(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise AddressError(f"{text!r} is not an IP address") from None


def host(text: str) -> str:
    """An IP address or a DNS name; a name whose last label is all digits is a mistyped IPv4 address."""
    if ":" in text or re.fullmatch(r"[0-9.]+", text):
        return ip(text)
    return dns_name(text)


def dns_name(text: str) -> str:
    """A DNS name (letters, digits, hyphen, underscore; internationalized names in their xn-- form)."""
    name = text.strip().removesuffix(".")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise AddressError(f"{text!r} is not a host name")
    return name


def _ipv6(candidate: str, text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv6Address(candidate))
    except ValueError:
        raise AddressError(f"{text!r} is not HOST[:PORT] (an IPv6 address goes in brackets: [2001:db8::25]:2525)"
                           ) from None
