"""`.smtp` files as pytest items: ids, order, verdicts, skips after a mismatch, collection errors.

A scripted MX on loopback records every line it receives, so the tests can
prove what was, and was not, sent.
"""

import re

import pytest
from faultserver import FaultServer, answer_as_an_mx

RELAY = """\
# relay check
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


def mx(rcpt_reply: str = "554 5.7.1 <victim@elsewhere.example>: Relay access denied", **options):
    """A scripted MX: greets, answers RCPT with *rcpt_reply*, everything else with 250, QUIT with 221."""

    def script(peer):
        answer_as_an_mx(peer, lambda line: rcpt_reply)

    return FaultServer(script, **options)


def run(pytester, server, *args):
    return pytester.runpytest_inprocess(f"--smtp-target={server.target}", "--smtp-timeout=3", "-p", "no:cacheprovider",
                                        *args)


def test_each_exchange_is_an_item_with_a_stable_id_carrying_line_and_verb(pytester):
    pytester.makefile(".smtp", relay_denied=RELAY)
    with mx() as server:
        result = run(pytester, server, "-v")
    result.assert_outcomes(passed=5)
    result.stdout.re_match_lines([
        r"relay_denied.smtp::line5-greeting PASSED",
        r"relay_denied.smtp::line6-EHLO PASSED",
        r"relay_denied.smtp::line8-MAIL PASSED",
        r"relay_denied.smtp::line10-RCPT PASSED",
        r"relay_denied.smtp::line12-QUIT PASSED",
    ])
    assert len(server.peers) == 1, "all items of a file share one session"
    assert server.peers[0].received == ["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                        "RCPT TO:<victim@elsewhere.example>", "QUIT"]


def test_mismatch_fails_at_the_expect_line_and_nothing_later_is_sent(pytester):
    pytester.makefile(".smtp", relay_denied=RELAY + "> DATA\n< 354\n> Subject: x\n>\n> body\n> .\n< 250\n")
    with mx(rcpt_reply="250 2.1.5 Ok") as server:
        result = run(pytester, server, "-rs")
    result.assert_outcomes(passed=3, failed=1, skipped=3)
    text = result.stdout.str()
    assert "relay_denied.smtp:11: expected 550|554 5.7.1 /relay/i, got code 250\n" in text
    assert "RCPT TO:<victim@elsewhere.example>" in text
    assert "    250 2.1.5 Ok" in text
    assert "SKIPPED [1] relay_denied.smtp:12: not run: line 11 did not match" in text
    assert text.count("not run: line 11 did not match") == 3
    assert server.peers[0].received == ["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                        "RCPT TO:<victim@elsewhere.example>"]
    assert re.search(r">>.*S: 250 2.1.5 Ok", text), "the mismatched reply is marked in the transcript"


@pytest.mark.parametrize(
    ("expect", "reply", "verdict"),
    [
        ("< 550", "5500 too long", "not an SMTP reply"),
        ("< 25x", "251 2.1.5 ok", None),
        ("< 25x", "252 2.1.5 ok", None),
        ("< 25x", "260 2.1.5 ok", "expected 25x, got code 260\n"),
        ("< 550 5.1.1", "550 5.1.10 unknown", "expected 550 5.1.1, got enhanced code 5.1.10\n"),
        ("< 550 5.1.1", "550 unknown", "expected 550 5.1.1, got no enhanced code\n"),
        ("< 550 'unknown user'", "550 5.1.1 Unknown User", "expected 550 'unknown user', got a text it does not match\n"),
        ("< 550 /unknown user/i", "550 5.1.1 Unknown User", None),
        ("< 2xx|5xx", "450 4.2.0 greylisted", "expected 2xx|5xx, got code 450\n"),
    ],
)
def test_reply_matching_both_sides(pytester, expect, reply, verdict):
    pytester.makefile(".smtp", check=f"< 220\n> RCPT TO:<a@b>\n{expect}\n")
    with mx(rcpt_reply=reply) as server:
        result = run(pytester, server)
    if verdict is None:
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, failed=1)
        assert verdict in result.stdout.str()


def test_pipelined_lines_are_sent_in_one_write_and_matched_in_order(pytester):
    reads = []

    def script(peer):
        peer.reply("220 mx.test ESMTP")
        reads.append(peer.sock.recv(65536))  # what one read brings, the moment anything arrives
        while sum(chunk.count(b"\r\n") for chunk in reads) < 3:
            reads.append(peer.sock.recv(65536))
        peer.reply("250 2.1.0 ok", "554 5.7.1 relay denied", "250 2.0.0 ok")
        peer.expect("QUIT")
        peer.reply("221 bye")

    pytester.makefile(".smtp", pipe="< 220\n> MAIL FROM:<a@b>\n> RCPT TO:<c@d>\n> RSET\n< 250\n< 554 5.7.1\n< 250\n")
    with FaultServer(script) as server:
        result = run(pytester, server, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*pipe.smtp::line2-MAIL+RCPT+RSET PASSED*"])
    assert reads == [b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRSET\r\n"], "the three lines arrived in one read"


def test_a_dropped_connection_fails_the_exchange_in_progress_and_skips_the_rest(pytester):
    def script(peer):
        peer.reply("220 mx.test")
        peer.expect("EHLO")
        peer.reset()

    pytester.makefile(".smtp", drop=RELAY)
    with FaultServer(script) as server:
        result = run(pytester, server, "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=3)
    assert re.search(r"drop.smtp:6: connection (reset|closed by the server) while reading the reply to EHLO",
                     result.stdout.str())


def test_keyword_last_failed_exitfirst_and_deselect_work_on_items(pytester):
    pytester.makefile(".smtp", relay_denied=RELAY)
    with mx() as server:
        result = run(pytester, server, "-k", "RCPT")
        result.assert_outcomes(passed=1, deselected=4)
        # Deselected exchanges before the selected one still run (a RCPT needs its MAIL), silently.
        assert server.peers[-1].received[:3] == ["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                                 "RCPT TO:<victim@elsewhere.example>"]
        result = run(pytester, server, "--deselect", "relay_denied.smtp::line12-QUIT")
        result.assert_outcomes(passed=4, deselected=1)
    with mx(rcpt_reply="250 ok") as server:
        result = pytester.runpytest_inprocess(f"--smtp-target={server.target}", "-x")
        result.assert_outcomes(passed=3, failed=1)
        result = pytester.runpytest_inprocess(f"--smtp-target={server.target}", "--lf", "-v")
        result.stdout.fnmatch_lines(["*relay_denied.smtp::line10-RCPT FAILED*"])


def test_front_matter_markers_apply_to_every_item(pytester):
    pytester.makeini("[pytest]\nmarkers =\n    mx_policy: inbound MX policy\n")
    pytester.makefile(".smtp", marked='+++\nmarkers = ["mx_policy"]\n+++\n< 220\n> NOOP\n< 250\n')
    pytester.makefile(".smtp", unmarked="< 220\n> NOOP\n< 250\n")
    with mx() as server:
        result = run(pytester, server, "-m", "mx_policy", "--strict-markers")
    result.assert_outcomes(passed=2, deselected=2)


def test_malformed_file_is_one_clean_collection_error_and_other_files_still_run(pytester):
    pytester.makefile(".smtp", broken="< 220\n> EHLO x\n< 2500\n")
    pytester.makefile(".smtp", good="< 220\n> NOOP\n< 250\n")
    with mx() as server:
        result = run(pytester, server, "--continue-on-collection-errors")
    result.assert_outcomes(passed=2, errors=1)
    text = result.stdout.str()
    assert re.search(r"broken.smtp:3: .*`2500` is not a reply code", text)
    assert "Traceback" not in text and "smtpfile.py" not in text


def test_an_undefined_variable_skips_only_that_file_naming_the_option_and_sends_nothing(pytester):
    pytester.makefile(".smtp", vars="< 220\n> RCPT TO:<postmaster@${NO_SUCH_DOMAIN}>\n< 250\n", ok=RELAY)
    with mx() as server:
        result = run(pytester, server, "-rs")
    result.assert_outcomes(passed=5, skipped=2)
    assert "vars.smtp:1: line 2 needs the variable NO_SUCH_DOMAIN: give --smtp-var NO_SUCH_DOMAIN=VALUE" in result.stdout.str()
    assert len(server.peers) == 1, "the skipped file opened no session"


def test_a_value_given_by_the_run_is_checked_when_the_session_runs_naming_the_line_and_sending_nothing(pytester,
                                                                                                       monkeypatch):
    # The file is read without the run's values; `${...}` are put in (and checked) when its session starts.
    pytester.makefile(".smtp", size="< 220\n> NOOP\n< 250\n> DATA\n< 354\n! message ${N}\n< 250\n",
                      sender="< 220\n> MAIL FROM:<${env:SENDER}>\n< 250\n")
    monkeypatch.setenv("SENDER", "a@b.example")
    with mx() as server:
        run(pytester, server, "--smtp-var", "N=1kB").assert_outcomes(passed=6)
        received = [line for peer in server.peers for line in peer.received]
        assert "DATA" in received and "MAIL FROM:<a@b.example>" in received
        monkeypatch.setenv("SENDER", "a@b.example>\r\nRCPT TO:<c@d.example")
        result = run(pytester, server, "--smtp-var", "N=lots", "-rfs")
        result.assert_outcomes(failed=2, skipped=4)
        text = result.stdout.str()
        assert "size.smtp:6: `lots` is not a message size" in text
        assert "sender.smtp:2: variable env:SENDER holds a line break" in text
        assert "not run: line 6 cannot be sent with these values" in text
    assert len(server.peers) == 2, "a file whose values do not bind opens no session"


def test_a_missing_account_skip_says_to_set_the_password_in_the_environment(pytester):
    pytester.makefile(".smtp", auth="< 220\n! auth PLAIN ${SMTP_USER} ${SMTP_PASSWORD}\n< 235\n")
    with mx() as server:
        result = run(pytester, server, "-rs")
    result.assert_outcomes(skipped=2)
    text = result.stdout.str()
    assert "auth.smtp:2: line 2 needs an account: give --smtp-user USER and set the password in the environment " \
           "variable SMTPCHECK_PASSWORD" in text
    assert "--smtp-password" not in text


def test_variables_come_from_front_matter_over_the_command_line_and_the_environment_only_by_env(pytester,
                                                                                                 monkeypatch):
    monkeypatch.setenv("WHO", "from-env")
    pytester.makefile(".smtp", v='+++\n[vars]\nWHO = "front"\nDOM = "front.example"\n+++\n'
                                 "< 220\n> VRFY ${WHO}@${DOM}\n< 250\n> VRFY ${env:WHO}\n< 250\n")
    with mx() as server:
        result = run(pytester, server, "-rA")
        result.assert_outcomes(passed=3)
        assert server.peers[-1].received[:2] == ["VRFY front@front.example", "VRFY from-env"]
        assert "from-env" not in result.stdout.str(), "values read from the environment are masked in reports"
        run(pytester, server, "--smtp-var", "WHO=cli", "--smtp-var", "DOM=cli.example").assert_outcomes(passed=3)
        assert server.peers[-1].received[0] == "VRFY front@front.example", "the file's own word wins"


def test_xdist_keeps_a_files_items_in_one_worker_in_order(pytester):
    for index in range(4):
        pytester.makefile(".smtp", **{f"f{index}": RELAY})
    with mx(max_connections=10) as server:
        result = pytester.runpytest_subprocess(f"--smtp-target={server.target}", "-n", "2", "-v",
                                               "-p", "no:cacheprovider")
    result.assert_outcomes(passed=20)
    assert len(server.peers) == 4
    for peer in server.peers:
        assert peer.received == ["EHLO probe.example.net", "MAIL FROM:<probe@example.net>",
                                 "RCPT TO:<victim@elsewhere.example>", "QUIT"]


def test_expect_close_passes_when_the_server_hangs_up_and_fails_when_it_does_not(pytester):
    def closes(peer):
        peer.reply("421 4.3.2 going down")

    pytester.makefile(".smtp", bye="< 421\n< closed\n")
    with FaultServer(closes) as server:
        run(pytester, server).assert_outcomes(passed=1)
    with mx() as server:
        result = pytester.runpytest_inprocess(f"--smtp-target={server.target}", "--smtp-timeout=1",
                                              "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "bye.smtp:1: expected 421, got code 220\n" in result.stdout.str()


def test_failure_report_points_at_file_and_line(pytester):
    pytester.makefile(".smtp", relay_denied=RELAY)
    with mx(rcpt_reply="250 ok") as server:
        result = run(pytester, server)
    reports = [r for r in result.reprec.getreports("pytest_runtest_logreport") if r.failed]
    assert len(reports) == 1
    path, line, description = reports[0].location
    assert (path, line) == ("relay_denied.smtp", 9)
    assert description == "relay_denied.smtp:10 line10-RCPT"
