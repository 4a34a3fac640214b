"""SPF, MTA-STS, TLS-RPT and DANE records (DMARC: test_dns_dmarc.py) against a real unbound and a local HTTPS policy server."""

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


def test_mta_sts_counts_only_records_beginning_exactly_v_stsv1(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    """RFC 8461 §3.1: "v=STSv10; id=x" is discarded before counting, leaving the one good record."""
    result = dns_checks.mta_sts("sts-v10.example.test", port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert result.record is not None and (result.record.text, result.record.id) == ("v=STSv1; id=1;", "1")
    assert result.problems == [] and result.mx_matches()


def test_mta_sts_lookalike_alone_is_no_record(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    result = dns_checks.mta_sts("sts-only-v10.example.test", port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert result.record is None
    assert result.problems == [
        "no MTA-STS record (TXT \"v=STSv1; id=…\") at _mta-sts.sts-only-v10.example.test (discarded, as senders do: "
        "'v=STSv10; id=x', which do not begin with exactly 'v=STSv1;')"]


def test_mta_sts_two_good_records_are_none(dns_checks: DNSChecks, dns_server: DNSServer) -> None:
    """RFC 8461 §3.1: if the number of resulting records is not one, senders assume no MTA-STS."""
    result = dns_checks.mta_sts("sts-two.example.test", port=dns_server.https_port, ca_file=dns_server.ca_file)
    assert result.record is None and result.problems == [
        "2 MTA-STS records at _mta-sts.sts-two.example.test: senders ignore MTA-STS (RFC 8461 §3.1)"]


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


@pytest.mark.parametrize(("domain", "record"), [
    ("tlsrpt-bare.example.test", "v=TLSRPTv1; rua=mailto:tls-reports@example.test"),  # the bare one is discarded
    ("tlsrpt-nospace.example.test", "v=TLSRPTv1;rua=mailto:tls-reports@example.test"),  # begins with "v=TLSRPTv1;"
])
def test_tls_rpt_counts_only_records_beginning_exactly_v_tlsrptv1(dns_checks: DNSChecks, domain: str,
                                                                   record: str) -> None:
    """RFC 8460 §3: records that do not begin with "v=TLSRPTv1;" are discarded before counting."""
    result = dns_checks.tls_rpt(domain)
    assert (result.record, result.rua, result.problems) == (record, ["mailto:tls-reports@example.test"], [])


def test_tls_rpt_bare_version_alone_or_two_good_records_are_none(dns_checks: DNSChecks) -> None:
    assert dns_checks.tls_rpt("tlsrpt-only-bare.example.test").problems == [
        'no TLS-RPT record (TXT "v=TLSRPTv1; rua=…") at _smtp._tls.tlsrpt-only-bare.example.test (discarded, as '
        "senders do: 'v=TLSRPTv1', which do not begin with exactly 'v=TLSRPTv1;')"]
    two = dns_checks.tls_rpt("tlsrpt-two.example.test")
    assert two.record is None and two.problems == [
        "2 TLS-RPT records at _smtp._tls.tlsrpt-two.example.test: senders use none"]


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
