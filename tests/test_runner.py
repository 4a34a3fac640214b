"""What a `.smtp` file's run does on the wire: message bodies, `! message`, `! sleep`, against real servers.

The sandbox counts the bytes of each message it accepts; the Postfix harness logs
each session; a scripted MX records every line. Both sides of each verdict.
"""

import re
import time

from faultserver import FaultServer

from pytest_smtpcheck.sandbox import Sandbox

TRANSACTION = """\
< 220
> EHLO probe.example.net
< 250
> MAIL FROM:<probe@example.net>
< 250
> RCPT TO:<postmaster@sandbox.test>
< 250
> DATA
< 354
{body}
< {reply}
> QUIT
< 221
"""


def run_against(pytester, target_args, *args):
    return pytester.runpytest_inprocess(*target_args, "-p", "no:cacheprovider", "-rfs", *args)


def sandbox_args(sandbox):
    return [f"--smtp-target={sandbox.host}:{sandbox.ports['smtp']}", f"--smtp-ca={sandbox.ca_file}"]


def test_a_generated_message_of_a_given_size_is_accepted_and_one_over_the_limit_refused(pytester):
    pytester.makefile(".smtp", fits=TRANSACTION.format(body="! message 200kB", reply="250 2.0.0"),
                      over=TRANSACTION.format(body="! message 2MB", reply="250 2.0.0"))
    with Sandbox() as sandbox:
        result = run_against(pytester, sandbox_args(sandbox))
        sizes = [message.size for message in sandbox.messages]
    result.assert_outcomes(passed=12, failed=1, skipped=1)
    assert "over.smtp:11: expected 250 2.0.0, got code 552\n" in result.stdout.str()
    assert len(sizes) == 1 and 200_000 <= sizes[0] <= 200_002, "the sandbox counts the body it read"


def test_a_message_from_a_file_and_a_written_body_arrive_dot_stuffed(pytester):
    bodies = []  # one per session: the two files' sessions may run at once, in any order

    def script(peer):
        peer.reply("220 mx.test ESMTP")
        while (line := peer.readline()) is not None:
            verb = line.split(" ")[0].upper()
            if verb == "DATA":
                peer.reply("354 go ahead")
                body = []
                while (text := peer.readline()) not in (".", None):
                    body.append(text)
                bodies.append(body)
                peer.reply("250 2.0.0 queued")
            elif verb == "QUIT":
                peer.reply("221 bye")
                return
            else:
                peer.reply("250 ok")

    (pytester.path / "body.eml").write_bytes(b"Subject: from a file\n\n.leading dot\nlast line")
    pytester.makefile(".smtp", a_file=TRANSACTION.format(body="! message file=body.eml", reply="250"),
                      b_written=TRANSACTION.format(body="> Subject: written\n>\n> .also a dot\n> .", reply="250"))
    with FaultServer(script) as server:
        result = run_against(pytester, [f"--smtp-target={server.target}"])
    result.assert_outcomes(passed=14)
    assert sorted(bodies) == [["Subject: from a file", "", "..leading dot", "last line"],
                              ["Subject: written", "", "..also a dot"]]


def test_sleep_pauses_between_lines_and_a_server_that_hangs_up_meanwhile_fails_the_next_exchange(pytester):
    gaps = []

    def script(peer):
        peer.reply("220 mx.test ESMTP")
        last = time.monotonic()
        while (line := peer.readline(timeout=1.5)) is not None:
            gaps.append(time.monotonic() - last)
            peer.reply("221 bye" if line == "QUIT" else "250 ok")
            last = time.monotonic()
        # idle for 1.5 s: hang up, as an idle timeout does (wide: a busy machine may pause between items)

    pytester.makefile(".smtp", short="< 220\n> NOOP\n< 250\n! sleep 0.3\n> NOOP\n< 250\n",
                      long="< 220\n> NOOP\n< 250\n! sleep 2.5\n> NOOP\n< 250\n")
    with FaultServer(script) as server:
        result = run_against(pytester, [f"--smtp-target={server.target}", "--smtp-concurrency=1"], "short.smtp")
        result.assert_outcomes(passed=3)
        assert gaps[1] >= 0.3, gaps
        result = run_against(pytester, [f"--smtp-target={server.target}"], "long.smtp")
    result.assert_outcomes(passed=2, failed=1)
    assert re.search(r"long.smtp:4: connection (closed by the server|reset) while reading the reply to NOOP",
                     result.stdout.str())


def test_a_message_is_accepted_by_postfix_and_its_session_logged_once(pytester, postfix):
    pytester.makefile(".smtp", postfix_message=TRANSACTION.format(body="! message 100kB", reply="250 2.0.0"))
    before = len(postfix.disconnect_summaries())
    result = run_against(pytester, postfix.target_args())
    result.assert_outcomes(passed=7)
    # the harness's port probes (connect, close: `commands=0/0`) may be logged late, on a busy machine
    sessions = [session for session in postfix.disconnect_summaries()[before:] if session != "commands=0/0"]
    assert len(sessions) == 1 and "data=1" in sessions[0] and "quit=1" in sessions[0], sessions
