"""`smtpcheck record`: type an SMTP session as in telnet, get a `.smtp` file that replays it under pytest.

The first `.smtp` file of a team is usually the telnet session someone already
typed; this writes it for them. Every line typed is read by the `.smtp` syntax,
bound and run as the same typed step a `.smtp` file's run uses, so the file
written is exactly what was sent, and the parser reads it back before it is written.
This module must not import pytest: it is a command, not a test run.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import sys
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from typing import TextIO

from .errors import SMTPCheckError
from .printable import printable
from .settings import Given, SessionOptions, SettingsError, resolve
from .smtp.reply import Reply
from .smtp.sasl import secret_forms
from .smtp.session import SMTPSession
from .smtp.transcript import EVENT, RECEIVED, SENT
from .transcripts.bind import Values, step
from .transcripts.steps import Auth, ChunkRefused, Sleep, Step
from .transcripts.syntax import MESSAGE_OUTSIDE_DATA, Body, Directive, Send, SMTPFileError, parse, read_directive
from .vocabulary import STANDARD_PORTS, TLS_MODES

__all__ = ["main"]

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
PASSWORD = "${SMTP_PASSWORD}"
TOKEN = "${SMTP_TOKEN}"  # what XOAUTH2 and OAUTHBEARER send instead of a password: the run's $SMTPCHECK_TOKEN
TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
WRONG_SECRET = "wrong-password-smtpcheck"  # what a refused AUTH is written with: its replay must be refused too


class _Refused(Exception):
    """A typed line that cannot be sent as typed; the message says what to type instead."""


class _Input:
    """Lines as typed: with line editing (readline) on a terminal, plain reading when piped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self.number = 0
        if self.terminal:
            import readline  # noqa: F401 - importing it gives input() line editing and history

    def read(self, prompt: str) -> str | None:
        """The next line without its line end; None at the end of input (EOF, Ctrl-D)."""
        self.number += 1
        if self.terminal:
            try:
                return input(prompt)
            except EOFError:
                print()
                return None
        line = self.stream.readline()
        return line.removesuffix("\n").removesuffix("\r") if line else None


