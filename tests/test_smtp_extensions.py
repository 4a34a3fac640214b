"""The protocol extensions' building blocks (sasl, proxy, params), byte for byte, and against a real Postfix.

Unit tests compare with the published examples (RFC 4616, 2195, 7628, 3461, 3030, Google's XOAUTH2 page,
haproxy's proxy-protocol.txt, Postfix's XCLIENT_README). The Postfix tests speak over plain sockets, so they
depend on nothing but these modules: XCLIENT and PROXY turn an allowed relay into a denied one, BDAT chunks,
SMTPUTF8 and DSN parameters are accepted, and each has a refusing side.
"""

from __future__ import annotations

import base64
import socket
import struct

import pytest
from postfix import UTF8_USER

from pytest_smtpcheck.smtp import params, proxy, sasl
from pytest_smtpcheck.smtp.message import bdat_chunks
from pytest_smtpcheck.vocabulary import AUTH_MECHANISMS, MASK

OUTSIDE = "203.0.113.9"  # only ever inside an XCLIENT line or a PROXY header
FOREIGN_RCPT = "victim@elsewhere.example"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- SASL --------------------------------------------------------------------------------------------------


def test_the_registry_implements_exactly_the_vocabulary():
    assert tuple(sasl.MECHANISMS) == AUTH_MECHANISMS


def test_plain_rfc4616_example():
    mech = sasl.mechanism("plain", "tim", "tanstaaftanstaaf")
    assert sasl.auth_line(mech) == "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm"


def test_plain_without_initial_response_answers_the_empty_challenge():
    mech = sasl.mechanism("PLAIN", "tim", "tanstaaftanstaaf")
    assert sasl.auth_line(mech, initial_response=False) == "AUTH PLAIN"
    assert sasl.response_line(mech, "") == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
    with pytest.raises(sasl.SASLError, match="expects no challenge after the credentials"):
        mech.respond(b"again?")


def test_login_answers_the_two_prompts():
    mech = sasl.mechanism("LOGIN", "tim", "tanstaaftanstaaf")
    assert sasl.auth_line(mech) == "AUTH LOGIN"
    assert sasl.response_line(mech, "VXNlcm5hbWU6") == b64(b"tim")  # "Username:"
    assert sasl.response_line(mech, "UGFzc3dvcmQ6") == b64(b"tanstaaftanstaaf")  # "Password:"
    with pytest.raises(sasl.SASLError, match="asked a third time"):
        mech.respond(b"Again:")


def test_cram_md5_rfc2195_example():
    mech = sasl.mechanism("CRAM-MD5", "tim", "tanstaaftanstaaf")
    assert sasl.auth_line(mech) == "AUTH CRAM-MD5"
    challenge = b64(b"<1896.697170952@postoffice.reston.mci.net>")
    assert sasl.response_line(mech, challenge) == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" in mech.secrets(), "the answer joins the secrets"
    with pytest.raises(sasl.SASLError, match="answers one challenge"):
        mech.respond(b"<2@host>")


def test_cram_md5_refuses_an_empty_challenge():
    with pytest.raises(sasl.SASLError, match="CRAM-MD5 challenge is empty"):
        sasl.mechanism("CRAM-MD5", "tim", "secret").respond(b"")


def test_xoauth2_google_example():
    mech = sasl.mechanism("XOAUTH2", "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    assert sasl.auth_line(mech) == (
        "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
        "QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")


def test_xoauth2_error_challenge_is_answered_empty_and_kept():
    mech = sasl.mechanism("XOAUTH2", "someuser@example.com", "expired-token")
    mech.initial_response()
    error = b64(b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}')
    assert sasl.response_line(mech, error) == ""
    assert mech.error == "status=401 schemes=Bearer scope=https://mail.google.com/"
    with pytest.raises(sasl.SASLError, match="second challenge after its error"):
        mech.respond(b"{}")


