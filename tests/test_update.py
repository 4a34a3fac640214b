"""`--smtp-update`: the rewrite rules, byte for byte, and runs against Postfix that change exactly one line.

A file's session stops at its first mismatch, so each run may change one line per
file; a still-matching expectation, an interrupted run and an ambiguous file change nothing.
"""

import pytest

from pytest_smtpcheck.transcripts.results import Mismatch
from pytest_smtpcheck.transcripts.rewrite import UpdateError, rewrite_expectation
from pytest_smtpcheck.transcripts.syntax import parse

RELAY_DENIED = "554 5.7.1 <victim@elsewhere.example>: Relay access denied"


def mismatch(source: bytes, line: int, code: int, enhanced: str | None, text: str | None) -> Mismatch:
    """The runner's Mismatch for the `<` line *line* of *source*: the span the parser read, and the reply."""
    document = parse(source, "t.smtp")
    expect = next(e for exchange in document.exchanges for e in exchange.expects if e.line == line)
    return Mismatch(line, expect.start, expect.end, expect.expectation.source, code, enhanced, text)


def rewrite(source: bytes, line: int, code: int, enhanced: str | None, text: str | None):
    return rewrite_expectation(source, mismatch(source, line, code, enhanced, text))


@pytest.mark.parametrize(("old", "code", "enhanced", "text", "new"), [
    ("550 5.7.1", 554, "5.7.1", RELAY_DENIED, "554 5.7.1"),  # code changed: the reply's
    ("550|554 5.7.1 /relay/i", 250, "2.1.5", "2.1.5 Ok", "250 2.1.5"),  # text no longer matches: dropped
    ("550|554 5.7.9 /relay/i", 554, "5.7.1", RELAY_DENIED, "550|554 5.7.1 /relay/i"),  # matching parts kept as written
    ("5xx 5.X.X \"nope\"", 250, "2.0.0", "2.0.0 Ok", "250 2.0.0"),
    ("250", 554, None, "Relay access denied", "554"),  # no enhanced code in the reply, none written
    ("250 2.1.5", 250, None, "Ok", "250"),  # an enhanced code the reply lacks is dropped
    ("2xx 2.1.9", 250, "2.1.5", "2.1.5 Ok", "2xx 2.1.5"),
    ("220", 554, "5.7.1", "5.7.1 go away", "554 5.7.1"),
    ("550 5.7.1 /relay/i", 451, "4.3.0", None, "451 4.3.0"),  # text unknown: dropped with the code that changed
    ("550|554 (5.7.9) /relay/i", 554, "5.7.1", RELAY_DENIED, "550|554 (5.7.1) /relay/i"),  # conditional stays so
    ("550 (5.7.1)", 554, "5.7.1", RELAY_DENIED, "554 (5.7.1)"),
    ("550 (5.1.1)", 554, None, "relay not permitted", "554 (5.1.1)"),  # kept: it holds where no code is sent
])
def test_rewrite_rules(old, code, enhanced, text, new):
    rewritten = rewrite(f"> RCPT TO:<a@b>\n< {old}\n".encode(), 2, code, enhanced, text)
    assert (rewritten.old, rewritten.new) == (old, new)
    assert rewritten.source == f"> RCPT TO:<a@b>\n< {new}\n".encode()


@pytest.mark.parametrize(("old", "code", "enhanced", "text"), [
    ("550|554 5.7.1 /relay/i", 554, "5.7.1", RELAY_DENIED),
    ("5xx", 554, "5.7.1", RELAY_DENIED),
    ("554 5.x.x \"Relay access\"", 554, "5.7.1", RELAY_DENIED),
])
def test_an_expectation_the_reply_still_satisfies_is_never_rewritten(old, code, enhanced, text):
    assert rewrite(f"< {old}\n".encode(), 1, code, enhanced, text) is None


def test_every_other_byte_is_kept_bom_crlf_mixed_front_matter_comments_blanks_and_no_final_newline():
    source = ("\ufeff# relay check \r\n+++\r\ndescription = \"x\"\n+++\r\n\r\n  # indented comment\n< 220\r\n"
              "> RCPT TO:<a@b>\r\n<\t550|554   5.7.1 /relay/i  \r\n\n> QUIT\n< 221").encode()
    rewritten = rewrite(source, 9, 250, "2.1.5", "2.1.5 Ok")
    assert rewritten.source == source.replace(b"550|554   5.7.1 /relay/i", b"250 2.1.5")
    last = rewrite(source, 12, 250, None, "Ok")
    assert last.source == source[:-3] + b"250"
    first = rewrite(b"\xef\xbb\xbf< 220\r\n", 1, 554, "5.7.1", "no")
    assert first.source == b"\xef\xbb\xbf< 554 5.7.1\r\n"


@pytest.mark.parametrize(("edited", "reply", "message"), [
    (b"> NOOP", (554, "5.7.1", "x"), "line 2 is past the end of the file (1 lines): the file changed during the run"),
    (b"> NOOP\n> RSET\n< 250 /Ok/\n< 250\n", (554, "5.7.1", "x"), "line 2 is now `> RSET`, not `< 550 /Ok/`"),
    (b"> NOOP\n< 550 /OK/\n", (554, "5.7.1", "x"), "line 2 is now `< 550 /OK/`, not `< 550 /Ok/`: the file changed"),
    (b"> NOOP\n<  550 /Ok/\n", (554, "5.7.1", "x"), "the file changed during the run"),  # the span moved
    (None, (550, None, None), "only the text match /Ok/ can have failed"),
])
def test_lines_that_cannot_be_rewritten_say_why(edited, reply, message):
    source = b"> NOOP\n< 550 /Ok/\n< closed\n"
    with pytest.raises(UpdateError) as error:
        rewrite_expectation(edited or source, mismatch(source, 2, *reply))
    assert message in str(error.value)


