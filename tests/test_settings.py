"""One precedence and one rule per value, whatever the door: the matrix of doors x kinds of value.

Precedence (docs/options.md): the test's marker or front matter > command line > profile > ini > default.
"""

import itertools
import textwrap

import pytest
from test_options import assert_usage_error

from pytest_smtpcheck.settings import (
    DEFAULT_HELO,
    DEFAULT_TIMEOUT,
    Declared,
    Given,
    SessionOptions,
    Settings,
    SettingsError,
    declared,
    resolve,
)

RUN_DOORS = ("command line", "profile", "ini")  # the run's layers, highest first, as resolve() takes them
# A kind of value: key, (as each door gives it, as Settings holds it) per door, and how Settings holds it
KINDS = {
    "choice": ("tls", [("starttls", "starttls"), ("implicit", "implicit"), ("none", "none")], lambda s: s.tls),
    "seconds": ("timeout", [("5", 5.0), (6, 6.0), ("7.5", 7.5)], lambda s: s.timeout),
    "name": ("helo", [("cli.example",) * 2, ("profile.example",) * 2, ("ini.example",) * 2], lambda s: s.helo),
    "flag": ("no_verify", [(True, True), (False, False), ("yes", True)], lambda s: not s.verify),
    "number": ("concurrency", [("2", 2), (3, 3), ("5", 5)], lambda s: s.concurrency),
}


def layer(door: str, key: str, value: object) -> dict[str, Given]:
    return {key: Given(value, f"{door} {key}", door)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("high", "low"), list(itertools.combinations(range(3), 2)),
                         ids=lambda rank: RUN_DOORS[rank])
def test_each_pair_of_run_doors_the_higher_wins_with_its_origin(kind, high, low):
    key, values, read = KINDS[kind]
    layers = [{}, {}, {}]
    layers[high] = layer(RUN_DOORS[high], key, values[high][0])
    layers[low] = layer(RUN_DOORS[low], key, values[low][0])
    settings = resolve(layers, environ={})
    assert read(settings) == values[high][1]
    assert settings.origins[key] == RUN_DOORS[high]


@pytest.mark.parametrize("kind", KINDS)
def test_without_any_door_the_default_applies_and_says_so(kind):
    key, _, read = KINDS[kind]
    settings = resolve([{}, {}, {}], environ={})
    assert read(settings) == {"tls": "none", "timeout": DEFAULT_TIMEOUT, "helo": DEFAULT_HELO, "no_verify": False,
                              "concurrency": 4}[key]
    assert settings.origins[key] == "default"


def test_variables_merge_name_by_name_and_each_name_keeps_its_origin():
    layers = [{"vars": Given(["A=cli"], "--smtp-var", "command line")},
              {"vars": Given({"A": "profile", "B": "profile"}, "p: vars", "profile p")},
              {"vars": Given(["B=ini", "C=ini"], "smtp_vars (pytest.ini)", "ini (pytest.ini)")}]
    settings = resolve(layers, environ={})
    assert settings.vars == {"A": "cli", "B": "profile", "C": "ini"}
    assert (settings.origins["vars.A"], settings.origins["vars.B"], settings.origins["vars.C"]) == (
        "command line", "profile p", "ini (pytest.ini)")


# The test's own declaration beats every run door


TEST_VALUES = {"tls": ("none", "tls_mode"), "timeout": (2.5, "timeout"), "helo": ("test.example", "helo"),
               "deadline": (9, "deadline"), "as": ("192.0.2.7", "present_as"), "as_via": ("proxy-v2", "present_via")}


@pytest.mark.parametrize("key", TEST_VALUES)
@pytest.mark.parametrize("door", RUN_DOORS)
def test_a_test_s_declaration_beats_each_run_door(key, door):
    run_value = {"tls": "starttls", "timeout": "30", "helo": "run.example", "deadline": "60", "as": "192.0.2.1",
                 "as_via": "proxy-v1"}[key]
    layers = [{}, {}, {}]
    layers[RUN_DOORS.index(door)] = {key: Given(run_value, door, door),
                                     "target": Given("mx.example", "--smtp-target", door)}
    if key == "as_via":
        layers[RUN_DOORS.index(door)]["as"] = Given("192.0.2.1", "--smtp-as", door)
    run = resolve(layers, environ={})
    value, field = TEST_VALUES[key]
    test = declared({key: Given(value, f"marker {key}", "marker on test_x")})
    options = test.session_options(run.session_options())
    assert getattr(options, field) == value
    assert test.origins[key] == "marker on test_x"
    assert getattr(Declared().session_options(run.session_options()), field) != value, "the run's, without it"


