"""The wire client against scripted servers: exact bytes in, exact bytes out."""

import base64
import hmac
import time

import pytest
from faultserver import FaultServer

from pytest_smtpcheck.errors import ConnectFailed, ConnectionLost, ProtocolViolation, ReplyTimeout, SessionClosed
from pytest_smtpcheck.smtp.reply import Reply
from pytest_smtpcheck.smtp.session import SMTPSession


def serve(script, **kwargs):
    return FaultServer(script, **kwargs)


def session_to(server, **kwargs) -> SMTPSession:
    return SMTPSession("127.0.0.1", server.port, timeout=kwargs.pop("timeout", 3), **kwargs)


def greet(peer):
    peer.reply("220 mx.test ESMTP")


def test_multiline_reply_with_enhanced_code_and_capabilities():
    def script(peer):
        greet(peer)
        peer.expect("EHLO")
        peer.reply("250-mx.test hello", "250-PIPELINING", "250-SIZE 1048576", "250-AUTH PLAIN LOGIN", "250 STARTTLS")
        peer.expect("RCPT")
        peer.reply("550-5.1.1 first line", "550 5.1.1 <x@y>: User unknown")

    with serve(script) as server:
        session = session_to(server)
        assert session.connect().code == 220
        reply = session.ehlo("probe.test")
        assert reply.code == 250
        assert reply.lines == ("mx.test hello", "PIPELINING", "SIZE 1048576", "AUTH PLAIN LOGIN", "STARTTLS")
        assert session.capabilities == {"PIPELINING": "", "SIZE": "1048576", "AUTH": "PLAIN LOGIN", "STARTTLS": ""}
        assert session.supports("starttls") and not session.supports("CHUNKING")
        reply = session.rcpt("x@y")
        assert (reply.code, reply.enhanced) == (550, "5.1.1")
        assert reply.text == "5.1.1 first line\n5.1.1 <x@y>: User unknown"
        assert reply.command == "RCPT TO:<x@y>"
        assert reply.is_permanent and not reply.is_transient and not reply.is_positive


@pytest.mark.parametrize(
    ("line", "enhanced"),
    [("250 2.1.5 Ok", "2.1.5"), ("250 Ok", None), ("250 5.1.1 wrong class", None), ("250 2.1.5x", None),
     ("450 4.2.0 Greylisted", "4.2.0"), ("554 5.7.1", "5.7.1")],
)
def test_enhanced_code_only_when_well_formed_and_of_the_reply_class(line, enhanced):
    code, _, text = line.partition(" ")
    assert Reply(int(code), (text,)).enhanced == enhanced


