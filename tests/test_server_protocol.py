"""The sans-IO server protocol (smtp/server): bytes in, events out, replies in, bytes out, without a socket."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_smtpcheck.smtp.reply import Reply
from pytest_smtpcheck.smtp.server import (
    Auth,
    AuthCancelled,
    AuthResponse,
    Bdat,
    Data,
    Event,
    Hello,
    Invalid,
    Limits,
    Mail,
    Message,
    Noop,
    Phase,
    Quit,
    Rcpt,
    Rset,
    ServerProtocol,
    StartTLS,
    TooLong,
    Unknown,
    Vrfy,
    reply,
)

EXTENSIONS = ("PIPELINING", "SIZE 1000", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
TRANSACTION = b"EHLO c.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n"


def agreeable(event: Event) -> Reply:
    """A server that takes everything the protocol lets through."""
    if isinstance(event, (Invalid, Unknown, TooLong)):
        return event.reply
    if isinstance(event, Data):
        return reply(354, "go ahead")
    if isinstance(event, StartTLS):
        return reply(220, "2.0.0 Ready to start TLS")
    if isinstance(event, Quit):
        return reply(221, "2.0.0 Bye")
    if isinstance(event, Auth):
        return reply(334, "")
    if isinstance(event, AuthResponse):
        return reply(235, "2.7.0 ok")
    if isinstance(event, AuthCancelled):
        return reply(501, "5.7.0 aborted")
    return reply(250, "2.0.0 Ok")


def converse(protocol: ServerProtocol, data: bytes, answer: Callable[[Event], Reply] = agreeable) -> list[Event]:
    """Feed *data*, answer every event; the events in order."""
    protocol.receive(data)
    seen = []
    while (event := protocol.next_event()) is not None:
        seen.append(event)
        protocol.send(answer(event))
    return seen


def session(data: bytes, answer: Callable[[Event], Reply] = agreeable, **options: object) -> list[Event]:
    return converse(ServerProtocol(extensions=EXTENSIONS, **options), data, answer)  # type: ignore[arg-type]


def refusal(event: Event) -> str:
    assert isinstance(event, (Invalid, Unknown, TooLong)), event
    return " ".join([str(event.reply.code), *event.reply.lines])


# -- commands ---------------------------------------------------------------------------------------------


def test_pipelined_commands_become_typed_events_with_their_lines():
    got = session(TRANSACTION + b"VRFY bob\r\nNOOP anything\r\nRSET\r\nQUIT\r\n")
    assert got == [Hello(True, "c.example"), Mail("a@example.net"), Rcpt("b@example.org"), Vrfy("bob"), Noop(),
                   Rset(), Quit()]
    assert [event.line for event in got if isinstance(event, (Hello, Mail))] == [
        "EHLO c.example", "MAIL FROM:<a@example.net>"]


def test_verbs_and_path_keywords_are_case_insensitive_and_params_keep_their_values():
    got = session(b"helo c\r\nmail from: <a@x> size=12 body=8bitmime SMTPUTF8\r\nrcpt to:<b@y> notify=SUCCESS,DELAY\r\n")
    assert got == [Hello(False, "c"), Mail("a@x", {"SIZE": "12", "BODY": "8bitmime", "SMTPUTF8": ""}),
                   Rcpt("b@y", {"NOTIFY": "SUCCESS,DELAY"})]


def test_the_null_reverse_path_is_a_sender_but_not_a_recipient():  # RFC 5321 §4.1.1.2, §4.5.5
    got = session(b"MAIL FROM:<>\r\nRCPT TO:<>\r\n")
    assert got[0] == Mail("")
    assert refusal(got[1]) == "501 5.1.3 Bad recipient address syntax"


@pytest.mark.parametrize(("line", "expected"), [
    (b"EHLO", "501 5.5.4 Syntax: EHLO hostname"),
    (b"HELO  ", "501 5.5.4 Syntax: HELO hostname"),
    (b"MAIL TO:<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>"),
    (b"MAIL FROM:a@b", "501 5.1.7 Bad sender address syntax"),
    (b"MAIL FROM:<a@b> FOO=1", "555 5.5.4 Unsupported option: FOO"),
    (b"MAIL FROM:<a@b> SIZE=big", "501 5.5.4 Bad SIZE parameter syntax"),
    (b"MAIL FROM:<a@b> BODY=BINARYMIME", "555 5.5.4 Unsupported option: BODY"),  # not advertised
    (b"MAIL FROM:<a@b> REQUIRETLS", "555 5.5.4 Unsupported option: REQUIRETLS"),
    (b"VRFY", "501 5.5.4 Syntax: VRFY address"),
    (b"DATA now", "501 5.5.4 Syntax: DATA"),  # RFC 5321 §4.1.1.4
    (b"RSET all", "501 5.5.4 Syntax: RSET"),  # RFC 5321 §4.1.1.5
    (b"STARTTLS please", "501 5.5.4 Syntax: STARTTLS"),  # RFC 3207 §4
    (b"BDAT", "501 5.5.4 Syntax: BDAT count [LAST]"),
    (b"BDAT 12 FIRST", "501 5.5.4 Syntax: BDAT count [LAST]"),
    (b"BDAT -1", "501 5.5.4 Syntax: BDAT count [LAST]"),
    (b"AUTH", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
    (b"AUTH PLAIN a b", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
    (b"MAIL FROM:<a@b>\rRCPT TO:<c@d>", "501 5.5.2 Syntax error: bare <CR> in a command line"),  # RFC 5321 §2.3.8
    (b"EXPN staff", "502 5.5.2 Error: command not recognized"),
    (b"\x00\x01garbage", "502 5.5.2 Error: command not recognized"),
])
def test_syntax_refusals(line, expected):
    (event,) = session(line + b"\r\n")
    assert refusal(event) == expected


def test_rcpt_parameters_need_dsn_advertised():
    got = converse(ServerProtocol(extensions=("SIZE 10",)), b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\n")
    assert refusal(got[1]) == "555 5.5.4 Unsupported option: NOTIFY"
    assert session(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\n")[1] == Rcpt("c@d", {"NOTIFY": "NEVER"})


# -- sequence (RFC 5321 §4.1.4, RFC 3030, RFC 4954) ---------------------------------------------------------


def test_out_of_sequence_commands_are_refused_with_503_or_554():
    got = session(b"RCPT TO:<b@y>\r\nDATA\r\nMAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\nDATA\r\n")
    assert [refusal(event) for event in got if isinstance(event, Invalid)] == [
        "503 5.5.1 Error: need MAIL command", "554 5.5.1 Error: no valid recipients",
        "503 5.5.1 Error: nested MAIL command", "554 5.5.1 Error: no valid recipients"]


def test_only_accepted_commands_build_the_envelope():
    def refuse_first_rcpt(event: Event) -> Reply:
        if isinstance(event, Rcpt) and event.address.startswith("nobody"):
            return reply(550, "5.1.1 unknown")
        return agreeable(event)

    protocol = ServerProtocol()
    converse(protocol, b"MAIL FROM:<a@x>\r\nRCPT TO:<nobody@y>\r\nRCPT TO:<b@y>\r\n", refuse_first_rcpt)
    assert (protocol.envelope.mail_from, protocol.envelope.rcpt_tos) == ("a@x", ["b@y"])
    got = converse(protocol, b"RSET\r\nRCPT TO:<b@y>\r\n")
    assert refusal(got[1]) == "503 5.5.1 Error: need MAIL command"


def test_a_refused_mail_opens_no_transaction():
    got = session(b"MAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\n",
                  lambda event: reply(530, "5.7.0 no") if isinstance(event, Mail) else agreeable(event))
    assert got == [Mail("a@x"), Mail("a@x")], "the second MAIL is not nested: the first was refused"


def test_ehlo_ends_the_transaction():
    got = session(TRANSACTION + b"EHLO again\r\nDATA\r\n")
    assert refusal(got[-1]) == "554 5.5.1 Error: no valid recipients"


def test_auth_is_refused_after_success_and_inside_a_transaction():  # RFC 4954 §4
    got = session(b"AUTH PLAIN AGEAYg==\r\nAUTH PLAIN AGEAYg==\r\n",
                  lambda event: reply(235, "2.7.0 ok") if isinstance(event, Auth) else agreeable(event))
    assert got[0] == Auth("PLAIN", "AGEAYg==")
    assert refusal(got[1]) == "503 5.5.1 Error: already authenticated"
    got = session(b"MAIL FROM:<a@x>\r\nAUTH LOGIN\r\n")
    assert refusal(got[1]) == "503 5.5.1 Error: MAIL transaction in progress"


# -- DATA: dot-unstuffing, CRLF.CRLF, bare LF (RFC 5321 §4.5.2, §2.3.8) ---------------------------------------


def message(body: bytes, **options: object) -> tuple[Message, list[Event]]:
    got = session(TRANSACTION + b"DATA\r\n" + body, **options)
    assert isinstance(got[4], Message), got
    return got[4], got[5:]


def test_data_is_dot_unstuffed_and_ends_at_crlf_dot_crlf():
    got, after = message(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
    assert got == Message(28, b"Subject: x\r\n\r\n.leading dot\r\n")
    assert after == [Quit()]


@pytest.mark.parametrize("ending", [b"\n.\n", b"\n.\r\n", b"\r\n.\n"])
def test_only_crlf_dot_crlf_ends_the_message_so_nothing_is_smuggled(ending):
    """A bare LF around the dot ends nothing: what follows stays message text (SMTP smuggling)."""
    got, after = message(b"text" + ending + b"MAIL FROM:<evil@x>\r\n.\r\n")
    assert got.content is not None and b"MAIL FROM:<evil@x>\r\n" in got.content
    assert after == []


def test_bare_lf_lines_are_taken_as_crlf():
    got, _ = message(b"a\nb\r\n.\r\n")
    assert got.content == b"a\r\nb\r\n"


def test_an_empty_message_and_one_line_of_dots():
    assert message(b".\r\n")[0] == Message(0, b"")
    assert message(b"...\r\n.\r\n")[0] == Message(4, b"..\r\n")


def test_message_lines_of_any_length_are_counted_not_buffered_whole():
    line = b"." + b"x" * 100_000 + b"\r\n"
    protocol = ServerProtocol(limits=Limits(command_line=512))
    converse(protocol, TRANSACTION + b"DATA\r\n")
    for start in range(0, len(line), 1000):
        assert converse(protocol, line[start:start + 1000]) == []
        assert protocol.buffered <= 1000 + 512, "a long line is taken in pieces"
    (got,) = converse(protocol, b".\r\n")
    assert got == Message(len(line) - 1, line[1:])


def test_content_past_the_limit_is_counted_but_not_kept():
    got, _ = message(b"x" * 98 + b"\r\n.\r\n", limits=Limits(message_bytes=99))
    assert got == Message(100, None)


def test_the_transaction_ends_with_the_message_whatever_the_reply():
    def refuse(event: Event) -> Reply:
        return reply(552, "5.3.4 too big") if isinstance(event, Message) else agreeable(event)

    protocol = ServerProtocol()
    converse(protocol, TRANSACTION + b"DATA\r\nx\r\n.\r\n", refuse)
    assert protocol.envelope.mail_from is None and protocol.phase is Phase.COMMAND


def test_a_refused_data_reads_no_message():
    got = session(TRANSACTION + b"DATA\r\nQUIT\r\n",
                  lambda event: reply(451, "4.3.0 later") if isinstance(event, Data) else agreeable(event))
    assert got[-1] == Quit()


# -- BDAT (RFC 3030) ----------------------------------------------------------------------------------------


def test_bdat_chunks_are_read_byte_exact_whatever_they_contain():
    protocol = ServerProtocol(extensions=EXTENSIONS)
    got = converse(protocol, TRANSACTION + b"BDAT 6\r\nQUIT\r\nBDAT 0 LAST\r\nNOOP\r\n")
    assert got[3:] == [Bdat(6, False, b"QUIT\r\n"), Bdat(0, True, b""), Noop()]


def test_bdat_sizes_add_up_in_the_envelope_until_last():
    protocol = ServerProtocol()
    converse(protocol, TRANSACTION + b"BDAT 3\r\nabc")
    assert (protocol.envelope.size, protocol.envelope.chunks) == (3, 1)
    got = converse(protocol, b"BDAT 2 LAST\r\nde", lambda event: (
        reply(250, f"2.0.0 {protocol.envelope.size} bytes") if isinstance(event, Bdat) else agreeable(event)))
    assert got == [Bdat(2, True, b"de")]
    assert protocol.envelope.size == 0, "LAST ends the transaction"


def test_bdat_without_recipients_is_refused_after_its_bytes_are_read():
    got = session(b"BDAT 6 LAST\r\nNOOP\r\nNOOP\r\n")
    assert refusal(got[0]) == "503 5.5.1 Error: need RCPT command"
    assert got[1:] == [Noop()], "the chunk's NOOP is data, the next one a command"


def test_a_chunk_split_anywhere_arrives_whole():
    protocol = ServerProtocol()
    converse(protocol, TRANSACTION)
    data = b"BDAT 5 LAST\r\nhello"
    got = [event for byte in range(len(data)) for event in converse(protocol, data[byte:byte + 1])]
    assert got == [Bdat(5, True, b"hello")]


def test_data_after_bdat_is_refused():
    got = session(TRANSACTION + b"BDAT 1\r\nxDATA\r\n")
    assert refusal(got[-1]) == "503 5.5.1 Error: DATA after BDAT in one transaction"


# -- AUTH exchanges (RFC 4954) --------------------------------------------------------------------------------


def test_a_334_makes_the_next_line_a_response_and_any_other_reply_ends_the_exchange():
    def two_challenges(event: Event) -> Reply:
        if isinstance(event, Auth) or (isinstance(event, AuthResponse) and event.text == "dXNlcg=="):
            return reply(334, "UGFzc3dvcmQ6")
        return reply(535, "5.7.8 no") if isinstance(event, AuthResponse) else agreeable(event)

    protocol = ServerProtocol()
    got = converse(protocol, b"AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nNOOP\r\n", two_challenges)
    assert got == [Auth("LOGIN"), AuthResponse("dXNlcg=="), AuthResponse("cGFzcw=="), Noop()]
    assert not protocol.authenticated


def test_star_cancels_the_exchange_and_235_authenticates():
    assert session(b"AUTH PLAIN\r\n*\r\nNOOP\r\n")[1:] == [AuthCancelled(), Noop()]
    protocol = ServerProtocol()
    converse(protocol, b"AUTH PLAIN\r\nAGEAYg==\r\n")
    assert protocol.authenticated


def test_auth_responses_may_be_longer_than_command_lines():  # RFC 4954 §4: 12288 octets
    long = b"A" * 10_000
    got = session(b"AUTH XOAUTH2\r\n" + long + b"\r\nAUTH XOAUTH2 " + long + b"\r\n")
    assert got[1] == AuthResponse(long.decode())
    assert isinstance(got[2], TooLong)


# -- line limits (RFC 5321 §4.5.3.1.4) ----------------------------------------------------------------------


def test_a_command_line_too_long_gets_one_500_and_its_rest_is_dropped():
    protocol = ServerProtocol(limits=Limits(command_line=512))
    got = converse(protocol, b"MAIL FROM:<" + b"a" * 600)
    assert [refusal(event) for event in got] == ["500 5.5.0 Error: line too long"]
    assert converse(protocol, b"a" * 600 + b">\r\nNOOP\r\n") == [Noop()]


def test_the_limit_counts_the_crlf():
    limit = Limits(command_line=len(b"NOOP 12\r\n"))
    assert session(b"NOOP 12\r\n", limits=limit) == [Noop()]
    assert isinstance(session(b"NOOP 123\r\n", limits=limit)[0], TooLong)


# -- STARTTLS (RFC 3207) ------------------------------------------------------------------------------------


def test_starttls_hands_over_and_drops_pipelined_plain_text():
    """CVE-2011-0411: commands sent in the clear after STARTTLS must not run inside TLS (RFC 3207 §4.2)."""
    protocol = ServerProtocol()
    got = converse(protocol, TRANSACTION + b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@x>\r\n")
    assert got[-1] == StartTLS() and protocol.phase is Phase.TLS
    protocol.receive(b"NOOP\r\n")
    assert protocol.next_event() is None
    protocol.tls_established()
    assert (protocol.tls, protocol.envelope.mail_from, protocol.phase) == (True, None, Phase.COMMAND)
    assert converse(protocol, b"MAIL FROM:<a@x>\r\nSTARTTLS\r\n")[1:] == [
        Invalid(StartTLS, reply(554, "5.5.1 Error: TLS already active"))]


def test_a_refused_starttls_keeps_the_session_in_plain_text():
    protocol = ServerProtocol()
    converse(protocol, b"STARTTLS\r\n", lambda event: reply(454, "4.7.0 TLS not available"))
    assert protocol.phase is Phase.COMMAND
    with pytest.raises(RuntimeError, match="without a 220 reply to STARTTLS"):
        protocol.tls_established()


# -- replies ------------------------------------------------------------------------------------------------


def test_replies_go_out_as_crlf_lines_with_continuation_dashes():
    protocol = ServerProtocol()
    assert protocol.send(reply(220, "mx ESMTP")) == b"220 mx ESMTP\r\n"
    protocol.receive(b"EHLO c\r\n")
    protocol.next_event()
    assert protocol.send(reply(250, "mx", "PIPELINING", "SIZE 10")) == b"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n"


@pytest.mark.parametrize(("answer", "message"), [
    (reply(250, "ok\r\n250 injected"), "no CR or LF"),
    (reply(250, "x" * 508), "at most 512 octets"),
    (reply(199, "no"), "200-599"),
])
def test_a_reply_that_would_break_the_wire_is_refused(answer, message):
    with pytest.raises(ValueError, match=message):
        ServerProtocol().send(answer)


def test_221_and_421_close_the_session():
    for code in (221, 421):
        protocol = ServerProtocol()
        protocol.receive(b"QUIT\r\nNOOP\r\n")
        protocol.next_event()
        protocol.send(reply(code, "bye"))
        assert protocol.phase is Phase.CLOSED and protocol.next_event() is None


def test_every_event_needs_its_reply_before_the_next():
    protocol = ServerProtocol()
    protocol.receive(b"NOOP\r\nNOOP\r\n")
    protocol.next_event()
    with pytest.raises(RuntimeError, match="answer Noop with send"):
        protocol.next_event()


# -- any bytes, any split ------------------------------------------------------------------------------------

SESSION = (TRANSACTION + b"DATA\r\nline\r\n..dot\r\n.\r\nBDAT 4 LAST\r\nabcdAUTH PLAIN\r\nAGEAYg==\r\n"
           + b"NOOP\r\nQUIT\r\n")


@given(st.lists(st.integers(min_value=0, max_value=len(SESSION)), max_size=20))
def test_the_same_events_however_the_bytes_are_split(cuts):
    protocol = ServerProtocol(extensions=EXTENSIONS)
    bounds = [0, *sorted(cuts), len(SESSION)]
    got = [event for start, end in itertools.pairwise(bounds) for event in converse(protocol, SESSION[start:end])]
    assert got == session(SESSION)


@settings(max_examples=300)
@given(st.lists(st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"DATA\r\n", b"BDAT 3\r\n", b"AUTH PLAIN\r\n", b"STARTTLS\r\n",
                     b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<c@d>\r\n", b"*\r\n", b"QUIT\r\n"])), max_size=30))
def test_any_bytes_give_events_or_wait_for_more_and_never_raise(pieces):
    protocol = ServerProtocol(extensions=EXTENSIONS, limits=Limits(command_line=64, sasl_line=64))
    for piece in pieces:
        for event in converse(protocol, piece):
            assert isinstance(event, Event)
        if protocol.phase is Phase.TLS:
            protocol.tls_established()
        if protocol.phase is Phase.CLOSED:
            break
