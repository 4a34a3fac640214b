"""The `.smtp` format's syntax: lines to typed nodes, each knowing the lines it came from.

The format is described in docs/smtp-format.md. Reading is strict and complete
before anything is sent: every problem is an SMTPFileError naming the file and
line, so a typo fails collection instead of producing a test that checks less
than it seems to. `${...}` references are checked for their form here and kept
as written: their values are the run's, and bind.py puts them in at run time.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, NoReturn, Protocol, TypeVar, get_args

from ..settings import TEST_KEYS, Declared, Given, SettingsError, declared
from ..smtp.expect import Expectation, ExpectationError
from ..vocabulary import AUTH_MECHANISMS, MASK

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "MESSAGE_OUTSIDE_DATA", "Body", "Directive", "DirectiveName", "Document", "Exchange", "ExpectLine", "Node",
    "SMTPFileError", "Send", "parse", "read_directive", "read_send", "references",
]

FRONT_MATTER_KEYS = ("description", "markers", *TEST_KEYS)
DirectiveName = Literal["starttls", "auth", "message", "bdat", "sleep"]
DIRECTIVES: dict[str, tuple[int, int, str]] = {  # name: (fewest arguments, most arguments, usage)
    "starttls": (0, 0, "! starttls"),
    "auth": (3, 3, "! auth MECHANISM USER PASSWORD"),
    "message": (0, 2, "! message [SIZE] [file=PATH]"),
    "bdat": (1, 2, "! bdat SIZE [chunk=BYTES]"),
    "sleep": (1, 1, "! sleep SECONDS"),
}
_NAMES: dict[str, DirectiveName] = {name: name for name in get_args(DirectiveName)}
_OPTIONS: dict[str, tuple[str, ...]] = {"message": ("file",), "bdat": ("chunk",)}  # NAME=VALUE words they take
MESSAGE_OUTSIDE_DATA = "`! message` sends a message body, so it must follow `> DATA` (and its `< 354`)"
STEPS, BODY, CLOSED = "steps", "body", "closed"  # the reader's states
_DIRECTIVE_LIST = ", ".join(f"`{usage}`" for _, _, usage in DIRECTIVES.values())
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REFERENCE = re.compile(r"\$\$\{|\$\{(?P<name>[^}]*)(?P<close>\})?")
_ONLY_REFERENCES = re.compile(r"(?:\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*\})+")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


class SMTPFileError(Exception):
    """A `.smtp` file that cannot be run as written; ``str()`` is ``path:line: message``."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        super().__init__(message)
        self.path = os.fspath(path)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Send:
    """A `>` line outside a message body: one command line, as written after `> `."""

    line: int
    text: str = field(repr=False)  # may hold ${...} and $${
    gets_reply = True

    @property
    def verb(self) -> str:
        words = self.text.split(None, 1)
        return words[0].upper() if words else "EMPTY"

    @property
    def written(self) -> str:
        return self.text


@dataclass(frozen=True)
class Body:
    """The `>` lines of a message body after DATA, up to the `> .` line that ends it (which is not kept)."""

    line: int
    end: int  # the `> .` line
    lines: tuple[tuple[int, str], ...] = field(repr=False)  # (line number, text as written after `> `)
    verb = "BODY"
    gets_reply = True

    @property
    def written(self) -> str:
        return f"(message body, lines {self.line}-{self.end})"


@dataclass(frozen=True)
class Directive:
    """A `!` line: its name and its arguments by role (mechanism, user, password, size, file, chunk, seconds)."""

    line: int
    name: DirectiveName
    written: str  # the line as reports show it: a literal password masked
    args: Mapping[str, str] = field(default_factory=dict, repr=False)  # as written: may hold ${...}

    @property
    def verb(self) -> str:
        return self.name.upper()

    @property
    def gets_reply(self) -> bool:
        return self.name != "sleep"


Node = Send | Body | Directive


@dataclass(frozen=True)
class ExpectLine:
    """A `<` line: the reply it expects and where it was written (line and columns, for --smtp-update)."""

    line: int
    expectation: Expectation
    start: int = 0  # the expectation's columns in the line (0-based, end excluded; the line without its line end)
    end: int = 0


class _Stepped(Protocol):
    @property
    def line(self) -> int: ...
    @property
    def verb(self) -> str: ...
    @property
    def written(self) -> str: ...
    @property
    def gets_reply(self) -> bool: ...