def test_oauthbearer_rfc7628_example():
    mech = sasl.mechanism("OAUTHBEARER", "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                          host="server.example.com", port=143)
    assert sasl.auth_line(mech) == (
        "AUTH OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIH"
        "ZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")


def test_oauthbearer_rfc7628_failure_is_acknowledged_with_kvsep():
    mech = sasl.mechanism("OAUTHBEARER", "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")
    mech.initial_response()
    challenge = ("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJ"
                 "odHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=")
    assert sasl.response_line(mech, challenge) == "AQ=="  # a single ^A (RFC 7628 §3.2.3)
    assert mech.error is not None and mech.error.startswith("status=invalid_token scope=example_scope")


def test_oauthbearer_encodes_the_gs2_authzid_and_may_leave_host_out():
    mech = sasl.mechanism("OAUTHBEARER", "a=b,c@example.com", "tok")
    assert mech.initial_response() == b"n,a=a=3Db=2Cc@example.com,\x01auth=Bearer tok\x01\x01"
    assert sasl.OAuthBearer("", "tok").initial_response() == b"n,,\x01auth=Bearer tok\x01\x01"


def test_an_oauth_error_that_is_not_json_is_kept_as_text():
    mech = sasl.mechanism("OAUTHBEARER", "u", "tok")
    mech.initial_response()
    assert mech.respond(b"token expired") == b"\x01"
    assert mech.error == "token expired"


@pytest.mark.parametrize("name", AUTH_MECHANISMS)
def test_secrets_cover_everything_that_carries_the_secret_but_not_the_user_alone(name):
    mech = sasl.mechanism(name, "alice@example.com", "Sup3r-Secret")
    line = sasl.auth_line(mech)
    sent = [line.split()[2]] if len(line.split()) > 2 else []
    for challenge in (b"Username:", b"Password:") if name == "LOGIN" else [b"<1.2@host>"] if name == "CRAM-MD5" else []:
        sent.append(b64(mech.respond(challenge)))
    secrets = mech.secrets()
    assert "Sup3r-Secret" in secrets
    for text in sent:
        assert text in secrets or text == b64(b"alice@example.com")
    assert b64(b"alice@example.com") not in secrets
    assert secrets == sorted(secrets, key=len, reverse=True)
    assert "Sup3r-Secret" not in repr(mech) and MASK in repr(mech)


def test_unknown_mechanism_names_the_known_ones():
    with pytest.raises(sasl.UnknownMechanism, match="must be one of PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER"):
        sasl.mechanism("SCRAM-SHA-256", "u", "p")
    assert issubclass(sasl.UnknownMechanism, ValueError)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sasl.mechanism("PLAIN", "u", ""), "needs a password or token"),
    (lambda: sasl.mechanism("PLAIN", "u\0x", "p"), "contains a control character"),
    (lambda: sasl.mechanism("XOAUTH2", "u", "tok\n"), "a trailing newline"),
    (lambda: sasl.mechanism("PLAIN", "u", "p", host="mx"), "PLAIN takes no options"),
    (lambda: sasl.mechanism("OAUTHBEARER", "u", "t", port=0), "TCP port number"),
    (lambda: sasl.mechanism("OAUTHBEARER", "u", "t", port=True), "TCP port number"),
    (lambda: sasl.mechanism("OAUTHBEARER", "u", "t", host=""), "host name"),
    (lambda: sasl.decode_challenge("not base64!"), "not base64"),
])
def test_sasl_argument_errors(call, message):
    with pytest.raises(sasl.SASLError, match=message):
        call()


def test_an_empty_initial_response_is_sent_as_equals_sign():
    class Empty(sasl.Plain):
        def _credentials(self) -> bytes:
            return b""

    assert sasl.auth_line(Empty("u", "p")) == "AUTH PLAIN ="


# -- PROXY -------------------------------------------------------------------------------------------------


