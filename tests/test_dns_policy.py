"""SPF, DMARC, MTA-STS, TLS-RPT and DANE records against a real unbound and a local HTTPS policy server."""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING

import pytest

from pytest_smtpcheck.dns import DNSChecks, DNSSECBogus, TLSARecord, dane_match

if TYPE_CHECKING:
    from unbound import DNSServer



# SPF


@pytest.mark.parametrize(("domain", "ip", "verdict"), [
    ("example.test", "127.0.0.1", "pass"),  # mx
    ("example.test", "127.0.0.2", "pass"),
    ("example.test", "127.0.0.9", "fail"),
    ("spf-softfail.example.test", "127.0.0.9", "softfail"),
    ("spf-neutral.example.test", "127.0.0.9", "neutral"),
    ("spf-include.example.test", "127.0.0.1", "pass"),
    ("spf-include.example.test", "127.0.0.9", "softfail"),  # the include's -all does not end the outer record
    ("spf-redirect.example.test", "127.0.0.9", "fail"),
    ("spf-exists.example.test", "127.0.0.1", "pass"),  # %{i}._spf.example.test exists
    ("spf-exists.example.test", "127.0.0.2", "fail"),
    ("spf-ptr.example.test", "127.0.0.1", "pass"),  # PTR mx1.example.test, confirmed
    ("spf-ptr.example.test", "127.0.0.3", "fail"),  # PTR ghost.example.test does not resolve back
    ("spf-ip6.example.test", "::1", "pass"),
    ("spf-ip6.example.test", "::ffff:127.0.0.1", "pass"),  # IPv4-mapped: evaluated as IPv4 (a:implicit…/32)
    ("spf-ip6.example.test", "::2", "fail"),
    ("insecure.test", "127.0.0.1", "none"),
    ("missing.example.test", "127.0.0.1", "none"),
    ("spf-many.example.test", "127.0.0.9", "permerror"),
    ("spf-many.example.test", "127.0.0.1", "pass"),  # matched before the 11th lookup
    ("spf-two.example.test", "127.0.0.1", "permerror"),
    ("spf-void.example.test", "127.0.0.1", "permerror"),  # third void lookup before ip4 is reached
    ("spf-syntax.example.test", "127.0.0.1", "permerror"),
    ("spf-temperror.example.test", "127.0.0.1", "temperror"),  # mx:bogus.test is DNSSEC-bogus
])
def test_spf_evaluate(dns_checks: DNSChecks, domain: str, ip: str, verdict: str) -> None:
    assert dns_checks.spf(domain).evaluate(ip, f"alice@{domain}") == verdict


def test_spf_good_record_has_no_problems(dns_checks: DNSChecks) -> None:
    result = dns_checks.spf("example.test")
    assert (result.record, result.problems) == ("v=spf1 mx -all", [])
    assert repr(result) == "SPFResult(domain='example.test', record='v=spf1 mx -all', problems=[])"


@pytest.mark.parametrize(("domain", "problem"), [
    ("insecure.test", "no SPF record"),
    ("spf-two.example.test", "2 SPF records at spf-two.example.test"),
    ("spf-many.example.test", "11 DNS-querying terms"),
    ("spf-void.example.test", "3 void lookups (names with no such record: a:nx1.example.test, a:nx2"),
    ("spf-syntax.example.test", "syntax: bad ip4 address or prefix length: 'ip4:127.0.0.300'"),
    ("spf-ptr.example.test", "ptr in spf-ptr.example.test: RFC 7208 §5.5 says not to use it"),
    ("spf-temperror.example.test", "mx:bogus.test: lookup failed"),
])
def test_spf_problems(dns_checks: DNSChecks, domain: str, problem: str) -> None:
    problems = dns_checks.spf(domain).problems
    assert any(problem in p for p in problems), problems


def test_spf_two_records_have_no_single_record(dns_checks: DNSChecks) -> None:
    assert dns_checks.spf("spf-two.example.test").record is None


# DMARC


