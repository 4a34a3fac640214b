"""The battery (`--smtp-baseline`) against the lab: every planted fault named by its check, every good property
passing, waivers reported as expected failures with their reason, selection by category and severity, and no
message sent to either Postfix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from baseline_lab import LAX_ADDRESS, Lab, running_lab

from pytest_smtpcheck.baseline.checks import CHECK_IDS, Verdict
from pytest_smtpcheck.baseline.facts import DomainFacts

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with running_lab() as running:
        yield running


def _run(pytester: pytest.Pytester, lab: Lab, domain: str, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    """Run the battery; the outcome of each check (id, or id@address) from the JSON summary."""
    result = pytester.runpytest_inprocess(*lab.args(domain), "-p", "no:cacheprovider", "--smtp-json=out.json", *args)
    records = json.loads((pytester.path / "out.json").read_text())
    outcomes: dict[str, str] = {}
    for record in records:
        outcomes[record["id"] if record["address"] is None else f"{record['id']}@{record['address']}"] = (
            record["outcome"])
    return result, outcomes


def _by_check(outcomes: dict[str, str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key, outcome in outcomes.items():
        found.setdefault(key.partition("@")[0], set()).add(outcome)
    return found


def test_a_well_run_domain_passes_every_check_on_every_address(pytester: pytest.Pytester, lab: Lab) -> None:
    result, outcomes = _run(pytester, lab, "good.example.test", "-v")
    assert _by_check(outcomes) == {check: {"passed"} for check in CHECK_IDS}
    # address-level checks once per MX address (IPv4 and IPv6), host-level per host, domain-level once
    assert "relay@127.0.0.20" in outcomes and "relay@::1" in outcomes
    result.stdout.fnmatch_lines([
        "*baseline[[]good.example.test[]]::relay[[]mx1.good.example.test-127.0.0.20[]] PASSED*",
        "*baseline[[]good.example.test[]]::ipv6[[]mx1.good.example.test[]] PASSED*",
        "*baseline[[]good.example.test[]]::spf[[]good.example.test[]] PASSED*",
        "*smtpcheck baseline scorecard*",
        "category tls: 8 passed",
        "MX mx1.good.example.test ::1: 20 passed",
    ])
    assert result.ret == 0
    assert not lab.messages_accepted()


def test_every_planted_fault_is_named_by_its_check(pytester: pytest.Pytester, lab: Lab) -> None:
    result, outcomes = _run(pytester, lab, "lax.test")
    failed = {check for check, seen in _by_check(outcomes).items() if "failed" in seen}
    assert failed == {
        "relay",  # mynetworks = 127.0.0.0/8
        "vrfy",  # 252 for a user, 550 for a made-up one
        "tls-version",  # TLS 1.0 and 1.1 accepted
        "cipher",  # anonymous suites accepted
        "certificate-trust", "certificate-name", "certificate-expiry",  # another CA, "localhost", 5 days
        "dane", "dane-rollover",  # no TLSA
        "fcrdns", "banner",  # no PTR
        "ipv6", "dnssec",  # no AAAA, unsigned zone
        "spf", "dmarc", "tls-rpt",  # none published
    }
    assert result.ret == 1
    lines = result.stdout.str()
    assert "relay: RCPT TO:<smtpcheck-relay-test@example.net> accepted: 250 2.1.5 Ok - an open relay" in lines
    assert "change: accept TLS 1.2 and 1.3 only (RFC 8996" in lines
    assert "the certificate expires in" in lines and "the threshold is 14 days" in lines
    assert "evidence: lax.test MX: insecure (no AD bit)" in lines  # the DNS answer behind the dnssec verdict
    assert not lab.messages_accepted()  # an open relay, and still nothing was sent


def test_dns_faults_of_a_domain_with_too_many_spf_lookups_and_p_none(pytester: pytest.Pytester, lab: Lab) -> None:
    _, outcomes = _run(pytester, lab, "weak.example.test", "-m", "policy or (dns and not recommended)")
    assert {check: seen for check, seen in _by_check(outcomes).items()} == {
        "mx": {"passed"}, "dnssec": {"passed"}, "ipv6": {"passed"},
        "mx-cname": {"failed"},  # MX -> alias.weak, a CNAME
        "spf": {"failed"},  # 11 lookups
        "dmarc": {"failed"},  # p=none
        "mta-sts": {"passed"},  # not published: nothing to judge
        "tls-rpt": {"failed"},
    }
    records = json.loads((pytester.path / "out.json").read_text())
    spf = next(record for record in records if record["id"] == "spf")
    assert "11 DNS-querying terms" in spf["message"] and spf["severity"] == "required"


def test_waivers_run_the_check_and_report_it_as_expected_to_fail(pytester: pytest.Pytester, lab: Lab) -> None:
    pytester.makeini("[pytest]\nsmtp_waive =\n    ipv6 mail.lax.test = CHG-7: IPv6 in Q3\n")
    result, outcomes = _run(pytester, lab, "lax.test", "-k", "relay or ipv6 or dmarc", "-rx",
                            "--smtp-waive=relay=CHG-1234: the old relay goes in May")
    assert outcomes == {"relay@127.0.0.21": "waived", "ipv6": "waived", "dmarc": "failed"}
    result.stdout.fnmatch_lines([
        "*XFAIL*relay*waived: CHG-1234: the old relay goes in May (found: RCPT TO:<*> accepted: 250*",
        "*XFAIL*ipv6*waived: CHG-7: IPv6 in Q3*",
    ])
    assert result.ret == 1  # dmarc is not waived


def test_a_waiver_for_another_host_does_not_apply(pytester: pytest.Pytester, lab: Lab) -> None:
    _, outcomes = _run(pytester, lab, "lax.test", "-k", "ipv6", "--smtp-waive=ipv6 mx9.lax.test=CHG-9")
    assert outcomes == {"ipv6": "failed"}


def test_a_waiver_of_a_passing_check_passes(pytester: pytest.Pytester, lab: Lab) -> None:
    _, outcomes = _run(pytester, lab, "good.example.test", "-k", "spf", "--smtp-waive=spf=CHG-2: not needed")
    assert outcomes == {"spf": "passed"}


def test_category_and_severity_select_checks(pytester: pytest.Pytester, lab: Lab) -> None:
    _, outcomes = _run(pytester, lab, "good.example.test", "-m", "tls and required", "-k", "127.0.0.20")
    assert set(outcomes) == {f"{check}@127.0.0.20" for check in ("starttls", "tls-version", "cipher",
                                                                 "forward-secrecy")}


def test_the_days_left_threshold_is_a_setting(pytester: pytest.Pytester, lab: Lab) -> None:
    result, outcomes = _run(pytester, lab, "good.example.test", "-k", "certificate-expiry",
                            "-o", "smtp_baseline_days_left=3650")
    assert set(outcomes.values()) == {"failed"}
    assert "the threshold is 3650 days" in result.stdout.str()


@pytest.mark.parametrize(("args", "message"), [
    (["--smtp-waive=ipv7=CHG-1"], "--smtp-waive: no check is called 'ipv7'; the checks: greeting, ehlo,"),
    (["--smtp-waive=ipv6"], "--smtp-waive: expected CHECK [HOST] = REASON, not 'ipv6'"),
    (["--smtp-waive=ipv6 ="], "--smtp-waive: empty"),
    (["-o", "smtp_baseline_days_left=soon"], "-o smtp_baseline_days_left: must be a whole number from 0 to 3650"),
    (["-o", "smtp_mta_sts_port=0"], "-o smtp_mta_sts_port: "),
])
def test_bad_battery_settings_are_usage_errors_naming_the_door(pytester: pytest.Pytester, lab: Lab,
                                                                args: list[str], message: str) -> None:
    result = pytester.runpytest_inprocess(*lab.args("good.example.test"), *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_the_battery_needs_a_domain(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--smtp-baseline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--smtp-baseline: needs a mail domain: give --smtp-mx=DOMAIN" in result.stderr.str()


def test_a_profile_waives_with_a_table(pytester: pytest.Pytester, lab: Lab) -> None:
    pytester.makefile(".toml", smtpcheck='[profiles.lab]\nwaive = { "dmarc" = "CHG-3: DMARC after the SPF fix" }\n')
    _, outcomes = _run(pytester, lab, "lax.test", "-k", "dmarc", "--smtp-profile=lab")
    assert outcomes == {"dmarc": "waived"}


def test_the_html_report_opens_with_the_scorecard(pytester: pytest.Pytester, lab: Lab, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    _run(pytester, lab, "lax.test", "-m", "smtp", f"--html={report}", "--self-contained-html")
    html = report.read_text()
    assert "Baseline scorecard" in html
    assert html.index("Baseline scorecard") < html.index("relay[mail.lax.test-127.0.0.21]")


def test_smtpcheck_check_writes_the_report_here_and_exits_as_pytest_does(
        lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    from pytest_smtpcheck.cli import main

    monkeypatch.chdir(tmp_path)
    status = main(["check", "good.example.test", "lax.test", *lab.options(), "-q", "--smtp-json=out.json"])
    output = capfd.readouterr()
    assert status == 1, output  # lax.test fails required checks
    reports = list(tmp_path.glob("smtpcheck-good.example.test-and-1-more-*.html"))
    assert len(reports) == 1
    assert f"smtpcheck check: report written to {reports[0]}" in output.out
    html = reports[0].read_text()
    assert "SMTP baseline: good.example.test, lax.test, " in html
    assert "Baseline scorecard" in html and "mail.lax.test 127.0.0.21" in html and "good.example.test (domain)" in html
    records = json.loads((tmp_path / "out.json").read_text())
    assert {record["domain"] for record in records} == {"good.example.test", "lax.test"}
    assert {r["outcome"] for r in records if r["domain"] == "good.example.test"} == {"passed"}


def test_smtpcheck_check_of_a_good_domain_exits_0_and_keeps_a_given_html_name(
        lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_smtpcheck.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["check", "good.example.test", *lab.options(), "-q", "-m", "policy", "--html=mine.html"]) == 0
    assert (tmp_path / "mine.html").exists() and not list(tmp_path.glob("smtpcheck-*.html"))


def test_smtpcheck_check_needs_a_domain(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_smtpcheck.cli import main

    assert main(["check", "-k", "tls"]) == 2
    assert "smtpcheck check: no domain given\n\nusage: smtpcheck check DOMAIN [DOMAIN ...]" in capsys.readouterr().err
    assert main(["check", "--help"]) == 0
    assert "usage: smtpcheck check DOMAIN [DOMAIN ...] [pytest options]" in capsys.readouterr().out
    assert main(["check", "exa mple.com"]) == 2
    assert "'exa mple.com' is not a host name" in capsys.readouterr().err


def test_the_battery_sends_no_message_and_shares_one_session_per_address(pytester: pytest.Pytester,
                                                                        lab: Lab) -> None:
    """RCPT is as far as any session goes (no DATA, no BDAT); the SMTP checks share one session; each TLS version
    and cipher class costs one handshake."""
    before = lab.good_log_lines()
    _run(pytester, lab, "good.example.test", "-k", "127.0.0.20")
    summaries = [line.split(" ehlo=")[1] for line in lab.good_log_lines()[len(before):]
                 if "disconnect from" in line and "[127.0.0.1]" in line and " ehlo=" in line]
    plain = [summary for summary in summaries if "vrfy=" in summary]
    # Postfix's count: VRFY disabled (0 of 2 accepted), EXPN unknown to it, 1 of 2 recipients (relay refused)
    assert plain == ["1 mail=1 rcpt=1/2 rset=1 vrfy=0/2 quit=1 unknown=0/1 commands=5/9"]
    # the default handshake, TLS 1.0, 1.1, 1.2 (1.3 was the default's) and 4 cipher classes OpenSSL 3 can offer
    assert len(summaries) - len(plain) == 1 + 3 + 4
    assert not any("data=" in summary or "bdat=" in summary for summary in summaries)


def test_the_docs_list_every_check_with_its_severity() -> None:
    from pytest_smtpcheck.baseline.checks import CHECKS

    page = (Path(__file__).parent.parent / "docs" / "baseline.md").read_text()
    for check in CHECKS:
        assert f"| `{check.id}` | {check.category} | {check.severity} | {check.scope} |" in page, check.id


def test_a_dead_mx_fails_its_checks_saying_so_and_ends(pytester: pytest.Pytester, lab: Lab) -> None:
    result, outcomes = _run(pytester, lab, "dead.example.test", "-m", "smtp or tls or certificate")
    assert set(outcomes.values()) == {"failed"} and "relay@127.0.0.22" in outcomes
    assert f"greeting: no greeting: connection to 127.0.0.22:{lab.port} refused" in result.stdout.str()
    assert "starttls: no TLS session: " in result.stdout.str()


def test_a_null_mx_passes_the_mx_check_and_an_address_in_an_mx_record_fails(pytester: pytest.Pytester,
                                                                            lab: Lab) -> None:
    _, outcomes = _run(pytester, lab, "nomail.example.test", "-m", "dns and not recommended")
    assert outcomes["mx"] == "passed"  # RFC 7505: a domain that takes no mail says so
    # ... and has no MX host to judge: the host and address checks are skipped saying so, never judged on the domain
    assert {check: seen for check, seen in _by_check(outcomes).items() if check != "mx"} == {
        "ipv6": {"skipped"}, "mx-cname": {"skipped"}, "dnssec": {"passed"}}
    records = json.loads((pytester.path / "out.json").read_text())
    assert {record["message"] for record in records if record["outcome"] == "skipped"} == {
        "nomail.example.test publishes a null MX (RFC 7505): it takes no mail, so it has no MX host or address to check"}
    assert {record["host"] for record in records} == {None}
    result, outcomes = _run(pytester, lab, "literal.example.test", "-m", "dns and not recommended")
    assert outcomes["mx-cname"] == "failed"
    assert "the MX record names the address 127.0.0.20, not a host" in result.stdout.str()


def test_the_header_and_the_html_environment_list_the_battery_settings_with_their_origins(
        pytester: pytest.Pytester, lab: Lab, tmp_path: Path) -> None:
    pytester.makeini("[pytest]\nsmtp_baseline_days_left = 30\n")
    report = tmp_path / "report.html"
    result, _ = _run(pytester, lab, "good.example.test", "-k", "spf", "--smtp-waive=ipv6=CHG-1: IPv6 in Q3",
                     f"--html={report}", "--self-contained-html")
    header = " ".join(line for line in result.stdout.lines if line.startswith("smtpcheck: "))
    for row in ("baseline true (command line)", "baseline_domains good.example.test (default: the mx domain)",
                "json out.json (command line)", "baseline_days_left 30 (ini (tox.ini))",
                "baseline_spacing 0 s (command line (-o))", f"mta_sts_port {lab.https_port} (command line (-o))",
                "waive ipv6 = CHG-1: IPv6 in Q3 (command line)"):
        assert row in header
    html = report.read_text()
    assert "baseline_days_left" in html and "30 (ini (tox.ini))" in html
    assert "default: the mx domain" in html


def test_without_the_battery_the_options_list_has_none_of_its_keys(pytester: pytest.Pytester) -> None:
    # a setting given, so the header lists them all (with none given it lists none: tests/test_startup.py)
    result = pytester.runpytest_inprocess("--co", "-p", "no:cacheprovider", "--smtp-tls=none")
    header = " ".join(line for line in result.stdout.lines if line.startswith("smtpcheck: "))
    assert "timeout 30 s (default)" in header and "baseline" not in header


def test_dane_of_an_alias_mx_looks_at_the_expanded_name_first(pytester: pytest.Pytester, lab: Lab) -> None:
    """RFC 7672 §2.2.2: alias.weak.example.test is a secure CNAME to mx1.good.example.test, whose TLSA records
    match; the record at the alias name itself matches nothing, and is not the one senders use."""
    result, outcomes = _run(pytester, lab, "weak.example.test", "-k", "dane and 127.0.0.20", "-rA")
    assert outcomes == {"dane@127.0.0.20": "passed", "dane-rollover@127.0.0.20": "passed"}
    assert ("TLSA records at _25._tcp.mx1.good.example.test, at the CNAME-expanded name of alias.weak.example.test"
            in result.stdout.str())


def test_dane_of_an_alias_mx_falls_back_to_the_mx_host_name(pytester: pytest.Pytester, lab: Lab) -> None:
    """RFC 7672 §2.2.2: no TLSA records at the expanded name (mx.solo.example.test): the MX host name's count."""
    result, outcomes = _run(pytester, lab, "fallback.example.test", "-k", "dane and not rollover", "-rA")
    assert outcomes == {"dane@127.0.0.20": "passed"}
    assert ("TLSA records at _25._tcp.alias.fallback.example.test (none at _25._tcp.mx.solo.example.test, the "
            "CNAME-expanded name, so at the MX host name; RFC 7672 §2.2.2)") in result.stdout.str()


