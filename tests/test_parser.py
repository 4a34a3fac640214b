"""The `.smtp` format read and bound: grouping into exchanges, directives, variables, front matter, and errors that
name the line."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_smtpcheck.settings import Declared
from pytest_smtpcheck.transcripts.bind import Script, bind, check, missing
from pytest_smtpcheck.transcripts.steps import Auth, Bdat, Body, Command, Message, Sleep, StartTLS
from pytest_smtpcheck.transcripts.syntax import SMTPFileError, read_directive
from pytest_smtpcheck.transcripts.syntax import parse as read

RELAY = """\
# An outside sender must not be able to relay through the MX.
+++
description = "relay from outside is denied"
+++
< 220
> EHLO probe.example.net
< 250
> MAIL FROM:<probe@example.net>
< 250
> RCPT TO:<victim@elsewhere.example>
< 550|554 5.7.1 /relay/i
> QUIT
< 221
"""


def parse_script(source, path, variables=None, environ=None) -> Script:
    """Read as collection does (the values written out checked), then bind as a run does."""
    document = read(source, path)
    check(document)
    return bind(document, variables or {}, environ or {})


def parse(source, variables=None) -> Script:
    return parse_script(source, "t.smtp", variables or {})


def error(source, variables=None) -> SMTPFileError:
    with pytest.raises(SMTPFileError) as caught:
        parse(source, variables)
    return caught.value


def names(parsed: Script) -> list[str]:
    return [exchange.name for exchange in parsed.exchanges]


def sent(parsed: Script) -> list[tuple[str, ...]]:
    """What each command or body sends: its line, or its lines and the final dot."""
    return [(step.text,) if isinstance(step, Command) else (*step.lines, ".")
            for exchange in parsed.exchanges for step in exchange.steps]


# --- exchanges ---------------------------------------------------------------------------


def test_the_relay_example():
    parsed = parse(RELAY)
    assert parsed.document.description == "relay from outside is denied"
    assert names(parsed) == ["line5-greeting", "line6-EHLO", "line8-MAIL", "line10-RCPT", "line12-QUIT"]
    rcpt = parsed.exchanges[3]
    assert rcpt.line == 10
    assert rcpt.steps[0].written == "RCPT TO:<victim@elsewhere.example>"
    assert rcpt.steps[0].text == "RCPT TO:<victim@elsewhere.example>"
    assert isinstance(rcpt.steps[0], Command)
    assert [e.line for e in rcpt.expects] == [11]
    assert rcpt.expects[0].expectation.source == "550|554 5.7.1 /relay/i"
    assert not rcpt.expects_close


def test_greeting_is_an_exchange_without_steps():
    greeting = parse("< 220 /ESMTP/\n> QUIT\n< 221\n").exchanges[0]
    assert greeting.steps == () and greeting.line == 1
    assert greeting.expects[0].expectation.source == "220 /ESMTP/"


def test_a_file_may_start_with_a_command_and_leave_the_greeting_unchecked():
    assert names(parse("> EHLO x\n< 250\n")) == ["line1-EHLO"]


def test_only_one_expectation_for_the_greeting():
    problem = error("< 220\n< 250\n")
    assert problem.line == 2 and problem.message.startswith("a `<` with nothing to answer")


def test_pipelined_steps_form_one_exchange_answered_in_order():
    parsed = parse("< 220\n> MAIL FROM:<a@x>\n> RCPT TO:<b@y>\n> RCPT TO:<c@z>\n> RSET\n< 250\n< 250\n< 550\n< 250\n")
    pipelined = parsed.exchanges[1]
    assert pipelined.name == "line2-MAIL+RCPT+RCPT+RSET"
    assert [step.line for step in pipelined.steps] == [2, 3, 4, 5]
    assert [e.line for e in pipelined.expects] == [6, 7, 8, 9]
    assert pipelined.expects[2].expectation.codes == ("550",)


def test_more_replies_than_steps_names_the_extra_line():
    problem = error("< 220\n> MAIL FROM:<a@x>\n> RCPT TO:<b@y>\n< 250\n< 250\n< 250\n> QUIT\n< 221\n")
    assert problem.line == 6
    assert "a `<` with nothing to answer" in problem.message


def test_fewer_replies_than_steps_names_the_step_without_one():
    problem = error("< 220\n> MAIL FROM:<a@x>\n> RCPT TO:<b@y>\n> RSET\n< 250\n< 250\n> QUIT\n< 221\n")
    assert problem.line == 4
    assert "no `<` line answers `RSET`" in problem.message
    assert "`< 250`-style line" in problem.message


def test_a_step_at_the_end_without_reply():
    problem = error("< 220\n> QUIT\n")
    assert problem.line == 2 and problem.message.startswith("no `<` line answers `QUIT`")


def test_names_are_unique_and_usable_with_k():
    parsed = parse("< 220\n> NOOP\n< 250\n> NOOP\n< 250\n>\n< 500\n> x-weird<verb> y\n< 500\n")
    assert names(parsed) == ["line1-greeting", "line2-NOOP", "line4-NOOP", "line6-EMPTY", "line8-X-WEIRD_VERB_"]
    assert len(set(names(parsed))) == len(names(parsed))


# --- client lines ------------------------------------------------------------------------


def test_client_lines_are_sent_verbatim_after_one_space():
    parsed = parse("> EHLO  two spaces kept  \n< 250\n>  leading space\n< 500\n> \n< 500\n>\n< 500\n")
    assert sent(parsed) == [("EHLO  two spaces kept  ",), (" leading space",), ("",), ("",)]


def test_client_line_needs_a_space_after_the_prefix():
    problem = error("< 220\n>EHLO x\n< 250\n")
    assert problem.line == 2 and "put one space after `>`" in problem.message


def test_comments_and_blank_lines_are_ignored_but_keep_line_numbers():
    parsed = parse("# heading\n\n   \n< 220\n  # indented comment\n\n> QUIT\n# between\n< 221\n")
    assert names(parsed) == ["line4-greeting", "line7-QUIT"]
    assert parsed.exchanges[1].expects[0].line == 9


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_endings(newline):
    parsed = parse(RELAY.replace("\n", newline))
    assert names(parsed) == names(parse(RELAY))
    assert sent(parsed)[0] == ("EHLO probe.example.net",)


def test_mixed_line_endings_bytes_and_bom():
    source = "\ufeff< 220\r\n> EHLO x\n< 250\r\n> QUIT\r\n< 221".encode()
    parsed = parse(source)
    assert names(parsed) == ["line1-greeting", "line2-EHLO", "line4-QUIT"]
    assert sent(parsed) == [("EHLO x",), ("QUIT",)]


def test_a_bare_cr_inside_a_client_line_is_refused():
    problem = error("< 220\n> EHLO x\rRSET\n< 250\n")
    assert problem.line == 2 and "carriage return" in problem.message


def test_non_utf8_names_the_line():
    problem = error(b"< 220\n> EHLO probe\n> MAIL FROM:<\xe9t\xe9@x>\n< 250\n< 250\n")
    assert problem.line == 3 and "UTF-8" in problem.message


def test_lone_surrogates_in_a_str_are_refused_like_bad_bytes():
    assert error("< 220\n> EHLO \udc80\n< 250\n").line == 2


def test_utf8_text_is_sent_as_written():
    assert sent(parse("> MAIL FROM:<jösé@exämple.net> SMTPUTF8\n< 250\n")) == [("MAIL FROM:<jösé@exämple.net> SMTPUTF8",)]


def test_line_length_limit_is_998_octets():
    assert parse(f"> NOOP {'x' * 993}\n< 250\n")
    problem = error(f"< 220\n> NOOP {'x' * 994}\n< 250\n")
    assert problem.line == 2 and "999 octets" in problem.message and "RFC 5321" in problem.message
    assert "999 octets" in error(f"> NOOP {'é' * 497}\n< 250\n").message  # counted in UTF-8 octets


def test_line_length_counts_expanded_variables():
    problem = error("> RCPT TO:<${LONG}>\n< 250\n", {"LONG": "x" * 990})
    assert problem.line == 1 and "after variables" in problem.message


def test_unknown_prefix():
    problem = error("< 220\nEHLO x\n< 250\n")
    assert problem.line == 2
    assert "line must start with `>`" in problem.message and "`<`" in problem.message and "`!`" in problem.message


def test_indented_client_line_is_an_unknown_prefix():
    assert error("< 220\n  > EHLO x\n< 250\n").line == 2


# --- message bodies ----------------------------------------------------------------------

TRANSACTION = """\
< 220
> EHLO x
< 250
> MAIL FROM:<a@x>
> RCPT TO:<b@y>
> DATA
< 250
< 250
< 354
> Subject: test

