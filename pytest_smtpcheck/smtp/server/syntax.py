"""Command lines into typed commands: the syntax of RFC 5321 §4.1 and its extensions, without any state.

Replies name what is wrong the way Postfix does, so a test written against one
server reads the same against the other. ESMTP parameters are judged by the
rules smtp/params.py applies to what the plugin sends (one rule for both sides).
"""

from __future__ import annotations

from collections.abc import Collection

from ..params import MAIL_PARAMETERS, RCPT_PARAMETERS, ParameterError, esmtp_parameters, unadvertised
from ..reply import Reply
from .events import (
    Auth,
    Bdat,
    Command,
    Data,
    Hello,
    Invalid,
    Mail,
    Noop,
    Quit,
    Rcpt,
    Rset,
    StartTLS,
    Unknown,
    Vrfy,
    reply,
)

__all__ = ["VERBS", "parameter_refusal", "parse_command"]

VERBS: dict[str, type[Command]] = {
    "EHLO": Hello, "HELO": Hello, "MAIL": Mail, "RCPT": Rcpt, "DATA": Data, "BDAT": Bdat, "AUTH": Auth,
    "STARTTLS": StartTLS, "RSET": Rset, "NOOP": Noop, "QUIT": Quit, "VRFY": Vrfy,
}
_FLAGS = ("SMTPUTF8", "REQUIRETLS")  # parameters without a value


def parse_command(line: str, extensions: Collection[str] = ()) -> Command:
    """One command line (its CRLF removed) as a command, or as Invalid with the 501/555 reply it deserves.

    *extensions* are the EHLO keywords the server advertised: MAIL and RCPT parameters need theirs.
    """
    verb, _, arg = line.partition(" ")
    verb, arg = verb.upper(), arg.strip()
    kind = VERBS.get(verb)
    if kind is None:
        return Unknown(verb, line=line)
    if "\r" in line:  # RFC 5321 §2.3.8: CR only as part of the line's CRLF
        return Invalid(kind, reply(501, "5.5.2 Syntax error: bare <CR> in a command line"), line=line)
    command = _parse(kind, verb, arg, extensions, line)
    return Invalid(kind, command, line=line) if isinstance(command, Reply) else command


def _parse(kind: type[Command], verb: str, arg: str, extensions: Collection[str], line: str) -> Command | Reply:
    """The command, or the reply refusing its syntax."""
    if kind is Hello:
        return Hello(verb == "EHLO", arg, line=line) if arg else _syntax(f"{verb} hostname")
    if kind is Mail or kind is Rcpt:
        return _path_command(kind, arg, extensions, line)
    if kind is Bdat:
        words = arg.upper().split()
        if not 1 <= len(words) <= 2 or not words[0].isdigit() or words[1:] not in ([], ["LAST"]):
            return _syntax("BDAT count [LAST]")
        return Bdat(int(words[0]), len(words) == 2, line=line)
    if kind is Auth:
        words = arg.split()
        if not 1 <= len(words) <= 2:
            return _syntax("AUTH mechanism [initial-response]")
        return Auth(words[0].upper(), words[1] if len(words) == 2 else None, line=line)
    if kind is Vrfy:
        return Vrfy(arg, line=line) if arg else _syntax("VRFY address")
    if arg and kind in (Data, Rset, StartTLS):  # RFC 5321 §4.1.1.4, §4.1.1.5; RFC 3207 §4
        return _syntax(verb)
    return kind(line=line)


def _syntax(usage: str) -> Reply:
    return reply(501, f"5.5.4 Syntax: {usage}")


def _path_command(kind: type[Command], arg: str, extensions: Collection[str], line: str) -> Command | Reply:
    """MAIL FROM:<path> or RCPT TO:<path>, then ESMTP parameters (RFC 5321 §4.1.2)."""
    mail = kind is Mail
    keyword = "FROM:" if mail else "TO:"
    if not arg.upper().startswith(keyword):
        return _syntax("MAIL FROM:<address>" if mail else "RCPT TO:<address>")
    text = arg[len(keyword):].strip()
    if not text.startswith("<") or ">" not in text:
        return reply(501, "5.1.7 Bad sender address syntax" if mail else "5.1.3 Bad recipient address syntax")
    address, _, rest = text[1:].partition(">")
    if not mail and "@" not in address:
        return reply(501, "5.1.3 Bad recipient address syntax")
    params = {}
    for word in rest.split():
        name, _, value = word.partition("=")
        params[name.upper()] = value
    refusal = parameter_refusal("MAIL" if mail else "RCPT", params, extensions)
    if refusal is not None:
        return refusal
    return Mail(address, params, line=line) if mail else Rcpt(address, params, line=line)


def parameter_refusal(verb: str, params: dict[str, str], extensions: Collection[str]) -> Reply | None:
    """The reply to MAIL/RCPT parameters a server advertising *extensions* does not take; None if all are fine.

    Unknown or unadvertised: 555 (RFC 5321 §4.1.1.11); malformed: 501.
    """
    known = MAIL_PARAMETERS if verb == "MAIL" else RCPT_PARAMETERS
    advertised = {keyword.split()[0].upper(): "" for keyword in extensions}
    for name, value in params.items():
        if name not in known:
            return reply(555, f"5.5.4 Unsupported option: {name}")
        given: object = True if name in _FLAGS and not value else value
        if name == "SIZE" and value.isdigit():
            given = int(value)
        try:
            words = esmtp_parameters(verb, **{name: given})
        except ParameterError:
            return reply(501, f"5.5.4 Bad {name} parameter syntax")
        if unadvertised(verb, words, advertised, "the server") is not None:
            return reply(555, f"5.5.4 Unsupported option: {name}")
    return None