def test_proxy_v1_spec_example():
    assert proxy.proxy_header(1, "192.168.0.1", 56324, "192.168.0.11", 443) == (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")


def test_proxy_v1_worst_case_tcp6_is_the_spec_maximum_of_104_bytes():
    ffff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    header = proxy.proxy_header(1, ffff, 65535, ffff, 65535)
    assert header == f"PROXY TCP6 {ffff} {ffff} 65535 65535\r\n".encode()
    assert len(header) == 104


def test_proxy_v2_ipv4_bytes():
    header = proxy.proxy_header(2, OUTSIDE, 40000, "127.0.0.1", 25)
    assert header == (b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"  # signature
                      b"\x21"  # version 2, PROXY
                      b"\x11"  # TCP over IPv4
                      b"\x00\x0c"  # 12 address bytes
                      b"\xcb\x00\x71\x09" b"\x7f\x00\x00\x01" b"\x9c\x40" b"\x00\x19")


def test_proxy_v2_ipv6_bytes():
    header = proxy.proxy_header(2, "2001:db8::9", 40000, "[::1]", 25)
    assert header[12:16] == b"\x21\x21\x00\x24"  # v2 PROXY, TCP over IPv6, 36 address bytes
    assert header[16:32] == socket.inet_pton(socket.AF_INET6, "2001:db8::9")
    assert header[32:48] == socket.inet_pton(socket.AF_INET6, "::1")
    assert struct.unpack("!HH", header[48:]) == (40000, 25)


@pytest.mark.parametrize(("args", "message"), [
    ((3, OUTSIDE, 1, "127.0.0.1", 25), "version must be 1 .text. or 2 .binary."),
    ((True, OUTSIDE, 1, "127.0.0.1", 25), "version must be 1"),
    ((1, "mx.example.com", 1, "127.0.0.1", 25), "source address 'mx.example.com' is not an IP address"),
    ((1, OUTSIDE, 1, "::1", 25), "source 203.0.113.9 is IPv4 but destination ::1 is IPv6: a PROXY header carries one"),
    ((2, OUTSIDE, 70000, "127.0.0.1", 25), "source port must be a TCP port number from 0 to 65535, not 70000"),
    ((2, OUTSIDE, 1, "127.0.0.1", "25"), "destination port must be"),
    ((2, "fe80::1%eth0", 1, "::1", 25), "has a zone"),
])
def test_proxy_header_errors(args, message):
    with pytest.raises(proxy.ProxyHeaderError, match=message):
        proxy.proxy_header(*args)
    assert issubclass(proxy.ProxyHeaderError, ValueError)


# -- ESMTP parameters --------------------------------------------------------------------------------------


def test_mail_parameters_in_the_order_given():
    assert params.esmtp_parameters("MAIL", size=20480, body="8bitmime", smtputf8=True, ret="hdrs",
                                   envid="QQ314159", requiretls=True) == [
        "SIZE=20480", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=QQ314159", "REQUIRETLS"]
    assert params.esmtp_parameters("mail", smtputf8=False, requiretls=False, size=None) == []


def test_rcpt_parameters_rfc3461_examples():
    assert params.esmtp_parameters("RCPT", notify={"FAILURE", "SUCCESS"}, orcpt="Bob@Example.COM") == [
        "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@Example.COM"]
    assert params.esmtp_parameters("RCPT", notify="never") == ["NOTIFY=NEVER"]
    assert params.esmtp_parameters("RCPT", notify="delay, failure") == ["NOTIFY=FAILURE,DELAY"]
    assert params.esmtp_parameters("RCPT", orcpt="rfc822;<a+b@example.com>") == ["ORCPT=rfc822;a+2Bb@example.com"]


def test_xtext_rfc3461():
    assert params.xtext("a+b=c d\x01") == "a+2Bb+3Dc+20d+01"
    assert params.xtext("jörg") == "j+C3+B6rg"
    assert params.esmtp_parameters("MAIL", envid="id+1=2") == ["ENVID=id+2B1+3D2"]


def test_a_non_ascii_orcpt_uses_rfc6533_utf8_addr_xtext():
    assert params.esmtp_parameters("RCPT", orcpt="jörg+x@example.com") == ["ORCPT=utf-8;j\\x{F6}rg\\x{2B}x@example.com"]


@pytest.mark.parametrize(("verb", "kwargs", "message"), [
    ("MAIL", {"size": -1}, "SIZE must be the message size in bytes"),
    ("MAIL", {"size": True}, "SIZE must be"),
    ("MAIL", {"size": "20k"}, "SIZE must be"),
    ("MAIL", {"body": "8BIT"}, "BODY must be one of 7BIT, 8BITMIME, BINARYMIME, not '8BIT'"),
    ("MAIL", {"smtputf8": "yes"}, "smtputf8= is a flag: write smtputf8=True"),
    ("MAIL", {"ret": "PARTIAL"}, "RET must be one of FULL, HDRS"),
    ("MAIL", {"envid": ""}, "ENVID must be a non-empty string"),
    ("MAIL", {"envid": "x" * 101}, "at most 100 printable ASCII"),
    ("MAIL", {"envid": "jörg"}, "printable ASCII"),
    ("MAIL", {"notify": "SUCCESS"}, "NOTIFY is a RCPT parameter, not a MAIL one: pass notify= to rcpt"),
    ("RCPT", {"size": 1}, "SIZE is a MAIL parameter, not a RCPT one: pass size= to mail"),
    ("MAIL", {"auth": "<>"}, "unknown MAIL parameter auth=; the MAIL parameters are size, body"),
    ("DATA", {}, "go on MAIL or RCPT, not 'DATA'"),
    ("RCPT", {"notify": {"NEVER", "SUCCESS"}}, "NOTIFY must be NEVER alone"),
    ("RCPT", {"notify": set()}, "NOTIFY must be"),
    ("RCPT", {"notify": "SOMETIMES"}, "NOTIFY must be"),
    ("RCPT", {"notify": 5}, "NOTIFY must be"),
    ("RCPT", {"orcpt": ""}, "ORCPT must be the original recipient address"),
    ("RCPT", {"orcpt": "Bob <bob@example.com>"}, "contains a space or control character"),
    ("RCPT", {"orcpt": "x400;bob"}, "address type must be rfc822 or utf-8"),
])
def test_parameter_errors(verb, kwargs, message):
    with pytest.raises(params.ParameterError, match=message):
        params.esmtp_parameters(verb, **kwargs)
    assert issubclass(params.ParameterError, ValueError)


@pytest.mark.parametrize(("parameter", "needs"), [
    ("SIZE=10", ("SIZE",)), ("BODY=7BIT", ("8BITMIME",)), ("BODY=8BITMIME", ("8BITMIME",)),
    ("BODY=BINARYMIME", ("BINARYMIME", "CHUNKING")), ("SMTPUTF8", ("SMTPUTF8",)), ("RET=FULL", ("DSN",)),
    ("ENVID=x", ("DSN",)), ("NOTIFY=NEVER", ("DSN",)), ("orcpt=rfc822;a@b", ("DSN",)), ("REQUIRETLS", ("REQUIRETLS",)),
    ("X-CUSTOM=1", ()),
])
def test_required_extensions(parameter, needs):
    assert params.required_extensions(parameter) == needs


def test_unadvertised_names_parameter_extension_and_server():
    capabilities = {"PIPELINING": "", "SIZE": "1048576", "8BITMIME": ""}
    assert params.unadvertised("RCPT", ["NOTIFY=SUCCESS"], capabilities, "mx.example.test") == (
        "RCPT parameter NOTIFY needs the DSN extension, which mx.example.test did not advertise in its EHLO reply")
    assert params.unadvertised("mail", ["BODY=BINARYMIME", "SIZE=5"], capabilities, "mx") == (
        "MAIL parameter BODY=BINARYMIME needs the BINARYMIME extension, which mx did not advertise in its EHLO reply; "
        "MAIL parameter BODY=BINARYMIME needs the CHUNKING extension, which mx did not advertise in its EHLO reply")
    assert params.unadvertised("MAIL", ["SIZE=5", "BODY=8BITMIME", "X-CUSTOM"], capabilities, "mx") is None
    assert "send EHLO before MAIL" in (params.unadvertised("MAIL", ["SMTPUTF8"], {}, "mx") or "")


# -- XCLIENT -----------------------------------------------------------------------------------------------


def test_xclient_readme_example():
    assert params.xclient_command(name="spike.porcupine.org", addr="168.100.189.2") == (
        "XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2")


def test_xclient_values_are_normalised_and_xtext_encoded():
    assert params.xclient_command(addr="2001:DB8:0::9", port="40000", proto="esmtp", helo="probe host",
                                  login="a+b", destaddr="IPv6:::1", destport=25, name="[tempunavail]") == (
        "XCLIENT ADDR=IPV6:2001:db8::9 PORT=40000 PROTO=ESMTP HELO=probe+20host LOGIN=a+2Bb DESTADDR=IPV6:::1 "
        "DESTPORT=25 NAME=[TEMPUNAVAIL]")
    assert params.xclient_command(addr="[unavailable]", port="[UNAVAILABLE]") == (
        "XCLIENT ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE]")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "needs at least one attribute, e.g. addr='203.0.113.9'"),
    ({"reverse": "x"}, "unknown XCLIENT attribute reverse=; the attributes are name, addr"),
    ({"addr": "mx.example.com"}, "ADDR must be an IP address"),
    ({"addr": "[TEMPUNAVAIL]"}, "ADDR must be an IP address .* or \\[UNAVAILABLE\\]"),
    ({"port": 65536}, "PORT must be a TCP port number"),
    ({"destport": "http"}, "DESTPORT must be a TCP port number"),
    ({"proto": "LMTP"}, "PROTO must be one of SMTP, ESMTP"),
    ({"name": "x" * 256}, "NAME may be at most 255 characters"),
    ({"helo": ""}, "HELO must be a non-empty string"),
    ({"login": "a" * 200, "helo": "h" * 200, "name": "n" * 200}, "over SMTP's 512: send the attributes in several"),
])
def test_xclient_errors(kwargs, message):
    with pytest.raises(params.ParameterError, match=message):
        params.xclient_command(**kwargs)


