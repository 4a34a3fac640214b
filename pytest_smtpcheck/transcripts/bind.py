"""Put a run's values into a read `.smtp` file: variables, the environment, secrets; then type each step.

Reading a file (syntax.py) needs nothing from the run, so collection needs no
target. Binding does: ``${NAME}`` takes the run's variables (the front matter's ``vars`` win
over them: the test's own word), ``${env:NAME}`` the environment, and only that form
does. Every value rule (sizes, seconds, line lengths, line breaks in values)
lives here once; :func:`check` applies it at collection to what is written out,
:func:`bind` at run time to what the variables made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from ..paths import MessageFileRefused, MessageFiles
from ..vocabulary import SHORTEST_SECRET
from .steps import Auth, Bdat, Body, Command, Message, Sleep, StartTLS, Step
from .syntax import REFERENCE, Directive, DirectiveName, Document, Exchange, Node, Send, SMTPFileError, references
from .syntax import Body as WrittenBody

__all__ = ["Script", "Values", "bind", "check", "missing", "secret_names", "step"]

MAX_LINE = 998  # RFC 5321 4.5.3.1.6: 1000 octets per line, CRLF included
MAX_SLEEP = 300.0
MAX_MESSAGE = 1 << 30
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
_SECONDS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Script:
    """A file bound for one run: typed steps with their values, and the secrets to mask in its transcript."""

    document: Document
    exchanges: tuple[Exchange[Step], ...]
    secrets: tuple[str, ...] = field(default=(), repr=False)  # expanded passwords and ${env:} values
    credentials: tuple[str, ...] = field(default=(), repr=False)  # AUTH secrets the run gave (${…}): TLS only

    @property
    def name(self) -> str:
        return self.document.name


class Values:
    """The run's values for one file; collects the secrets it hands out and the references it cannot fill."""

    def __init__(self, path: str, variables: Mapping[str, str], environ: Mapping[str, str],
                 files: MessageFiles | None = None) -> None:
        self.path = path
        self.variables = variables
        self.environ = environ
        self.files = files or MessageFiles(os.path.dirname(os.path.abspath(path)))  # where `file=` may point
        self.secrets: list[str] = []
        self.credentials: list[str] = []  # AUTH secrets from a reference: the run's, so real; a literal is a dummy
        self.missing: dict[str, int] = {}  # references without a value: name -> first line

    def expand(self, number: int, text: str) -> str:
        """Replace ``${NAME}`` and ``${env:NAME}`` with their values; ``$${`` is a literal ``${``.

        A reference without a value stays as written and is listed in ``missing``.
        """
        return REFERENCE.sub(lambda match: self._value(number, match), text)

    def secret(self, value: str) -> str:
        if value not in self.secrets and len(value) >= SHORTEST_SECRET:
            self.secrets.append(value)
        return value

    def _value(self, number: int, match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        reference = match.group("name")  # its form was checked when the file was read
        from_env = reference.startswith("env:")
        source = self.environ if from_env else self.variables
        name = reference[4:] if from_env else reference
        if name not in source:
            self.missing.setdefault(reference, number)
            return match.group(0)
        value = source[name]
        if "\r" in value or "\n" in value:
            raise SMTPFileError(self.path, number,
                                f"variable {reference} holds a line break, which would send an extra line; remove it")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SMTPFileError(self.path, number,
                                f"variable {reference} is not valid UTF-8 text; set it to a UTF-8 value") from None
        return self.secret(value) if from_env else value  # the environment holds secrets: masked wherever they appear


def bind(document: Document, variables: Mapping[str, str], environ: Mapping[str, str],
         files: MessageFiles | None = None) -> Script:
    """The file with the run's *variables* and *environ* put in; the front matter's ``vars`` win (the test's word).

    `! message file=` paths must be allowed by *files* (by default: under the `.smtp` file's own directory).
    Raises SMTPFileError naming the line for a value a step cannot take.
    """
    values = Values(document.path, {**variables, **document.settings.vars}, environ, files)
    exchanges = tuple(
        Exchange(exchange.line, tuple(step(node, values) for node in exchange.steps), exchange.expects,
                 exchange.close_line)
        for exchange in document.exchanges
    )
    return Script(document, exchanges, tuple(values.secrets), tuple(values.credentials))


def check(document: Document, files: MessageFiles | None = None) -> None:
    """Apply the value rules to every step whose values are written out (at collection, before any target)."""
    values = Values(document.path, {}, {}, files)
    for exchange in document.exchanges:
        for node in exchange.steps:
            if not any(True for _, text in _lines(node) for _ in references(text)):
                step(node, values)


def missing(document: Document, variables: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, int]:
    """The references this run has no value for, each with the first line using it."""
    given = {**variables, **document.settings.vars}
    found: dict[str, int] = {}
    for exchange in document.exchanges:
        for node in exchange.steps:
            for number, text in _lines(node):
                for reference in references(text):
                    known = reference[4:] in environ if reference.startswith("env:") else reference in given
                    if not known:
                        found.setdefault(reference, number)
    return found


def secret_names(document: Document) -> set[str]:
    """The run's variables the file sends as a password (`! auth ... ${MYPW}`): known without their values."""
    return {name for exchange in document.exchanges for node in exchange.steps
            if isinstance(node, Directive) and node.name == "auth"
            for name in references(node.args["password"]) if not name.startswith("env:")}


def step(node: Node, values: Values) -> Step:
    """The typed step for one read node, its values put in and checked."""
    if isinstance(node, Send):
        return Command(node.line, node.text, text=_line_to_send(values, node.line, node.text))
    if isinstance(node, WrittenBody):
        lines = tuple(_line_to_send(values, number, text, stuffed=text.startswith(".")) for number, text in node.lines)
        return Body(node.line, node.written, lines=lines)
    return _DIRECTIVES[node.name](node, values)


def _lines(node: Node) -> Iterator[tuple[int, str]]:
    """The texts of a node that may hold references, each with its line."""
    if isinstance(node, Send):
        yield node.line, node.text
    elif isinstance(node, WrittenBody):
        yield from node.lines
    else:
        yield from ((node.line, text) for text in node.args.values())


def _line_to_send(values: Values, number: int, written: str, stuffed: bool = False) -> str:
    line = values.expand(number, written)
    if "\r" in line:
        raise SMTPFileError(values.path, number, "the line holds a carriage return (CR) that is not at its end: "
                            "SMTP lines cannot carry a bare CR")
    size = len(line.encode("utf-8")) + stuffed
    if size > MAX_LINE:
        raise SMTPFileError(values.path, number,
                            f"the line is {size} octets (after variables{' and dot-stuffing' if stuffed else ''}): "
                            f"RFC 5321 allows {MAX_LINE} plus CRLF; shorten it")
    return line


def _starttls(node: Directive, values: Values) -> Step:
    return StartTLS(node.line, node.written)


def _auth(node: Directive, values: Values) -> Step:
    written = node.args["password"]
    password = values.secret(values.expand(node.line, written))
    if any(references(written)):
        values.credentials.append(password)
    user = values.expand(node.line, node.args["user"])
    return Auth(node.line, node.written, mechanism=node.args["mechanism"], user=user, password=password)


def _message(node: Directive, values: Values) -> Step:
    size = _size(values, node.line, node.args["size"]) if "size" in node.args else 0
    path = None
    if "file" in node.args:
        written = node.args["file"]
        try:
            path = values.files.resolve(values.expand(node.line, written), values.path)
        except MessageFileRefused as refused:
            raise SMTPFileError(values.path, node.line, f"`! message file={written}`: {refused}") from None
    return Message(node.line, node.written, size=size, path=path, label=os.path.basename(values.path))


def _bdat(node: Directive, values: Values) -> Step:
    size = _size(values, node.line, node.args["size"])
    chunk = _size(values, node.line, node.args["chunk"]) if "chunk" in node.args else min(max(size, 1), 64 * 1024)
    if chunk < 1:
        raise SMTPFileError(values.path, node.line, "`! bdat ... chunk=` must be at least 1 byte")
    return Bdat(node.line, node.written, size=size, chunk=chunk, label=os.path.basename(values.path))


def _sleep(node: Directive, values: Values) -> Step:
    text = values.expand(node.line, node.args["seconds"])
    if not _SECONDS.fullmatch(text) or float(text) > MAX_SLEEP:
        raise SMTPFileError(values.path, node.line,
                            f"`! sleep {text}`: write a number of seconds from 0 to {MAX_SLEEP:g}, e.g. `! sleep 2.5`")
    return Sleep(node.line, node.written, seconds=float(text))


def _size(values: Values, number: int, written: str) -> int:
    text = values.expand(number, written)
    match = _SIZE.fullmatch(text)
    usage = "write bytes or a size with a unit: `1500000`, `100KiB`, `2MiB`, `10MB`"
    if match is None:
        raise SMTPFileError(values.path, number, f"`{text}` is not a message size: {usage}")
    size = float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]
    if not size <= MAX_MESSAGE:
        raise SMTPFileError(values.path, number, f"message size {text} is over the limit of 1GiB")
    return int(size)


_DIRECTIVES: dict[DirectiveName, Callable[[Directive, Values], Step]] = {
    "starttls": _starttls, "auth": _auth, "message": _message, "bdat": _bdat, "sleep": _sleep,
}