# a comment inside the body is still a comment
>
> .hidden
> ..two
> .
< 250 2.0.0
> QUIT
< 221
"""


def test_body_after_354_is_one_step_ending_with_the_dot():
    parsed = parse(TRANSACTION)
    assert names(parsed) == ["line1-greeting", "line2-EHLO", "line4-MAIL+RCPT+DATA", "line10-BODY", "line18-QUIT"]
    body = parsed.exchanges[3]
    assert len(body.steps) == 1 and len(body.expects) == 1
    step = body.steps[0]
    assert (type(step), step.verb, step.line) == (Body, "BODY", 10)
    assert step.lines == ("Subject: test", "", ".hidden", "..two")  # the session dot-stuffs and ends with the dot
    assert step.written == "(message body, lines 10-16)"
    assert body.expects[0].line == 17


def test_body_may_follow_a_pipelined_data_before_its_reply():
    parsed = parse("> DATA\n> Subject: x\n> .\n< 354\n< 250\n")
    assert names(parsed) == ["line1-DATA+BODY"]
    assert [e.expectation.codes for e in parsed.exchanges[0].expects] == [("354",), ("250",)]


def test_body_lines_take_variables():
    assert sent(parse("> DATA\n< 354\n> To: ${TO}\n> .\n< 250\n", {"TO": "x@y"}))[1] == ("To: x@y", ".")


def test_a_refused_data_has_no_body():
    parsed = parse("> DATA\n< 554 5.5.1 /no valid recipients/\n> QUIT\n< 221\n")
    assert names(parsed) == ["line1-DATA", "line3-QUIT"]


def test_a_data_that_may_get_354_is_followed_by_a_body():
    parsed = parse("> DATA\n< 3xx|5xx\n> Subject: x\n> .\n< 250\n")
    assert names(parsed) == ["line1-DATA", "line3-BODY"]


def test_missing_terminator_is_reported_at_the_data_line():
    problem = error("< 220\n> DATA\n< 354\n> Subject: x\n> hello\n< 250\n")
    assert problem.line == 2
    assert "no `> .` terminator" in problem.message and "line 6" in problem.message


def test_missing_terminator_at_end_of_file():
    problem = error("> DATA\n< 354\n> Subject: x\n")
    assert problem.line == 1 and "file ends" in problem.message


def test_missing_body_at_end_of_file():
    problem = error("> DATA\n< 354\n")
    assert problem.line == 1 and "no message body follows" in problem.message


def test_a_body_dot_line_at_the_limit_counts_its_stuffing_dot():
    problem = error(f"> DATA\n< 354\n> .{'x' * 997}\n> .\n< 250\n")
    assert problem.line == 3 and "dot-stuffing" in problem.message


def test_directive_where_the_body_should_be():
    problem = error("> DATA\n< 354\n! starttls\n< 220\n")
    assert problem.line == 3 and "message body must follow the DATA at line 1" in problem.message


def test_sleep_before_a_body_is_allowed():
    parsed = parse("> DATA\n< 354\n! sleep 1\n> .\n< 250\n")
    assert [type(step) for step in parsed.exchanges[1].steps] == [Sleep, Body]


# --- directives --------------------------------------------------------------------------


def test_starttls():
    parsed = parse("< 220\n! starttls\n< 220 2.0.0\n> EHLO x\n< 250\n")
    step = parsed.exchanges[1].steps[0]
    assert (type(step), step.verb, step.written) == (StartTLS, "STARTTLS", "! starttls")
    assert parsed.exchanges[1].name == "line2-STARTTLS"


def test_auth_expands_and_collects_the_password_as_a_secret():
    parsed = parse("! auth plain ${USER} ${PASSWORD}\n< 235 2.7.0\n", {"USER": "u@x", "PASSWORD": "s3cret pass"})
    step = parsed.exchanges[0].steps[0]
    assert (type(step), step.verb) == (Auth, "AUTH")
    assert (step.mechanism, step.user, step.password) == ("PLAIN", "u@x", "s3cret pass")
    assert step.written == "! auth plain ${USER} ${PASSWORD}"
    assert parsed.secrets == ("s3cret pass",)
    assert "s3cret" not in repr(parsed)


def test_a_literal_auth_password_is_masked_in_raw_but_kept_to_send():
    parsed = parse("! auth LOGIN bob wrong-pass\n< 535\n! auth CRAM-MD5 bob wrong-pass\n< 535\n")
    assert [s.written for e in parsed.exchanges for s in e.steps] == ["! auth LOGIN bob ****",
                                                                      "! auth CRAM-MD5 bob ****"]
    assert parsed.exchanges[0].steps[0].password == "wrong-pass"
    assert "wrong-pass" not in repr(read_directive("t.smtp", 1, "! auth LOGIN bob wrong-pass"))
    assert parsed.secrets == ("wrong-pass",)


def test_auth_errors():
    assert "unknown AUTH mechanism `GSSAPI`" in error("! auth GSSAPI u p\n< 235\n").message
    problem = error("< 220\n! auth PLAIN user\n< 235\n")
    assert problem.line == 2 and "takes 3 arguments, got 2" in problem.message


@pytest.mark.parametrize(
    "size, octets",
    [("1500000", 1500000), ("100KiB", 102400), ("2MiB", 2097152), ("10MB", 10_000_000), ("1.5kb", 1500), ("1GiB", 2**30)],
)
def test_message_sizes(size, octets):
    step = parse(f"> DATA\n< 354\n! message {size}\n< 250\n").exchanges[1].steps[0]
    assert (type(step), step.verb, step.size) == (Message, "MESSAGE", octets)


def test_message_without_size_and_from_a_variable():
    assert parse("> DATA\n< 354\n! message\n< 250\n").exchanges[1].steps[0].size == 0
    assert parse("> DATA\n< 354\n! message ${N}\n< 250\n", {"N": "2MiB"}).exchanges[1].steps[0].size == 2097152


def test_message_from_a_file_next_to_the_smtp_file(tmp_path):
    (tmp_path / "body.eml").write_text("Subject: x\n\nhello\n")
    step = parse_script("> DATA\n< 354\n! message file=body.eml\n< 250\n", tmp_path / "t.smtp").exchanges[1].steps[0]
    assert step.path == str(tmp_path / "body.eml")
    problem = error("> DATA\n< 354\n! message file=missing.eml\n< 250\n")
    assert problem.line == 3 and "no such file" in problem.message and "relative to this .smtp file" in problem.message


@pytest.mark.parametrize(("line", "size", "chunk"), [("! bdat 20kB chunk=7000", 20000, 7000), ("! bdat 100", 100, 100),
                                                     ("! bdat 1MiB", 2**20, 65536)])
def test_bdat_size_and_chunk(line, size, chunk):
    step = parse(f"> MAIL FROM:<a@b>\n< 250\n{line}\n< 250\n").exchanges[1].steps[0]
    assert (type(step), step.verb, step.size, step.chunk) == (Bdat, "BDAT", size, chunk)


@pytest.mark.parametrize("line", ["! bdat", "! bdat chunk=7", "! bdat 10 chunk=0", "! bdat 10 size=3", "! bdat 10 7"])
def test_bad_bdat_lines(line):
    assert error(f"< 220\n{line}\n< 250\n").line == 2


@pytest.mark.parametrize("size", ["2 MiB MiB", "lots", "-1", "2TiB", "2GiB", "1" * 400])
def test_bad_message_sizes(size):
    problem = error(f"> DATA\n< 354\n! message {size}\n< 250\n")
    assert problem.line == 3


def test_message_needs_a_data_before_it():
    problem = error("< 220\n! message\n< 250\n")
    assert problem.line == 2 and "must follow `> DATA`" in problem.message


def test_sleep_gets_no_reply():
    parsed = parse("< 220\n! sleep 2.5\n> NOOP\n< 250\n")
    steps = parsed.exchanges[1].steps
    assert [(type(s), s.gets_reply) for s in steps] == [(Sleep, False), (Command, True)]
    assert steps[0].seconds == 2.5
    assert parsed.exchanges[1].name == "line2-SLEEP+NOOP"


@pytest.mark.parametrize("seconds", ["301", "-1", "soon", "nan", "inf", "1e3"])
def test_bad_sleeps(seconds):
    problem = error(f"< 220\n! sleep {seconds}\n> NOOP\n< 250\n")
    assert problem.line == 2 and "seconds from 0 to 300" in problem.message


def test_sleep_at_the_end_needs_something_after_it():
    problem = error("< 220\n! sleep 1\n")
    assert problem.line == 2 and "`! sleep`" in problem.message


def test_unknown_directive_lists_the_known_ones():
    problem = error("< 220\n! tls\n< 220\n")
    assert problem.line == 2
    for known in ("`! starttls`", "`! auth MECHANISM USER PASSWORD`", "`! message [SIZE] [file=PATH]`",
                  "`! bdat SIZE [chunk=BYTES]`", "`! sleep SECONDS`"):
        assert known in problem.message


@pytest.mark.parametrize("line", ["! starttls now", "! sleep", "! sleep 1 2", "! message 1 2", "!starttls", "!"])
def test_directive_arguments_and_spacing(line):
    assert error(f"< 220\n{line}\n< 220\n").line == 2


# --- < closed ----------------------------------------------------------------------------


def test_closed_ends_the_last_exchange():
    parsed = parse("< 220\n> QUIT\n< 221\n< closed\n")
    assert parsed.exchanges[-1].expects_close and parsed.exchanges[-1].close_line == 4
    assert len(parsed.exchanges[-1].expects) == 1  # closed is not an expectation


def test_greeting_then_closed_and_sleep_then_closed():
    assert parse("< 554 5.7.1\n< closed\n").exchanges[0].expects_close
    idle = parse("< 220\n! sleep 5\n< closed\n").exchanges[1]
    assert idle.expects == () and idle.expects_close


def test_closed_must_be_last():
    assert error("< 220\n> QUIT\n< closed\n< 221\n").line == 4
    problem = error("< 220\n> QUIT\n< 221\n< closed\n> NOOP\n< 250\n")
    assert problem.line == 5 and "nothing can follow `< closed` (line 4)" in problem.message


def test_closed_cannot_stand_for_the_greeting():
    assert error("< closed\n").line == 1


def test_closed_does_not_excuse_missing_replies():
    assert error("> MAIL FROM:<a@x>\n> RCPT TO:<b@y>\n< 250\n< closed\n").line == 2


# --- expectations in context -------------------------------------------------------------


@pytest.mark.parametrize("line", ["< 25", "< 250 5.7.1", "< 550 /(/", "< 250 trailing", "<250", "<", "<   "])
def test_bad_expectations_name_their_line(line):
    problem = error(f"< 220\n> NOOP\n{line}\n")
    assert problem.line == 3


def test_expectation_error_text_is_kept():
    problem = error("< 220\n> NOOP\n< 25\n")
    assert "bad expected reply `25`" in problem.message and "3 characters" in problem.message


def test_variables_are_not_expanded_in_expectations():
    problem = error("< 220 /${SMTP_DOMAIN}/\n", {"SMTP_DOMAIN": "x"})
    assert problem.line == 1 and "take no ${VARIABLES}" in problem.message


# --- variables ---------------------------------------------------------------------------

VARS = """\
+++
vars = { DOMAIN = "front.example", SENDER = "probe" }
+++
< 220
> MAIL FROM:<${SENDER}@${DOMAIN}>
< 250
"""


def test_front_matter_vars_beat_the_run_s():
    """The file's own declaration wins, as a marker beats the command line (docs/options.md, precedence)."""
    assert sent(parse(VARS)) == [("MAIL FROM:<probe@front.example>",)]
    assert sent(parse(VARS, {"DOMAIN": "cli.example"})) == [("MAIL FROM:<probe@front.example>",)]
    assert sent(parse(VARS.replace('DOMAIN = "front.example", ', ""), {"DOMAIN": "cli.example"})) == [
        ("MAIL FROM:<probe@cli.example>",)]
    parsed = parse(VARS, {"DOMAIN": "cli.example"})
    assert parsed.document.settings.vars == {"DOMAIN": "front.example", "SENDER": "probe"}
    assert parsed.exchanges[1].steps[0].written == "MAIL FROM:<${SENDER}@${DOMAIN}>"  # written keeps the reference
    assert read(VARS, "t.smtp").exchanges[1].steps[0].text == "MAIL FROM:<${SENDER}@${DOMAIN}>"  # read: unexpanded


