"""DMARC as RFC 9989 has receivers read it, against a real unbound serving the zones of tests/unbound.py.

Each case judges both sides: the policy a receiver applies, and the problem a domain
owner must see. Section numbers are RFC 9989's (as in draft-ietf-dmarc-dmarcbis-41).
"""

from __future__ import annotations

import pytest

from pytest_smtpcheck.dns import DNSChecks
from pytest_smtpcheck.dns.dmarc import MAX_WALK_QUERIES


def _has(problems: list[str], *parts: str) -> bool:
    return any(all(part in problem for part in parts) for problem in problems)


# The records of example.test itself


def test_organizational_domain_record_applies_to_itself(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("example.test")
    assert (result.policy, result.subdomain_policy, result.np, result.pct) == ("reject", "quarantine", "quarantine", 100)
    assert result.rua == ["mailto:dmarc-reports@example.test"] and result.unauthorised_destinations == []
    assert (result.problems, result.fallback, result.found_at) == ([], False, "_dmarc.example.test")
    assert result.organizational_domain == "example.test"
    assert result.queried == ["_dmarc.example.test", "_dmarc.test"]  # §4.10: the walk goes on to the last label


def test_monitoring_record(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("monitor.example.test")
    assert (result.policy, result.fallback, result.problems) == ("none", False, [])


def test_subdomain_without_a_record_takes_the_organizational_domains_sp(dns_checks: DNSChecks) -> None:
    """§4.10.1: for an existing subdomain the policy comes from the sp tag of the organizational domain's record."""
    result = dns_checks.dmarc("sub.example.test")
    assert (result.fallback, result.found_at, result.policy) == (True, "_dmarc.example.test", "quarantine")
    assert result.organizational_domain == "example.test"


def test_a_record_between_the_domain_and_its_organizational_domain_does_not_apply(dns_checks: DNSChecks) -> None:
    """§4.10.2 rule 3: the organizational domain is the record with the fewest labels, so x.monitor gets
    example.test's sp=quarantine, not monitor's p=none (whose own mail still gets none)."""
    result = dns_checks.dmarc("x.monitor.example.test")
    assert (result.found_at, result.policy, result.organizational_domain) == (
        "_dmarc.example.test", "quarantine", "example.test")
    assert dns_checks.dmarc("monitor.example.test").subdomain_policy == "quarantine"


def test_no_record_anywhere(dns_checks: DNSChecks) -> None:
    """§4.10.1: no record on the whole walk, no DMARC; the domain is then its own organizational domain (§4.10.2)."""
    result = dns_checks.dmarc("insecure.test")
    assert result.record is None and result.policy is None and result.subdomain_policy is None
    assert result.problems == ['no DMARC record (TXT "v=DMARC1; …") at _dmarc.insecure.test, _dmarc.test: '
                               "receivers apply no DMARC"]
    assert result.organizational_domain == "insecure.test"


def test_several_records_at_one_name_are_all_discarded_and_the_walk_goes_on(dns_checks: DNSChecks) -> None:
    """§4.10 step 2: two v=DMARC1 records at _dmarc.two-records: neither counts, example.test's applies."""
    result = dns_checks.dmarc("two-records.example.test")
    assert (result.found_at, result.policy) == ("_dmarc.example.test", "quarantine")
    assert result.problems == ["2 DMARC records at _dmarc.two-records.example.test: receivers discard them all "
                               "(RFC 9989 §4.10)"]


# Public suffixes: the tree walk instead of the Public Suffix List


def test_public_suffix_like_name_finds_the_registered_domains_record(dns_checks: DNSChecks) -> None:
    """§4.10: mail.example.co.uk walks up to example.co.uk; 0.2.0's last-two-labels asked _dmarc.co.uk."""
    result = dns_checks.dmarc("mail.example.co.uk")
    assert (result.found_at, result.policy, result.fallback) == ("_dmarc.example.co.uk", "reject", True)
    assert (result.organizational_domain, result.problems) == ("example.co.uk", [])
    assert result.queried == ["_dmarc.mail.example.co.uk", "_dmarc.example.co.uk", "_dmarc.co.uk", "_dmarc.uk"]


def test_public_suffix_like_name_without_any_record(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("mail.other.co.uk")
    assert result.policy is None and result.record is None
    assert _has(result.problems, "no DMARC record", "_dmarc.other.co.uk", "_dmarc.co.uk")


def test_public_suffix_domain_policy_does_not_override_the_owners_reject(dns_checks: DNSChecks) -> None:
    """§4.10.1 and §4.10.2 rule 2: com.au's psd=y ends the walk, and makes example.com.au (one label below) the
    organizational domain, whose p=reject applies; 0.2.0 reported com.au's none."""
    result = dns_checks.dmarc("foo.example.com.au")
    assert (result.found_at, result.policy, result.organizational_domain) == (
        "_dmarc.example.com.au", "reject", "example.com.au")
    assert result.queried == ["_dmarc.foo.example.com.au", "_dmarc.example.com.au", "_dmarc.com.au"]
    assert result.problems == []


def test_public_suffix_domain_policy_applies_where_the_owner_publishes_none(dns_checks: DNSChecks) -> None:
    """§4.10.1: with no record at the organizational domain other.com.au, the PSD's record applies (its sp/np),
    and RFC 7489 receivers, which know no PSD policies, apply nothing: a problem."""
    result = dns_checks.dmarc("foo.other.com.au")
    assert (result.found_at, result.policy, result.organizational_domain) == (
        "_dmarc.com.au", "none", "other.com.au")
    assert _has(result.problems, "only the public suffix domain's policy at _dmarc.com.au (psd=y)",
                "publish _dmarc.other.com.au")


def test_a_public_suffix_domain_is_its_own_organizational_domain(dns_checks: DNSChecks) -> None:
    """§4.10.2 rule 2 skips a psd=y record at the walk's start; rule 3 then picks com.au itself."""
    result = dns_checks.dmarc("com.au")
    assert (result.found_at, result.policy, result.fallback, result.organizational_domain) == (
        "_dmarc.com.au", "none", False, "com.au")


# The walk's length


def test_a_deep_name_is_walked_in_at_most_eight_queries(dns_checks: DNSChecks) -> None:
    """§4.10 step 4: from 11 labels the walk jumps to the 7-label parent; _dmarc.c.d.e.f.g.h.deep (9 labels,
    p=none) is never asked, and example.test's sp=quarantine applies."""
    result = dns_checks.dmarc("a.b.c.d.e.f.g.h.deep.example.test")
    assert result.queried == [f"_dmarc.{name}" for name in (
        "a.b.c.d.e.f.g.h.deep.example.test", "e.f.g.h.deep.example.test", "f.g.h.deep.example.test",
        "g.h.deep.example.test", "h.deep.example.test", "deep.example.test", "example.test", "test")]
    assert (result.found_at, result.policy) == ("_dmarc.example.test", "quarantine")


def test_the_skipped_record_is_real(dns_checks: DNSChecks) -> None:
    """The other side: asked for directly, c.d.e.f.g.h.deep's own record applies to it."""
    result = dns_checks.dmarc("c.d.e.f.g.h.deep.example.test")
    assert (result.found_at, result.policy, result.fallback) == ("_dmarc.c.d.e.f.g.h.deep.example.test", "none", False)


@pytest.mark.parametrize("domain", [
    "a.b.c.d.e.f.g.h.deep.example.test", "b.c.d.e.f.g.h.deep.example.test", "d.e.f.g.h.deep.example.test",
    "mail.example.co.uk", "x.monitor.example.test", "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.example.test",
])
def test_no_walk_asks_more_than_eight_names(dns_checks: DNSChecks, domain: str) -> None:
    queried = dns_checks.dmarc(domain).queried
    assert len(queried) <= MAX_WALK_QUERIES and queried[0] == f"_dmarc.{domain}" and queried[-1] == f"_dmarc.{domain.rsplit('.', 1)[1]}"


# psd=n and np


def test_psd_n_ends_the_walk_and_makes_its_own_organizational_domain(dns_checks: DNSChecks) -> None:
    """§4.10 step 6 and §4.10.2 rule 1: np-org's psd=n stops the walk before example.test; its sp=none applies
    to an existing subdomain."""
    result = dns_checks.dmarc("exists.np-org.example.test")
    assert result.queried == ["_dmarc.exists.np-org.example.test", "_dmarc.np-org.example.test"]
    assert (result.organizational_domain, result.policy) == ("np-org.example.test", "none")


def test_np_applies_to_a_subdomain_that_does_not_exist(dns_checks: DNSChecks) -> None:
    """§4.10.1 and §3.2.13: gone.np-org is NXDOMAIN, so np=reject applies, not sp=none."""
    result = dns_checks.dmarc("gone.np-org.example.test")
    assert (result.found_at, result.policy) == ("_dmarc.np-org.example.test", "reject")
    whole = dns_checks.dmarc("np-org.example.test")
    assert (whole.policy, whole.subdomain_policy, whole.np) == ("reject", "none", "reject")
    assert _has(whole.problems, "np=reject applies to non-existent subdomains only at receivers that follow RFC 9989",
                "apply none to them too")


# t, the removed tags, p, sp and unknown tags


def test_testing_mode_lowers_the_policy_one_level(dns_checks: DNSChecks) -> None:
    """§4.7 t=y: reject is applied as quarantine; an RFC 7489 receiver ignores t and rejects: a problem."""
    result = dns_checks.dmarc("testing.dmarc.test")
    assert (result.policy, result.testing, result.tags["p"]) == ("quarantine", True, "reject")
    assert _has(result.problems, "t=y (testing)", "reject becomes quarantine", "RFC 7489 ignore t and apply reject")


def test_t_n_applies_the_policy_as_published(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("not-testing.dmarc.test")
    assert (result.policy, result.testing, result.problems) == ("reject", False, [])


def test_removed_tags_are_obsolete(dns_checks: DNSChecks) -> None:
    """Appendix C.5.2 (pct, rf, ri removed) and A.6: pct=50 still halves what an RFC 7489 receiver rejects."""
    result = dns_checks.dmarc("legacy.dmarc.test")
    assert (result.policy, result.pct) == ("reject", 50)
    assert _has(result.problems, "pct=50 is obsolete", "to 50% of it")
    assert _has(result.problems, "rf=afrf is obsolete") and _has(result.problems, "ri=3600 is obsolete")


def test_missing_p_with_a_valid_rua_is_none(dns_checks: DNSChecks) -> None:
    """§4.7 and §4.10.1: no p and a valid rua: receivers apply none (0.2.0 said policy None)."""
    result = dns_checks.dmarc("no-p.dmarc.test")
    assert (result.policy, result.subdomain_policy, result.np) == ("none", "none", "none")
    assert _has(result.problems, "no p= tag", "do the same only because rua= is valid")


def test_missing_p_without_rua_is_none_where_rfc_7489_ignores_the_record(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("no-p-no-rua.dmarc.test")
    assert result.policy == "none"
    assert _has(result.problems, "no p= tag", "RFC 7489 ignore the record")


def test_invalid_sp_without_rua_means_no_dmarc(dns_checks: DNSChecks) -> None:
    """§4.10.1: an sp that is not valid and no valid rua: receivers apply no DMARC (0.2.0 said reject/reject)."""
    result = dns_checks.dmarc("bad-sp.dmarc.test")
    assert (result.policy, result.subdomain_policy, result.np) == (None, None, None)
    assert result.record == "v=DMARC1; p=reject; sp=bogus"
    assert dns_checks.dmarc("x.bad-sp.dmarc.test").policy is None  # its subdomains: no DMARC either
    assert _has(result.problems, "sp=bogus is not one of none, quarantine, reject",
                "receivers apply no DMARC at all (there is no valid rua=)")


def test_invalid_sp_with_a_valid_rua_means_none(dns_checks: DNSChecks) -> None:
    """§4.10.1: with a valid rua the receiver acts as if the record said p=none."""
    result = dns_checks.dmarc("bad-sp-rua.dmarc.test")
    assert (result.policy, result.subdomain_policy) == ("none", "none")
    assert _has(result.problems, "sp=bogus", "receivers apply none to the whole record")


def test_invalid_p_with_an_https_rua_is_none(dns_checks: DNSChecks) -> None:
    """§4.10.1 asks for a syntactically valid URI: https: is one, though no report goes there (§4.7)."""
    result = dns_checks.dmarc("dmarc-broken.example.test")
    assert (result.policy, result.pct, result.rua) == ("none", 100, [])
    assert result.problems == [
        "p=block is not one of none, quarantine, reject: receivers apply none to the whole record (RFC 9989 §4.10.1)",
        "pct=150 is obsolete (RFC 9989 Appendix C.5.2): receivers ignore it; remove it",
        "rua address 'https://example.test/reports' is not a mailto: URI (the only scheme receivers must support): "
        "receivers may ignore it, and .rua/.ruf leave it out",
    ]


def test_unknown_tags_are_ignored_and_reported(dns_checks: DNSChecks) -> None:
    """§4.7: unknown tags MUST be ignored; the plugin names them, since a misspelt tag is ignored too."""
    result = dns_checks.dmarc("unknown-tag.dmarc.test")
    assert result.policy == "reject"
    assert result.problems == ["tag foo= is not a DMARC tag: receivers ignore it (RFC 9989 §4.7); check its spelling"]


# External report destinations (RFC 9989 §11.6; DMARC aggregate reporting §3)


def test_external_destinations_need_the_report_consumers_authorisation(dns_checks: DNSChecks) -> None:
    """reports.test publishes ext.dmarc.test._report._dmarc; noauth.test does not: its rua is dropped."""
    result = dns_checks.dmarc("ext.dmarc.test")
    assert result.rua == ["mailto:agg@reports.test"] and result.ruf == ["mailto:fail@reports.test"]
    assert result.unauthorised_destinations == ["mailto:agg@noauth.test"]
    assert result.problems == [
        "rua destination mailto:agg@noauth.test is outside the organizational domain ext.dmarc.test and not "
        'authorised: noauth.test has no TXT "v=DMARC1" at ext.dmarc.test._report._dmarc.noauth.test; '
        "receivers send it no reports (RFC 9989 §11.6)"]
    assert result.policy == "reject"


def test_an_authorisation_that_redirects_to_another_host_authorises_nothing(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("ext-redirect.dmarc.test")
    assert (result.rua, result.unauthorised_destinations) == ([], ["mailto:agg@reports.test"])
    assert _has(result.problems, "redirects to mailto:agg@elsewhere.test, another host")


def test_an_authorisation_may_replace_the_destination_at_the_same_host(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("ext-override.dmarc.test")
    assert (result.rua, result.unauthorised_destinations, result.problems) == (["mailto:dmarc@reports.test"], [], [])
