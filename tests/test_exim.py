"""The plugin against a real Exim 4.96: the lab policy holds, and every verdict is the right one on a server that
sends no enhanced status codes (it does not advertise ENHANCEDSTATUSCODES, RFC 2034) and words its replies its own way.

The examples run against Exim in test_examples.py; the recorder in test_record.py. Here: the session library and
`.smtp` files on the wire, each accepted case next to the refused one.
"""

import re

import pytest

from pytest_smtpcheck.errors import ProtocolViolation
from pytest_smtpcheck.smtp import SMTPSession
from pytest_smtpcheck.smtp.tls import TLSSettings

MESSAGE = b"From: <probe@example.net>\r\nTo: <postmaster@sandbox.test>\r\nSubject: exim\r\n\r\nhello\r\n"


def session(exim, listener="smtp", **options):
    return SMTPSession(exim.host, exim.ports[listener], timeout=10, tls=TLSSettings(ca_file=exim.ca_file), **options)


def test_exim_advertises_the_lab_extensions_but_not_enhancedstatuscodes(exim):
    with session(exim) as smtp:
        assert smtp.greeting.text.startswith("mx.sandbox.test ESMTP Exim 4.96")
        assert smtp.ehlo("probe.example.net").code == 250
        assert smtp.capabilities["SIZE"] == "1048576"
        assert {"PIPELINING", "CHUNKING", "DSN", "8BITMIME", "SMTPUTF8", "STARTTLS"} <= set(smtp.capabilities)
        assert "ENHANCEDSTATUSCODES" not in smtp.capabilities and "AUTH" not in smtp.capabilities
        smtp.mail("probe@example.net")
        relay = smtp.rcpt("victim@elsewhere.example")
        assert (relay.code, relay.text, relay.enhanced, relay.enhanced_advertised) == (
            550, "relay not permitted", None, False)
        relay.expect("550|554 (5.7.1) /relay/i")
        with pytest.raises(AssertionError, match="no enhanced code, expected 5.7.1"):
            relay.expect("550|554 5.7.1")  # the unconditional form asks for what Exim does not send
        unknown = smtp.rcpt("no-such-user-smtpcheck@sandbox.test")
        assert (unknown.code, unknown.text) == (550, "Unrouteable address")
        assert smtp.rcpt("postmaster@sandbox.test").code == 250
        assert smtp.rcpt("greylisted@sandbox.test").code == 450


def test_keyword_parameters_are_sent_as_exim_expects_them(exim):
    """SIZE and BODY (RFC 1870, 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461) on MAIL and RCPT: all accepted."""
    with session(exim) as smtp:
        smtp.ehlo("probe.example.net")
        assert smtp.mail("prøbe@exämple.net", size=2048, body="8BITMIME", smtputf8=True, ret="HDRS",
                         envid="smtpcheck+1").code == 250
        assert smtp.rcpt("jörg@sandbox.test", notify={"SUCCESS", "FAILURE"}, orcpt="postmaster@sandbox.test").code == 250
        assert smtp.rset().code == 250
        over = smtp.mail("probe@example.net", size=1048577)
        assert (over.code, over.text) == (552, "Message size exceeds maximum permitted")
        over.expect("552 (5.3.4)")


def test_a_message_by_data_and_one_by_bdat_in_chunks_are_accepted_and_logged(exim):
    with session(exim) as smtp:
        smtp.ehlo("probe.example.net")
        smtp.mail("probe@example.net")
        smtp.rcpt("postmaster@sandbox.test")
        assert smtp.data(MESSAGE).code == 250
        smtp.mail("probe@example.net")
        smtp.rcpt("alice@sandbox.test")
        replies = smtp.bdat(MESSAGE * 100, chunk_size=3000)
        assert [reply.code for reply in replies] == [250, 250, 250]
        assert replies[0].text == "3000 byte chunk received"
    assert exim.logged("=> :blackhole: <postmaster@sandbox.test>"), exim.log_text()
    assert exim.logged("=> :blackhole: <alice@sandbox.test>"), exim.log_text()