def test_an_undefined_variable_is_listed_with_its_first_line_not_an_error():
    document = read("< 220\n> RCPT TO:<x@${SMTP_DOMAIN}>\n< 250\n> RCPT TO:<${SMTP_DOMAIN}${B}>\n< 250\n", "t.smtp")
    assert missing(document, {}, {}) == {"SMTP_DOMAIN": 2, "B": 4}
    assert missing(document, {"SMTP_DOMAIN": "d", "B": "b"}, {}) == {}
    assert sent(bind(document, {}, {}))[0] == ("RCPT TO:<x@${SMTP_DOMAIN}>",)  # left as written: the file is skipped


def test_the_environment_is_read_only_through_env_and_its_values_are_secrets():
    source = "< 220\n> NOOP ${HOME}\n< 250\n> NOOP ${env:HOME}\n< 250\n"
    parsed = parse_script(source, "t.smtp", {}, {"HOME": "/root/secret-home"})
    assert missing(parsed.document, {}, {"HOME": "/root/secret-home"}) == {"HOME": 2}
    assert sent(parsed)[1] == ("NOOP /root/secret-home",)
    assert "/root/secret-home" in parsed.secrets
    assert missing(read(source.replace("${HOME}", "x"), "t.smtp"), {}, {}) == {"env:HOME": 4}