def test_xclient_unadvertised():
    assert "smtpd_authorized_xclient_hosts" in (params.xclient_unadvertised(["ADDR"], {"SIZE": "1"}, "mx") or "")
    offered = {"XCLIENT": "NAME ADDR PROTO HELO"}
    assert params.xclient_unadvertised(["addr", "name"], offered, "mx") is None
    assert params.xclient_unadvertised(["ADDR", "DESTADDR"], offered, "mx") == (
        "mx offers XCLIENT with ADDR, HELO, NAME, PROTO, not DESTADDR")


# -- BDAT --------------------------------------------------------------------------------------------------


# BDAT chunks are cut by the message streamer: tests/test_message.py


# -- against Postfix ---------------------------------------------------------------------------------------


class Wire:
    """A bare SMTP client: the tests here must not depend on the session library, which is being rewritten."""

    def __init__(self, port: int, header: bytes = b"", greeting: bool = True) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        if header:
            self.sock.sendall(header)
        self.greeting = self.reply() if greeting else []

    def reply(self) -> list[str]:
        lines = []
        while True:
            line = self.file.readline().decode("utf-8").rstrip("\r\n")
            lines.append(line)
            if line[3:4] != "-":
                return lines

    def send(self, line: str, data: bytes = b"") -> list[str]:
        self.sock.sendall(line.encode("utf-8") + b"\r\n" + data)
        return self.reply()

    def ehlo(self) -> dict[str, str]:
        lines = self.send("EHLO probe.smtpcheck.invalid")
        assert lines[0].startswith("250")
        return {line[4:].partition(" ")[0].upper(): line[4:].partition(" ")[2] for line in lines[1:]}

    def close(self) -> None:
        try:
            self.send("QUIT")
        finally:
            self.file.close()
            self.sock.close()