class Recorder:
    """Runs what is typed over one session and keeps the `.smtp` lines that replay it."""

    def __init__(self, session: SMTPSession, output: str, keep_text: bool, out: TextIO) -> None:
        self.session = session
        self.output = output
        self.keep_text = keep_text
        self.out = out
        self.lines: list[str] = []  # the file's lines after its header
        self.replies: list[Reply] = []  # every recorded reply, in the order of the `<` lines
        self.uses_account = False  # an AUTH was written: the replay needs --smtp-user
        self.uses_password = False  # a successful AUTH was written: the replay needs the password too
        self.uses_token = False  # the same with an OAuth token (XOAUTH2, OAUTHBEARER)
        self.written_as: dict[str, str] = {}  # each AUTH's secret -> what the file writes for it, as the AUTH line
        self.echo = False  # show the lines sent (stdin piped: nobody saw them typed)
        self._shown = 0  # transcript entries already printed

    def greet(self) -> None:
        self._expect(self.session.connect())

    def run(self, typed: _Input) -> None:
        """Read and run lines until QUIT or the end of input."""
        self.echo = not typed.terminal
        while True:
            line = typed.read("> ")
            if line is None:
                self.session.quit_quietly()
                return
            try:
                verb = self._line(line, typed)
            except _Refused as refusal:
                if not typed.terminal:
                    raise SMTPFileError("stdin", typed.number, str(refusal)) from None
                print(f"not sent: {refusal}", file=sys.stderr)
                continue
            if verb == "QUIT":
                self.session.close()
                return

    def _line(self, line: str, typed: _Input) -> str:
        """Run one typed line; returns the verb sent, if any."""
        stripped = line.strip()
        if not stripped:
            return ""  # as in .smtp files; `>` alone would send an empty line, a typo here
        if stripped.startswith("#"):
            self.lines.append(line)
            return ""
        if line.startswith("!"):
            self._directive(line, typed.number)
            return "!"
        verb = stripped.split()[0].upper()
        if verb == "STARTTLS":
            self._directive("! starttls", typed.number)
            return verb
        if verb == "BDAT":
            raise _Refused("type `! bdat SIZE [chunk=BYTES]`: the recorder sends the message data after each BDAT")
        if verb == "AUTH":
            self._typed_auth(line, typed.number)
            return verb
        written = self._written(_escaped(line))
        reply = self._send(self._step(Send(typed.number, _escaped(line))))
        self._record([_send_line(written)], reply)
        if verb == "DATA" and reply.code == 354:
            self._body(typed)
        return verb

    def _directive(self, line: str, number: int) -> None:
        try:
            directive = read_directive(self.output, number, line)
        except SMTPFileError as error:
            raise _Refused(error.message) from None
        if directive.name == "message":
            raise _Refused(MESSAGE_OUTSIDE_DATA)
        step = self._step(directive)
        if isinstance(step, Sleep):  # gets no reply
            list(step.run(self.session))
            self.lines.append(line)
            return
        reply = self._send(step)
        self._record([self._auth_line(step.mechanism, step.password, reply) if isinstance(step, Auth) else line], reply)

    def _typed_auth(self, line: str, number: int) -> None:
        """`AUTH PLAIN <base64>` is sent as typed and written as `! auth PLAIN` with variables; other forms would
        put the credentials' challenge answers in the file."""
        words = line.split()
        if len(words) != 3 or words[1].upper() != "PLAIN":
            raise _Refused("type `! auth MECHANISM USER PASSWORD`: the recorder answers the server's challenges and "
                           "writes the credentials as ${SMTP_USER} ${SMTP_PASSWORD}, never their values")
        try:
            _, _, password = base64.b64decode(words[2], validate=True).decode("utf-8").split("\0", 2)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise _Refused("AUTH PLAIN takes base64 of \\0USER\\0PASSWORD; or type `! auth PLAIN USER PASSWORD`"
                           ) from None
        self.session.transcript.add_secret(password, words[2])
        reply = self._send(self._step(Send(number, _escaped(line))))
        self._record([self._auth_line("PLAIN", password, reply)], reply)

    def _auth_line(self, mechanism: str, password: str, reply: Reply) -> str:
        """AUTH as it must replay: an accepted one with the run's account, a refused one with a secret that is
        certainly wrong, so that the file's "a wrong password is refused" never sends the real one. A later line
        that holds the password is written the same way."""
        self.uses_account = True
        if reply.code == 235:  # RFC 4954 6: the only reply that means the credentials were accepted
            token = mechanism.upper() in TOKEN_MECHANISMS
            self.uses_token |= token
            self.uses_password |= not token
            secret = self.written_as[password] = TOKEN if token else PASSWORD
            return f"! auth {mechanism} ${{SMTP_USER}} {secret}"
        self.written_as[password] = WRONG_SECRET
        return f"! auth {mechanism} ${{SMTP_USER}} {WRONG_SECRET}"

    def _written(self, text: str) -> str:
        """A typed line (as escaped) as the file writes it: a password an AUTH sent becomes what the AUTH line was
        written with, so the file holds no secret and its replay sends the same bytes. A secret in another form
        (base64, as AUTH sends it) has no variable to write it with: the line is refused before it is sent."""
        for secret, written in sorted(self.written_as.items(), key=lambda item: len(item[0]), reverse=True):
            text = text.replace(_escaped(secret), written)
        if self._holds_secret(text, but=self.written_as):
            raise _Refused("the line holds a secret sent earlier in another form (base64, as AUTH sends it), which "
                           "the file could not replay without storing it; type the password itself")
        return text

    def _body(self, typed: _Input) -> None:
        """The message after 354: lines up to `.`, or `! message [SIZE]` as the first line."""
        sent: list[tuple[int, str]] = []  # (line typed, its text as escaped)
        written: list[str] = []  # the same lines as the file writes them
        while True:
            line = typed.read("data> ")
            if line is None:  # the server discards the unfinished message when the session closes
                self.drop_open_data()
                return
            if not sent and line.split()[:2] in (["!", "message"], ["!", "MESSAGE"]):
                try:
                    message = read_directive(self.output, typed.number, line)
                except SMTPFileError as error:
                    raise _Refused(error.message) from None
                self._record([line], self._send(self._step(message)))
                return
            if line == ".":
                break
            try:
                self._step(Body(typed.number, typed.number, ((typed.number, _escaped(line)),)))
                written.append(_send_line(self._written(_escaped(line))))
            except _Refused as refusal:
                if not typed.terminal:
                    raise SMTPFileError("stdin", typed.number, str(refusal)) from None
                print(f"not sent: {refusal}", file=sys.stderr)
                continue
            sent.append((typed.number, _escaped(line)))
        body = self._step(Body(sent[0][0] if sent else typed.number, typed.number, tuple(sent)))
        self._record([*written, "> ."], self._send(body))

    def _step(self, node: Send | Body | Directive) -> Step:
        """The typed step a `.smtp` file's run would make of the line: its checks and its wording, once for both."""
        values = Values(self.output, {}, os.environ)
        try:
            bound = step(node, values)
        except SMTPFileError as error:
            raise _Refused(error.message) from None
        self.session.transcript.add_secret(*values.secrets)  # `! auth` passwords and ${env:} values
        if values.missing:
            name = next(iter(values.missing))
            raise _Refused(f"${{{name}}} is not set here: type the value, or ${{env:NAME}} for an environment variable")
        return bound

    def _send(self, step: Step) -> Reply:
        """Run a command line, a directive or a body as a `.smtp` file's run does; show what came back."""
        try:
            return list(step.run(self.session))[-1]
        except ChunkRefused as refused:  # no `<` line can replay a refused intermediate chunk
            raise _Refused(f"{refused}; `! bdat` is left out of the file") from None
        finally:
            self.show()

    def drop_open_data(self) -> None:
        """A DATA whose message was never finished is left out: the file must replay what the server accepted."""
        if self.replies and self.replies[-1].code == 354:
            del self.lines[-2:]
            self.replies.pop()
            print("the message after DATA was not finished: DATA is left out of the file", file=sys.stderr)

    def _record(self, written: list[str], reply: Reply) -> None:
        self.lines.extend(written)
        self._expect(reply)

    def _expect(self, reply: Reply) -> None:
        self.show()
        keep_text = self.keep_text and not self._holds_secret(reply.text)
        if self.keep_text and not keep_text:
            print(f"the reply to {reply.command or 'the greeting'} holds a secret that was sent (the server echoes "
                  "it): its text is left out of the file, only its codes are kept", file=sys.stderr)
        self.lines.append(f"< {expectation_for(reply, keep_text=keep_text)}")
        self.replies.append(reply)

    def _holds_secret(self, text: str, but: Collection[str] = ()) -> bool:
        """Whether *text* holds a password or token sent in this session, in any form AUTH sends it (*but* these
        values themselves)."""
        forms = {form for secret in self.session.transcript.secrets for form in secret_forms(secret)}
        return any(form in text for form in (forms | set(self.session.transcript.secrets)) - set(but))

    def show(self) -> None:
        """Print what the transcript got since last time: replies and events, and the lines sent when piped."""
        entries = self.session.transcript.entries
        for entry in entries[self._shown:]:
            if entry.direction == RECEIVED:
                print(entry.text, file=self.out)
            elif entry.direction == EVENT:
                print(f"* {own_options(entry.text)}", file=self.out)
            elif entry.direction == SENT and self.echo:
                print(f"> {entry.text}", file=self.out)
        self._shown = len(entries)
        self.out.flush()

    def text(self, header: list[str]) -> str:
        """The whole file; parsed back and checked against every reply before anyone sees it."""
        text = "\n".join([*header, *self.lines]) + "\n"
        script = parse(text, self.output)  # an error here is a bug in the recorder: let it show
        expects = [expect.expectation for exchange in script.exchanges for expect in exchange.expects]
        if len(expects) != len(self.replies):
            raise AssertionError(f"recorded file has {len(expects)} `<` lines for {len(self.replies)} replies")
        problems = [e.match(r) for e, r in zip(expects, self.replies, strict=True)]
        if any(problems):
            raise AssertionError(f"recorded file does not match the session: {problems}")
        return text