def test_escape_for_a_literal_reference():
    parsed = parse("> NOOP $${HOME} and $$ and $x and ${A}$${A}\n< 250\n", {"A": "1"})
    assert sent(parsed) == [("NOOP ${HOME} and $$ and $x and 1${A}",)]


@pytest.mark.parametrize("text", ["${", "${A", "${}", "${1A}", "${A-B}", "${ A }"])
def test_malformed_references(text):
    problem = error(f"< 220\n> NOOP {text}\n< 250\n", {"A": "1"})
    assert problem.line == 2 and "not a variable reference" in problem.message


def test_a_value_with_a_line_break_would_inject_a_command():
    problem = error("> MAIL FROM:<${X}>\n< 250\n", {"X": "a@b>\r\nRCPT TO:<c@d"})
    assert problem.line == 1 and "line break" in problem.message


def test_undecodable_environment_value_is_refused():
    assert "not valid UTF-8" in error("> NOOP ${X}\n< 250\n", {"X": "\udcff"}).message


# --- front matter ------------------------------------------------------------------------

FULL_FRONT_MATTER = """\
# comments may precede the front matter

+++
description = "submission requires AUTH"
markers = ["slow", "submission_checks"]
timeout = 7
tls = "starttls"
helo = "probe.example.net"
listener = "submission"

[vars]
USER = "probe"
+++
< 220
"""