def relay_reply(wire: Wire) -> str:
    """MAIL and RCPT to an outside domain, then RSET: a message is never sent."""
    assert wire.send("MAIL FROM:<probe@example.net>")[0].startswith("250")
    reply = wire.send(f"RCPT TO:<{FOREIGN_RCPT}>")[-1]
    wire.send("RSET")
    return reply


@pytest.fixture
def wires():
    opened: list[Wire] = []

    def connect(port: int, **kwargs) -> Wire:
        opened.append(Wire(port, **kwargs))
        return opened[-1]

    yield connect
    for wire in opened:
        try:
            wire.close()
        except OSError:
            pass


def test_trusting_listener_relays_for_loopback_without_xclient(postfix, wires):
    wire = wires(postfix.ports["xclient"])
    wire.ehlo()
    assert relay_reply(wire).startswith("250 2.1.5")


def test_xclient_addr_makes_the_relay_check_see_an_outside_client(postfix, wires):
    wire = wires(postfix.ports["xclient"])
    capabilities = wire.ehlo()
    assert params.xclient_unadvertised(["ADDR"], capabilities, "the xclient listener") is None
    assert wire.send(params.xclient_command(addr=OUTSIDE)) == ["220 mx.sandbox.test ESMTP Postfix"]
    assert "XCLIENT" not in wire.ehlo(), "once ADDR is outside, the client is no longer authorized for XCLIENT"
    assert relay_reply(wire) == f"554 5.7.1 <{FOREIGN_RCPT}>: Relay access denied"
    assert postfix.logged(f"reject: RCPT from unknown[{OUTSIDE}]"), postfix.log_text()