def test_dane_of_an_alias_mx_with_an_insecure_expansion_uses_the_mx_host_name_only(pytester: pytest.Pytester,
                                                                                  lab: Lab) -> None:
    """RFC 7672 §2.2.2: the CNAME leads into the unsigned lax.test, so its name is no TLSA base domain."""
    result, outcomes = _run(pytester, lab, "insecure.example.test", "-k", "dane and not rollover")
    assert outcomes == {f"dane@{LAX_ADDRESS}": "failed"}
    assert ("no TLSA records at _25._tcp.alias.insecure.example.test (not at mail.lax.test: the CNAME expansion of "
            "alias.insecure.example.test is not DNSSEC-validated, so only the MX host name counts; RFC 7672 §2.2.2)"
            in result.stdout.str())


def _failed_records(pytester: pytest.Pytester) -> dict[str, dict[str, object]]:
    """The JSON summary's failed records by check id: each must say what was found and what to change."""
    records = json.loads((pytester.path / "out.json").read_text())
    failed = {record["id"]: record for record in records if record["outcome"] in ("failed", "waived")}
    assert all("; change: " in str(record.get("message")) for record in failed.values()), failed
    return failed


def test_a_domain_whose_mx_lookup_fails_has_every_check_say_why_and_what_to_change(pytester: pytest.Pytester,
                                                                                   lab: Lab) -> None:
    """bogus.test's MX answer fails DNSSEC validation (the resolver answers SERVFAIL): the MX hosts are unknown.
    No host or address check passes or judges the domain in their place; every failed check, the mx check whose own
    look-up failed among them, says what was found and what to change, distinct from an unsigned zone's change."""
    result, outcomes = _run(pytester, lab, "bogus.test")
    failed = _failed_records(pytester)
    assert {check: seen for check, seen in _by_check(outcomes).items() if seen != {"failed"}} == {
        "mta-sts": {"passed"}}  # _mta-sts.bogus.test does not exist, and that denial validates: nothing published
    unknown = "the MX hosts of bogus.test could not be found: MX lookup for bogus.test failed: DNS query bogus.test MX: "
    for check in ("ipv6", "mx-cname", "relay", "starttls", "dane"):
        assert str(failed[check]["message"]).startswith(unknown), failed[check]
        assert "change: re-sign the zone" in str(failed[check]["message"])
        assert failed[check]["host"] is None  # the domain is no MX host
    assert str(failed["mx"]["message"]).startswith("MX lookup for bogus.test failed: DNS query bogus.test MX: DNSSEC "
                                                   "validation failed (bogus)")
    dnssec = str(failed["dnssec"]["message"])
    assert "signed, but failing DNSSEC validation (bogus): bogus.test" in dnssec and "sign the zones" not in dnssec
    assert "change: re-sign the zone" in dnssec
    lines = result.stdout.str()
    assert "mx: MX lookup for bogus.test failed: " in lines
    assert "bogus.test has no IPv6 address" not in lines and "with its own addresses" not in lines
    assert "change: re-sign the zone" in lines