def test_every_front_matter_key():
    parsed = read(FULL_FRONT_MATTER, "t.smtp")
    settings = parsed.settings
    assert (parsed.description, parsed.markers, settings.timeout) == ("submission requires AUTH", ("slow", "submission_checks"), 7.0)
    assert (settings.tls, settings.helo, settings.listener, settings.vars) == ("starttls", "probe.example.net", "submission", {"USER": "probe"})
    assert settings.origins["timeout"] == "front matter of t.smtp"
    assert names(parsed) == ["line14-greeting"]


def test_defaults_without_front_matter():
    parsed = read("< 220\n", "t.smtp")
    assert (parsed.description, parsed.markers) == (None, ())
    assert parsed.settings == Declared()


def test_unknown_key_names_it_its_line_and_the_known_keys():
    problem = error('+++\ndescription = "x"\ntimout = 5\n+++\n< 220\n')
    assert problem.line == 3
    assert "unknown front matter key `timout`" in problem.message and "timeout" in problem.message


def test_broken_toml_names_the_line_in_the_file():
    problem = error('# lead\n+++\ndescription = "x"\nmarkers = [slow]\n+++\n< 220\n')
    assert problem.line == 4
    assert "not valid TOML" in problem.message and "column" in problem.message and "at line" not in problem.message


