"""Reply expectations: what each form matches, what it must not match, and how bad ones are refused."""

import re

import pytest

from pytest_smtpcheck.smtp.expect import Expectation, ExpectationError
from pytest_smtpcheck.smtp.reply import Reply


def reply(code: int, *lines: str) -> Reply:
    return Reply(code, lines or ("ok",))


def mismatch(expectation: str, got: Reply) -> str | None:
    return Expectation.parse(expectation).match(got)


@pytest.mark.parametrize(
    "expectation, code",
    [
        ("250", 250),
        ("2xx", 200),
        ("2xx", 299),
        ("45x", 451),
        ("x5x", 550),
        ("xxx", 421),
        ("550|554", 554),
        ("550|554", 550),
        ("2XX", 250),  # capital X reads as x
        ("354", 354),
    ],
)
def test_codes_that_match(expectation, code):
    assert mismatch(expectation, reply(code)) is None


@pytest.mark.parametrize(
    "expectation, code",
    [
        ("250", 251),
        ("250", 2500),  # a whole code, never a prefix
        ("250", 25),
        ("2xx", 2000),
        ("2xx", 199),
        ("xxx", 600),  # outside 200..599 nothing matches
        ("xxx", 199),
        ("xxx", -250),
        ("45x", 461),
        ("550|554", 553),
        ("550|554", 250),
    ],
)
def test_codes_that_do_not_match(expectation, code):
    assert mismatch(expectation, reply(code)) == f"code {code}, expected {expectation.lower()}"


def test_mismatch_reason_lists_the_alternatives():
    assert mismatch("550|554 5.7.1 /relay/i", reply(250, "2.1.5 Ok")) == "code 250, expected 550|554"


@pytest.mark.parametrize(
    "expectation, first_line",
    [
        ("550 5.7.1", "5.7.1 Relay access denied"),
        ("550 5.x.x", "5.1.1 User unknown"),
        ("450 4.2.x", "4.2.0 Greylisted"),
        ("550 x.7.1", "5.7.1 denied"),
        ("550 5.7.1", "5.7.001 zero-padded parts compare as numbers"),
        ("5xx 5.1.10", "5.1.10 three-digit parts"),
    ],
)
def test_enhanced_codes_that_match(expectation, first_line):
    assert mismatch(expectation, Reply(int(expectation[:1] + "50"), (first_line,))) is None


def test_enhanced_code_mismatch_and_absence_are_told_apart():
    assert mismatch("550 5.7.1", reply(550, "5.1.1 User unknown")) == "enhanced code 5.1.1, expected 5.7.1"
    assert mismatch("550 5.x.x", reply(550, "User unknown")) == "no enhanced code, expected 5.x.x"
    assert mismatch("450 4.2.x", reply(450, "4.7.1 Try later")) == "enhanced code 4.7.1, expected 4.2.x"


def test_regex_is_searched_in_the_whole_multiline_text():
    ehlo = Reply(250, ("mx.example.com Hello", "PIPELINING", "SIZE 10240000", "STARTTLS"))
    assert mismatch("250 /STARTTLS/", ehlo) is None
    assert mismatch("250 /^SIZE \\d+$/m", ehlo) is None
    assert mismatch("250 /^SIZE \\d+$/", ehlo) == "text did not match /^SIZE \\d+$/"
    assert mismatch("250 /hello.*STARTTLS/is", ehlo) is None
    assert mismatch("250 /hello.*STARTTLS/i", ehlo) == "text did not match /hello.*STARTTLS/i"
    assert mismatch("250 /AUTH/", ehlo) == "text did not match /AUTH/"


def test_regex_flags():
    denied = reply(554, "5.7.1 <x@elsewhere.example>: Relay access denied")
    assert mismatch("554 /relay/i", denied) is None
    assert mismatch("554 /relay/", denied) == "text did not match /relay/"
    assert mismatch("554 5.7.1 /relay access/im", denied) is None


def test_regex_runs_to_the_last_slash():
    assert mismatch("250 /a/b/", reply(250, "path a/b")) is None
    assert mismatch(r"250 /a\/b/", reply(250, "path a/b")) is None
    assert Expectation.parse("250 /a/b/i").text.pattern == "a/b"