def expectation_for(reply: Reply, *, keep_text: bool = False) -> str:
    """`CODE [ENHANCED]`, and with *keep_text* the text as an escaped /regex/.

    Words with digits (queue IDs, dates, sizes) become ``\\S+``, so the file passes on the next session too.
    """
    parts = [str(reply.code)] + ([reply.enhanced] if reply.enhanced else [])
    if keep_text:
        lines = list(reply.lines)
        if reply.enhanced:
            lines[0] = lines[0][len(reply.enhanced):].lstrip()
        pattern = r"\n".join(_line_pattern(line) for line in lines)
        if pattern.replace(r"\n", ""):
            parts.append(f"/{pattern}/")
    return " ".join(parts)


def _line_pattern(line: str) -> str:
    """A control character stays in the pattern as its escape (``\\x1b``), which matches it: the file holds none."""
    return "".join(
        r"\S+" if any(c.isdigit() for c in piece) else printable(re.escape(piece)) if piece.strip()
        else piece.replace("\t", r"\t")
        for piece in re.split(r"(\s+)", line) if piece
    )


def _escaped(typed: str) -> str:
    """*typed* as a `.smtp` file writes it to be sent as it is: `${` would be taken for a variable."""
    return typed.replace("${", "$${")


def _send_line(text: str) -> str:
    """The `>` line that sends *text* (as escaped)."""
    return f"> {text}" if text else ">"


