"""Options: a bad value stops the run at start-up with one line naming it as written; good values arrive typed."""

import subprocess
import sys
import textwrap

import pytest

from pytest_smtpcheck.plugin.options import read_settings
from pytest_smtpcheck.settings import Settings, parse_target

ENVIRONMENT = ("SMTPCHECK_PASSWORD", "SMTPCHECK_TOKEN", "SMTPCHECK_PROFILE", "MX_PASSWORD")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def settings(pytester, *args: str) -> Settings:
    return read_settings(pytester.parseconfig(*args))


def assert_usage_error(result, message: str) -> None:
    """Exit status 4, exactly one `ERROR:` line, which carries *message*, and no traceback."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines + result.errlines
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.errlines
    assert message in errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.fixture
def ca_pem(pytester):
    """A real CA certificate in PEM, in the pytester directory."""
    trustme = pytest.importorskip("trustme")
    trustme.CA().cert_pem.write_to_path(str(pytester.path / "ca.pem"))
    return pytester.path / "ca.pem"


@pytest.fixture
def not_pem(pytester):
    pytester.path.joinpath("not-a-ca.pem").write_text("hello\n")
    return "not-a-ca.pem"


# Good values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mx.example.com", ("mx.example.com", None)),
        ("mx.example.com.", ("mx.example.com", None)),
        ("mx.example.com:2525", ("mx.example.com", 2525)),
        ("mail_1.internal", ("mail_1.internal", None)),
        ("127.0.0.1:25", ("127.0.0.1", 25)),
        ("[::1]:2525", ("::1", 2525)),
        ("[2001:DB8:0::25]", ("2001:db8::25", None)),
        ("2001:db8::25", ("2001:db8::25", None)),
        ("2001:db8::25:2525", ("2001:db8::25:2525", None)),  # a bare IPv6 address has no port
        (None, (None, None)),
    ],
)
def test_target_forms(text, expected):
    assert parse_target(text) == expected


def test_defaults_when_nothing_is_given(pytester):
    given = settings(pytester)
    assert given == Settings()
    assert (given.concurrency, given.as_via, given.timeout, given.helo) == (4, "xclient", 30.0,
                                                                           "probe.smtpcheck.invalid")
    assert given.password_env == "SMTPCHECK_PASSWORD"
    assert set(given.origins.values()) == {"default"}
    assert {"target", "mx", "sandbox", "port", "timeout", "concurrency", "password", "token", "profile",
            "listeners", "vars", "as", "as_via", "update"} <= set(given.origins)


def test_command_line_values_arrive_typed(pytester):
    given = settings(
        pytester,
        "--smtp-target=[2001:db8::25]:2525", "--smtp-listener=submission=2587", "--smtp-listener", "submissions=2465",
        "--smtp-tls=starttls", "--smtp-helo=probe.example.org", "--smtp-timeout=7.5", "--smtp-connect-timeout=2",
        "--smtp-deadline=60", "--smtp-tls-name=mx.example.org", "--smtp-no-verify", "--smtp-user=probe@example.org",
        "--smtp-var=SMTP_DOMAIN=example.org", "--smtp-var", "EMPTY=", "--smtp-resolver=[2001:db8::53]:5353",
        "--smtp-concurrency=1", "--smtp-as=192.0.2.7", "--smtp-as-via=proxy-v2", "--smtp-update",
    )
    assert given == Settings(
        host="2001:db8::25", ports={"smtp": 2525, "submission": 2587, "submissions": 2465}, tls="starttls",
        helo="probe.example.org", timeout=7.5, connect_timeout=2.0, deadline=60.0, tls_name="mx.example.org",
        verify=False, user="probe@example.org", vars={"SMTP_DOMAIN": "example.org", "EMPTY": ""},
        resolver=("2001:db8::53", 5353), concurrency=1, as_address="192.0.2.7", as_via="proxy-v2", update=True,
    )
    assert given.origins["target"] == given.origins["port"] == given.origins["listeners.submission"] == "command line"
    assert given.origins["vars.SMTP_DOMAIN"] == given.origins["update"] == "command line"
    assert given.origins["mx"] == given.origins["password"] == "default"


def test_mx_resolver_and_ports_for_every_mx_host(pytester):
    given = settings(pytester, "--smtp-mx=Example.COM.", "--smtp-port=2525", "--smtp-resolver=127.0.0.1",
                     "--smtp-concurrency=256")
    assert (given.host, given.mx, given.ports, given.resolver, given.concurrency) == (
        None, "Example.COM", {"smtp": 2525}, ("127.0.0.1", 53), 256)
    assert given.origins["mx"] == "command line"
    assert given.origins["target"] == "default"


def test_ca_is_checked_and_made_absolute(pytester, ca_pem):
    given = settings(pytester, "--smtp-target=mx.example.com", "--smtp-ca=ca.pem")
    assert (given.ca_file, given.origins["ca"]) == (str(ca_pem), "command line")


def test_ini_twins_arrive_typed_and_say_where_they_came_from(pytester):
    pytester.path.joinpath("pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        smtp_target = [::1]:2525
        smtp_listeners =
            submission=2587
        smtp_timeout = 7.5
        smtp_connect_timeout = 2
        smtp_helo = probe.example.org
        smtp_vars =
            SMTP_DOMAIN=example.org
        smtp_no_verify = yes
        smtp_concurrency = 8
        smtp_resolver = 192.0.2.53:5353
        smtp_as = 2001:db8::7
        smtp_as_via = proxy-v1
    """))
    given = settings(pytester)
    assert (given.host, given.ports, given.timeout, given.connect_timeout, given.helo) == (
        "::1", {"smtp": 2525, "submission": 2587}, 7.5, 2.0, "probe.example.org")
    assert (given.vars, given.verify, given.concurrency, given.resolver, given.as_address, given.as_via) == (
        {"SMTP_DOMAIN": "example.org"}, False, 8, ("192.0.2.53", 5353), "2001:db8::7", "proxy-v1")
    assert given.origins["timeout"] == given.origins["vars.SMTP_DOMAIN"] == "ini (pytest.ini)"
    assert given.origins["port"] == "ini (pytest.ini)"
    assert given.origins["deadline"] == "default"