def test_quoted_substring_is_literal_and_case_sensitive():
    got = reply(250, "2.0.0 Ok: queued as 4Xy.Z (x)")
    assert mismatch('250 "queued as"', got) is None
    assert mismatch("250 'Ok: queued'", got) is None
    assert mismatch('250 "(x)"', got) is None  # no regex meaning
    assert mismatch('250 "4X.."', got) == 'text did not match "4X.."'
    assert mismatch('250 "QUEUED"', got) == 'text did not match "QUEUED"'
    assert mismatch("""250 "say 'hi'\"""", reply(250, "say 'hi'")) is None


def test_all_parts_together():
    exp = Expectation.parse("  550|554   5.7.1   /relay/i  ")
    assert exp.source == "550|554   5.7.1   /relay/i"
    assert exp.codes == ("550", "554")
    assert exp.enhanced == "5.7.1"
    assert exp.text.flags & re.IGNORECASE
    assert exp.match(reply(554, "5.7.1 Relaying denied")) is None


def test_first_difference_is_reported_code_then_enhanced_then_text():
    exp = Expectation.parse("550 5.7.1 /relay/")
    assert exp.match(reply(250, "2.0.0 x")).startswith("code")
    assert exp.match(reply(550, "5.1.1 x")).startswith("enhanced")
    assert exp.match(reply(550, "5.7.1 x")).startswith("text")


def test_admits_code():
    exp = Expectation.parse("3xx|5xx")
    assert exp.admits_code(354) and exp.admits_code(554)
    assert not exp.admits_code(250) and not exp.admits_code(3540)


def test_reply_helpers_use_expectations():
    got = Reply(550, ("5.7.1 Relay access denied",), "RCPT TO:<x@y>")
    assert got.matches("550|554 5.7.1 /relay/i")
    assert not got.matches("250")
    with pytest.raises(AssertionError, match="code 550, expected 250"):
        got.expect("250")


@pytest.mark.parametrize(
    "source, problem",
    [
        ("", "empty expectation"),
        ("   ", "empty expectation"),
        ("25", "`25` is not a reply code"),
        ("2500", "`2500` is not a reply code"),
        ("150", "`150` is not a reply code"),
        ("650", "`650` is not a reply code"),
        ("2y0", "`2y0` is not a reply code"),
        ("250|", "empty alternative"),
        ("250||550", "empty alternative"),
        ("ok", "`ok` is not a reply code"),
        ("250 5.7", "`5.7` is neither an enhanced status code"),
        ("550 6.1.1", "`6.1.1` is neither"),
        ("550 5.1000.1", "`5.1000.1` is neither"),
        ("550 relay", "`relay` is neither"),
        ("250 5.7.1", "enhanced code 5.7.1 is class 5 but no reply code `250` starts with 5"),
        ("354 2.0.0", "is class 2 but no reply code `354`"),
        ("550 /relay", "unterminated regex"),
        ("550 //", "empty regex"),
        ("550 /relay/g", "`g` after /relay/ is not a regex flag"),
        ("550 /relay/i extra", "is not a regex flag"),
        ("550 /(unclosed/", "bad regex /(unclosed/: missing )"),
        ("550 /a{99999999999}/", "bad regex"),
        ('550 "relay', "unterminated or empty quoted text"),
        ('550 ""', "unterminated or empty quoted text"),
        ("550 \"relay'", "unterminated or empty quoted text"),
        ('550 5.7.1 "x" 5.7.1', "unterminated or empty"),
        ("550 5.7.1 5.7.1", "unexpected `5.7.1`"),
    ],
)
def test_malformed_expectations(source, problem):
    with pytest.raises(ExpectationError) as error:
        Expectation.parse(source)
    assert problem in str(error.value)
    assert isinstance(error.value, ValueError)


def test_enhanced_class_may_agree_with_any_alternative_or_x():
    assert Expectation.parse("250|550 5.7.1").enhanced == "5.7.1"
    assert Expectation.parse("xxx 4.2.0").enhanced == "4.2.0"
    assert Expectation.parse("250 x.0.0").enhanced == "x.0.0"