def test_xclient_is_refused_where_the_client_is_not_authorized(postfix, wires):
    wire = wires(postfix.ports["smtp"])
    capabilities = wire.ehlo()
    assert "smtpd_authorized_xclient_hosts" in (params.xclient_unadvertised(["ADDR"], capabilities, "smtp") or "")
    assert wire.send(params.xclient_command(addr=OUTSIDE)) == ["550 5.7.0 Error: insufficient authorization"]


@pytest.mark.parametrize(("version", "source", "dest"), [
    (1, OUTSIDE, "127.0.0.1"), (2, OUTSIDE, "127.0.0.1"), (1, "2001:db8::9", "::1"), (2, "2001:db8::9", "::1"),
])
def test_proxy_header_makes_the_relay_check_see_an_outside_client(postfix, wires, version, source, dest):
    port = postfix.ports["proxy"]
    wire = wires(port, header=proxy.proxy_header(version, source, 40000, dest, port))
    assert wire.greeting == ["220 mx.sandbox.test ESMTP Postfix"]
    wire.ehlo()
    assert relay_reply(wire) == f"554 5.7.1 <{FOREIGN_RCPT}>: Relay access denied"
    assert postfix.logged(f"reject: RCPT from unknown[{source}]"), postfix.log_text()


@pytest.mark.parametrize("version", [1, 2])
def test_proxy_header_with_the_real_loopback_address_still_relays(postfix, wires, version):
    port = postfix.ports["proxy"]
    wire = wires(port, header=proxy.proxy_header(version, "127.0.0.1", 40000, "127.0.0.1", port))
    wire.ehlo()
    assert relay_reply(wire).startswith("250 2.1.5")


def test_proxy_listener_refuses_a_connection_without_header(postfix):
    wire = Wire(postfix.ports["proxy"], greeting=False)
    try:
        assert wire.send("EHLO probe.smtpcheck.invalid") == ["421 4.3.0 mx.sandbox.test Server local error"]
    finally:
        wire.sock.close()