def test_command_line_wins_over_ini_and_vars_merge_by_name(pytester):
    pytester.path.joinpath("pytest.ini").write_text(
        "[pytest]\nsmtp_target = mx.example.org:2525\nsmtp_timeout = 7\nsmtp_vars =\n    A=ini\n    B=ini\n"
    )
    given = settings(pytester, "--smtp-timeout=3", "--smtp-port=26", "--smtp-var=B=cli")
    assert (given.host, given.ports, given.timeout) == ("mx.example.org", {"smtp": 26}, 3.0)
    assert given.vars == {"A": "ini", "B": "cli"}
    assert given.origins["port"] == given.origins["timeout"] == given.origins["vars.B"] == "command line"
    assert given.origins["vars.A"] == given.origins["target"] == "ini (pytest.ini)"


def test_command_line_target_replaces_an_ini_mx_and_the_sandbox_replaces_an_ini_target(pytester):
    pytester.path.joinpath("pytest.ini").write_text("[pytest]\nsmtp_mx = example.org\n")
    given = settings(pytester, "--smtp-target=127.0.0.9")
    assert (given.host, given.mx, given.origins["mx"]) == ("127.0.0.9", None, "default")
    pytester.path.joinpath("pytest.ini").write_text("[pytest]\nsmtp_target = mx.example.org\n")
    given = settings(pytester, "--smtp-sandbox=misconfigured")
    assert (given.host, given.sandbox, given.origins["sandbox"]) == (None, "misconfigured", "command line")