S_co = TypeVar("S_co", bound=_Stepped, covariant=True)


@dataclass(frozen=True)
class Exchange(Generic[S_co]):
    """Client steps sent together and the `<` lines answering them in order; one pytest item.

    The steps are syntax nodes as read, or typed steps once bound (bind.py): the shape is the same.
    """

    line: int
    steps: tuple[S_co, ...]
    expects: tuple[ExpectLine, ...]
    close_line: int | None = None  # the `< closed` line, when the server must close after the replies

    @property
    def expects_close(self) -> bool:
        return self.close_line is not None

    @property
    def name(self) -> str:
        """Unique in its file and usable with ``-k``: ``line9-RCPT``, ``line5-MAIL+RCPT+DATA``, ``line1-greeting``."""
        verbs = "+".join(re.sub(r"[^\w.-]", "_", step.verb, flags=re.ASCII) for step in self.steps)
        return f"line{self.line}-{verbs or 'greeting'}"


@dataclass(frozen=True)
class Document:
    """A read `.smtp` file: its front matter settings and its exchanges in order, ${...} unexpanded."""

    path: str
    exchanges: tuple[Exchange[Node], ...]
    description: str | None = None
    markers: tuple[str, ...] = ()
    settings: Declared = field(default_factory=Declared)  # the front matter's settings: they beat the run's

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def parse(source: str | bytes, path: str | os.PathLike[str]) -> Document:
    """Read a `.smtp` file; raises SMTPFileError, and nothing else, for any input."""
    path = os.fspath(path)
    lines = _split_lines(source, path)
    settings, body_start = _FrontMatter(path, lines).read()
    machine = _Machine(path)
    for number, text in enumerate(lines[body_start:], body_start + 1):
        if not _is_comment(text):
            machine.feed(number, text)
    return Document(
        path=path,
        exchanges=machine.end(),
        description=settings.get("description"),
        markers=tuple(settings.get("markers", ())),
        settings=settings["settings"],
    )


def references(text: str) -> Iterator[str]:
    """The names *text* refers to (``NAME`` or ``env:NAME``), in order; ``$${`` is no reference."""
    for match in REFERENCE.finditer(text):
        if match.group(0) != "$${":
            yield match.group("name")


def _split_lines(source: str | bytes, path: str) -> list[str]:
    """Decode as UTF-8 and split on LF, dropping one CR before it: CRLF, LF and mixed files read alike."""
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        text.encode("utf-8")  # a str may still hold lone surrogates, which cannot be sent
    except (UnicodeDecodeError, UnicodeEncodeError) as error:
        before = error.object[: error.start]
        line = (before.count(b"\n") if isinstance(before, bytes) else before.count("\n")) + 1
        raise SMTPFileError(path, line, "not valid UTF-8: save the file as UTF-8") from None
    return [line[:-1] if line.endswith("\r") else line for line in text.removeprefix("\ufeff").split("\n")]


def _is_comment(text: str) -> bool:
    stripped = text.strip()
    return not stripped or stripped.startswith("#")