FILE = (
    "# Relay must be denied to outside clients.\r\n"
    "+++\r\n"
    'description = "relay denied"\r\n'
    "+++\r\n"
    "< 220\r\n"
    "> EHLO probe.example.net\r\n"
    "< 250\r\n"
    "\r\n"
    "> MAIL FROM:<probe@example.net>\r\n"
    "< 250 2.1.0\r\n"
    "> RCPT TO:<victim@elsewhere.example>\r\n"
    "{rcpt}\r\n"
    "> QUIT\r\n"
    "< 221 2.0.0\r\n"
)


def run(pytester, postfix, *args, port="smtp"):
    target = f"--smtp-target={postfix.host}:{postfix.ports[port]}"
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", target, f"--smtp-ca={postfix.ca_file}",
                                         "--smtp-timeout=10", *args)


@pytest.mark.parametrize(("rcpt", "new"), [
    ("< 250 2.1.5", "< 554 5.7.1"),
    ("<  550|554 5.7.9 /relay access/i", "<  550|554 5.7.1 /relay access/i"),  # the pattern still matches: kept
    ("< 554 5.7.1 \"Relay granted\"", "< 554 5.7.1"),
])
def test_update_changes_exactly_the_mismatched_line_and_the_next_run_passes(pytester, postfix, rcpt, new):
    path = pytester.path / "relay.smtp"
    path.write_bytes(FILE.format(rcpt=rcpt).encode())
    result = run(pytester, postfix, "--smtp-update")
    result.assert_outcomes(passed=3, failed=1, skipped=1)
    assert path.read_bytes() == FILE.format(rcpt=new).encode()
    result.stdout.fnmatch_lines([
        "*smtpcheck --smtp-update*",
        f"relay.smtp:12: < {rcpt[1:].strip()}  ->  < {new[1:].strip()}",
        "updated 1 expectation, the first mismatch of each file: *run again to check the rest",
    ])
    run(pytester, postfix).assert_outcomes(passed=5)


def test_only_the_first_mismatch_changes_and_the_open_relay_is_never_sent_a_message(pytester, postfix):
    path = pytester.path / "open_relay.smtp"
    source = FILE.format(rcpt="< 554 5.7.1").replace("> QUIT\r\n< 221 2.0.0", "> DATA\r\n< 354\r\n! message\r\n< 250")
    path.write_bytes(source.replace("< 250 2.1.0", "< 250 2.1.9").encode())
    earlier = len(postfix.disconnect_summaries())  # the Postfix is shared with other tests
    run(pytester, postfix, "--smtp-update", port="open_relay").assert_outcomes(passed=2, failed=1, skipped=3)
    assert path.read_bytes() == source.encode()  # MAIL's line fixed; RCPT's wrong line is the next run's
    second = run(pytester, postfix, "--smtp-update", port="open_relay")
    second.assert_outcomes(passed=3, failed=1, skipped=2)
    assert path.read_bytes() == source.replace("< 554 5.7.1", "< 250 2.1.5").encode()
    assert not any("data=" in summary for summary in postfix.disconnect_summaries()[earlier:])


def test_a_passing_file_is_untouched_and_nothing_is_printed(pytester, postfix):
    path = pytester.path / "fine.smtp"
    path.write_bytes(FILE.format(rcpt="< 550|554 5.7.1 /relay/i").encode())
    before = path.stat().st_mtime_ns
    result = run(pytester, postfix, "--smtp-update")
    result.assert_outcomes(passed=5)
    assert path.stat().st_mtime_ns == before
    assert "--smtp-update" not in result.stdout.str()


def test_an_interrupted_run_changes_no_file(pytester, postfix):
    path = pytester.path / "a_relay.smtp"
    path.write_bytes(FILE.format(rcpt="< 250").encode())
    pytester.makepyfile(test_z_interrupt="def test_stop():\n    raise KeyboardInterrupt\n")
    result = run(pytester, postfix, "--smtp-update")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert path.read_bytes() == FILE.format(rcpt="< 250").encode()
    result.stdout.fnmatch_lines(["*the run did not finish (*): no file was changed*"])


def test_under_xdist_the_controller_rewrites_each_file_once(pytester, postfix):
    pytest.importorskip("xdist")
    for name in ("one", "two"):
        (pytester.path / f"{name}.smtp").write_bytes(FILE.format(rcpt="< 250 2.1.5").encode())
    result = run(pytester, postfix, "--smtp-update", "-n", "2")
    result.assert_outcomes(passed=6, failed=2, skipped=2)
    for name in ("one", "two"):
        assert (pytester.path / f"{name}.smtp").read_bytes() == FILE.format(rcpt="< 554 5.7.1").encode()
    result.stdout.fnmatch_lines(["updated 2 expectations*"])
    run(pytester, postfix, "-n", "2").assert_outcomes(passed=10)