def test_override_ini_is_named_as_such(pytester):
    given = settings(pytester, "-o", "smtp_timeout=4")
    assert (given.timeout, given.origins["timeout"]) == (4.0, "command line (-o)")


def test_password_and_token_come_from_the_environment_only(pytester, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "from-env-secret")
    monkeypatch.setenv("SMTPCHECK_TOKEN", "token-secret")
    given = settings(pytester, "--smtp-target=127.0.0.9", "--smtp-user=probe@example.org")
    assert (given.user, given.password, given.token) == ("probe@example.org", "from-env-secret", "token-secret")
    assert given.origins["password"] == "environment (SMTPCHECK_PASSWORD)"
    assert given.origins["token"] == "environment (SMTPCHECK_TOKEN)"
    assert "from-env-secret" not in repr(given) and "token-secret" not in repr(given)
    assert "from-env-secret" not in repr(given.password)


def test_hints_name_the_option_and_never_put_a_password_on_the_command_line(pytester):
    given = settings(pytester)
    assert given.hint("user") == "give --smtp-user (ini smtp_user, profile key user)"
    assert given.hint("listeners") == "give --smtp-listener (ini smtp_listeners, profile key listeners)"
    assert given.hint("password") == "set the environment variable SMTPCHECK_PASSWORD (a password is never an option)"
    assert given.hint("token") == "set the environment variable SMTPCHECK_TOKEN"
    result = pytester.runpytest_inprocess("--smtp-password=x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # no such option, by design


def test_options_are_listed_in_their_own_help_group(pytester):
    """Every option and ini key, with the defaults the help quotes: declared from constants alone, since the
    settings' rules load only when a setting is given (tests/test_startup.py)."""
    text = pytester.runpytest_inprocess("--help").stdout.str()
    group = text.index("SMTP acceptance tests (pytest-smtpcheck):")
    for option in ("--smtp-target", "--smtp-mx", "--smtp-port", "--smtp-listener", "--smtp-tls", "--smtp-helo",
                   "--smtp-timeout", "--smtp-connect-timeout", "--smtp-deadline", "--smtp-ca", "--smtp-tls-name",
                   "--smtp-no-verify", "--smtp-user", "--smtp-var", "--smtp-sandbox", "--smtp-resolver",
                   "--smtp-concurrency", "--smtp-as", "--smtp-as-via", "--smtp-update", "--smtp-profile",
                   "--smtp-baseline", "--smtp-baseline-domain", "--smtp-json", "--smtp-baseline-days-left",
                   "--smtp-baseline-spacing", "--smtp-mta-sts-port", "--smtp-mta-sts-ca", "--smtp-waive"):
        assert text.index(f"  {option}") > group, option
    for ini in ("smtp_target", "smtp_mx", "smtp_port", "smtp_listeners", "smtp_tls", "smtp_helo", "smtp_timeout",
                "smtp_connect_timeout", "smtp_deadline", "smtp_ca", "smtp_tls_name", "smtp_no_verify", "smtp_user",
                "smtp_vars", "smtp_sandbox", "smtp_resolver", "smtp_concurrency", "smtp_as", "smtp_as_via",
                "smtp_baseline_days_left", "smtp_baseline_spacing", "smtp_mta_sts_port", "smtp_mta_sts_ca",
                "smtp_waive", "smtp_message_dirs"):
        assert f"  {ini} " in text, ini
    assert "smtp_update" not in text and "smtp_profile" not in text
    flat = " ".join(text.split())  # help lines wrap anywhere
    for default in ("(default: probe.smtpcheck.invalid)", "(default 30, at most 3600)", "(default 4; 1: one at a time)",
                    "(or $SMTPCHECK_PROFILE)", "the password is read from $SMTPCHECK_PASSWORD"):
        assert default in flat, default


def test_loading_the_options_imports_nothing_heavy():
    code = ("import sys, pytest; before = set(sys.modules); import pytest_smtpcheck.plugin.options; "
            "print(sorted(name for name in set(sys.modules) - before if not name.startswith('pytest_smtpcheck')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_settings_and_profiles_never_import_pytest():
    """The rules serve `smtpcheck record` too: a command, not a test run."""
    code = ("import sys; import pytest_smtpcheck.settings, pytest_smtpcheck.profiles; "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('pytest', '_pytest', 'ssl')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_smtp_marker_is_registered_for_strict_markers(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtp(timeout=3)
        def test_marked():
            pass
        """
    )
    pytester.runpytest_inprocess("--strict-markers").assert_outcomes(passed=1)


# Bad values: one line naming the option, exit status 4

BAD_COMMAND_LINES = [
    (["--smtp-target="], "--smtp-target: empty; leave it out for the default"),
    (["--smtp-target=  "], "--smtp-target: empty"),
    (["--smtp-target=host:25:26"], "--smtp-target: 'host:25:26' is not HOST[:PORT] (an IPv6 address goes in brackets"),
    (["--smtp-target=[mx.example.com]:25"], "--smtp-target: '[mx.example.com]:25' is not HOST[:PORT]"),
    (["--smtp-target=mx example.com"], "--smtp-target: 'mx example.com' is not a host name"),
    (["--smtp-target=-mx.example.com"], "--smtp-target: '-mx.example.com' is not a host name"),
    (["--smtp-target=1.2.3"], "--smtp-target: '1.2.3' is not an IP address"),
    (["--smtp-target=256.1.1.1"], "--smtp-target: '256.1.1.1' is not an IP address"),
    (["--smtp-target=mx.example.com:0"], "--smtp-target: must be a whole number from 1 to 65535, not '0'"),
    (["--smtp-target=mx.example.com:65536"], "--smtp-target: must be a whole number from 1 to 65535, not '65536'"),
    (["--smtp-target=mx.example.com:-1"], "--smtp-target: must be a whole number from 1 to 65535, not '-1'"),
    (["--smtp-target=mx.example.com:smtp"], "--smtp-target: must be a whole number from 1 to 65535, not 'smtp'"),
    (["--smtp-target=mx.example.com:"], "--smtp-target: must be a whole number from 1 to 65535, not ''"),
    (["--smtp-target=h", "--smtp-port=0"], "--smtp-port: must be a whole number from 1 to 65535, not '0'"),
    (["--smtp-target=h", "--smtp-port=65536"], "--smtp-port: must be a whole number from 1 to 65535, not '65536'"),
    (["--smtp-target=h", "--smtp-port=-1"], "--smtp-port: must be a whole number from 1 to 65535, not '-1'"),
    (["--smtp-target=h", "--smtp-port=abc"], "--smtp-port: must be a whole number from 1 to 65535, not 'abc'"),
    (["--smtp-target=h:25", "--smtp-port=26"], "--smtp-target says port 25 but --smtp-port says 26; give one"),
    (["--smtp-port=2525"], "--smtp-port: needs --smtp-target or --smtp-mx (the sandbox picks its own ports)"),
    (["--smtp-listener=submission=2587"], "--smtp-listener: needs --smtp-target or --smtp-mx"),
    (["--smtp-target=h", "--smtp-listener=pop3=110"], "--smtp-listener: unknown listener 'pop3'; use one of "
                                                      "submission, submissions"),
    (["--smtp-target=h", "--smtp-listener=smtp=2525"], "the smtp listener's port is --smtp-port"),
    (["--smtp-target=h", "--smtp-listener=submission"], "--smtp-listener: expected NAME=VALUE, not 'submission'"),
    (["--smtp-target=h", "--smtp-listener=submission=0"], "--smtp-listener: must be a whole number from 1 to 65535"),
    (["--smtp-tls=ssl"], "--smtp-tls: must be one of none, starttls, implicit, not 'ssl'"),
    (["--smtp-helo="], "--smtp-helo: empty"),
    (["--smtp-helo=probe example"], "--smtp-helo: must be one host name or [address], without spaces, not 'probe "),
    (["--smtp-helo=probe\r\nRSET"], "--smtp-helo: control characters (CR, LF, ...) are not allowed: 'probe\\r\\nRSET'"),
    (["--smtp-helo=probe\n"], "--smtp-helo: control characters (CR, LF, ...) are not allowed"),
    (["--smtp-helo=pr\x7fobe"], "--smtp-helo: control characters"),
    (["--smtp-helo=probé.example"], "--smtp-helo: must be one host name or [address], without spaces"),
    (["--smtp-target=mx.example.com\r\n"], "--smtp-target: control characters"),
    (["--smtp-timeout=0"], "--smtp-timeout: must be a number of seconds above 0 and at most 3600, not '0'"),
    (["--smtp-timeout=-1"], "--smtp-timeout: must be a number of seconds above 0 and at most 3600, not '-1'"),
    (["--smtp-timeout=nan"], "--smtp-timeout: must be a number of seconds above 0 and at most 3600, not 'nan'"),
    (["--smtp-timeout=inf"], "--smtp-timeout: must be a number of seconds above 0 and at most 3600, not 'inf'"),
    (["--smtp-timeout=abc"], "--smtp-timeout: must be a number of seconds above 0 and at most 3600, not 'abc'"),
    (["--smtp-timeout=3601"], "--smtp-timeout: must be a number of seconds above 0 and at most 3600, not '3601'"),
    (["--smtp-connect-timeout=0"], "--smtp-connect-timeout: must be a number of seconds above 0"),
    (["--smtp-connect-timeout=x"], "--smtp-connect-timeout: must be a number of seconds above 0"),
    (["--smtp-deadline=-1"], "--smtp-deadline: must be a number of seconds above 0"),
    (["--smtp-deadline=inf"], "--smtp-deadline: must be a number of seconds above 0"),
    (["--smtp-concurrency=0"], "--smtp-concurrency: must be a whole number from 1 to 256, not '0'"),
    (["--smtp-concurrency=257"], "--smtp-concurrency: must be a whole number from 1 to 256, not '257'"),
    (["--smtp-concurrency=x"], "--smtp-concurrency: must be a whole number from 1 to 256, not 'x'"),
    (["--smtp-concurrency=1.5"], "--smtp-concurrency: must be a whole number from 1 to 256, not '1.5'"),
    (["--smtp-resolver=1.2.3"], "--smtp-resolver: '1.2.3' is not an IP address"),
    (["--smtp-resolver=host.example"], "--smtp-resolver: 'host.example' is not an IP address"),
    (["--smtp-resolver=127.0.0.1:0"], "--smtp-resolver: must be a whole number from 1 to 65535, not '0'"),
    (["--smtp-resolver=[::1]:65536"], "--smtp-resolver: must be a whole number from 1 to 65535, not '65536'"),
    (["--smtp-resolver=[host.example]:53"], "--smtp-resolver: '[host.example]:53' is not HOST[:PORT]"),
    (["--smtp-resolver="], "--smtp-resolver: empty"),
    (["--smtp-as=mx.example.com"], "--smtp-as: 'mx.example.com' is not an IP address"),
    (["--smtp-as=192.0.2.1:25"], "--smtp-as: '192.0.2.1:25' is not an IP address"),
    (["--smtp-as=192.0.2.1", "--smtp-as-via=haproxy"], "--smtp-as-via: must be one of xclient, proxy-v1, proxy-v2, "
                                                       "not 'haproxy'"),
    (["--smtp-as-via=proxy-v2"], "--smtp-as-via: needs an address to present (--smtp-as)"),
    (["--smtp-mx=example.com", "--smtp-target=mx.example.com"],
     "--smtp-target and --smtp-mx exclude each other; give one"),
    (["--smtp-mx=example..com"], "--smtp-mx: 'example..com' is not a host name"),
    (["--smtp-mx=192.0.2.1"], "--smtp-mx: '192.0.2.1' is not a host name"),
    (["--smtp-mx="], "--smtp-mx: empty"),
    (["--smtp-var=SMTP_DOMAIN"], "--smtp-var: expected NAME=VALUE, not 'SMTP_DOMAIN'"),
    (["--smtp-var=1BAD=x"], "--smtp-var: '1BAD' is not a variable name (letters, digits, underscore)"),
    (["--smtp-var=BAD-NAME=x"], "--smtp-var: 'BAD-NAME' is not a variable name"),
    (["--smtp-var=A=b\r\nRSET"], "--smtp-var: control characters (CR, LF, ...) are not allowed"),
    (["--smtp-sandbox=open"], "--smtp-sandbox: must be one of secure, misconfigured, not 'open'"),
    (["--smtp-target=h", "--smtp-sandbox=misconfigured"], "--smtp-target and --smtp-sandbox exclude each other"),
    (["--smtp-mx=example.com", "--smtp-sandbox=secure"], "--smtp-mx and --smtp-sandbox exclude each other"),
    (["--smtp-ca=/nonexistent/ca.pem"], "--smtp-ca: no such file: /nonexistent/ca.pem"),
    (["--smtp-ca=."], "--smtp-ca: no such file"),
    (["--smtp-tls-name=mx example.com"], "--smtp-tls-name: 'mx example.com' is not a host name"),
    (["--smtp-user="], "--smtp-user: empty"),
    (["--smtp-user=probe\r\nRSET"], "--smtp-user: control characters (CR, LF, ...) are not allowed"),
    (["--smtp-profile="], "--smtp-profile: empty"),
    (["--smtp-profile=ci"], "--smtp-profile: no profile 'ci': there is no smtpcheck.toml and no [tool.smtpcheck]"),
]


@pytest.mark.parametrize(("args", "message"), BAD_COMMAND_LINES, ids=[" ".join(a) for a, _ in BAD_COMMAND_LINES])
def test_bad_command_line_values_are_one_line_usage_errors(pytester, args, message):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    assert_usage_error(pytester.runpytest_inprocess(*args), message)


def test_a_ca_that_is_not_pem_is_blamed_on_the_option(pytester, not_pem):
    result = pytester.runpytest_inprocess(f"--smtp-ca={not_pem}")
    assert_usage_error(result, f"--smtp-ca: {pytester.path / not_pem} is not a PEM bundle of CA certificates")


BAD_INI_VALUES = [
    ("smtp_target =", "smtp_target (pytest.ini): empty"),
    ("smtp_target = host:25:26", "smtp_target (pytest.ini): 'host:25:26' is not HOST[:PORT]"),
    ("smtp_target = h\nsmtp_port = 65536", "smtp_port (pytest.ini): must be a whole number from 1 to 65535"),
    ("smtp_target = h:25\nsmtp_port = 26", "smtp_target (pytest.ini) says port 25 but smtp_port (pytest.ini) says 26"),
    ("smtp_port = 2525", "smtp_port (pytest.ini): needs --smtp-target or --smtp-mx"),
    ("smtp_target = h\nsmtp_listeners =\n    pop3=110", "smtp_listeners (pytest.ini): unknown listener 'pop3'"),
    ("smtp_tls = ssl", "smtp_tls (pytest.ini): must be one of none, starttls, implicit, not 'ssl'"),
    ("smtp_helo = probe example", "smtp_helo (pytest.ini): must be one host name or [address]"),
    ("smtp_timeout = abc", "smtp_timeout (pytest.ini): must be a number of seconds above 0 and at most 3600"),
    ("smtp_connect_timeout = 0", "smtp_connect_timeout (pytest.ini): must be a number of seconds above 0"),
    ("smtp_deadline = inf", "smtp_deadline (pytest.ini): must be a number of seconds above 0"),
    ("smtp_concurrency = 257", "smtp_concurrency (pytest.ini): must be a whole number from 1 to 256, not '257'"),
    ("smtp_resolver = host.example", "smtp_resolver (pytest.ini): 'host.example' is not an IP address"),
    ("smtp_as = somewhere", "smtp_as (pytest.ini): 'somewhere' is not an IP address"),
    ("smtp_as = 192.0.2.1\nsmtp_as_via = haproxy", "smtp_as_via (pytest.ini): must be one of xclient, proxy-v1"),
    ("smtp_mx = example.com\nsmtp_target = h", "smtp_target (pytest.ini) and smtp_mx (pytest.ini) exclude each other"),
    ("smtp_vars =\n    SMTP_DOMAIN", "smtp_vars (pytest.ini): expected NAME=VALUE, not 'SMTP_DOMAIN'"),
    ("smtp_vars =\n    1BAD=x", "smtp_vars (pytest.ini): '1BAD' is not a variable name"),
    ("smtp_sandbox = open", "smtp_sandbox (pytest.ini): must be one of secure, misconfigured, not 'open'"),
    ("smtp_target = h\nsmtp_sandbox = secure", "smtp_target (pytest.ini) and smtp_sandbox (pytest.ini) exclude"),
    ("smtp_ca = missing.pem", "smtp_ca (pytest.ini): no such file: "),
    ("smtp_no_verify = maybe", "smtp_no_verify (pytest.ini): must be true or false, not 'maybe'"),
    ("smtp_user = ", "smtp_user (pytest.ini): empty"),
]


@pytest.mark.parametrize(("ini", "message"), BAD_INI_VALUES, ids=[ini for ini, _ in BAD_INI_VALUES])
def test_bad_ini_values_name_the_ini_key_and_file(pytester, ini, message):
    pytester.path.joinpath("pytest.ini").write_text(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    assert_usage_error(pytester.runpytest_inprocess(), message)


def test_bad_values_in_pyproject_ini_options_name_pyproject(pytester):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nsmtp_timeout = "0"\n')
    assert_usage_error(pytester.runpytest_inprocess(), "smtp_timeout (pyproject.toml): must be a number of seconds")


def test_bad_override_ini_values_name_the_override(pytester):
    assert_usage_error(pytester.runpytest_inprocess("-o", "smtp_concurrency=0"),
                       "-o smtp_concurrency: must be a whole number from 1 to 256, not '0'")


def test_an_ini_ca_is_relative_to_the_ini_file(pytester, not_pem):
    pytester.mkdir("sub")
    pytester.path.joinpath("pytest.ini").write_text(f"[pytest]\nsmtp_ca = {not_pem}\n")
    result = pytester.runpytest_inprocess(pytester.path / "sub")
    assert_usage_error(result, f"smtp_ca (pytest.ini): {pytester.path / not_pem} is not a PEM bundle")


def test_only_the_value_in_effect_is_checked(pytester, ca_pem):
    """An ini value for another machine (a CA path on CI) does not block a run that overrides it."""
    pytester.path.joinpath("pytest.ini").write_text("[pytest]\nsmtp_ca = /ci/only/ca.pem\nsmtp_timeout = soon\n")
    assert_usage_error(pytester.runpytest_inprocess("--smtp-timeout=5"), "smtp_ca (pytest.ini): no such file")
    assert settings(pytester, "--smtp-timeout=5", f"--smtp-ca={ca_pem}").timeout == 5.0


def test_presenting_another_address_to_the_sandbox_is_a_usage_error(pytester):
    result = pytester.runpytest_inprocess("--smtp-as=203.0.113.9", "-p", "no:cacheprovider")
    assert result.ret == 4
    assert "--smtp-as: needs --smtp-target or --smtp-mx: the embedded sandbox takes neither XCLIENT nor a PROXY " \
           "header" in result.stderr.str()