def test_pipelined_commands_leave_in_one_write_and_replies_come_back_in_order():
    bursts = []

    def script(peer):
        greet(peer)
        bursts.append(peer.sock.recv(65536))  # what one read brings, the moment anything arrives
        while sum(burst.count(b"\r\n") for burst in bursts) < 3:
            bursts.append(peer.sock.recv(65536))
        peer.reply("250 2.1.0 sender ok", "250 2.1.5 rcpt ok", "554 5.7.1 relay denied")

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        replies = session.pipeline(["MAIL FROM:<a@b>", "RCPT TO:<c@d>", "RCPT TO:<e@f>"])
    assert bursts == [b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n"]
    assert [r.code for r in replies] == [250, 250, 554]
    assert [r.command for r in replies] == ["MAIL FROM:<a@b>", "RCPT TO:<c@d>", "RCPT TO:<e@f>"]


def test_data_sends_the_body_only_after_354_and_dot_stuffs_it():
    received = []

    def script(peer):
        greet(peer)
        peer.expect("DATA")
        peer.reply("354 go ahead")
        while (line := peer.readline()) != ".":
            received.append(line)
        peer.reply("250 2.0.0 queued")
        peer.expect("DATA")
        peer.reply("554 5.5.1 no valid recipients")
        received.append(peer.readline(timeout=5))  # None: the client hung up without sending the body

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        reply = session.data("Subject: t\n\n.leading dot\n..two\nend\n")
        assert reply.code == 250 and reply.command.startswith("(message of")
        refused = session.data("must never be sent\n")
        assert refused.code == 554
        session.close()
    assert received == ["Subject: t", "", "..leading dot", "...two", "end", None]


def test_auth_plain_login_and_cram_md5_send_the_right_answers_and_record_none_of_them():
    answers = {}

    def script(peer):
        greet(peer)
        answers["plain"] = peer.expect("AUTH PLAIN").split()[2]
        peer.reply("235 2.7.0 ok")
        peer.expect("AUTH LOGIN")
        peer.reply("334 VXNlcm5hbWU6")
        answers["login_user"] = peer.readline()
        peer.reply("334 UGFzc3dvcmQ6")
        answers["login_password"] = peer.readline()
        peer.reply("235 2.7.0 ok")
        peer.expect("AUTH CRAM-MD5")
        peer.reply("334 " + base64.b64encode(b"<1896.697170952@mx.test>").decode())
        answers["cram"] = peer.readline()
        peer.reply("535 5.7.8 bad")

    password = "s3cret-Passw0rd"
    with serve(script) as server:
        session = session_to(server)
        session.connect()
        assert session.auth("PLAIN", "user@test", password).code == 235
        assert session.auth("login", "user@test", password).code == 235
        assert session.auth("CRAM-MD5", "user@test", password).code == 535
    digest = hmac.new(password.encode(), b"<1896.697170952@mx.test>", "md5").hexdigest()
    assert base64.b64decode(answers["plain"]) == b"\0user@test\0" + password.encode()
    assert base64.b64decode(answers["login_user"]) == b"user@test"
    assert base64.b64decode(answers["login_password"]) == password.encode()
    assert base64.b64decode(answers["cram"]) == f"user@test {digest}".encode()
    recorded = session.transcript.render()
    for secret in [password, *answers.values()]:
        assert secret not in recorded
    assert "AUTH PLAIN ****" in recorded
    assert [r.command for r in session.replies[1:]] == ["AUTH PLAIN ****", "AUTH LOGIN", "****", "****",
                                                        "AUTH CRAM-MD5", "****"]


def test_a_hand_written_auth_line_is_masked_too():
    def script(peer):
        greet(peer)
        peer.expect("AUTH")
        peer.reply("235 ok")

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        reply = session.command("AUTH PLAIN AHVzZXIAcGFzcw==")
    assert "AHVzZXIAcGFzcw==" not in session.transcript.render()
    assert reply.command == "AUTH PLAIN ****"
    assert "AHVzZXIAcGFzcw==" not in repr(reply)


@pytest.mark.parametrize(
    ("wire", "error", "words"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n", ProtocolViolation, "not an SMTP reply to the greeting"),
        (b"220 hello\n", ProtocolViolation, "bare LF"),
        (b"220-first\r\n250 second\r\n", ProtocolViolation, "changed its code from 220 to 250"),
        (b"2200 too long code\r\n", ProtocolViolation, "not an SMTP reply"),
        (b"22 short\r\n", ProtocolViolation, "not an SMTP reply"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n", ProtocolViolation, "not an SMTP reply"),
        (b"220 partial", ConnectionLost, "closed by the server while reading the reply to the greeting"),
    ],
)
def test_malformed_greetings_fail_with_what_the_server_sent(wire, error, words):
    def script(peer):
        peer.send(wire)
        time.sleep(0.1)

    with serve(script) as server:
        session = session_to(server)
        with pytest.raises(error, match=words):
            session.connect()
        assert not session.connected


def test_a_bare_code_line_is_a_valid_reply():
    with serve(lambda peer: peer.send(b"220\r\n")) as server:
        assert session_to(server).connect().lines == ("",)


def test_reply_timeout_counts_the_whole_reply_not_each_byte():
    def script(peer):
        for byte in b"220 dripping slowly\r\n":
            peer.send(bytes([byte]))
            time.sleep(0.1)

    with serve(script) as server:
        session = session_to(server, timeout=1)
        started = time.monotonic()
        with pytest.raises(ReplyTimeout, match=r"no complete reply to the greeting within 1 s \(received so far: b'220"):
            session.connect()
        assert time.monotonic() - started < 2.0  # the whole drip takes 2.1 s: a per-byte timer would never fire


def test_session_deadline_caps_a_server_that_answers_each_reply_just_in_time():
    def script(peer):
        greet(peer)
        while peer.readline():
            time.sleep(0.4)
            peer.reply("250 ok")

    with serve(script) as server:
        session = session_to(server, timeout=1, deadline=1.5)
        session.connect()
        session.noop()
        session.noop()
        with pytest.raises(ReplyTimeout, match="the session deadline of 1.5 s"):
            for _ in range(5):
                session.noop()


def test_refused_connection_and_using_a_closed_session():
    with serve(greet) as server:
        port = server.port
    session = SMTPSession("127.0.0.1", port, timeout=2)
    with pytest.raises(ConnectFailed, match=f"connection to 127.0.0.1:{port} refused"):
        session.connect()
    with pytest.raises(SessionClosed):
        session.noop()


def test_reset_while_reading_a_reply_names_the_command():
    def script(peer):
        greet(peer)
        peer.expect("MAIL")
        peer.send(b"250-half a reply\r\n")
        time.sleep(0.1)
        peer.reset()

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        with pytest.raises(ConnectionLost, match=r"connection (reset|closed by the server) while reading the reply to MAIL FROM:<a@b>"):
            session.mail("a@b")
        assert session.transcript.entries[-1].direction == "*"


def test_oversize_line_and_endless_reply_are_cut_off():
    def long_line(peer):
        peer.send(b"220 " + b"x" * 70000 + b"\r\n")

    def endless(peer):
        greet(peer)
        peer.expect("EHLO")
        for _ in range(2000):
            peer.send(b"250-more\r\n")

    with serve(long_line) as server, pytest.raises(ProtocolViolation, match="longer than 8192 bytes"):
        session_to(server).connect()
    with serve(endless) as server:
        session = session_to(server)
        session.connect()
        with pytest.raises(ProtocolViolation, match="did not end after 500 lines"):
            session.ehlo()


def test_transcript_records_every_line_with_direction_and_time():
    def script(peer):
        greet(peer)
        peer.expect("EHLO")
        peer.reply("250-mx.test", "250 8BITMIME")
        peer.expect("QUIT")
        peer.reply("221 bye")

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        session.ehlo("probe.test")
        session.quit()
    entries = [(e.direction, e.text) for e in session.transcript.entries]
    assert entries[1:] == [("S", "220 mx.test ESMTP"), ("C", "EHLO probe.test"), ("S", "250-mx.test"),
                           ("S", "250 8BITMIME"), ("C", "QUIT"), ("S", "221 bye"),
                           ("*", "connection closed by client")]
    assert entries[0][0] == "*" and entries[0][1].startswith(f"connected to 127.0.0.1:{server.port}")
    times = [e.at for e in session.transcript.entries]
    assert times == sorted(times)
    assert not session.connected


def test_a_command_with_a_line_break_is_refused_before_anything_is_sent():
    def script(peer):
        greet(peer)
        peer.readline(timeout=1)

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        with pytest.raises(ValueError, match="cannot contain CR or LF"):
            session.command("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>")
    assert server.peers[0].received == []


def test_ipv6_loopback_target():
    import socket
    import threading

    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    listener.settimeout(5)

    def serve():
        conn, _ = listener.accept()
        conn.sendall(b"220 v6.test ESMTP\r\n")
        conn.recv(100)
        conn.sendall(b"221 bye\r\n")
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        session = SMTPSession("::1", listener.getsockname()[1], timeout=3)
        assert session.connect().code == 220
        assert session.address.startswith("[::1]:")
        assert session.transcript.address == "::1"
        assert session.quit().code == 221
    finally:
        thread.join(timeout=5)
        listener.close()


def test_an_unsolicited_reply_is_caught_before_it_can_pass_for_the_next_commands_reply():
    def script(peer):
        greet(peer)
        peer.expect("RCPT")
        peer.reply("554 5.7.1 relay denied", "250 2.0.0 stray")
        peer.readline(timeout=2)

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        assert session.rcpt("victim@elsewhere.example").code == 554
        with pytest.raises(ProtocolViolation, match=r"the server sent b'250 2.0.0 stray\\r\\n' that no command asked for, before QUIT"):
            session.quit()


def test_an_unsolicited_421_is_the_reply_to_the_next_command():
    def script(peer):
        greet(peer)
        peer.expect("RCPT")
        peer.reply("550 5.1.1 unknown", "421 4.7.0 too many errors")
        peer.readline(timeout=2)

    with serve(script) as server:
        session = session_to(server)
        session.connect()
        assert session.rcpt("nobody@test").code == 550
        reply = session.rcpt("nobody2@test")
        assert (reply.code, reply.command) == (421, "RCPT TO:<nobody2@test>")
