"""The fixtures and the marker, through real pytest runs against the sandbox."""

from test_settings import assert_refused_once

from pytest_smtpcheck.plugin.keys import RUN


def test_smtp_session_is_greeted_and_quits_at_teardown(pytester):
    pytester.makepyfile(
        """
        from pytest_smtpcheck.plugin.keys import RUN

        def test_greeted(smtp_session, smtp_server):
            assert smtp_session.greeting.code == 220
            assert smtp_session.port == smtp_server.port
            assert smtp_server.sandbox and smtp_server.var("SMTP_DOMAIN") == "sandbox.test"
            smtp_session.noop()

        def test_the_sandbox_saw_a_quit(request):
            import time

            sessions = request.config.stash[RUN].targets.sandbox.sessions
            assert [s.commands for s in sessions] == [["NOOP", "QUIT"]]
            deadline = time.monotonic() + 3  # the sandbox's thread ends the session just after its 221
            while not sessions[0].closed and time.monotonic() < deadline:
                time.sleep(0.01)
            assert sessions[0].closed
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_starttls_mode_hands_over_a_session_already_under_tls(pytester):
    pytester.makepyfile(
        """
        def test_tls(smtp_session):
            assert smtp_session.tls_info is not None and smtp_session.tls_info.verified
            assert smtp_session.ehlo().code == 250
            assert "STARTTLS" not in smtp_session.capabilities
        """
    )
    pytester.runpytest_inprocess("--smtp-tls=starttls", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_marker_picks_the_listener_and_the_factory_opens_more_sessions(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtp(listener="submission", helo="probe.marker.test")
        def test_marked(smtp_session, smtp_server, smtp_connect):
            assert smtp_session.port == smtp_server.port_for("submission")
            assert smtp_session.ehlo().command == "EHLO probe.marker.test"
            implicit = smtp_connect(listener="submissions")
            assert implicit.tls_info is not None
            plain = smtp_connect(listener="smtp", connect=False)
            assert not plain.connected
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    report = next(r for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "call")
    assert len(report.smtp) == 2, "every session the test connected is in its report, no empty one"


def test_marker_typos_fail_the_test_with_a_clear_message(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtp(listner="submission")
        def test_typo(smtp_session):
            pass

        def test_factory_typo(smtp_connect):
            smtp_connect(lisener="smtp")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1, failed=1)
    assert_refused_once(result, "@pytest.mark.smtp got unknown option(s) listner; known: listener")
    assert_refused_once(result, "smtp_connect() got unknown options ['lisener']")


def test_the_sandbox_starts_only_when_a_test_needs_it(pytester):
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "- smtpcheck -" not in result.stdout.str(), "no SMTP summary for a run without SMTP tests"
    config = result.reprec.getcall("pytest_unconfigure").config
    assert not config.stash[RUN].in_use, "the settings were read (and the sandbox could start) without a test needing them"


def test_expect_failures_and_misuse_point_at_the_test_line_not_the_plugin(pytester):
    pytester.makepyfile(test_lines="""
        def test_expect(smtp_session):
            smtp_session.noop().expect("550 5.7.1")

        def test_misuse(smtp_session):
            smtp_session.command("NOOP\\r\\nRSET")

        def test_parameter_not_offered(smtp_session):
            smtp_session.ehlo()
            smtp_session.mail("a@b", requiretls=True)
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    text = result.stdout.str()
    assert "test_lines.py:2: " in text and "expected: 550 5.7.1" in text and "got:      code 250" in text
    assert "test_lines.py:5: " in text and "a command line cannot contain CR or LF" in text
    assert "test_lines.py:9: " in text and "needs the REQUIRETLS extension" in text
    for plugin_frame in ("smtp/reply.py", "smtp/session.py", "smtp/connection.py"):
        assert plugin_frame not in text, f"the failure shows the plugin's frame {plugin_frame}"
