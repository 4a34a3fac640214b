"""Rewrite one `<` line's expectation in a `.smtp` file to the reply the server gave, keeping every other byte.

Expectations drift as servers are upgraded (a new enhanced code, a new greeting);
`--smtp-update` fixes them the way snapshot tools do. A file is a reviewed
artefact, so the rewrite is surgical: only the span the parser read the
expectation from changes; comments, blank lines, front matter, CRLF or LF line
ends and a byte-order mark stay as they were.

The rules, part by part (a part the reply still satisfies is kept as written):

- codes: kept if one alternative admits the reply's code (`2xx`, `550|554`), else the reply's code;
- enhanced code: kept if it matches the reply's; else the reply's, or dropped when the reply has none (a
  conditional one, `(5.7.1)`, stays conditional, and is kept when the reply has none);
- text match: kept if the reply's text still satisfies it, else dropped (also when the text is unknown and
  the code or enhanced code changed; when only the text can have failed, nothing is rewritten).

An expectation the reply satisfies as a whole is never rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..smtp.expect import Expectation, ExpectationError
from .results import Mismatch

__all__ = ["Rewrite", "UpdateError", "rewrite_expectation"]

_BOM = "\ufeff".encode()


class UpdateError(ValueError):
    """The line cannot be rewritten as asked (not a `<` line, or not the expectation that failed)."""


@dataclass(frozen=True)
class Rewrite:
    """One changed line: its number, the expectation before and after, and the whole file's new bytes."""

    line: int
    old: str
    new: str
    source: bytes


@dataclass(frozen=True)
class _Reply:
    code: int
    enhanced: str | None
    text: str
    enhanced_advertised: bool | None = None  # not known here: a conditional `(5.7.1)` is checked when present


def rewrite_expectation(source: bytes, mismatch: Mismatch) -> Rewrite | None:
    """Rewrite the expectation the parser read at *mismatch*'s line and columns to fit the reply it got.

    A span that no longer holds the expectation that failed (the file was edited
    during the run) raises UpdateError rather than overwrite the edit. Returns None
    when the expectation already matches the reply: nothing to change.
    """
    line = mismatch.line
    lines = source.split(b"\n")
    if not 1 <= line <= len(lines):
        raise UpdateError(f"line {line} is past the end of the file ({len(lines)} lines): the file changed during "
                          f"the run")
    raw = lines[line - 1]
    bom = _BOM if line == 1 and raw.startswith(_BOM) else b""
    ending = b"\r" if raw.endswith(b"\r") else b""
    content = raw[len(bom): len(raw) - len(ending)].decode("utf-8", "replace")
    written = content[mismatch.start:mismatch.end]
    if not content.startswith("<") or written != mismatch.expected:
        raise UpdateError(f"line {line} is now `{content[:60]}`, not `< {mismatch.expected}`: the file changed "
                          f"during the run")
    old = Expectation.parse(written)  # the parser read this very text as an expectation
    text = mismatch.text
    reply = _Reply(mismatch.code, mismatch.enhanced, text or "")
    parts = _parts(old, reply, text is not None)
    if text is None and old.text_source is not None:
        if parts == old.source[: -len(old.text_source)].split():
            raise UpdateError(f"line {line}: only the text match {old.text_source} can have failed, and the reply's "
                              f"text is not known here; edit the line by hand")
    elif old.match(reply) is None:
        return None
    new = " ".join(parts)
    check = Expectation.parse(new)
    assert check.match(reply) is None, f"rewritten expectation {new!r} does not match {reply}"
    lines[line - 1] = bom + (content[:mismatch.start] + new + content[mismatch.end:]).encode("utf-8") + ending
    return Rewrite(line, written, new, b"\n".join(lines))


def _parts(old: Expectation, reply: _Reply, text_known: bool) -> list[str]:
    """The new expectation's parts: each old part the reply satisfies, as written; the reply's values elsewhere."""
    codes, *rest = old.source.split(None, 1)
    parts = [codes if old.admits_code(reply.code) else str(reply.code)]
    if reply.enhanced is not None:
        kept = old.enhanced is not None and _satisfied(f"{reply.code} {old.enhanced}", reply)
        enhanced_written = rest[0].split(None, 1)[0] if kept and rest else reply.enhanced
        parts.append(f"({enhanced_written})" if old.enhanced_conditional and not kept else enhanced_written)
    elif old.enhanced_conditional and rest:
        parts.append(rest[0].split(None, 1)[0])  # holds on a server that sends no enhanced codes
    if old.text_source is not None and text_known and old.text is not None and old.text.search(reply.text):
        parts.append(old.text_source)
    return parts


def _satisfied(expectation: str, reply: _Reply) -> bool:
    try:
        return Expectation.parse(expectation).match(reply) is None
    except ExpectationError:  # an enhanced class that no longer agrees with the code
        return False
