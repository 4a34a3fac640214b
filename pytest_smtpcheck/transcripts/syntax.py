"""Parse `.smtp` transcript files into exchanges: client steps and the replies they must get.

The format is described in docs/smtp-format.md. Parsing is strict and complete
before anything is sent: every problem is an SMTPFileError naming the file and
line, so a typo fails collection instead of producing a test that checks less
than it seems to.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ..paths import MessageFileRefused, MessageFiles
from ..settings import TEST_KEYS, Declared, Given, SettingsError, declared
from ..smtp.expect import Expectation, ExpectationError
from ..vocabulary import AUTH_MECHANISMS, MASK

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["Exchange", "ExpectLine", "SMTPFileError", "Script", "Step", "parse_script"]

MAX_LINE = 998  # RFC 5321 4.5.3.1.6: 1000 octets per line, CRLF included
MAX_SLEEP = 300.0
MAX_MESSAGE = 1 << 30
FRONT_MATTER_KEYS = ("description", "markers", *TEST_KEYS)
DIRECTIVES = {  # name: (fewest arguments, most arguments, usage)
    "starttls": (0, 0, "! starttls"),
    "auth": (3, 3, "! auth MECHANISM USER PASSWORD"),
    "message": (0, 2, "! message [SIZE] [file=PATH]"),
    "bdat": (1, 2, "! bdat SIZE [chunk=BYTES]"),
    "sleep": (1, 1, "! sleep SECONDS"),
}
STEPS, BODY, CLOSED = "steps", "body", "closed"  # the parser's states
_DIRECTIVE_LIST = ", ".join(f"`{usage}`" for _, _, usage in DIRECTIVES.values())
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<name>[^}]*)(?P<close>\})?")
_ONLY_REFERENCES = re.compile(r"(?:\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*\})+")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
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
class Step:
    """One client action; every kind except ``sleep`` gets exactly one reply.

    *raw* is for reports (variables unexpanded, literal passwords masked); *lines*
    and *args* hold expanded values and are kept out of repr so secrets never print.
    """

    line: int
    kind: str  # command | body | starttls | auth | message | bdat | sleep
    verb: str  # EHLO, MAIL, DATA, ...; BODY, STARTTLS, AUTH, MESSAGE, BDAT, SLEEP
    raw: str
    lines: tuple[str, ...] = field(default=(), repr=False)  # command: the line; body: its lines, "." last
    args: tuple[str, ...] = field(default=(), repr=False)  # auth: MECH USER SECRET
    size: int = 0  # message, bdat: bytes to generate
    chunk: int = 0  # bdat: bytes per chunk
    seconds: float = 0.0  # sleep
    path: str | None = None  # message: a file whose content is the body

    @property
    def gets_reply(self) -> bool:
        return self.kind != "sleep"


@dataclass(frozen=True)
class ExpectLine:
    """A `<` line: the reply it expects and where it was written."""

    line: int
    expectation: Expectation


@dataclass(frozen=True)
class Exchange:
    """Client steps sent together and the `<` lines answering them in order; one pytest item."""

    line: int
    steps: tuple[Step, ...]
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
class Script:
    """A parsed `.smtp` file: its front matter settings and its exchanges in order."""

    path: str
    exchanges: tuple[Exchange, ...]
    description: str | None = None
    markers: tuple[str, ...] = ()
    settings: Declared = field(default_factory=Declared)  # the front matter's settings: they beat the run's
    secrets: tuple[str, ...] = field(default=(), repr=False)  # expanded passwords and ${env:} values, masked
    missing: Mapping[str, int] = field(default_factory=dict)  # variables used but not given: name -> first line

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def parse_script(
    source: str | bytes,
    path: str | os.PathLike[str],
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    files: MessageFiles | None = None,
) -> Script:
    """Parse a `.smtp` file; the front matter's ``vars`` win over *variables* (the run's): the test's own word.

    `! message file=` paths must be allowed by *files* (by default: under the `.smtp` file's own directory).

    ``${env:NAME}`` reads *environ*, and only that form does. A variable that is not
    given is no error here: it is listed in ``missing``, and the file's tests are
    skipped with a reason naming it. Raises SMTPFileError, and nothing else, for any input.
    """
    path = os.fspath(path)
    lines = _split_lines(source, path)
    settings, body_start = _FrontMatter(path, lines).read()
    names = {**(variables or {}), **settings["settings"].vars}
    machine = _Machine(path, names, environ or {}, files or MessageFiles(os.path.dirname(os.path.abspath(path))))
    for number, text in enumerate(lines[body_start:], body_start + 1):
        if not _is_comment(text):
            machine.feed(number, text)
    exchanges = machine.end()
    return Script(
        path=path,
        exchanges=exchanges,
        description=settings.get("description"),
        markers=tuple(settings.get("markers", ())),
        settings=settings["settings"],
        secrets=tuple(machine.secrets),
        missing=dict(machine.missing),
    )


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
        """The settings keys, checked by the rules of every other door (settings.py), failing at their line."""
        origin = f"front matter of {os.path.basename(self.path)}"
        try:
            return declared({key: Given(value, f"front matter {key}", origin) for key, value in table.items()})
        except SettingsError as error:
            key = error.where.removeprefix("front matter ").partition(".")[0]
            self._fail(self._line_of(key), str(error))

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

    def __init__(self, path: str, variables: Mapping[str, str], environ: Mapping[str, str],
                 files: MessageFiles) -> None:
        self.path = path
        self.files = files
        self.variables = variables
        self.environ = environ
        self.state = STEPS
        self.exchanges: list[Exchange] = []
        self.secrets: list[str] = []
        self.missing: dict[str, int] = {}  # variables referenced but not given: name -> first line
        self.steps: list[Step] = []
        self.expects: list[ExpectLine] = []
        self.start: int | None = None  # first line of the exchange being read
        self.close_line: int | None = None
        self.data: Step | None = None  # a DATA whose message body comes next, unless its reply refuses it
        self.body: list[str] = []  # lines of the body being read
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

    def end(self) -> tuple[Exchange, ...]:
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

    def _step(self, step: Step) -> None:
        if self.expects:
            self._finish()
        if self.start is None:
            self.start = step.line
        self.steps.append(step)

    def _slots(self) -> list[Step | None]:
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
        self.expects.append(ExpectLine(number, expectation))

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
                f"no `<` line answers `{missing.raw}`: every `>` line and directive gets one reply; add a "
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

    def _command(self, number: int, text: str) -> Step:
        written = self._client_text(number, text)
        words = written.split(None, 1)
        verb = words[0].upper() if words else "EMPTY"
        step = Step(number, "command", verb, written, (self._line_to_send(number, written),))
        if verb == "DATA":
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
        written = self._client_text(number, text)
        if written != ".":
            self.body.append(self._line_to_send(number, written, stuffed=written.startswith(".")))
            return
        self.data, self.state = None, STEPS
        raw = f"(message body, lines {self.body_start}-{number})"
        self._step(Step(self.body_start, "body", "BODY", raw, (*self.body, ".")))

    def _client_text(self, number: int, text: str) -> str:
        if text == ">":
            return ""
        if text[1] != " ":
            self._fail(
                number, "put one space after `>`: `> EHLO probe.example.net`; everything "
                "after it is sent as written",
            )
        return text[2:]

    def _line_to_send(self, number: int, written: str, stuffed: bool = False) -> str:
        line = self._expand(number, written)
        if "\r" in line:
            self._fail(
                number, "the line holds a carriage return (CR) that is not at its end: SMTP "
                "lines cannot carry a bare CR",
            )
        size = len(line.encode("utf-8")) + stuffed
        if size > MAX_LINE:
            self._fail(
                number,
                f"the line is {size} octets (after variables{' and dot-stuffing' if stuffed else ''}): "
                f"RFC 5321 allows {MAX_LINE} plus CRLF; shorten it",
            )
        return line

    def _directive(self, number: int, text: str) -> Step:
        words = text[1:].split()
        if text[1:2] not in (" ", "\t") or not words:
            self._fail(number, f"write a directive after `! `: {_DIRECTIVE_LIST}")
        name, args = words[0].lower(), words[1:]
        if name not in DIRECTIVES:
            self._fail(number, f"unknown directive `! {words[0]}`: the directives are {_DIRECTIVE_LIST}")
        fewest, most, usage = DIRECTIVES[name]
        if not fewest <= len(args) <= most:
            hint = " (a password with spaces must come from a ${VARIABLE})" if name == "auth" else ""
            self._fail(number, f"`! {name}` takes {_count(fewest, most)}, got {len(args)}: write `{usage}`{hint}")
        if name == "message":
            return self._message(number, text, args)
        if self.data is not None and name != "sleep":
            self._fail(
                number,
                f"a message body must follow the DATA at line {self.data.line}: write it as `>` lines ending "
                f"with `> .`, or use `! message`",
            )
        if name == "starttls":
            return Step(number, "starttls", "STARTTLS", text.rstrip())
        if name == "sleep":
            return Step(number, "sleep", "SLEEP", text.rstrip(), seconds=self._seconds(number, args[0]))
        if name == "bdat":
            return self._bdat(number, text, args)
        return self._auth(number, args)

    def _message(self, number: int, text: str, args: list[str]) -> Step:
        if self.data is None:
            self._fail(number, "`! message` sends a message body, so it must follow `> DATA` (and its `< 354`)")
        self.data = None
        options = self._options(number, args, ("file",), "! message [SIZE] [file=PATH]")
        size = self._size(number, options["size"]) if "size" in options else 0
        path = None
        if "file" in options:
            written = self._expand(number, options["file"])
            if not any(match.group("name") in self.missing for match in _REFERENCE.finditer(options["file"])):
                try:  # a path with a variable the run does not give is not checked: the file is skipped for it
                    path = self.files.resolve(written, self.path)
                except MessageFileRefused as refused:
                    self._fail(number, f"`! message file={options['file']}`: {refused}")
        return Step(number, "message", "MESSAGE", text.rstrip(), size=size, path=path)

    def _bdat(self, number: int, text: str, args: list[str]) -> Step:
        options = self._options(number, args, ("chunk",), "! bdat SIZE [chunk=BYTES]")
        if "size" not in options:
            self._fail(number, "`! bdat` needs the message size: write `! bdat 20kB` or `! bdat 20kB chunk=7kB`")
        size = self._size(number, options["size"])
        chunk = self._size(number, options["chunk"]) if "chunk" in options else min(max(size, 1), 64 * 1024)
        if chunk < 1:
            self._fail(number, "`! bdat ... chunk=` must be at least 1 byte")
        return Step(number, "bdat", "BDAT", text.rstrip(), size=size, chunk=chunk)

    def _options(self, number: int, args: list[str], names: tuple[str, ...], usage: str) -> dict[str, str]:
        """A directive's words: a bare first word is the size, the others NAME=VALUE."""
        found: dict[str, str] = {}
        for word in args:
            name, equals, value = word.partition("=")
            key = name.lower() if equals else "size"
            if (equals and key not in names) or key in found or (equals and not value):
                self._fail(number, f"`{word}` is not understood here: write `{usage}`")
            found[key] = value if equals else word
        return found

    def _auth(self, number: int, args: list[str]) -> Step:
        mechanism, user, password = args
        if mechanism.upper() not in AUTH_MECHANISMS:
            self._fail(number, f"unknown AUTH mechanism `{mechanism}`: use one of {', '.join(AUTH_MECHANISMS)}")
        secret = self._expand(number, password)
        if secret not in self.secrets and len(secret) >= 3:
            self.secrets.append(secret)
        shown = password if _ONLY_REFERENCES.fullmatch(password) else MASK
        step_args = (mechanism.upper(), self._expand(number, user), secret)
        return Step(number, "auth", "AUTH", f"! auth {mechanism} {user} {shown}", args=step_args)

    def _size(self, number: int, written: str) -> int:
        text = self._expand(number, written)
        match = _SIZE.fullmatch(text)
        usage = "write bytes or a size with a unit: `1500000`, `100KiB`, `2MiB`, `10MB`"
        if match is None:
            self._fail(number, f"`{text}` is not a message size: {usage}")
        size = float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]
        if not size <= MAX_MESSAGE:
            self._fail(number, f"message size {text} is over the limit of 1GiB")
        return int(size)

    def _seconds(self, number: int, written: str) -> float:
        text = self._expand(number, written)
        if not _SECONDS.fullmatch(text) or float(text) > MAX_SLEEP:
            self._fail(
                number, f"`! sleep {text}`: write a number of seconds from 0 to "
                f"{MAX_SLEEP:g}, e.g. `! sleep 2.5`",
            )
        return float(text)

    # --- variables -------------------------------------------------------------------------

    def _expand(self, number: int, text: str) -> str:
        """Replace ``${NAME}`` and ``${env:NAME}`` with their values; ``$${`` is a literal ``${``."""
        return _REFERENCE.sub(lambda match: self._value(number, match), text)

    def _value(self, number: int, match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        reference = match.group("name")
        from_env = reference.startswith("env:")
        name = reference[4:] if from_env else reference
        if match.group("close") is None or not _NAME.fullmatch(name):
            self._fail(
                number,
                f"`{match.group(0)[:40]}` is not a variable reference: write ${{NAME}} or ${{env:NAME}} "
                f"(letters, digits, _), or $${{ for a literal ${{",
            )
        source = self.environ if from_env else self.variables
        if name not in source:
            self.missing.setdefault(reference, number)
            return match.group(0)
        value = source[name]
        if "\r" in value or "\n" in value:
            self._fail(number, f"variable {reference} holds a line break, which would send an extra line; remove it")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self._fail(number, f"variable {reference} is not valid UTF-8 text; set it to a UTF-8 value")
        if from_env and len(value) >= 3 and value not in self.secrets:
            self.secrets.append(value)  # the environment holds secrets: its values are masked wherever they appear
        return value

    def _fail(self, line: int, message: str) -> NoReturn:
        raise SMTPFileError(self.path, line, message)


def _count(fewest: int, most: int) -> str:
    if most == 0:
        return "no arguments"
    plural = "s" if most > 1 else ""
    return f"{most} argument{plural}" if fewest == most else f"at most {most} argument{plural}"