def test_unclosed_front_matter():
    problem = error('+++\ndescription = "x"\n< 220\n')
    assert problem.line == 1 and "never closed" in problem.message


def test_front_matter_after_content_is_refused():
    problem = error('< 220\n+++\ndescription = "x"\n+++\n')
    assert problem.line == 2 and "must come first" in problem.message


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("description = 5", "description must be a string"),
        ('markers = "slow"', "markers must be a list"),
        ('markers = ["xfail(reason=1)"]', "is not a marker name"),
        ("markers = [1]", "is not a marker name"),
        # the rules of every other door (settings.py), named as front matter
        ("timeout = 0", "front matter timeout: must be a number of seconds above 0 and at most 3600, not 0"),
        ("timeout = -2.5", "front matter timeout: must be a number of seconds above 0"),
        ("timeout = true", "front matter timeout: must be a number of seconds above 0"),
        ("timeout = nan", "front matter timeout: must be a number of seconds above 0"),
        ("timeout = 5000", "front matter timeout: must be a number of seconds above 0 and at most 3600, not 5000"),
        ('tls = "ssl"', "front matter tls: must be one of none, starttls, implicit, not 'ssl'"),
        ('listener = "lmtp"', "front matter listener: must be one of smtp, submission, submissions, not 'lmtp'"),
        ('helo = "two words"', "front matter helo: must be one host name or [address], without spaces"),
        ('helo = "a\\u007fb"', "front matter helo: control characters"),
        ('helo = ""', "front matter helo: empty"),
        ("helo = 1", "front matter helo: must be a string"),
        ("port = 70000", "front matter port: must be a whole number from 1 to 65535"),
        ('as = "mx.example"', "front matter as: "),
        ("vars = 1", "front matter vars: must be a table"),
        ("vars = { PORT = 25 }", "front matter vars.PORT: must be a string, not 25"),
        ('vars = { "not-a-name" = "x" }', "is not a variable name"),
        ('vars = { SMTP_PASSWORD = "x" }', "set the environment variable SMTPCHECK_PASSWORD"),
        ('vars = { SMTP_TOKEN = "x" }', "set the environment variable SMTPCHECK_TOKEN"),
    ],
)
def test_front_matter_values_are_checked_at_their_line(setting, problem):
    found = error(f'+++\ndescription = "ok"\n{setting}\n+++\n< 220\n' if "description" not in setting else f"+++\n\n{setting}\n+++\n< 220\n")
    assert found.line == 3
    assert problem in found.message


