"""The battery's settings from the run's layers: waivers merge door by door, each value is checked where it came
in, and the battery needs a domain."""

from __future__ import annotations

import pytest

from pytest_smtpcheck.baseline.settings import BaselineSettings, resolve_baseline
from pytest_smtpcheck.settings import Given, Settings, SettingsError


def given(value: object, where: str) -> Given:
    return Given(value, where, where)


def test_waivers_merge_across_doors_and_the_higher_door_wins_for_one_check() -> None:
    command_line = {"waive": given(["ipv6 = CHG-1: from the command line"], "--smtp-waive")}
    profile = {"waive": given({"ipv6": "CHG-2: from the profile", "dmarc": "CHG-3"}, "smtpcheck.toml: profiles.x.waive")}
    ini = {"waive": given(["spf = CHG-4", "ipv6 MX1.Example.com. = CHG-5: one host"], "smtp_waive (pytest.ini)")}
    settings = resolve_baseline([command_line, profile, ini], Settings(mx="example.com"))
    assert settings.waivers == {"ipv6": "CHG-1: from the command line", "dmarc": "CHG-3", "spf": "CHG-4",
                                "ipv6 mx1.example.com": "CHG-5: one host"}
    assert settings.waiver("ipv6", "MX1.example.com") == "CHG-5: one host"  # the host's own waiver first
    assert settings.waiver("ipv6", "mx2.example.com") == "CHG-1: from the command line"
    assert settings.waiver("relay", "mx1.example.com") is None


def test_the_battery_is_off_unless_asked_and_takes_the_mx_domain() -> None:
    assert resolve_baseline([{}], Settings(mx="example.com")) == BaselineSettings()
    on = resolve_baseline([{"baseline": given(True, "--smtp-baseline")}], Settings(mx="example.com"))
    assert on.enabled and on.domains == ("example.com",)
    more = resolve_baseline([{"baseline_domains": given(["a.example", "B.example."], "--smtp-baseline-domain")}],
                            Settings())
    assert more.enabled and more.domains == ("a.example", "B.example")


@pytest.mark.parametrize(("layer", "message"), [
    ({"baseline": given(True, "--smtp-baseline")}, "--smtp-baseline: needs a mail domain"),
    ({"baseline": given("maybe", "smtpcheck.toml: profiles.x.baseline")},
     "smtpcheck.toml: profiles.x.baseline: must be true or false, not 'maybe'"),
    ({"baseline_domains": given(["exa mple.com"], "--smtp-baseline-domain")},
     "--smtp-baseline-domain: 'exa mple.com' is not a host name"),
    ({"baseline_days_left": given("-1", "smtp_baseline_days_left (pytest.ini)")},
     "smtp_baseline_days_left (pytest.ini): must be a whole number from 0 to 3650, not '-1'"),
    ({"baseline_spacing": given("fast", "--smtp-baseline-spacing")}, "--smtp-baseline-spacing: must be a number"),
    ({"mta_sts_port": given("70000", "smtpcheck.toml: profiles.x.mta_sts_port")},
     "smtpcheck.toml: profiles.x.mta_sts_port: "),
    ({"waive": given({"tls": "CHG-1"}, "smtpcheck.toml: profiles.x.waive")},
     "smtpcheck.toml: profiles.x.waive.tls: no check is called 'tls'"),
    ({"waive": given(["ipv6 not/a/host = CHG-1"], "--smtp-waive")}, "--smtp-waive: 'not/a/host' is not a host name"),
])
def test_each_door_refuses_a_bad_value_naming_itself(layer: dict[str, Given], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        resolve_baseline([layer], Settings())
    assert str(refused.value).startswith(message)


def test_the_battery_lists_every_key_with_its_origin_defaults_included_only_when_it_runs() -> None:
    """Issue 16's option list: every effective key of the battery with where it came from."""
    command_line = {"baseline": Given(True, "--smtp-baseline", "command line"),
                    "waive": Given(["ipv6 = CHG-1: IPv6 in Q3"], "--smtp-waive", "command line")}
    ini = {"baseline_days_left": Given("30", "smtp_baseline_days_left (pytest.ini)", "ini (pytest.ini)"),
           "waive": Given(["spf = CHG-4"], "smtp_waive (pytest.ini)", "ini (pytest.ini)")}
    settings = resolve_baseline([command_line, {}, ini], Settings(mx="example.com"))
    rows = {row.key: str(row) for row in settings.effective()}
    assert rows == {
        "baseline": "baseline true (command line)",
        "baseline_domains": "baseline_domains example.com (default: the mx domain)",
        "json": "json none (default)",
        "baseline_days_left": "baseline_days_left 30 (ini (pytest.ini))",
        "baseline_spacing": "baseline_spacing 1 s (default)",
        "mta_sts_port": "mta_sts_port 443 (default)",
        "mta_sts_ca": "mta_sts_ca none (default: the system's CA store)",
        "waive": "waive ipv6 = CHG-1: IPv6 in Q3; spf = CHG-4 (command line, ini (pytest.ini))",
    }
    two = resolve_baseline([{"baseline_domains": Given(["a.example", "b.example"], "--smtp-baseline-domain",
                                                       "command line")}], Settings())
    shown = {row.key: str(row) for row in two.effective()}
    assert shown["baseline_domains"] == "baseline_domains a.example, b.example (command line)"  # not "a:b"
    assert shown["baseline"] == "baseline true (command line)"  # implied by the domains given there
    assert resolve_baseline([{}], Settings(mx="example.com")).effective() == []
