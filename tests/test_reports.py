"""What the reports carry: JUnit properties and system-out, the terminal summary, runs without pytest-html."""

import re
from xml.etree import ElementTree

RELAY_TEST = """
def test_relay_denied(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net")
    assert smtp_session.rcpt("victim@elsewhere.example").code in (550, 554)
"""


def test_junit_has_target_command_reply_properties_and_the_transcript_in_system_out(pytester, tmp_path):
    pytester.makepyfile(test_relay=RELAY_TEST)
    junit = tmp_path / "junit.xml"
    for policy, outcome in (("secure", "passed"), ("misconfigured", "failed")):
        result = pytester.runpytest_inprocess(f"--smtp-sandbox={policy}", f"--junitxml={junit}", "-p", "no:cacheprovider")
        result.assert_outcomes(**{outcome: 1})
        case = ElementTree.parse(junit).getroot().find(".//testcase")
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert re.fullmatch(rf"sandbox \({policy}\) smtp listener at 127\.0\.0\.1:\d+", properties["smtp_target"])
        assert properties["smtp_command"] == "RCPT TO:<victim@elsewhere.example>"
        expected = "554 5.7.1" if policy == "secure" else "250 2.1.5 Ok"
        assert properties["smtp_reply"].startswith(expected)
        assert "smtp_transcript" not in properties
        out = case.find("system-out").text
        assert "C: RCPT TO:<victim@elsewhere.example>" in out and f"S: {expected}" in out


def test_terminal_summary_counts_sessions_tests_and_failures_per_target(pytester):
    pytester.makepyfile(test_relay=RELAY_TEST)
    pytester.makefile(".smtp", relay="< 220\n> EHLO x\n< 250\n> MAIL FROM:<a@b>\n< 250\n> RCPT TO:<c@elsewhere.example>\n< 554\n")
    result = pytester.runpytest_inprocess("--smtp-sandbox=misconfigured", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.re_match_lines([r"sandbox \(misconfigured\) smtp listener at 127\.0\.0\.1:\d+: 2 sessions, 5 tests, 2 failed, "
                                  r"6 lines sent"])
    result.stdout.fnmatch_lines(["*relay.smtp::line6-RCPT FAILED*"])


def test_the_plugin_works_without_pytest_html(pytester):
    pytester.makepyfile(test_relay=RELAY_TEST)
    result = pytester.runpytest_subprocess("-p", "no:html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_failed_python_test_marks_its_last_reply_in_the_transcript(pytester):
    pytester.makepyfile(test_relay=RELAY_TEST)
    result = pytester.runpytest_inprocess("--smtp-sandbox=misconfigured", "-p", "no:cacheprovider")
    result.stdout.re_match_lines([r">>\s+[\d.]+s S: 250 2.1.5 Ok"])
    assert "where 250 = <Reply to 'RCPT TO:<victim@elsewhere.example>': 250 2.1.5 Ok>.code" in result.stdout.str()


def test_a_test_failing_by_its_own_misuse_marks_no_server_reply(pytester, tmp_path):
    """A SessionMisuse (a CR in an argument) is the test's mistake, not the server's: the transcript marks no
    reply with `>>` and the JUnit properties name no deciding command or reply, as they do for a server's fault."""
    pytester.makepyfile(test_misuse="""
def test_cr_in_an_argument(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net\\rRCPT TO:<x@y>")
""")
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_inprocess(f"--junitxml={junit}", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "SessionMisuse" in output and "S: 250" in output  # the transcript is there, EHLO's reply in it
    assert not re.search(r"^>>", output, re.M), output
    properties = {p.get("name") for p in ElementTree.parse(junit).getroot().iter("property")}
    assert "smtp_target" in properties and not {"smtp_command", "smtp_reply"} & properties


def test_the_summary_reads_as_english(pytester):
    pytester.makefile(".smtp", one="< 220\n> NOOP\n< 250\n")
    result = pytester.runpytest_inprocess("-k", "NOOP", "-p", "no:cacheprovider")
    result.stdout.re_match_lines([r"sandbox \(secure\) smtp listener at 127\.0\.0\.1:\d+: 1 session, 1 test, 0 failed, 2 lines sent"])


def test_the_plugin_works_without_xdist_under_strict_markers_and_warnings_as_errors(pytester):
    pytester.makefile(".smtp", one="< 220\n> NOOP\n< 250\n")
    result = pytester.runpytest_subprocess("-p", "no:xdist", "--strict-markers", "-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_junit_smtp_reply_holds_a_multi_line_reply_whole_and_only_that_reply(pytester, tmp_path):
    """RFC 5321 4.2.1: `250-` lines continue one reply; the property holds all of its lines, and no earlier reply
    read in the same pipelined group."""
    pytester.makepyfile(test_ehlo="""
def test_ehlo_refused(smtp_session):
    assert smtp_session.ehlo("probe.example.net").code == 550
""")
    pytester.makefile(".smtp", pipelined=(
        "< 220\n> EHLO probe.example.net\n< 250 /PIPELINING/\n"
        "> MAIL FROM:<probe@example.net>\n> RCPT TO:<postmaster@sandbox.test>\n> RSET\n< 250\n< 250\n< 550\n"
    ), ehlo="< 220\n> EHLO probe.example.net\n< 500\n")
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_inprocess(f"--junitxml={junit}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=3)
    replies = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        replies[case.get("classname"), case.get("name")] = properties.get("smtp_reply")
    ehlo_lines = replies["test_ehlo", "test_ehlo_refused"].split("\n")
    assert len(ehlo_lines) > 3 and ehlo_lines[0].startswith("250-") and ehlo_lines[-1].startswith("250 ")
    assert "250-PIPELINING" in ehlo_lines
    assert replies["ehlo.smtp", "line2-EHLO"] == replies["test_ehlo", "test_ehlo_refused"]  # `.smtp`: the same
    assert replies["pipelined.smtp", "line4-MAIL+RCPT+RSET"].startswith("250 2.0.0")  # the RSET's, not the MAIL's


def test_each_listener_is_its_own_target_and_says_which(pytester, tmp_path):
    """The sandbox listens twice (smtp and submission): the summary and JUnit name the listener of each."""
    pytester.makepyfile(test_relay=RELAY_TEST)
    pytester.makefile(".smtp", submission='+++\nlistener = "submission"\n+++\n< 220\n> NOOP\n< 250\n')
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_inprocess(f"--junitxml={junit}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.re_match_lines([r"sandbox \(secure\) smtp listener at 127\.0\.0\.1:\d+: 1 session, 1 test, .*"])
    result.stdout.re_match_lines([r"sandbox \(secure\) submission listener at 127\.0\.0\.1:\d+: 1 session, 2 tests"])
    targets = {p.get("value") for p in ElementTree.parse(junit).iter("property") if p.get("name") == "smtp_target"}
    assert {re.sub(r"\d+$", "PORT", target) for target in targets} == {
        "sandbox (secure) smtp listener at 127.0.0.1:PORT", "sandbox (secure) submission listener at 127.0.0.1:PORT"}