# --- files without exchanges, errors, robustness -----------------------------------------


@pytest.mark.parametrize("source", ["", "\n\n", "# only a comment\n", '+++\ndescription = "x"\n+++\n# nothing\n'])
def test_a_file_without_exchanges_is_an_error(source):
    problem = error(source)
    assert problem.line is None
    assert str(problem) == "t.smtp: no exchanges; a .smtp file needs at least one `<` line"


def test_error_attributes_and_str():
    problem = SMTPFileError(Path("dir/x.smtp"), 7, "something is wrong")
    assert (problem.path, problem.line, problem.message) == ("dir/x.smtp", 7, "something is wrong")
    assert str(problem) == "dir/x.smtp:7: something is wrong"


def test_path_may_be_a_pathlike():
    assert read("< 220\n", Path("a") / "b.smtp").path == str(Path("a") / "b.smtp")
    with pytest.raises(SMTPFileError, match=r"^a/b\.smtp:1: line must start"):
        parse_script("oops\n", Path("a/b.smtp"))


def test_expanded_values_stay_out_of_reprs():
    parsed = parse("> AUTH PLAIN ${TOKEN}\n< 235\n", {"TOKEN": "dG9rZW4tc2VjcmV0"})
    assert parsed.exchanges[0].steps[0].text == "AUTH PLAIN dG9rZW4tc2VjcmV0"
    assert "dG9rZW4tc2VjcmV0" not in repr(parsed)