def test_dmarc_reject(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("example.test")
    assert (result.policy, result.subdomain_policy, result.pct) == ("reject", "quarantine", 100)
    assert result.rua == ["mailto:dmarc-reports@example.test"]
    assert (result.problems, result.fallback, result.found_at) == ([], False, "_dmarc.example.test")


def test_dmarc_none(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("monitor.example.test")
    assert (result.policy, result.subdomain_policy, result.fallback) == ("none", "none", False)


def test_dmarc_subdomain_falls_back_to_the_organisational_domain(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("sub.example.test")
    assert (result.fallback, result.found_at, result.subdomain_policy) == (True, "_dmarc.example.test", "quarantine")


def test_dmarc_missing(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("insecure.test")
    assert result.record is None and result.policy is None
    assert result.problems == ['no DMARC record (TXT "v=DMARC1; …") at _dmarc.insecure.test']


def test_dmarc_broken_record(dns_checks: DNSChecks) -> None:
    result = dns_checks.dmarc("dmarc-broken.example.test")
    assert result.policy is None and result.pct == 100
    assert result.problems == [
        "p=block is not one of none, quarantine, reject",
        "pct=150 is not a whole number from 0 to 100",
        "rua address 'https://example.test/reports' is not a mailto: URI (the only scheme receivers send to)",
    ]


# MTA-STS


def test_mta_sts_record_and_policy(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    result = dns_checks.mta_sts("example.test", port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert result.problems == []
    assert result.record is not None and result.record.id == "20240501T120000"
    assert result.policy is not None
    assert (result.policy.mode, result.policy.max_age) == ("enforce", 604800)
    assert result.policy.mx == ["mx1.example.test", "*.example.test"]
    assert result.mx_matches()
    assert not result.mx_matches(["mx1.example.test", "mail.elsewhere.test"])
    assert result.unmatched(["a.b.example.test", "example.test"]) == ["a.b.example.test", "example.test"]


@pytest.mark.parametrize(("domain", "problem"), [
    ("sts-badid.example.test", "id='not_valid!' must be 1 to 32 letters and digits"),
    ("sts-nomode.example.test", "policy has no mode"),
    ("sts-huge.example.test", "the policy is larger than 64 KiB"),
    ("sts-redirect.example.test", "answered 301 (redirect to https://mta-sts.example.test/.well-known/mta-sts.txt)"),
    ("sts-mismatch.example.test", "MX host mx1.example.test does not match the policy's mx patterns"),
    ("sts-missing.example.test", "no MTA-STS record"),
])
def test_mta_sts_problems(dns_checks: DNSChecks, dns_server: DNSServer, domain: str, problem: str) -> None:
    result = dns_checks.mta_sts(domain, port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert any(problem in p for p in result.problems), result.problems


def test_mta_sts_mismatch_and_redirect_sides(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    mismatch = dns_checks.mta_sts("sts-mismatch.example.test", port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert not mismatch.mx_matches() and mismatch.unmatched() == ["mx1.example.test"]
    redirect = dns_checks.mta_sts("sts-redirect.example.test", port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert redirect.policy is None and not redirect.mx_matches()


def test_mta_sts_certificate_is_verified(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    result = dns_checks.mta_sts("example.test", port=dns_server.https_port)  # the system CAs do not know the test CA
    assert result.policy is None
    assert any("the certificate did not verify" in p for p in result.problems), result.problems


def test_mta_sts_server_not_listening(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        closed_port = listener.getsockname()[1]
    result = dns_checks.mta_sts("example.test", port=closed_port, ca_file=dns_server.ca_file)
    assert result.policy is None and "Connection refused" in " ".join(result.problems)


# TLS-RPT


def test_tls_rpt(dns_checks: DNSChecks) -> None:
    result = dns_checks.tls_rpt("example.test")
    assert result.rua == ["mailto:tls-reports@example.test", "https://reports.example.test/tlsrpt"]
    assert result.problems == []


def test_tls_rpt_missing_and_broken(dns_checks: DNSChecks) -> None:
    assert dns_checks.tls_rpt("insecure.test").record is None
    assert dns_checks.tls_rpt("tlsrpt-broken.example.test").problems == [
        "rua 'ftp://reports.example.test/' is neither mailto: nor https:"]


# TLSA and DANE


def _chain(dns_server: DNSServer) -> list[bytes]:
    return [ssl.PEM_cert_to_DER_cert(pem.bytes().decode()) for pem in dns_server.mx_cert.cert_chain_pems] + [
        ssl.PEM_cert_to_DER_cert(dns_server.ca.cert_pem.bytes().decode())]


def test_tlsa_match(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    records = dns_checks.tlsa("mx1.example.test", 25)
    assert records.secure and [(r.usage, r.selector, r.mtype) for r in records.records] == [(3, 1, 1)]
    result = dane_match(records, _chain(dns_server))
    assert result.usable and result.matched and result.match == records.records[0]


def test_tlsa_mismatch(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    result = dane_match(dns_checks.tlsa("mx2.example.test", 25), _chain(dns_server))
    assert result.usable and not result.matched and result.match is None


def test_tlsa_bogus_raises(dns_checks: DNSChecks) -> None:
    with pytest.raises(DNSSECBogus, match=r"_25\._tcp\.mx\.bogus\.test TLSA: DNSSEC validation failed \(bogus\)"):
        dns_checks.tlsa("mx.bogus.test", 25)


def test_tlsa_insecure_records_are_not_usable(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    records = dns_checks.tlsa("mx.insecure.test", 25)
    assert records.records and not records.secure
    result = dane_match(records, _chain(dns_server))
    assert not result.usable and not result.matched


def test_tlsa_none(dns_checks: DNSChecks) -> None:
    records = dns_checks.tlsa("mx1.example.test", 587)
    assert records.records == [] and records.secure  # a secure denial: DANE is provably not in use
    assert repr(TLSARecord(3, 1, 1, bytes(32))) == "TLSA(3 1 1 0000000000000000…)"
