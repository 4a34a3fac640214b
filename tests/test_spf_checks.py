"""SPF beyond the RFC 7208 suite: what the audit reports, explanations, and how a failed check reads.

Against tests/zoneserver.py on 127.0.0.1, through the plugin's own `Resolver`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dns.name
import pytest
from zoneserver import TIMEOUT, Node, ZoneServer, zone

from pytest_smtpcheck.dns.resolver import Resolver
from pytest_smtpcheck.dns.spf import spf

EXAMPLES = Path(__file__).parent.parent / "examples"
LONG = "x" * 64  # one octet over a DNS label's 63 (RFC 1035 §2.3.4)
SENDER = "alice@spf.test"

ZONE = zone({
    "spf.test": ['TXT "v=spf1 ip4:192.0.2.1 -all exp=why.spf.test"', "MX 10 mx1.spf.test.", "MX 20 mx2.spf.test."],
    "why.spf.test": ['TXT "%{i} may not send mail from %{d} (" "sender %{s}, helo %{h})"'],
    "mx1.spf.test": ["A 192.0.2.1"],
    "mx2.spf.test": ["A 192.0.2.2"],
    "fine.spf.test": ['TXT "v=spf1 mx -all"', "MX 10 mx1.spf.test.", "MX 20 mx2.spf.test."],
    "soft.spf.test": ['TXT "v=spf1 ip4:192.0.2.1 ~all exp=why.spf.test"'],
    "long.spf.test": [f'TXT "v=spf1 a:{LONG}.spf.test ip4:192.0.2.1 -all"'],
    "long-macro.spf.test": ['TXT "v=spf1 exists:%{l}.spf.test ip4:192.0.2.1 -all"'],
    "exp-none.spf.test": ['TXT "v=spf1 -all exp=nowhere.spf.test"'],
    "exp-two.spf.test": ['TXT "v=spf1 -all exp=two.spf.test"'],
    "two.spf.test": ['TXT "one"', 'TXT "two"'],
    "exp-macro.spf.test": ['TXT "v=spf1 -all exp=macro.spf.test"'],
    "macro.spf.test": ['TXT "The %{x}-files."'],
    "exp-silent.spf.test": ['TXT "v=spf1 -all exp=silent.spf.test"'],
    "exp-long.spf.test": [f'TXT "v=spf1 -all exp={LONG}.spf.test"'],
})
ZONE[dns.name.from_text("silent.spf.test")] = Node(silent=True)  # a name server that never answers


@pytest.fixture(scope="module")
def zone_server() -> Iterator[ZoneServer]:
    server = ZoneServer()
    server.zone = ZONE
    yield server
    server.close()


@pytest.fixture
def resolver(zone_server: ZoneServer) -> Resolver:
    return Resolver("127.0.0.1", zone_server.port, timeout=TIMEOUT)


def test_explanation_of_a_fail_is_the_expanded_exp_text(resolver: Resolver) -> None:
    """RFC 7208 §6.2: the TXT record exp= names, its strings joined (§3.3), macros expanded with c/r/t allowed."""
    result = spf(resolver, "spf.test")
    assert result.problems == []
    assert result.evaluate("192.0.2.2", SENDER, helo="mx2.spf.test") == "fail"
    assert result.explanation("192.0.2.2", SENDER, helo="mx2.spf.test") == (
        "192.0.2.2 may not send mail from spf.test (sender alice@spf.test, helo mx2.spf.test)")


@pytest.mark.parametrize(("domain", "ip", "verdict"), [
    ("spf.test", "192.0.2.1", "pass"),
    ("soft.spf.test", "192.0.2.2", "softfail"),  # exp= explains a fail only (§6.2)
])
def test_no_explanation_for_other_results(resolver: Resolver, domain: str, ip: str, verdict: str) -> None:
    result = spf(resolver, domain)
    assert result.evaluate(ip, SENDER) == verdict
    assert result.explanation(ip, SENDER) is None


def test_an_empty_mail_from_is_postmaster_at_the_helo_name(resolver: Resolver) -> None:
    """RFC 7208 §2.4: with a null reverse-path the identity checked is postmaster@HELO."""
    assert spf(resolver, "spf.test").explanation("192.0.2.2", "", helo="spf.test") == (
        "192.0.2.2 may not send mail from spf.test (sender postmaster@spf.test, helo spf.test)")


@pytest.mark.parametrize(("domain", "problem"), [
    ("exp-none.spf.test", "exp=nowhere.spf.test: 0 TXT records there, RFC 7208 §6.2 wants exactly one"),
    ("exp-two.spf.test", "exp=two.spf.test: 2 TXT records there, RFC 7208 §6.2 wants exactly one"),
    ("exp-macro.spf.test", "exp=macro.spf.test: unknown macro letter %{x} in 'The %{x}-files.'"),
    ("exp-silent.spf.test", "exp=silent.spf.test: lookup failed: DNS query silent.spf.test TXT: no answer"),
    ("exp-long.spf.test", f"exp={LONG}.spf.test: not a name DNS can carry"),
])
def test_an_explanation_receivers_would_drop_is_a_problem_and_none(
    resolver: Resolver, domain: str, problem: str,
) -> None:
    """§6.2: no TXT record, several, a DNS error or a bad explain-string: the result stands, unexplained."""
    result = spf(resolver, domain)
    assert len(result.problems) == 1 and result.problems[0].startswith(problem), result.problems
    assert result.evaluate("192.0.2.9", SENDER) == "fail"
    assert result.explanation("192.0.2.9", SENDER) is None


@pytest.mark.parametrize(("domain", "sender"), [
    ("long.spf.test", SENDER),
    ("long-macro.spf.test", f"{LONG}@long-macro.spf.test"),  # the label made long by %{l}
])
def test_a_target_name_that_cannot_exist_does_not_match(resolver: Resolver, domain: str, sender: str) -> None:
    """RFC 7208 §4.3, §4.8: a label over 63 octets is a name that does not exist, not a temporary error."""
    result = spf(resolver, domain)
    assert result.evaluate("192.0.2.1", sender) == "pass"  # the next mechanism is reached
    assert result.evaluate("192.0.2.9", sender) == "fail"
    if "%" not in result.record:
        assert result.problems == [f"a:{LONG}.spf.test: not a name DNS can carry (a label over 63 octets, "
                                   "an empty label, or over 253 octets in all); receivers treat it as a name "
                                   "that does not exist"]


@pytest.mark.parametrize(("domain", "outcome"), [("fine.spf.test", "passed"), ("spf.test", "failed")])
def test_a_failed_spf_check_shows_the_domains_explanation(
    pytester: pytest.Pytester, zone_server: ZoneServer, domain: str, outcome: str,
) -> None:
    """The example policy test, against a domain whose SPF refuses one of its own MX hosts."""
    # copied under a name of its own: tests/test_dns_policy.py is already imported in this process
    shutil.copy(EXAMPLES / "test_dns_policy.py", pytester.path / "test_example_dns_policy.py")
    result = pytester.runpytest_inprocess(
        f"--smtp-resolver=127.0.0.1:{zone_server.port}", f"--smtp-var=SMTP_DOMAIN={domain}",
        "-k", "test_spf_record", "-p", "no:cacheprovider")
    result.assert_outcomes(**{outcome: 1})
    refusal = ("SPF does not pass these MX addresses (verdict, the domain's explanation): {'192.0.2.2': ('fail', "
               "'192.0.2.2 may not send mail from spf.test (sender postmaster@spf.test, helo unknown)')}")
    assert (refusal in result.stdout.str()) is (outcome == "failed")