def test_bdat_in_three_chunks_is_accepted_with_each_chunk_reply(postfix, wires):
    line = b"y" * 78 + b"\r\n"
    head = b"From: <probe@example.net>\r\nTo: <postmaster@sandbox.test>\r\nSubject: BDAT 20 kB\r\n\r\n"
    message = head + line * ((20480 - len(head)) // len(line))
    message += b"z" * (20480 - len(message) - 2) + b"\r\n"
    assert len(message) == 20480
    wire = wires(postfix.ports["smtp"])
    capabilities = wire.ehlo()
    words = params.esmtp_parameters("MAIL", size=len(message), body="8BITMIME")
    assert params.unadvertised("MAIL", words, capabilities, "smtp") is None and "CHUNKING" in capabilities
    assert wire.send("MAIL FROM:<probe@example.net> " + " ".join(words))[0].startswith("250")
    assert wire.send("RCPT TO:<postmaster@sandbox.test>")[0].startswith("250")
    replies = []
    for chunk, last in bdat_chunks(message, 7000):
        replies += wire.send(f"BDAT {len(chunk)}{' LAST' if last else ''}", chunk)
    assert replies[:2] == ["250 2.0.0 Ok: 7000 bytes", "250 2.0.0 Ok: 7000 bytes"]
    assert replies[2].startswith("250 2.0.0 Ok: 20480 bytes queued as ")


def test_bdat_without_recipients_is_refused_and_its_bytes_are_skipped(postfix, wires):
    wire = wires(postfix.ports["smtp"])
    wire.ehlo()
    assert wire.send("BDAT 10 LAST", b"NOOP\r\nNOOP") == ["503 5.5.1 Error: need RCPT command"]
    assert wire.send("NOOP") == ["250 2.0.0 Ok"], "the chunk's bytes were read as data, not as commands"


def test_smtputf8_transaction_accepts_a_utf8_mailbox(postfix, wires):
    wire = wires(postfix.ports["smtp"])
    assert "SMTPUTF8" in wire.ehlo()
    words = params.esmtp_parameters("MAIL", smtputf8=True)
    assert wire.send("MAIL FROM:<prøbe@example.net> " + " ".join(words)) == ["250 2.1.0 Ok"]
    assert wire.send(f"RCPT TO:<{UTF8_USER}>") == ["250 2.1.5 Ok"]


def test_utf8_address_without_smtputf8_is_refused(postfix, wires):
    wire = wires(postfix.ports["smtp"])
    wire.ehlo()
    reply = wire.send(f"MAIL FROM:<{UTF8_USER}>")
    assert reply == ["553 5.6.7 Must declare SMTPUTF8 to send unicode address"]


def test_dsn_parameters_are_accepted(postfix, wires):
    wire = wires(postfix.ports["smtp"])
    capabilities = wire.ehlo()
    mail = params.esmtp_parameters("MAIL", ret="HDRS", envid="smtpcheck+1")
    rcpt = params.esmtp_parameters("RCPT", notify={"SUCCESS", "FAILURE"}, orcpt="postmaster@sandbox.test")
    assert params.unadvertised("MAIL", mail, capabilities, "smtp") is None
    assert params.unadvertised("RCPT", rcpt, capabilities, "smtp") is None
    assert wire.send("MAIL FROM:<probe@example.net> " + " ".join(mail)) == ["250 2.1.0 Ok"]
    assert wire.send("RCPT TO:<postmaster@sandbox.test> " + " ".join(rcpt)) == ["250 2.1.5 Ok"]


def test_malformed_dsn_parameters_are_refused_by_postfix_as_this_module_refuses_them(postfix, wires):
    wire = wires(postfix.ports["smtp"])
    wire.ehlo()
    assert wire.send("MAIL FROM:<probe@example.net> RET=PARTIAL") == ["501 5.5.4 Bad RET parameter syntax"]
    with pytest.raises(params.ParameterError):
        params.esmtp_parameters("MAIL", ret="PARTIAL")
    wire.send("MAIL FROM:<probe@example.net>")
    assert wire.send("RCPT TO:<postmaster@sandbox.test> NOTIFY=BOGUS") == [
        "501 5.5.4 Error: Bad NOTIFY parameter syntax"]