def test_an_oversize_bdat_chunk_answered_mid_chunk_leaves_no_command_a_passing_reply(exim):
    """RFC 3030 2: the server reads the whole chunk before it replies. Exim 4.96 answers 552 once the size limit is
    passed, mid-chunk, and reads the rest of the chunk as commands. The plugin must not let a later check pass on
    that: the next command fails, either as a protocol violation (the stray reply was there before it was sent) or
    with Exim's reply to the stray bytes, which the transcript shows (it came after: which one is a race)."""
    with session(exim) as smtp:
        smtp.ehlo("probe.example.net")
        smtp.mail("probe@example.net")
        smtp.rcpt("postmaster@sandbox.test")
        body = MESSAGE + b"x" * 76 + b"\r\n"
        replies = smtp.bdat(body * 8000, chunk_size=400_000)
        assert [reply.code for reply in replies] == [250, 250, 552]
        assert replies[-1].text == "Message size exceeds maximum permitted"
        try:
            after = smtp.rset()
        except ProtocolViolation as violation:
            assert "that no command asked for, before RSET" in str(violation)
        else:
            assert after.code in (500, 554) and re.search(r"unrecognized command|synchronization error", after.text)
    assert exim.logged("message too big"), exim.log_text()


def test_submission_wants_starttls_then_auth_and_relays_for_the_account(exim):
    with session(exim, "submission") as smtp:
        smtp.ehlo("probe.example.net")
        assert "AUTH" not in smtp.capabilities  # RFC 4954 4: not offered before TLS here
        smtp.mail("probe@example.net").expect("530 (5.7.0)")
        assert smtp.starttls().code == 220 and smtp.tls_info.verified
        smtp.ehlo("probe.example.net")
        assert smtp.capabilities["AUTH"].split() == ["PLAIN", "LOGIN"]
        assert smtp.mail("probe@example.net").code == 530
        refused = smtp.auth("LOGIN", "submit@sandbox.test", "not-the-password")
        assert (refused.code, refused.text) == (535, "Incorrect authentication data")
        refused.expect("535 (5.7.8)")
        smtp.auth("PLAIN", "submit@sandbox.test", "sandbox-Pa55word").expect("235 (2.7.0)")
        assert smtp.mail("probe@example.net").code == 250
        assert smtp.rcpt("victim@elsewhere.example").code == 250  # to :blackhole:, nothing leaves the machine
        assert smtp.rset().code == 250


def test_implicit_tls_on_submissions(exim):
    with session(exim, "submissions", tls_mode="implicit") as smtp:
        assert smtp.tls_info.verified and smtp.greeting.code == 220
        smtp.ehlo("probe.example.net")
        assert "PLAIN" in smtp.capabilities["AUTH"]


def test_a_smtp_file_with_pipelining_passes_on_exim_and_fails_on_its_open_relay_at_the_rcpt(pytester, exim):
    pytester.makefile(".smtp", pipelined=(
        "< 220 /Exim/\n> EHLO probe.example.net\n< 250 /^PIPELINING$/m\n"
        "> MAIL FROM:<probe@example.net>\n> RCPT TO:<postmaster@sandbox.test>\n> RCPT TO:<victim@elsewhere.example>\n"
        "> RSET\n< 250\n< 250\n< 550|554 (5.7.1) /relay/i\n< 250\n> QUIT\n< 221\n"))
    passed = pytester.runpytest_inprocess("-p", "no:cacheprovider", *exim.target_args())
    passed.assert_outcomes(passed=4)
    failed = pytester.runpytest_inprocess("-p", "no:cacheprovider", *exim.target_args(open_relay=True))
    failed.assert_outcomes(passed=2, failed=1, skipped=1)
    failed.stdout.fnmatch_lines(["*pipelined.smtp:10: expected 550|554 (5.7.1) /relay/i, got code 250"])


def test_the_harness_skips_naming_what_is_missing(monkeypatch, tmp_path):
    import exim as harness

    monkeypatch.setattr(harness, "ROOT", tmp_path)
    assert harness._missing() == f"Exim is not unpacked at {tmp_path}: run `bash .ci/unpack-exim` as root (CI's .ci/run does)"
    sbin = tmp_path / "usr" / "sbin"
    sbin.mkdir(parents=True)
    (sbin / "exim4").write_bytes(b"")
    (sbin / "exim4").chmod(0o4755)
    assert harness._missing().endswith("is setuid, so the loader ignores LD_LIBRARY_PATH: run `bash .ci/unpack-exim` "
                                       "as root (CI's .ci/run does)")