def test_smtp_connect_keywords_beat_the_marker():
    marker = declared({"tls": Given("starttls", "m", "marker on t"), "helo": Given("m.example", "m", "marker on t")})
    call = declared({"tls": Given("none", "c", "smtp_connect() in t")})
    both = call.over(marker)
    assert (both.tls, both.helo) == ("none", "m.example")
    assert both.origins == {"tls": "smtp_connect() in t", "helo": "marker on t"}


def test_submissions_is_implicit_tls_unless_the_test_says_otherwise():
    run = SessionOptions(tls_mode="starttls")
    assert declared({"listener": Given("submissions", "m", "m")}).session_options(run).tls_mode == "implicit"
    assert declared({"listener": Given("submissions", "m", "m"), "tls": Given("none", "m", "m")}).session_options(
        run).tls_mode == "none"


# The same rule at every door: a bad value is refused, naming the door as written


BAD = [  # key, bad value, what the rule says
    ("timeout", "-1", "must be a number of seconds above 0 and at most 3600"),
    ("timeout", "5000", "must be a number of seconds above 0 and at most 3600"),
    ("helo", "two words", "must be one host name or [address], without spaces"),
    ("port", "70000", "must be a whole number from 1 to 65535"),
    ("tls", "ssl", "must be one of none, starttls, implicit"),
]


@pytest.mark.parametrize(("key", "value", "rule"), BAD)
def test_every_door_refuses_each_bad_value_naming_itself(pytester, key, value, rule):
    needs_target = ["--smtp-target=127.0.0.1"] if key == "port" else []
    pytester.makepyfile("def test_nothing():\n    pass\n")
    flag = "--smtp-" + key
    assert_usage_error(pytester.runpytest_inprocess(f"{flag}={value}", *needs_target), f"{flag}: {rule}")
    pytester.makeini(f"[pytest]\nsmtp_{key} = {value}\n")
    assert_usage_error(pytester.runpytest_inprocess(*needs_target), f"smtp_{key} (tox.ini): {rule}")
    pytester.makeini("[pytest]\n")
    toml_value = value if value.lstrip("-").isdigit() else f'"{value}"'
    pytester.makefile(".toml", smtpcheck=f"[profiles.ci]\n{key} = {toml_value}\n")
    assert_usage_error(pytester.runpytest_inprocess("--smtp-profile=ci", *needs_target),
                       f"smtpcheck.toml: profiles.ci.{key}: {rule}")


TEST_ONLY_BAD = [  # keys only a test declares (a run gives ports per listener name instead)
    ("listener", "lmtp", "must be one of smtp, submission, submissions, not 'lmtp'"),
    ("as", "outside.example", "'outside.example' is not an IP address"),
    ("as_via", "socks", "must be one of xclient, proxy-v1, proxy-v2, not 'socks'"),
]