# RFC 2034 3: a server that advertises ENHANCEDSTATUSCODES prefaces its replies with an RFC 3463 code; one that does
# not (Exim; any server after HELO) sends none. `(5.7.1)` asks for the code exactly where the RFC requires it.
def advertised(code: int, first_line: str, *, enhanced: bool | None) -> Reply:
    return Reply(code, (first_line,), "RCPT TO:<victim@elsewhere.example>", enhanced_advertised=enhanced)


@pytest.mark.parametrize(("got", "problem"), [
    (advertised(554, "5.7.1 Relay access denied", enhanced=True), None),
    (advertised(554, "Relay access denied", enhanced=True),
     "no enhanced code, expected 5.7.1 (the server advertised ENHANCEDSTATUSCODES)"),
    (advertised(554, "5.7.2 Relay access denied", enhanced=True),
     "enhanced code 5.7.2, expected 5.7.1 (the server advertised ENHANCEDSTATUSCODES)"),
    (advertised(550, "relay not permitted", enhanced=False), None),  # Exim: no extension, no code
    (advertised(550, "5.1.1 relay after HELO", enhanced=False), None),  # text that looks like a code is only text
    (advertised(550, "relay not permitted", enhanced=None), None),  # not from a session: checked when present
    (advertised(550, "5.7.2 relay not permitted", enhanced=None), "enhanced code 5.7.2, expected 5.7.1"),
    (advertised(250, "relay not permitted", enhanced=False), "code 250, expected 550|554"),  # the code always counts
])
def test_a_conditional_enhanced_code_is_checked_where_the_server_advertised_enhancedstatuscodes(got, problem):
    assert mismatch("550|554 (5.7.1) /relay/i", got) == problem


def test_a_plain_enhanced_code_is_required_whatever_was_advertised():
    assert mismatch("550 5.7.1", advertised(550, "relay not permitted", enhanced=False)) == (
        "no enhanced code, expected 5.7.1")


def test_conditional_enhanced_code_parses_with_every_other_part_and_says_so():
    expectation = Expectation.parse("550|554 (5.x.x) \"relay\"")
    assert (expectation.codes, expectation.enhanced, expectation.enhanced_conditional) == (("550", "554"), "5.x.x", True)
    assert expectation.text_source == '"relay"'
    assert Expectation.parse("550 5.7.1").enhanced_conditional is False


@pytest.mark.parametrize(("source", "problem"), [
    ("550 (5.7.1", "`(5.7.1` is neither an enhanced status code"),
    ("550 5.7.1)", "`5.7.1)` is neither"),
    ("550 (5.7)", "`(5.7)` is neither"),
    ("550 ()", "`()` is neither"),
    ("550 ( 5.7.1 )", "`(` is neither"),
    ("550 (2.0.0)", "enhanced code (2.0.0) is class 2 but no reply code `550` starts with 2"),
])
def test_malformed_conditional_enhanced_codes(source, problem):
    with pytest.raises(ExpectationError, match=re.escape(problem)) as error:
        Expectation.parse(source)
    if "is neither" in problem:  # the message shows both forms
        assert "`(5.7.1)`" in str(error.value) and "e.g. `5.7.1`" in str(error.value)


def test_a_session_tells_its_replies_whether_ehlo_advertised_enhancedstatuscodes():
    """The sandbox advertises the extension after EHLO; HELO has no extensions (RFC 5321 4.1.1.1)."""
    from pytest_smtpcheck.sandbox import Sandbox
    from pytest_smtpcheck.smtp import SMTPSession

    with Sandbox() as sb, SMTPSession(sb.host, sb.ports["smtp"], timeout=10) as session:
        assert session.greeting.enhanced_advertised is False
        session.ehlo("probe.example.net")
        session.mail("probe@example.net")
        relay = session.rcpt("victim@elsewhere.example")
        assert relay.enhanced_advertised is True
        relay.expect("550|554 (5.7.1)")
        with pytest.raises(AssertionError, match=r"enhanced code 5\.7\.1, expected 5\.1\.1 \(the server advertised"):
            relay.expect("550|554 (5.1.1)")
        session.rset()
        session.helo("probe.example.net")
        session.mail("probe@example.net")
        after_helo = session.rcpt("victim@elsewhere.example")
        assert after_helo.enhanced_advertised is False
        after_helo.expect("550|554 (5.1.1)")  # whatever its text says: without the extension it is not a code
