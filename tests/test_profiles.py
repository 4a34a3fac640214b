"""Profiles: chosen by option, environment or file; below the command line, above ini; errors name file and key."""

import sys
import textwrap

import pytest
from test_options import assert_usage_error

from pytest_smtpcheck.plugin.options import read_settings
from pytest_smtpcheck.settings import Settings

CI_PROFILE = """\
    [profiles.ci]
    target = "[2001:db8::25]:2525"
    listeners = { submission = 2587, submissions = 2465 }
    tls = "starttls"
    ca = "certs/ca.pem"
    tls_name = "mx.example.org"
    helo = "probe.example.org"
    timeout = 12
    connect_timeout = 2.5
    deadline = 90
    concurrency = 2
    user = "probe@example.org"
    password = { env = "MX_PASSWORD" }
    vars = { SMTP_DOMAIN = "example.org" }
    resolver = "192.0.2.53:5353"
    as = "192.0.2.7"
    as_via = "proxy-v1"
    no_verify = false

    [profiles.staging]
    mx = "staging.example.org"
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("SMTPCHECK_PASSWORD", "SMTPCHECK_TOKEN", "SMTPCHECK_PROFILE", "MX_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ca(pytester):
    trustme = pytest.importorskip("trustme")
    pytester.mkdir("certs")
    trustme.CA().cert_pem.write_to_path(str(pytester.path / "certs" / "ca.pem"))
    return pytester.path / "certs" / "ca.pem"


def write(pytester, name: str, text: str) -> None:
    pytester.path.joinpath(name).write_text(textwrap.dedent(text))


def settings(pytester, *args: str) -> Settings:
    return read_settings(pytester.parseconfig(*args))


def bad(pytester, message: str, *args: str) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    assert_usage_error(pytester.runpytest_inprocess(*args), message)


def test_a_profile_gives_every_setting_typed(pytester, ca, monkeypatch):
    write(pytester, "smtpcheck.toml", CI_PROFILE)
    monkeypatch.setenv("MX_PASSWORD", "profile-secret")
    pytester.mkdir("elsewhere")
    monkeypatch.chdir(pytester.path / "elsewhere")  # the CA path is relative to the file, not to the working dir
    given = settings(pytester, "--smtp-profile=ci", f"--rootdir={pytester.path}")
    assert given == Settings(
        host="2001:db8::25", ports={"smtp": 2525, "submission": 2587, "submissions": 2465}, tls="starttls",
        ca_file=str(ca), tls_name="mx.example.org", helo="probe.example.org", timeout=12.0, connect_timeout=2.5,
        deadline=90.0, concurrency=2, user="probe@example.org", password="profile-secret",
        vars={"SMTP_DOMAIN": "example.org"}, resolver=("192.0.2.53", 5353), as_address="192.0.2.7",
        as_via="proxy-v1", verify=True, password_env="MX_PASSWORD", profile="ci",
    )
    origin = "profile ci (smtpcheck.toml)"
    for key in ("target", "port", "listeners.submission", "ca", "timeout", "vars.SMTP_DOMAIN", "as", "no_verify"):
        assert given.origins[key] == origin, key
    assert given.origins["password"] == "environment (MX_PASSWORD)"
    assert given.origins["profile"] == "command line"
    assert given.hint("password") == "set the environment variable MX_PASSWORD (a password is never an option)"


def test_a_profile_password_variable_left_unset_gives_no_password(pytester, ca, monkeypatch):
    write(pytester, "smtpcheck.toml", CI_PROFILE)
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "not-this-one")
    given = settings(pytester, "--smtp-profile=ci")
    assert (given.password, given.password_env, given.origins["password"]) == (None, "MX_PASSWORD", "default")


def test_the_profile_is_chosen_by_option_then_environment_then_file(pytester, monkeypatch):
    write(pytester, "smtpcheck.toml", """\
        profile = "a"
        [profiles.a]
        timeout = 1
        [profiles.b]
        timeout = 2
        [profiles.c]
        timeout = 3
    """)
    given = settings(pytester)
    assert (given.profile, given.timeout, given.origins["profile"]) == ("a", 1.0, "smtpcheck.toml")
    monkeypatch.setenv("SMTPCHECK_PROFILE", "b")
    given = settings(pytester)
    assert (given.profile, given.timeout, given.origins["profile"]) == ("b", 2.0, "environment (SMTPCHECK_PROFILE)")
    given = settings(pytester, "--smtp-profile=c")
    assert (given.profile, given.timeout, given.origins["profile"]) == ("c", 3.0, "command line")


def test_without_a_choice_no_profile_applies(pytester):
    write(pytester, "smtpcheck.toml", "[profiles.ci]\ntimeout = 5\n")
    given = settings(pytester)
    assert (given.profile, given.timeout, given.origins["timeout"], given.origins["profile"]) == (
        None, 30.0, "default", "default")


def test_command_line_beats_profile_beats_ini(pytester):
    write(pytester, "smtpcheck.toml", """\
        [profiles.ci]
        timeout = 5
        helo = "profile.example.org"
        vars = { A = "profile", B = "profile" }
    """)
    write(pytester, "pytest.ini", """\
        [pytest]
        smtp_timeout = 7
        smtp_helo = ini.example.org
        smtp_deadline = 60
        smtp_vars =
            B=ini
            C=ini
    """)
    given = settings(pytester, "--smtp-profile=ci", "--smtp-timeout=3", "--smtp-var=A=cli")
    assert (given.timeout, given.helo, given.deadline) == (3.0, "profile.example.org", 60.0)
    assert given.vars == {"A": "cli", "B": "profile", "C": "ini"}
    assert given.origins["timeout"] == given.origins["vars.A"] == "command line"
    assert given.origins["helo"] == given.origins["vars.B"] == "profile ci (smtpcheck.toml)"
    assert given.origins["deadline"] == given.origins["vars.C"] == "ini (pytest.ini)"


def test_a_command_line_target_replaces_the_profile_mx(pytester):
    write(pytester, "smtpcheck.toml", CI_PROFILE)
    given = settings(pytester, "--smtp-profile=staging")
    assert (given.mx, given.host) == ("staging.example.org", None)
    assert given.origins["mx"] == "profile staging (smtpcheck.toml)"
    given = settings(pytester, "--smtp-profile=staging", "--smtp-target=127.0.0.1:2525")
    assert (given.mx, given.host, given.ports) == (None, "127.0.0.1", {"smtp": 2525})


def test_profiles_in_pyproject(pytester):
    write(pytester, "pyproject.toml", """\
        [tool.smtpcheck]
        profile = "ci"
        [tool.smtpcheck.profiles.ci]
        mx = "example.org"
        port = 2525
        no_verify = true
    """)
    given = settings(pytester)
    assert (given.mx, given.ports, given.verify) == ("example.org", {"smtp": 2525}, False)
    assert given.origins["mx"] == "profile ci (pyproject.toml)"
    assert given.origins["profile"] == "pyproject.toml"


def test_a_pyproject_without_smtpcheck_leaves_smtpcheck_toml_in_charge(pytester):
    write(pytester, "pyproject.toml", "[tool.other]\nx = 1\n")
    write(pytester, "smtpcheck.toml", "[profiles.ci]\ntimeout = 5\n")
    assert settings(pytester, "--smtp-profile=ci").timeout == 5.0


def test_bad_values_in_pyproject_name_the_full_key(pytester):
    write(pytester, "pyproject.toml", "[tool.smtpcheck.profiles.ci]\ntimeout = 0\n")
    bad(pytester, "pyproject.toml: tool.smtpcheck.profiles.ci.timeout: must be a number of seconds above 0 and at "
                  "most 3600, not 0", "--smtp-profile=ci")


def test_a_pyproject_smtpcheck_that_is_not_a_table(pytester):
    write(pytester, "pyproject.toml", '[tool]\nsmtpcheck = "ci"\n')
    bad(pytester, "pyproject.toml: tool.smtpcheck: must be a table")


def test_both_files_is_an_error_not_a_silent_choice(pytester):
    write(pytester, "pyproject.toml", "[tool.smtpcheck.profiles.ci]\ntimeout = 5\n")
    write(pytester, "smtpcheck.toml", "[profiles.ci]\ntimeout = 6\n")
    bad(pytester, "smtpcheck.toml and [tool.smtpcheck] in ")


BAD_PROFILES = [
    ('[profiles.ci]\npassword = "hunter2"\n',
     'smtpcheck.toml: profiles.ci.password: never write a password in a file; use password = { env = "VAR" }'),
    ('[profiles.ci]\npassword = { file = "/etc/secret" }\n',
     'smtpcheck.toml: profiles.ci.password: must be { env = "VAR" }, naming an environment variable'),
    ('[profiles.ci]\npassword = { env = "NOT A NAME" }\n', "smtpcheck.toml: profiles.ci.password: must be { env"),
    ("[profiles.ci]\ntimout = 5\n", "smtpcheck.toml: profiles.ci.timout: unknown key; known keys: as, as_via, baseline, "),
    ("[profiles.ci]\nupdate = true\n", "smtpcheck.toml: profiles.ci.update: unknown key"),
    ("[profiles.other]\ntarget_host = 'x'\n", "smtpcheck.toml: profiles.other.target_host: unknown key"),
    ("timeout = 5\n", "smtpcheck.toml: timeout: unknown key; known keys: profile, profiles"),
    ("profiles = 5\n", "smtpcheck.toml: profiles: must be a table of [profiles.NAME] tables"),
    ("profiles = { ci = 5 }\n", "smtpcheck.toml: profiles.ci: must be a table"),
    ("profile = 5\n", "smtpcheck.toml: profile: must be the name of a profile, not 5"),
    ("[profiles.ci\n", "smtpcheck.toml: cannot read it as TOML"),
    ("[profiles.ci]\ntimeout = true\n", "smtpcheck.toml: profiles.ci.timeout: must be a number of seconds above 0 "
                                        "and at most 3600, not True"),
    ("[profiles.ci]\ntimeout = nan\n", "smtpcheck.toml: profiles.ci.timeout: must be a number of seconds"),
    ("[profiles.ci]\ntimeout = inf\n", "smtpcheck.toml: profiles.ci.timeout: must be a number of seconds"),
    ("[profiles.ci]\ndeadline = -1\n", "smtpcheck.toml: profiles.ci.deadline: must be a number of seconds"),
    ("[profiles.ci]\ntarget = 25\n", "smtpcheck.toml: profiles.ci.target: must be a string, not 25"),
    ('[profiles.ci]\ntarget = ""\n', "smtpcheck.toml: profiles.ci.target: empty"),
    ('[profiles.ci]\ntarget = "host:25:26"\n', "smtpcheck.toml: profiles.ci.target: 'host:25:26' is not HOST[:PORT]"),
    ('[profiles.ci]\ntarget = "h"\nport = 0\n', "smtpcheck.toml: profiles.ci.port: must be a whole number from 1 to "
                                                "65535, not 0"),
    ('[profiles.ci]\ntarget = "h"\nport = true\n', "smtpcheck.toml: profiles.ci.port: must be a whole number"),
    ('[profiles.ci]\ntarget = "h:25"\nport = 26\n',
     "smtpcheck.toml: profiles.ci.target says port 25 but smtpcheck.toml: profiles.ci.port says 26; give one"),
    ('[profiles.ci]\ntarget = "h"\nmx = "example.org"\n',
     "smtpcheck.toml: profiles.ci.target and smtpcheck.toml: profiles.ci.mx exclude each other; give one"),
    ('[profiles.ci]\ntarget = "h"\nsandbox = "secure"\n', "profiles.ci.target and smtpcheck.toml: profiles.ci.sandbox"),
    ("[profiles.ci]\nport = 2525\n", "smtpcheck.toml: profiles.ci.port: needs --smtp-target or --smtp-mx"),
    ('[profiles.ci]\ntarget = "h"\nlisteners = "submission=587"\n',
     "smtpcheck.toml: profiles.ci.listeners: must be a table of NAME = VALUE"),
    ('[profiles.ci]\ntarget = "h"\nlisteners = { pop3 = 110 }\n',
     "smtpcheck.toml: profiles.ci.listeners.pop3: unknown listener 'pop3'"),
    ('[profiles.ci]\ntarget = "h"\nlisteners = { submission = "x" }\n',
     "smtpcheck.toml: profiles.ci.listeners.submission: must be a whole number from 1 to 65535, not 'x'"),
    ("[profiles.ci]\nvars = { SMTP_PORT = 25 }\n", "smtpcheck.toml: profiles.ci.vars.SMTP_PORT: must be a string"),
    ('[profiles.ci]\nvars = { "1BAD" = "x" }\n', "smtpcheck.toml: profiles.ci.vars.1BAD: '1BAD' is not a variable"),
    ('[profiles.ci]\ntls = "ssl"\n', "smtpcheck.toml: profiles.ci.tls: must be one of none, starttls, implicit"),
    ('[profiles.ci]\nhelo = "a b"\n', "smtpcheck.toml: profiles.ci.helo: must be one host name or [address]"),
    ('[profiles.ci]\nhelo = "a\\r\\nRSET"\n', "smtpcheck.toml: profiles.ci.helo: control characters"),
    ("[profiles.ci]\nconcurrency = 0\n", "smtpcheck.toml: profiles.ci.concurrency: must be a whole number from 1"),
    ("[profiles.ci]\nconcurrency = 2.0\n", "smtpcheck.toml: profiles.ci.concurrency: must be a whole number"),
    ('[profiles.ci]\nresolver = "dns.example"\n', "smtpcheck.toml: profiles.ci.resolver: 'dns.example' is not an IP"),
    ('[profiles.ci]\nresolver = "127.0.0.1:70000"\n', "smtpcheck.toml: profiles.ci.resolver: must be a whole number"),
    ('[profiles.ci]\nas = "nowhere"\n', "smtpcheck.toml: profiles.ci.as: 'nowhere' is not an IP address"),
    ('[profiles.ci]\nas = "192.0.2.1"\nas_via = "proxy"\n', "smtpcheck.toml: profiles.ci.as_via: must be one of"),
    ('[profiles.ci]\nmx = "-bad-.example"\n', "smtpcheck.toml: profiles.ci.mx: '-bad-.example' is not a host name"),
    ('[profiles.ci]\nsandbox = "open"\n', "smtpcheck.toml: profiles.ci.sandbox: must be one of secure, misconfigured"),
    ('[profiles.ci]\nca = "missing.pem"\n', "smtpcheck.toml: profiles.ci.ca: no such file: "),
    ("[profiles.ci]\nno_verify = 1\n", "smtpcheck.toml: profiles.ci.no_verify: must be true or false, not 1"),
    ("[profiles.ci]\nuser = []\n", "smtpcheck.toml: profiles.ci.user: must be a string, not []"),
]


@pytest.mark.parametrize(("toml", "message"), BAD_PROFILES, ids=[toml.strip() for toml, _ in BAD_PROFILES])
def test_bad_profiles_name_the_file_and_key(pytester, toml, message):
    write(pytester, "smtpcheck.toml", toml)
    bad(pytester, message, "--smtp-profile=ci")


def test_an_unknown_profile_lists_the_known_ones(pytester, monkeypatch):
    write(pytester, "smtpcheck.toml", CI_PROFILE)
    bad(pytester, "--smtp-profile: no profile 'prod' in smtpcheck.toml; known profiles: ci, staging",
        "--smtp-profile=prod")
    monkeypatch.setenv("SMTPCHECK_PROFILE", "prod")
    bad(pytester, "SMTPCHECK_PROFILE: no profile 'prod' in smtpcheck.toml; known profiles: ci, staging")


def test_an_unknown_default_profile_names_the_file_key(pytester):
    write(pytester, "smtpcheck.toml", 'profile = "prod"\n')
    bad(pytester, "smtpcheck.toml: profile: no profile 'prod' in smtpcheck.toml; known profiles: none")


def test_a_profile_asked_for_without_a_file(pytester, monkeypatch):
    monkeypatch.setenv("SMTPCHECK_PROFILE", "ci")
    bad(pytester, "SMTPCHECK_PROFILE: no profile 'ci': there is no smtpcheck.toml and no [tool.smtpcheck] in "
                  "pyproject.toml in the rootdir")


def test_a_ca_that_is_not_pem_names_the_profile_key(pytester):
    pytester.mkdir("certs")
    pytester.path.joinpath("certs", "ca.pem").write_text("not a certificate\n")
    write(pytester, "smtpcheck.toml", '[profiles.ci]\nca = "certs/ca.pem"\n')
    bad(pytester, f"smtpcheck.toml: profiles.ci.ca: {pytester.path / 'certs' / 'ca.pem'} is not a PEM bundle",
        "--smtp-profile=ci")


def test_toml_is_read_only_when_a_profile_file_exists(pytester):
    code = ("import sys, pytest; from pathlib import Path; before = set(sys.modules); "  # coverage may load tomllib
            "from pytest_smtpcheck.profiles import find_profile_file; "
            "assert find_profile_file(Path('.')) is None; "
            "print([name for name in ('tomllib', 'tomli') if name in set(sys.modules) - before])")
    result = pytester.run(sys.executable, "-c", code)
    assert result.outlines == ["[]"], result.errlines