@pytest.mark.parametrize(("key", "value", "rule"), BAD + TEST_ONLY_BAD)
def test_a_marker_and_front_matter_refuse_the_same_values_naming_themselves(pytester, key, value, rule):
    python_value = value if value.lstrip("-").isdigit() else repr(value)
    keyword = "as_address" if key == "as" else key
    pytester.makepyfile(test_marked=textwrap.dedent(f"""
        import pytest

        @pytest.mark.smtp({keyword}={python_value})
        def test_x(smtp_session):
            pass
    """))
    toml_value = value if value.lstrip("-").isdigit() else f'"{value}"'
    pytester.makefile(".smtp", relay=f"+++\n{key} = {toml_value}\n+++\n< 220\n")
    result = pytester.runpytest_inprocess("test_marked.py", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert_refused_once(result, f"@pytest.mark.smtp({keyword}={python_value}) on test_x: {rule}")
    result = pytester.runpytest_inprocess("relay.smtp", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert_refused_once(result, f"relay.smtp:2: front matter {key}: {rule}")


def assert_refused_once(result, message: str) -> None:
    """*message* is in the test's error exactly once: not again as the context of pytest's own exception
    ("During handling of the above exception, another exception occurred"). The short summary (`ERROR ...`,
    `FAILED ...`) may quote it too, cut to the terminal's width; it is not counted."""
    lines = [line for line in result.outlines if message in line and not line.startswith(("ERROR ", "FAILED "))]
    assert len(lines) == 1, result.outlines
    assert "During handling of the above exception" not in result.stdout.str()


def test_a_bad_marker_is_refused_whatever_fixtures_the_test_uses(pytester):
    """Issue 16's audit: a marker was checked only when the test used smtp_session or smtp_connect, so
    `@pytest.mark.smtp(timeout=-1)` on a test that used only smtp_server passed."""
    rule = "must be a number of seconds above 0 and at most 3600, not -1"
    pytester.makepyfile(test_marked=textwrap.dedent("""
        import pytest

        @pytest.mark.smtp(timeout=-1)
        def test_server_only(smtp_server):
            pass

        @pytest.mark.smtp(timeout=-1)
        def test_no_fixture():
            pass

        @pytest.mark.smtp(timeout=-1)
        def test_session(smtp_session):
            pass

        @pytest.mark.smtp(timeout=5)
        def test_good(smtp_server):
            pass
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3, passed=1)
    for test in ("test_server_only", "test_no_fixture", "test_session"):
        assert_refused_once(result, f"@pytest.mark.smtp(timeout=-1) on {test}: {rule}")


def test_a_bad_smtp_connect_keyword_is_refused_once(pytester):
    pytester.makepyfile(test_call=textwrap.dedent("""
        def test_y(smtp_connect):
            smtp_connect(timeout=-1)
    """))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert_refused_once(result, "smtp_connect(timeout=-1) in test_y: must be a number of seconds above 0")


# Presenting another client address: one rule for the run's doors and a test's


def _command_line_rule(layer: dict[str, Given]) -> str:
    """What the command line's rule says about *layer*: the wording every other door must use."""
    with pytest.raises(SettingsError) as refused:
        resolve([layer], environ={})
    return refused.value.problem


def test_a_test_presenting_an_address_to_the_sandbox_is_refused_naming_its_own_door(pytester):
    """`as` on the embedded sandbox failed at run time, naming --smtp-as and Postfix's
    smtpd_authorized_xclient_hosts; now each door refuses it as the command line does, before anything is sent."""
    rule = _command_line_rule({"as": Given("1.2.3.4", "--smtp-as", "command line")})
    pytester.makepyfile(test_as=textwrap.dedent("""
        import pytest

        @pytest.mark.smtp(as_address="1.2.3.4")
        def test_x(smtp_server):
            pass

        def test_y(smtp_connect):
            smtp_connect(as_address="1.2.3.4")

        @pytest.mark.smtp(as_via="proxy-v2")
        def test_z(smtp_server):
            pass
    """))
    pytester.makefile(".smtp", relay='# presented\n+++\nas = "1.2.3.4"\n+++\n< 220\n')
    result = pytester.runpytest_inprocess("test_as.py", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=2, failed=1)
    assert_refused_once(result, f"@pytest.mark.smtp(as_address='1.2.3.4') on test_x: {rule}")
    assert_refused_once(result, f"smtp_connect(as_address='1.2.3.4') in test_y: {rule}")
    via_rule = _command_line_rule({"as_via": Given("proxy-v2", "--smtp-as-via", "command line")})
    assert_refused_once(result, f"@pytest.mark.smtp(as_via='proxy-v2') on test_z: {via_rule}")
    result = pytester.runpytest_inprocess("relay.smtp", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert_refused_once(result, f"relay.smtp:3: front matter as: {rule}")
    assert "C: XCLIENT" not in result.stdout.str(), "nothing was sent"


@pytest.mark.parametrize("destination", [{"target": Given("mx.example", "--smtp-target", "command line")},
                                         {"mx": Given("example.org", "--smtp-mx", "command line")}],
                         ids=["target", "mx"])
def test_a_test_may_present_an_address_to_a_real_server(destination):
    """The passing side: with a target or an MX domain a test's `as` (and `as_via` beside the run's) is taken."""
    run = resolve([destination], environ={})
    run.check_test(declared({"as": Given("192.0.2.7", "m", "marker on t")}))
    run.check_test(declared({"as": Given("192.0.2.7", "m", "m"), "as_via": Given("proxy-v1", "m", "m")}))
    with_as = resolve([{**destination, "as": Given("192.0.2.1", "--smtp-as", "command line")}], environ={})
    with_as.check_test(declared({"as_via": Given("proxy-v2", "m", "marker on t")}))
    with pytest.raises(SettingsError, match="^m: needs an address to present"):
        run.check_test(declared({"as_via": Given("proxy-v2", "m", "marker on t")}))


@pytest.mark.parametrize("name", ["SMTP_PASSWORD", "SMTP_TOKEN"])
def test_a_credential_is_never_a_variable_at_any_door(pytester, name):
    environment = {"SMTP_PASSWORD": "SMTPCHECK_PASSWORD", "SMTP_TOKEN": "SMTPCHECK_TOKEN"}[name]
    pytester.makepyfile("def test_nothing():\n    pass\n")
    assert_usage_error(pytester.runpytest_inprocess("--smtp-var", f"{name}=hunter22"),
                       f"--smtp-var: {name} is never given as a variable")
    pytester.makefile(".toml", smtpcheck=f'[profiles.ci]\nvars = {{ {name} = "hunter22" }}\n')
    result = pytester.runpytest_inprocess("--smtp-profile=ci")
    assert_usage_error(result, f"smtpcheck.toml: profiles.ci.vars.{name}: {name} is never given as a variable")
    assert environment in "".join(line for line in result.errlines if line.startswith("ERROR:"))
    assert "hunter22" not in result.stdout.str() + result.stderr.str()
    with pytest.raises(SettingsError, match=f"front matter vars.{name}: .* {environment}"):
        declared({"vars": Given({name: "x"}, "front matter vars", "front matter of f.smtp")})


def test_the_refused_password_variable_names_the_environment_variable_the_profile_reads(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.makefile(".toml", smtpcheck='[profiles.ci]\npassword = { env = "RELAY_PW" }\n'
                                         'vars = { SMTP_PASSWORD = "hunter22" }\n')
    result = pytester.runpytest_inprocess("--smtp-profile=ci")
    assert_usage_error(result, "smtpcheck.toml: profiles.ci.vars.SMTP_PASSWORD: SMTP_PASSWORD is never given as a "
                               "variable, where a report or file would show it: set the environment variable RELAY_PW")
    assert "hunter22" not in result.stdout.str() + result.stderr.str()
    # a test's own declaration is checked before the run's settings: it names the default and the profile's way
    with pytest.raises(SettingsError, match="SMTPCHECK_PASSWORD, or the one a profile's password"):
        declared({"vars": Given({"SMTP_PASSWORD": "x"}, "front matter vars", "front matter of f.smtp")})


def test_the_run_s_secrets_are_one_typed_collection():
    settings = resolve([{}, {"password": Given({"env": "MX_PW"}, "p: password", "profile p")}, {}],
                       environ={"MX_PW": "pw-from-env", "SMTPCHECK_TOKEN": "tok-from-env"})
    assert settings.secrets() == ("pw-from-env", "tok-from-env")
    assert all(repr(secret) == "'****'" for secret in settings.secrets())
    assert Settings().secrets() == ()


# End to end: a test that must run in plain text stays in plain text under --smtp-tls=starttls


def test_marker_and_front_matter_beat_the_command_line_against_the_sandbox(pytester):
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        @pytest.mark.smtp(tls="none", helo="marker.example", timeout=7)
        def test_plain(smtp_session):
            assert smtp_session.tls_info is None
            assert "STARTTLS" in smtp_session.ehlo().text
            assert smtp_session.ehlo().command == "EHLO marker.example"
            assert smtp_session.options.timeout == 7

        def test_run_s(smtp_session):
            assert smtp_session.tls_info is not None
            assert smtp_session.ehlo().command == "EHLO cli.example"
            assert smtp_session.options.timeout == 9
    """))
    pytester.makefile(".smtp", plain=textwrap.dedent("""\
        +++
        tls = "none"
        +++
        < 220
        > EHLO front.example
        < 250 /STARTTLS/
        """))
    result = pytester.runpytest_inprocess("--smtp-tls=starttls", "--smtp-helo=cli.example", "--smtp-timeout=9",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


# The report lists every setting in effect with its origin, defaults included


def test_the_header_and_the_environment_list_every_setting_with_its_origin(pytester, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "hunter22-secret")
    pytester.makeini("[pytest]\nsmtp_helo = ini.example\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("--smtp-tls=starttls", "--smtp-var", "SMTP_DOMAIN=example.org",
                                          "-p", "no:cacheprovider")
    header = " ".join(line.removeprefix("smtpcheck: ") for line in result.outlines if line.startswith("smtpcheck: "))
    for shown in ("timeout 30 s (default)", "tls starttls (command line)", "helo ini.example (ini (tox.ini))",
                  "target the embedded sandbox (default)", "vars.SMTP_DOMAIN (command line)",
                  "password **** (environment (SMTPCHECK_PASSWORD))", "concurrency 4 (default)"):
        assert shown in header
    assert "hunter22" not in result.stdout.str()
    from pytest_smtpcheck.plugin.report.summary import options_shown

    shown = options_shown(result.reprec.getcall("pytest_unconfigure").config)
    assert shown["timeout"] == "30 s (default)" and shown["tls"] == "starttls (command line)"
    assert shown["password"] == "**** (environment (SMTPCHECK_PASSWORD))"
    assert {"target", "sandbox", "helo", "connect_timeout", "deadline", "ca", "no_verify", "user", "token",
            "resolver", "concurrency", "as", "as_via", "update", "profile"} <= set(shown)


@pytest.mark.parametrize(("destination", "expected"), [
    ({"target": Given("mx.example", "--smtp-target", "command line")},
     ["port 25 (default)", "listeners.submission not given (tests that need it skip)",
      "listeners.submissions not given (tests that need it skip)", "ca none (default)",
      "tls_name mx.example (default: the name connected to)"]),
    ({"mx": Given("example.org", "--smtp-mx", "command line")},
     ["port 25 (default)", "listeners.submission not given (tests that need it skip)",
      "listeners.submissions not given (tests that need it skip)", "ca none (default)",
      "tls_name each MX host's name (default: the name connected to)"]),
    ({}, ["port the sandbox's (picked at its start)", "listeners.submission the sandbox's (picked at its start)",
          "listeners.submissions the sandbox's (picked at its start)",
          "ca the sandbox's own (made for the run, not the one from command line)",
          "tls_name the sandbox's address (default: the name connected to)"]),
], ids=["target", "mx", "sandbox"])
def test_the_listed_listeners_and_certificate_checks_are_the_ones_that_apply(tmp_path, destination, expected):
    """Issue 16's audit: `listeners.submission 587 (default)` was listed for a target without
    --smtp-listener, where a test that needs that listener skips. The sandbox has all three listeners on ports
    of its own and its own CA (a CA given is not used); each MX host's certificate is checked against its name."""
    trustme = pytest.importorskip("trustme")
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca = {} if destination else {"ca": Given(str(tmp_path / "ca.pem"), "--smtp-ca", "command line")}
    shown = [str(row) for row in resolve([{**destination, **ca}], environ={}).effective()]
    assert [row for row in shown if row.startswith(("port ", "listeners.", "ca ", "tls_name "))] == expected


@pytest.mark.parametrize("destination", [{"target": Given("mx.example", "--smtp-target", "command line")},
                                         {"mx": Given("example.org", "--smtp-mx", "command line")}],
                         ids=["target", "mx"])
def test_a_listener_given_is_listed_with_its_port_and_origin(destination):
    listeners = {"listeners": Given(["submission=2587"], "--smtp-listener", "command line")}
    shown = [str(row) for row in resolve([{**destination, **listeners}], environ={}).effective()]
    assert "listeners.submission 2587 (command line)" in shown
    assert "listeners.submissions not given (tests that need it skip)" in shown


def test_a_target_without_a_listener_lists_it_as_not_given_and_its_tests_skip(pytester):
    pytester.makepyfile(test_sub=textwrap.dedent("""
        import pytest

        @pytest.mark.smtp(listener="submission")
        def test_submission(smtp_session):
            pass
    """))
    result = pytester.runpytest_inprocess("--smtp-target=127.0.0.1:1", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    assert "needs the submission listener, which this run was not given" in result.stdout.str()
    header = " ".join(line.removeprefix("smtpcheck: ") for line in result.outlines if line.startswith("smtpcheck: "))
    assert "listeners.submission not given (tests that need it skip)" in header
    assert "listeners.submission 587" not in header


def test_with_no_setting_given_the_header_lists_none_and_the_password_counts_as_given(pytester, monkeypatch):
    """A run that gives nothing reads its settings only when a test needs them, after the header is written:
    a project without SMTP tests gets no lines of ours, anywhere. The password in the environment is a setting
    given, so the header lists them all."""
    monkeypatch.delenv("SMTPCHECK_PASSWORD", raising=False)
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not any(line.startswith("smtpcheck: ") for line in result.outlines), result.outlines
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "hunter22-secret")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    header = " ".join(line for line in result.outlines if line.startswith("smtpcheck: "))
    assert "password **** (environment (SMTPCHECK_PASSWORD))" in header and "timeout 30 s (default)" in header


SANDBOX_TEST = "def test_greeting(smtp_session):\n    assert smtp_session.noop().code == 250\n"


def _listed(result) -> tuple[int, str]:
    """Where the settings list begins in the output, and the list: exactly one list (each line once)."""
    at = [n for n, line in enumerate(result.outlines) if line.startswith("smtpcheck: target ")]
    assert len(at) == 1, result.outlines
    listed = " ".join(line for line in result.outlines if line.startswith("smtpcheck: "))
    return at[0], listed


@pytest.mark.parametrize("kind", ["python", "smtp-file"])
def test_with_no_setting_given_the_list_follows_collection_once_a_test_uses_the_plugin(pytester, monkeypatch, kind):
    """Issue 16: the terminal lists every effective option, defaults included, for a run that uses the plugin;
    with nothing given it cannot be the header (written before collection), so it follows `collected N items`."""
    monkeypatch.delenv("SMTPCHECK_PASSWORD", raising=False)
    if kind == "python":
        pytester.makepyfile(test_uses_plugin=SANDBOX_TEST)
    else:
        pytester.makefile(".smtp", noop="< 220\n> NOOP\n< 250\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == 0, result.outlines
    at, listed = _listed(result)
    collected = next(n for n, line in enumerate(result.outlines) if line.startswith("collected "))
    first_result = next(n for n, line in enumerate(result.outlines) if line.startswith(("test_uses_plugin.py", "noop")))
    assert collected < at < first_result
    assert "target the embedded sandbox (default)" in listed and "timeout 30 s (default)" in listed


def test_a_test_that_only_asks_dns_gets_the_list_after_collection_too(pytester, monkeypatch):
    """smtp_dns is a plugin fixture that reads no setting at collection: the list still follows collection."""
    monkeypatch.delenv("SMTPCHECK_PASSWORD", raising=False)
    pytester.makepyfile(test_dns_only="def test_mx(smtp_dns):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    at, listed = _listed(result)
    assert next(n for n, line in enumerate(result.outlines) if line.startswith("collected ")) < at
    assert "resolver none (default)" in listed


def test_with_no_setting_given_under_xdist_the_smtpcheck_summary_lists_them(pytester, monkeypatch):
    """The xdist controller collects nothing, so no test is known to use the plugin before the results: the
    list is in the run's smtpcheck summary, once."""
    monkeypatch.delenv("SMTPCHECK_PASSWORD", raising=False)
    pytester.makepyfile(test_uses_plugin=SANDBOX_TEST)
    # without pytest-html and pytest-metadata too, whose hooks would read the settings on the controller anyway
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-p", "no:html", "-p", "no:metadata")
    result.assert_outcomes(passed=1)
    at, listed = _listed(result)
    assert at > next(n for n, line in enumerate(result.outlines) if "smtpcheck" in line and line.startswith("-"))
    assert "target the embedded sandbox (default)" in listed and "concurrency 4 (default)" in listed


def test_a_test_s_own_settings_are_in_its_report_with_their_origin(pytester):
    pytester.makepyfile(test_own=textwrap.dedent("""
        import pytest

        @pytest.mark.smtp(helo="marker.example", timeout=5)
        def test_x(smtp_session):
            smtp_session.noop()

        def test_plain(smtp_session):
            smtp_session.noop()
    """))
    pytester.makefile(".smtp", relay='+++\ntls = "none"\n+++\n< 220\n')
    result = pytester.runpytest_inprocess("--smtp-helo=cli.example", "-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    reports = {r.nodeid.split("::")[-1]: r for r in result.reprec.getreports("pytest_runtest_logreport")
               if r.when == "call"}
    assert dict(reports["test_x"].user_properties)["smtp_settings"] == (
        "helo marker.example (marker on test_x); timeout 5 s (marker on test_x)")
    assert dict(reports["line4-greeting"].user_properties)["smtp_settings"] == "tls none (front matter of relay.smtp)"
    assert "smtp_settings" not in dict(reports["test_plain"].user_properties), "nothing of its own, nothing shown"


# One direction for arrows: the pytest face (plugin/) imports the library, never the other way


def test_only_the_pytest_face_imports_pytest_and_nothing_imports_the_face():
    import ast
    from pathlib import Path

    import pytest_smtpcheck

    package = Path(pytest_smtpcheck.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] == "plugin":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            offenders += [f"{relative}: {name}" for name in names
                          if name.split(".")[0] in ("pytest", "_pytest") or "plugin" in name.split(".")]
    assert offenders == []
