"""ESMTP command parameters, XCLIENT lines and BDAT chunking, built and checked without any I/O.

Tests name parameters as Python values (``size=20480, notify={"SUCCESS"}``); this
module turns them into the exact wire words, refuses values a server would reject
as syntax errors (so a test fails on its own mistake, not on a confusing 501), and
tells which EHLO keyword each one needs, so a parameter the server never offered
fails with that explanation instead of a bare ``555``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "MAIL_PARAMETERS",
    "RCPT_PARAMETERS",
    "XCLIENT_ATTRIBUTES",
    "ParameterError",
    "esmtp_parameters",
    "required_extensions",
    "unadvertised",
    "xclient_command",
    "xclient_unadvertised",
    "xtext",
]

MAIL_PARAMETERS = ("SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "REQUIRETLS")
RCPT_PARAMETERS = ("NOTIFY", "ORCPT")
BODY_TYPES = ("7BIT", "8BITMIME", "BINARYMIME")
RET_VALUES = ("FULL", "HDRS")
NOTIFY_VALUES = ("SUCCESS", "FAILURE", "DELAY")  # or NEVER alone; this order is the wire order
XCLIENT_ATTRIBUTES = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT")
UNAVAILABLE, TEMPUNAVAIL = "[UNAVAILABLE]", "[TEMPUNAVAIL]"

_MAX_ENVID = 100  # RFC 3461 §4.4
_MAX_XCLIENT_NAME = 255  # XCLIENT_README, note 1
_MAX_COMMAND_LINE = 512  # RFC 5321 §4.5.3.1.4, with CRLF
_EXTENSION = {"SIZE": "SIZE", "SMTPUTF8": "SMTPUTF8", "RET": "DSN", "ENVID": "DSN", "NOTIFY": "DSN",
              "ORCPT": "DSN", "REQUIRETLS": "REQUIRETLS"}
_BODY_EXTENSIONS = {"7BIT": ("8BITMIME",), "8BITMIME": ("8BITMIME",), "BINARYMIME": ("BINARYMIME", "CHUNKING")}


class ParameterError(ValueError):
    """A parameter value that cannot go on the wire as given."""


def xtext(value: str) -> str:
    """RFC 3461 §4 xtext: ``+``, ``=``, controls, space and non-ASCII become ``+HH`` (UTF-8 bytes, upper-case hex)."""
    return "".join(chr(b) if 0x21 <= b <= 0x7E and b not in (0x2B, 0x3D) else f"+{b:02X}" for b in value.encode())


def _utf8_addr_xtext(address: str) -> str:
    """RFC 6533 §3 utf-8-addr-xtext for a non-ASCII ORCPT: ``+``, ``=``, ``\\`` and non-ASCII become ``\\x{HEX}``."""
    return "".join(c if 0x21 <= ord(c) <= 0x7E and c not in "+=\\" else f"\\x{{{ord(c):02X}}}" for c in address)


def _flag(name: str, value: object) -> list[str]:
    if not isinstance(value, bool):
        raise ParameterError(f"{name.lower()}= is a flag: write {name.lower()}=True to send {name}, not {value!r}")
    return [name] if value else []


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.upper() not in allowed:
        raise ParameterError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return f"{name}={value.upper()}"


def _size(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError(f"SIZE must be the message size in bytes, a whole number ≥ 0, not {value!r}")
    return f"SIZE={value}"


def _envid(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(f"ENVID must be a non-empty string identifying the message for DSNs, not {value!r}")
    if not all(0x20 <= ord(c) <= 0x7E for c in value) or len(value) > _MAX_ENVID:
        raise ParameterError(f"ENVID must be at most {_MAX_ENVID} printable ASCII characters (RFC 3461 §4.4), "
                             f"not {value!r}; use a plain identifier such as 'smtpcheck-20240101-1'")
    return f"ENVID={xtext(value)}"


def _notify(value: object) -> str:
    words: list[object]
    if isinstance(value, str):
        words = [word.strip() for word in value.split(",")]
    elif isinstance(value, Iterable):
        words = list(value)
    else:
        words = [value]
    chosen = {word.upper() for word in words if isinstance(word, str)}
    valid = len(chosen) == len(words) and bool(chosen) and (
        chosen == {"NEVER"} or chosen <= set(NOTIFY_VALUES))
    if not valid:
        raise ParameterError(f"NOTIFY must be NEVER alone, or any of {', '.join(NOTIFY_VALUES)} "
                             f"(e.g. notify={{'SUCCESS', 'FAILURE'}}), not {value!r}")
    return "NOTIFY=" + ",".join(word for word in ("NEVER", *NOTIFY_VALUES) if word in chosen)


def _orcpt(value: object) -> str:
    if not isinstance(value, str) or not value.strip("<>"):
        raise ParameterError(f"ORCPT must be the original recipient address, e.g. 'user@example.com', not {value!r}")
    address_type, sep, address = value.partition(";")
    if not sep:
        address_type, address = "", value
    address = address.strip("<>")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in address):
        raise ParameterError(f"ORCPT address {address!r} contains a space or control character; give the bare "
                             "address, without a display name")
    if address_type and address_type.lower() not in ("rfc822", "utf-8"):
        raise ParameterError(f"ORCPT address type must be rfc822 or utf-8 (RFC 3461, RFC 6533), not {address_type!r}")
    if address.isascii() and address_type.lower() != "utf-8":
        return f"ORCPT=rfc822;{xtext(address)}"
    return f"ORCPT=utf-8;{_utf8_addr_xtext(address)}"


_FORMATTERS: dict[str, Callable[[object], list[str]]] = {
    "SIZE": lambda value: [_size(value)],
    "BODY": lambda value: [_choice("BODY", value, BODY_TYPES)],
    "SMTPUTF8": lambda value: _flag("SMTPUTF8", value),
    "RET": lambda value: [_choice("RET", value, RET_VALUES)],
    "ENVID": lambda value: [_envid(value)],
    "REQUIRETLS": lambda value: _flag("REQUIRETLS", value),
    "NOTIFY": lambda value: [_notify(value)],
    "ORCPT": lambda value: [_orcpt(value)],
}


def esmtp_parameters(verb: str, **values: object) -> list[str]:
    """The wire words for MAIL or RCPT keyword arguments, in the order given; ``None`` and ``False`` send nothing.

    ``esmtp_parameters("MAIL", size=20480, body="8BITMIME")`` → ``["SIZE=20480", "BODY=8BITMIME"]``.
    """
    verb = verb.upper()
    if verb not in ("MAIL", "RCPT"):
        raise ParameterError(f"ESMTP parameters go on MAIL or RCPT, not {verb!r}")
    own, other, other_verb = ((MAIL_PARAMETERS, RCPT_PARAMETERS, "RCPT") if verb == "MAIL"
                              else (RCPT_PARAMETERS, MAIL_PARAMETERS, "MAIL"))
    words: list[str] = []
    for key, value in values.items():
        name = key.upper()
        if name in other:
            raise ParameterError(f"{name} is a {other_verb} parameter, not a {verb} one: pass {key}= to "
                                 f"{other_verb.lower()}() instead")
        if name not in own:
            raise ParameterError(f"unknown {verb} parameter {key}=; the {verb} parameters are "
                                 f"{', '.join(p.lower() for p in own)}")
        if value is None:
            continue
        words.extend(_FORMATTERS[name](value))
    return words


def required_extensions(parameter: str) -> tuple[str, ...]:
    """The EHLO keywords a wire parameter (``"NOTIFY=SUCCESS"``, ``"BODY=8BITMIME"``) needs; () when unknown."""
    name, _, value = parameter.partition("=")
    name = name.upper()
    if name == "BODY":
        return _BODY_EXTENSIONS.get(value.upper(), ("8BITMIME",))
    return (_EXTENSION[name],) if name in _EXTENSION else ()


def unadvertised(verb: str, parameters: Iterable[str], capabilities: Mapping[str, str], server: str) -> str | None:
    """Why *parameters* cannot be sent to *server*, given its EHLO *capabilities* (upper-case keywords); None if fine.

    Parameters this module does not know are let through: the server is the judge of those.
    """
    problems = []
    for parameter in parameters:
        name = parameter.partition("=")[0].upper()
        shown = parameter.upper() if name == "BODY" else name
        for keyword in required_extensions(parameter):
            if keyword not in capabilities:
                problems.append(f"{verb.upper()} parameter {shown} needs the {keyword} extension, which {server} did "
                                "not advertise in its EHLO reply")
    if not problems:
        return None
    message = "; ".join(problems)
    if not capabilities:
        message += " (there was no EHLO reply to go by: send EHLO before MAIL)"
    return message


# -- XCLIENT -----------------------------------------------------------------------------------------------


def _xclient_address(name: str, value: object) -> str:
    text = str(value)
    if text.upper() == UNAVAILABLE:
        return UNAVAILABLE
    bare = text[5:] if text.upper().startswith("IPV6:") else text.strip("[]")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        raise ParameterError(f"XCLIENT {name} must be an IP address (203.0.113.9, 2001:db8::9) or {UNAVAILABLE}, "
                             f"not {value!r}") from None
    return f"IPV6:{address.compressed}" if address.version == 6 else str(address)


def _xclient_port(name: str, value: object) -> str:
    if isinstance(value, str) and value.upper() == UNAVAILABLE:
        return UNAVAILABLE
    number = int(value) if isinstance(value, str) and value.isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 65535:
        raise ParameterError(f"XCLIENT {name} must be a TCP port number (0-65535) or {UNAVAILABLE}, not {value!r}")
    return str(number)


def _xclient_text(name: str, value: object, specials: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value:
        raise ParameterError(f"XCLIENT {name} must be a non-empty string, not {value!r}")
    if value.upper() in specials:
        return value.upper()
    if name in ("NAME", "HELO") and len(value) > _MAX_XCLIENT_NAME:
        raise ParameterError(f"XCLIENT {name} may be at most {_MAX_XCLIENT_NAME} characters; {value[:40]!r}… has "
                             f"{len(value)}")
    return xtext(value)


def _xclient_value(name: str, value: object) -> str:
    if name in ("ADDR", "DESTADDR"):
        return _xclient_address(name, value)
    if name in ("PORT", "DESTPORT"):
        return _xclient_port(name, value)
    if name == "PROTO":
        return _choice("PROTO", value, ("SMTP", "ESMTP")).partition("=")[2]
    if name == "NAME":
        return _xclient_text(name, value, (UNAVAILABLE, TEMPUNAVAIL))
    return _xclient_text(name, value, (UNAVAILABLE,))


def xclient_command(**attributes: object) -> str:
    """``XCLIENT ADDR=203.0.113.9 NAME=…``: the attributes in the order given, checked and xtext-encoded.

    Postfix accepts it only from ``smtpd_authorized_xclient_hosts`` and answers 220 with a fresh greeting.
    """
    if not attributes:
        raise ParameterError(f"XCLIENT needs at least one attribute, e.g. addr='203.0.113.9'; the attributes are "
                             f"{', '.join(a.lower() for a in XCLIENT_ATTRIBUTES)}")
    words = []
    for key, value in attributes.items():
        name = key.upper()
        if name not in XCLIENT_ATTRIBUTES:
            raise ParameterError(f"unknown XCLIENT attribute {key}=; the attributes are "
                                 f"{', '.join(a.lower() for a in XCLIENT_ATTRIBUTES)}")
        words.append(f"{name}={_xclient_value(name, value)}")
    line = "XCLIENT " + " ".join(words)
    if len(line) + 2 > _MAX_COMMAND_LINE:
        raise ParameterError(f"this XCLIENT line is {len(line) + 2} bytes, over SMTP's {_MAX_COMMAND_LINE}: send the "
                             "attributes in several XCLIENT commands, NAME and ADDR last")
    return line


def xclient_unadvertised(attributes: Iterable[str], capabilities: Mapping[str, str], server: str) -> str | None:
    """Why these XCLIENT attribute names cannot be sent to *server*, given its EHLO *capabilities*; None if fine."""
    if "XCLIENT" not in capabilities:
        return (f"{server} did not advertise XCLIENT in its EHLO reply to this client; on Postfix, add the test "
                "machine's address to smtpd_authorized_xclient_hosts (or test through a PROXY header instead)")
    offered = set(capabilities["XCLIENT"].upper().split())
    missing = [name.upper() for name in attributes if name.upper() not in offered]
    if missing:
        return (f"{server} offers XCLIENT with {', '.join(sorted(offered)) or 'no attributes'}, "
                f"not {', '.join(missing)}")
    return None