class _FrontMatter:
    """The optional TOML block between `+++` lines at the top of the file."""

    def __init__(self, path: str, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.open = 0  # 1-based line of the opening `+++`

    def read(self) -> tuple[dict[str, Any], int]:
        """The validated settings, and the index of the first line after the front matter."""
        first = next((i for i, text in enumerate(self.lines) if not _is_comment(text)), None)
        if first is None or self.lines[first].rstrip() != "+++":
            return {"settings": Declared()}, 0
        self.open = first + 1
        close = next((i for i in range(first + 1, len(self.lines)) if self.lines[i].rstrip() == "+++"), None)
        if close is None:
            self._fail(self.open, "front matter opened with `+++` is never closed: add a `+++` line after its TOML")
        table = self._load("\n".join(self.lines[first + 1 : close]), max(close, self.open))
        return self._validate(table), close + 1

    def _load(self, toml: str, last_line: int) -> dict[str, Any]:
        try:
            table: dict[str, Any] = tomllib.loads(toml)
            return table
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            position = _TOML_POSITION.search(message)
            if position:
                line = self.open + int(position.group(1))
                message = f"{message[: position.start()]} (column {position.group(2)})"
            else:  # "at end of document"
                line = last_line
            self._fail(line, f"front matter is not valid TOML: {message}")
        except RecursionError:
            self._fail(self.open, "front matter is not valid TOML: nested too deeply")

    def _validate(self, table: dict[str, Any]) -> dict[str, Any]:
        for key in table:
            if key not in FRONT_MATTER_KEYS:
                self._fail(
                    self._line_of(key),
                    f"unknown front matter key `{key}`: the keys are {', '.join(FRONT_MATTER_KEYS)}",
                )
        settings: dict[str, Any] = {}
        if "description" in table:
            settings["description"] = self._string("description", table["description"])
        if "markers" in table:
            settings["markers"] = self._markers(table["markers"])
        settings["settings"] = self._settings({key: value for key, value in table.items() if key in TEST_KEYS})
        return settings

    def _settings(self, table: dict[str, Any]) -> Declared:
        """The settings keys, checked by the rules of every other door (settings.py), failing at their line.

        Each keeps its door with its line (``relay.smtp:3: front matter as``) for the rules that need the run."""
        name = os.path.basename(self.path)
        try:
            test = declared({key: Given(value, f"front matter {key}", f"front matter of {name}")
                             for key, value in table.items()})
        except SettingsError as error:
            key = error.where.removeprefix("front matter ").partition(".")[0]
            self._fail(self._line_of(key), str(error))
        return replace(test, doors={key: f"{name}:{self._line_of(key)}: front matter {key}" for key in table})

    def _string(self, key: str, value: object) -> str:
        if not isinstance(value, str):
            self._fail(self._line_of(key), f'{key} must be a string in quotes, e.g. {key} = "..."')
        return value

    def _markers(self, value: object) -> list[str]:
        usage = 'markers must be a list of pytest marker names, e.g. markers = ["slow", "mx"]'
        if not isinstance(value, list):
            self._fail(self._line_of("markers"), usage)
        for marker in value:
            if not isinstance(marker, str) or not _NAME.fullmatch(marker):
                self._fail(self._line_of("markers"), f"{marker!r} is not a marker name (letters, digits, _): {usage}")
        return value

    def _line_of(self, key: str) -> int:
        """The line defining *key* (``key =``, ``[key]`` or ``key.sub =``), else the opening `+++`."""
        pattern = re.compile(rf"""\s*\[?\s*["']?{re.escape(key)}["']?\s*[=.\]]""")
        for offset, text in enumerate(self.lines[self.open :], self.open + 1):
            if text.rstrip() == "+++":
                break
            if pattern.match(text):
                return offset
        return self.open

    def _fail(self, line: int, message: str) -> NoReturn:
        raise SMTPFileError(self.path, line, message)


class _Machine:
    """Reads content lines one at a time and groups them into exchanges.

    A line-oriented state machine: each line is handled by the state the lines
    before it left (client steps, their `<` lines, a message body, or closed),
    so no line is read twice and every error names the line it is found on.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.state = STEPS
        self.exchanges: list[Exchange[Node]] = []
        self.steps: list[Node] = []
        self.expects: list[ExpectLine] = []
        self.start: int | None = None  # first line of the exchange being read
        self.close_line: int | None = None
        self.data: Send | None = None  # a DATA whose message body comes next, unless its reply refuses it
        self.body: list[tuple[int, str]] = []  # lines of the body being read
        self.body_start = 0

    def feed(self, number: int, text: str) -> None:
        if self.state == CLOSED:
            self._after_close(number, text)
        if self.state == BODY:
            self._body_line(number, text)
        elif text.startswith("<"):
            self._expect(number, text)
        elif text.startswith(">"):
            if self.data is not None:  # the body after DATA begins here (pipelined, or after its `< 354`)
                if self.expects:
                    self._finish()
                self.state, self.body, self.body_start = BODY, [], number
                self._body_line(number, text)
            else:
                self._step(self._command(number, text))
        elif text.startswith("!"):
            self._step(self._directive(number, text))
        elif text.rstrip() == "+++":
            self._fail(number, "front matter (`+++` ... `+++`) must come first, before any `>`, `<` or `!` line")
        else:
            self._fail(
                number, "line must start with `>` (send), `<` (expected reply), `!` "
                "(directive) or `#` (comment)",
            )

    def end(self) -> tuple[Exchange[Node], ...]:
        if self.state == BODY:
            assert self.data is not None
            self._fail(
                self.data.line,
                f"the message body after this DATA has no `> .` terminator: the body starts at line {self.body_start} "
                f"and the file ends first; end the body with a `> .` line",
            )
        self._finish()
        if self.data is not None and self.close_line is None:
            self._fail(
                self.data.line, "DATA is answered with 354 but no message body follows: add `>` "
                "lines ending with `> .`",
            )
        if not self.exchanges:
            raise SMTPFileError(self.path, None, "no exchanges; a .smtp file needs at least one `<` line")
        return tuple(self.exchanges)

    # --- exchanges -------------------------------------------------------------------------

    def _step(self, step: Node) -> None:
        if self.expects:
            self._finish()
        if self.start is None:
            self.start = step.line
        self.steps.append(step)

    def _slots(self) -> list[Node | None]:
        """What the `<` lines answer, in order: the reply-getting steps, or the greeting (None)."""
        return [step for step in self.steps if step.gets_reply] if self.steps else [None]

    def _expect(self, number: int, text: str) -> None:
        written = text[1:].strip()
        if text[1:2] not in (" ", "\t") or not written:
            self._fail(
                number, "write an expected reply after `< `, e.g. `< 250`, `< 550|554 "
                "5.7.1 /relay/i` or `< closed`",
            )
        if self.start is None:
            self.start = number  # the greeting
        if written.lower() == "closed":
            if not self.steps and not self.expects:
                self._fail(
                    number, "`< closed` cannot replace the greeting: expect it first, e.g. "
                    "`< 554` then `< closed`",
                )
            self.close_line, self.state = number, CLOSED
            return
        slots = self._slots()
        if len(self.expects) >= len(slots):
            self._fail(
                number,
                f"a `<` with nothing to answer: the exchange from line {self.start} has {len(slots)} step(s) getting "
                f"a reply and this is `<` number {len(self.expects) + 1}; remove it or add the `>` line it answers",
            )
        if "${" in written:
            self._fail(
                number, "`<` lines take no ${VARIABLES}: write the expected text out, "
                "or match it with a /regex/",
            )
        try:
            expectation = Expectation.parse(written)
        except ExpectationError as error:
            self._fail(number, f"bad expected reply `{written}`: {error}")
        if slots[len(self.expects)] is self.data and not expectation.admits_code(354):
            self.data = None  # DATA is expected to be refused: no body follows
        start = len(text) - len(text[1:].lstrip())
        self.expects.append(ExpectLine(number, expectation, start, start + len(written)))

    def _finish(self) -> None:
        """Close the exchange being read, once every step has its `<` line."""
        if self.start is None:
            return
        slots = self._slots()
        if len(self.expects) < len(slots):
            missing = slots[len(self.expects)]
            assert missing is not None  # the greeting's slot is filled by the `<` line that opened the exchange
            self._fail(
                missing.line,
                f"no `<` line answers `{missing.written}`: every `>` line and directive gets one reply; add a "
                f"`< 250`-style line for it (the `<` lines follow the exchange's client lines, one per step, in order)",
            )
        if not self.expects and self.close_line is None:
            self._fail(
                self.start, "the file ends after this `! sleep`: follow it with the `<` "
                "lines of what comes next",
            )
        self.exchanges.append(Exchange(self.start, tuple(self.steps), tuple(self.expects), self.close_line))
        self.start, self.steps, self.expects = None, [], []

    def _after_close(self, number: int, text: str) -> None:
        if text.startswith("<"):
            self._fail(
                number, f"`< closed` (line {self.close_line}) must be the last `<` line: the "
                f"server answers nothing after closing",
            )
        self._fail(
            number,
            f"nothing can follow `< closed` (line {self.close_line}): the connection is gone; "
            f"test the next session in another .smtp file",
        )

    # --- client steps ----------------------------------------------------------------------

    def _command(self, number: int, text: str) -> Send:
        step = read_send(self.path, number, text)
        if step.verb == "DATA":
            self.data = step
        return step

    def _body_line(self, number: int, text: str) -> None:
        """A line of the message body after DATA: `>` lines up to and including `> .`, one step with one reply."""
        assert self.data is not None
        if not text.startswith(">"):
            self._fail(
                self.data.line,
                f"the message body after this DATA has no `> .` terminator: the body starts at line {self.body_start} "
                f"but line {number} is not a `>` line; end the body with a `> .` line",
            )
        written = read_send(self.path, number, text).text
        if written != ".":
            self.body.append((number, written))
            return
        self.data, self.state = None, STEPS
        self._step(Body(self.body_start, number, tuple(self.body)))

    def _directive(self, number: int, text: str) -> Directive:
        directive = read_directive(self.path, number, text)
        if directive.name == "message":
            if self.data is None:
                self._fail(number, MESSAGE_OUTSIDE_DATA)
            self.data = None
        elif self.data is not None and directive.name != "sleep":
            self._fail(
                number,
                f"a message body must follow the DATA at line {self.data.line}: write it as `>` lines ending "
                f"with `> .`, or use `! message`",
            )
        return directive

    def _fail(self, line: int, message: str) -> NoReturn:
        raise SMTPFileError(self.path, line, message)


def read_send(path: str, number: int, text: str) -> Send:
    """A `>` line: everything after `> ` is sent as written (after its ${...} are put in)."""
    if text == ">":
        return Send(number, "")
    if text[1] != " ":
        raise SMTPFileError(path, number, "put one space after `>`: `> EHLO probe.example.net`; everything "
                            "after it is sent as written")
    _check_references(path, number, text[2:])
    return Send(number, text[2:])


def read_directive(path: str, number: int, text: str) -> Directive:
    """A `!` line on its own: its name, its arguments' count and roles (their values are checked when bound)."""
    words = text[1:].split()
    if text[1:2] not in (" ", "\t") or not words:
        raise SMTPFileError(path, number, f"write a directive after `! `: {_DIRECTIVE_LIST}")
    name, args = words[0].lower(), words[1:]
    if name not in DIRECTIVES:
        raise SMTPFileError(path, number, f"unknown directive `! {words[0]}`: the directives are {_DIRECTIVE_LIST}")
    fewest, most, usage = DIRECTIVES[name]
    if not fewest <= len(args) <= most:
        hint = " (a password with spaces must come from a ${VARIABLE})" if name == "auth" else ""
        raise SMTPFileError(path, number,
                            f"`! {name}` takes {_count(fewest, most)}, got {len(args)}: write `{usage}`{hint}")
    for word in args:
        _check_references(path, number, word)
    if name == "auth":
        mechanism, user, password = args
        if mechanism.upper() not in AUTH_MECHANISMS:
            raise SMTPFileError(path, number,
                                f"unknown AUTH mechanism `{mechanism}`: use one of {', '.join(AUTH_MECHANISMS)}")
        shown = password if _ONLY_REFERENCES.fullmatch(password) else MASK
        return Directive(number, "auth", f"! auth {mechanism} {user} {shown}",
                         {"mechanism": mechanism.upper(), "user": user, "password": password})
    found = _options(path, number, args, _OPTIONS.get(name, ()), usage)
    if name == "bdat" and "size" not in found:
        raise SMTPFileError(path, number,
                            "`! bdat` needs the message size: write `! bdat 20kB` or `! bdat 20kB chunk=7kB`")
    if name == "sleep":
        found = {"seconds": found.pop("size")}
    return Directive(number, _NAMES[name], text.rstrip(), found)


def _options(path: str, number: int, args: list[str], names: tuple[str, ...], usage: str) -> dict[str, str]:
    """A directive's words: a bare first word is the size (or the seconds), the others NAME=VALUE."""
    found: dict[str, str] = {}
    for word in args:
        name, equals, value = word.partition("=")
        key = name.lower() if equals else "size"
        if (equals and key not in names) or key in found or (equals and not value):
            raise SMTPFileError(path, number, f"`{word}` is not understood here: write `{usage}`")
        found[key] = value if equals else word
    return found


def _check_references(path: str, number: int, text: str) -> None:
    """Every ``${`` starts ``${NAME}`` or ``${env:NAME}``, or is escaped as ``$${``."""
    for match in REFERENCE.finditer(text):
        if match.group(0) == "$${":
            continue
        reference = match.group("name")
        name = reference[4:] if reference.startswith("env:") else reference
        if match.group("close") is None or not _NAME.fullmatch(name):
            raise SMTPFileError(
                path, number,
                f"`{match.group(0)[:40]}` is not a variable reference: write ${{NAME}} or ${{env:NAME}} "
                f"(letters, digits, _), or $${{ for a literal ${{",
            )


def _count(fewest: int, most: int) -> str:
    if most == 0:
        return "no arguments"
    plural = "s" if most > 1 else ""
    return f"{most} argument{plural}" if fewest == most else f"at most {most} argument{plural}"