def check_never_escapes(source) -> None:
    try:
        result = parse_script(source, "prop.smtp", {"A": "1", "P": "pw"})
    except SMTPFileError as problem:
        assert str(problem).startswith("prop.smtp")
    else:
        assert isinstance(result, Script) and result.exchanges


LINE = st.one_of(
    st.sampled_from(
        ["< 220", "< 250", "< 354", "< closed", "> DATA", "> .", ">", "> EHLO x", "! starttls", "! sleep 0",
         "! message 1KiB", "! auth PLAIN u ${P}", "+++", "# c", "", "< 5xx 5.x.x /x/i", "> ${A}", "> $${A}"]
    ),
    st.builds("".join, st.lists(st.sampled_from(["<", ">", "!", " ", "+++", "${", "}", "A", "/", "\"", "5", "x", ".", "\r", "\t", "é"]), max_size=8)),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=25), st.sampled_from(["\n", "\r\n"]))
def test_structured_input_only_ever_raises_smtpfileerror(lines, newline):
    check_never_escapes(newline.join(lines))


@settings(deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_input_only_ever_raises_smtpfileerror(source):
    check_never_escapes(source)


def test_front_matter_presents_another_client_address():
    parsed = read('+++\nas = "203.0.113.9"\nas_via = "proxy-v2"\n+++\n< 220\n', "t.smtp")
    assert (parsed.settings.as_address, parsed.settings.as_via) == ("203.0.113.9", "proxy-v2")
    assert "front matter as: 'outside.example' is not an IP address" in error(
        '+++\nas = "outside.example"\n+++\n< 220\n').message
    assert error('+++\nas_via = "socks"\n+++\n< 220\n').line == 2
