"""Options: every bad value stops the run at start-up with one clear line; good values reach the target."""

import pytest

from pytest_smtpcheck.options import parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mx.example.com", ("mx.example.com", None)),
        ("mx.example.com:2525", ("mx.example.com", 2525)),
        ("127.0.0.1:25", ("127.0.0.1", 25)),
        ("[::1]:2525", ("::1", 2525)),
        ("[2001:db8::25]", ("2001:db8::25", None)),
        ("2001:db8::25", ("2001:db8::25", None)),
    ],
)
def test_target_forms(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--smtp-target=mx.example.com:99999"], "--smtp-target: port must be a number from 1 to 65535, not '99999'"),
        (["--smtp-target=mx.example.com:smtp"], "port must be a number from 1 to 65535, not 'smtp'"),
        (["--smtp-target=mx example.com"], "is not HOST[:PORT]"),
        (["--smtp-tls=ssl"], "--smtp-tls must be none, starttls or implicit, not 'ssl'"),
        (["--smtp-timeout=0"], "--smtp-timeout must be a positive number of seconds, not '0'"),
        (["--smtp-timeout=soon"], "--smtp-timeout must be a positive number of seconds, not 'soon'"),
        (["--smtp-deadline=-1"], "--smtp-deadline must be a positive number of seconds"),
        (["--smtp-connect-timeout=x"], "--smtp-connect-timeout must be a positive number of seconds, not 'x'"),
        (["--smtp-ca=/nonexistent/ca.pem"], "--smtp-ca: no such file: /nonexistent/ca.pem"),
        (["--smtp-port=2525"], "--smtp-port/--smtp-listener need --smtp-target"),
        (["--smtp-target=h:25", "--smtp-port=26"], "--smtp-target says port 25 but --smtp-port says 26"),
        (["--smtp-target=h", "--smtp-listener=pop3=110"], "unknown listener 'pop3'"),
        (["--smtp-target=h", "--smtp-listener=submission"], "expected NAME=VALUE, got 'submission'"),
        (["--smtp-var=1BAD=x"], "'1BAD' is not a variable name"),
        (["--smtp-sandbox=open"], "--smtp-sandbox must be secure or misconfigured, not 'open'"),
        (["--smtp-target=h", "--smtp-sandbox=misconfigured"], "--smtp-sandbox applies only without --smtp-target"),
    ],
)
def test_bad_values_are_one_line_usage_errors(pytester, args, message):
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.errlines
    assert message in errors[0]
    assert "Traceback" not in result.stderr.str()


def test_ini_twins_reach_the_target(pytester):
    pytester.makeini(
        "[pytest]\n"
        "smtp_target = [::1]:2525\n"
        "smtp_listeners =\n    submission=2587\n"
        "smtp_timeout = 7.5\n"
        "smtp_connect_timeout = 2\n"
        "smtp_helo = probe.example.org\n"
        "smtp_vars =\n    SMTP_DOMAIN=example.org\n"
    )
    pytester.makepyfile(
        """
        def test_target(smtp_server):
            assert (smtp_server.host, smtp_server.port) == ("::1", 2525)
            assert smtp_server.port_for("submission") == 2587
            assert smtp_server.port_for("submissions") == 465
            assert smtp_server.timeout == 7.5
            assert smtp_server.session().connect_timeout == 2
            assert smtp_server.helo == "probe.example.org"
            assert smtp_server.var("SMTP_DOMAIN") == "example.org"
            assert smtp_server.label == "[::1]:2525"
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


def test_command_line_wins_over_ini(pytester):
    pytester.makeini("[pytest]\nsmtp_target = mx.example.org\nsmtp_timeout = 7\n")
    pytester.makepyfile(
        """
        def test_target(smtp_server):
            assert smtp_server.host == "127.0.0.9"
            assert smtp_server.timeout == 3
        """
    )
    pytester.runpytest_inprocess("--smtp-target=127.0.0.9", "--smtp-timeout=3").assert_outcomes(passed=1)


def test_password_comes_from_the_environment_only(pytester, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "from-env-secret")
    pytester.makepyfile(
        """
        def test_target(smtp_server):
            assert smtp_server.username == "probe@example.org"
            assert smtp_server.password == "from-env-secret"
            assert "from-env-secret" not in repr(smtp_server)
            assert "from-env-secret" not in repr(smtp_server.var("SMTP_PASSWORD"))
        """
    )
    pytester.runpytest_inprocess("--smtp-target=127.0.0.9", "--smtp-user=probe@example.org").assert_outcomes(passed=1)


def test_options_are_listed_in_their_own_help_group(pytester):
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    group = text.index("SMTP acceptance tests (pytest-smtpcheck):")
    for option in ("--smtp-target", "--smtp-port", "--smtp-tls", "--smtp-helo", "--smtp-timeout", "--smtp-ca",
                   "--smtp-no-verify", "--smtp-listener", "--smtp-var", "--smtp-sandbox"):
        assert text.index(option) > group, option


def test_smtp_marker_is_registered_for_strict_markers(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtp(timeout=3)
        def test_marked():
            assert True
        """
    )
    pytester.runpytest_inprocess("--strict-markers").assert_outcomes(passed=1)
    assert "@pytest.mark.smtp(listener=" in pytester.runpytest_subprocess("--markers").stdout.str()