# The recorder's options that are the plugin's settings, by the same key (each option's dest)
_SETTINGS = ("tls", "ca", "tls_name", "no_verify", "helo", "timeout")


def _session_options(args: argparse.Namespace) -> tuple[str, int, SessionOptions]:
    """The target and session options: the recorder's options are one more door, a settings layer that the
    plugin's own resolve() checks by every rule once (settings.py); a refusal names the recorder's option."""
    layer = {key: Given(value, "--" + key.replace("_", "-"), "command line")
             for key in _SETTINGS if (value := getattr(args, key)) not in (None, False)}
    settings = resolve([{"target": Given(args.target, "HOST[:PORT]", "command line"), **layer}], environ={})
    assert settings.host is not None
    return settings.host, settings.ports.get("smtp", STANDARD_PORTS["smtp"]), settings.session_options()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smtpcheck", description="pytest-smtpcheck's command line tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("check", help="run the bundled acceptance battery for DOMAIN... (see docs/baseline.md)",
                        description=CHECK_USAGE)
    record = commands.add_parser(
        "record", help="type an SMTP session as in telnet; write it as a .smtp file",
        description="Connect to HOST[:PORT] (default port 25) and send each line typed; `!` directives work as in "
                    ".smtp files. At QUIT or end of input (Ctrl-D) the session is written to the .smtp file: "
                    "each reply as an expectation of its code and enhanced code. See docs/recording.md.")
    record.add_argument("target", metavar="HOST[:PORT]", help="the server, e.g. mx.example.com:25 or [2001:db8::25]")
    record.add_argument("-o", "--output", required=True, metavar="FILE.smtp", help="the .smtp file to write")
    record.add_argument("--tls", metavar="|".join(TLS_MODES), default="none",
                        help="how the session starts (default none; starttls sends EHLO and STARTTLS first)")
    record.add_argument("--ca", metavar="FILE", help="CA bundle (PEM) that signs the server's certificate")
    record.add_argument("--tls-name", metavar="NAME", help="name the certificate must match (default: HOST)")
    record.add_argument("--no-verify", action="store_true", help="do not verify the server's certificate")
    record.add_argument("--helo", metavar="NAME", help="EHLO name for --tls=starttls (written to the file)")
    record.add_argument("--timeout", metavar="SECONDS",
                        help=f"wait for each reply (default {SessionOptions.timeout:g})")
    record.add_argument("--keep-text", action="store_true",
                        help="keep each reply's text as a /regex/ (words with digits match any word)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`smtpcheck record ...`; returns the exit status: 0, 1 (the session failed), 2 (usage), 130 (Ctrl-C).
    `smtpcheck check ...` returns pytest's."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["check"]:
        return check(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        host, port, options = _session_options(args)
    except SettingsError as error:
        parser.error(str(error))
    output = os.path.abspath(args.output)
    if not output.endswith(".smtp"):
        parser.error(f"-o {args.output}: the file name must end in .smtp, or pytest will not collect it")
    if not os.path.isdir(os.path.dirname(output)):
        parser.error(f"-o {args.output}: no such directory {os.path.dirname(output)}")
    session = SMTPSession(host, port, options)
    recorder = Recorder(session, output, args.keep_text, sys.stdout)
    try:
        recorder.greet()
    except SMTPCheckError as error:
        recorder.show()
        print(f"smtpcheck record: {args.target}: {own_options(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    status = 0
    try:
        recorder.run(_Input(sys.stdin))
    except KeyboardInterrupt:
        session.close()
        print("\nsmtpcheck record: interrupted; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SMTPFileError as error:  # a piped line that cannot be sent: a script must not get a different file
        session.quit_quietly()
        print(f"smtpcheck record: {error}; nothing written", file=sys.stderr)
        return EXIT_FAILED
    except SMTPCheckError as error:
        session.close()
        print(f"smtpcheck record: {args.target}: {own_options(str(error))}; the file ends before that line",
              file=sys.stderr)
        recorder.drop_open_data()
        status = EXIT_FAILED
    with open(output, "w", encoding="utf-8", newline="") as file:
        file.write(recorder.text(_header(args, host, port)))
    print(f"wrote {args.output}: {len(recorder.replies)} replies; run it with:\n  {_replay_hint(args, recorder)}",
          file=sys.stderr)
    return status


# The session library's messages name the plugin's options; the recorder has its own for the same settings.
_OWN_OPTIONS = {"--smtp-tls-name": "--tls-name", "--smtp-tls": "--tls", "--smtp-ca": "--ca",
                "--smtp-no-verify": "--no-verify", "--smtp-timeout": "--timeout", "--smtp-helo": "--helo"}
_PLUGIN_OPTION = re.compile("(?:" + "|".join(re.escape(name) for name in _OWN_OPTIONS) + r")(?![\w-])")


def own_options(message: str) -> str:
    """*message* with the plugin's option names replaced by the recorder's (`--smtp-tls` -> `--tls`)."""
    return _PLUGIN_OPTION.sub(lambda match: _OWN_OPTIONS[match.group()], message)


CHECK_USAGE = """usage: smtpcheck check DOMAIN [DOMAIN ...] [pytest options]

Run the bundled acceptance battery (pytest --smtp-baseline) for every MX host and address of each DOMAIN, and
write a self-contained HTML report in the current directory (unless --html is given). The exit status is pytest's:
0 when every check passed or was waived, 1 when one failed. Any pytest or --smtp-* option may follow the domains,
e.g. -m required, -k tls, --smtp-resolver=IP, --smtp-json=FILE, --smtp-waive="ipv6=CHG-1234: IPv6 in Q3"."""

# the ini files pytest reads, in its order: the battery honours the one in the current directory
_INI_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def check(argv: list[str]) -> int:
    """`smtpcheck check DOMAIN... [pytest options]`: the battery in a pytest run of its own, in a subprocess."""
    import subprocess
    import tempfile

    from .addresses import AddressError, dns_name

    domains = []
    while argv and not argv[0].startswith("-"):
        word = argv.pop(0)
        try:
            domains.append(dns_name(word))
        except AddressError as error:
            print(f"smtpcheck check: {error}\n\n{CHECK_USAGE}", file=sys.stderr)
            return EXIT_USAGE
    if argv[:1] in (["-h"], ["--help"]):
        print(CHECK_USAGE)
        return 0
    if not domains:
        print(f"smtpcheck check: no domain given\n\n{CHECK_USAGE}", file=sys.stderr)
        return EXIT_USAGE
    here = os.getcwd()
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={here}",
               f"--smtp-mx={domains[0]}",  # the run's destination, so --smtp-port and the like apply
               *(f"--smtp-baseline-domain={domain}" for domain in domains)]
    ini = next((name for name in _INI_FILES if os.path.isfile(os.path.join(here, name))), None)
    if ini is not None:
        command.append(f"--config-file={os.path.join(here, ini)}")
    report = None
    if not any(arg == "--html" or arg.startswith("--html=") for arg in argv):
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        more = f"-and-{len(domains) - 1}-more" if len(domains) > 1 else ""
        report = os.path.join(here, f"smtpcheck-{domains[0]}{more}-{stamp}.html")
        command += [f"--html={report}", "--self-contained-html"]
    with tempfile.TemporaryDirectory(prefix="smtpcheck-check-") as nothing:  # collect the battery and nothing else
        status = subprocess.run([*command, *argv, nothing], check=False).returncode
    if report is not None and os.path.exists(report):
        print(f"smtpcheck check: report written to {report}")
    return status


def _header(args: argparse.Namespace, host: str, port: int) -> list[str]:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = [f"# Recorded by `smtpcheck record` from {args.target} on {when}."]
    settings = [f'tls = "{args.tls}"'] if args.tls != "none" else []
    settings += [f"helo = {json.dumps(args.helo)}"] if args.helo else []  # a JSON string of ASCII is a TOML one
    settings += [f"timeout = {float(args.timeout):g}"] if args.timeout else []
    return [*header, "+++", *settings, "+++"] if settings else header


def _replay_hint(args: argparse.Namespace, recorder: Recorder) -> str:
    words = ["pytest", args.output, f"--smtp-target={args.target}"]
    words += [f"--smtp-ca={args.ca}"] if args.ca else []
    words += [f"--smtp-tls-name={args.tls_name}"] if args.tls_name else []
    words += ["--smtp-no-verify"] if args.no_verify else []
    if recorder.uses_account:
        secrets = [*(["SMTPCHECK_PASSWORD=..."] if recorder.uses_password else []),
                   *(["SMTPCHECK_TOKEN=..."] if recorder.uses_token else [])]
        words = [*secrets, *words, "--smtp-user=USER"]
    return " ".join(words)