def _judge_mx_as_before(domain: DomainFacts) -> Verdict:
    """The mx judge before it read its own look-up's failure: DNSChecks.mx raises for a bogus answer."""
    from pytest_smtpcheck.baseline.checks import ok

    return ok(f"{len(domain.dns.mx(domain.domain))} MX records")


def test_a_judge_whose_own_lookup_raises_still_says_what_to_change(pytester: pytest.Pytester, lab: Lab,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """The pytest face's safety net: no judge of the battery lets a failed look-up escape any more, so the mx check
    is given its judge as it was (the DNS failure is bogus.test's, for real). The item still fails with what was
    found and what to change, in the terminal, the HTML report and the JSON summary, and a waiver still applies."""
    from dataclasses import replace

    from pytest_smtpcheck.baseline import checks

    monkeypatch.setattr(checks, "CHECKS", tuple(replace(check, judge=_judge_mx_as_before) if check.id == "mx"
                                                else check for check in checks.CHECKS))
    report = tmp_path / "report.html"
    select = ("-m", "dns", "-k", "not dnssec and not fcrdns and not banner and not ipv6 and not cname")
    result, outcomes = _run(pytester, lab, "bogus.test", *select, f"--html={report}", "--self-contained-html")
    assert outcomes == {"mx": "failed"}
    message = str(_failed_records(pytester)["mx"]["message"])
    assert message.startswith("a DNS lookup the check needs failed: DNS query bogus.test MX: DNSSEC validation "
                              "failed (bogus)")
    assert "; change: re-sign the zone" in message
    result.stdout.fnmatch_lines(["mx: a DNS lookup the check needs failed: DNS query bogus.test MX: *",
                                 "change: re-sign the zone*"])
    html = report.read_text()
    assert "change: re-sign the zone" in html and "change:   re-sign the zone" in html  # the failure, the section
    _, outcomes = _run(pytester, lab, "bogus.test", *select, "--smtp-waive=mx=CHG-5: DNSSEC fix on Monday")
    assert outcomes == {"mx": "waived"}
    assert "; change: re-sign the zone" in str(_failed_records(pytester)["mx"]["message"])


def test_a_certificate_only_dane_authenticates_fails_under_mta_sts(pytester: pytest.Pytester, lab: Lab) -> None:
    """RFC 8461 §4.2: MTA-STS senders want a chain to a root they trust and the MX host's name in it; DANE does not
    stand in for either. The same certificate and TLSA records pass without an MTA-STS policy (RFC 7672 §3.1)."""
    select = ("-k", "certificate-trust or certificate-name")
    _, outcomes = _run(pytester, lab, "daneonly.example.test", *select)
    assert outcomes == {f"certificate-trust@{LAX_ADDRESS}": "passed", f"certificate-name@{LAX_ADDRESS}": "passed"}
    result, outcomes = _run(pytester, lab, "stsdane.example.test", *select)
    assert outcomes == {f"certificate-trust@{LAX_ADDRESS}": "failed", f"certificate-name@{LAX_ADDRESS}": "failed"}
    failed = _failed_records(pytester)
    assert ("DANE authenticates it, but stsdane.example.test publishes an MTA-STS policy (mode enforce)"
            in str(failed["certificate-trust"]["message"]))
    assert ("the certificate does not name mx.stsdane.example.test; DANE-EE authenticates it, but stsdane.example.test "
            "publishes an MTA-STS policy (mode enforce)" in str(failed["certificate-name"]["message"]))
    assert "RFC 8461 §4.2" in result.stdout.str()


def test_the_probe_threads_import_nothing_of_the_plugin(pytester: pytest.Pytester, lab: Lab) -> None:
    """The battery's probe threads get their modules loaded before they start (see pytest_smtpcheck/preload.py,
    and the run-ahead's twin test in test_execution.py): no module of the plugin is imported in a thread."""
    from test_execution import THREAD_IMPORTS

    pytester.makeconftest(THREAD_IMPORTS)
    result = pytester.runpytest_subprocess(*lab.args("good.example.test"), "-p", "no:cacheprovider", "-s")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*imported in a thread of the run: nothing"])
