"""What DNS must say about an inbound mail domain: MX, FCrDNS, SPF, DMARC, MTA-STS, TLS-RPT and DANE.

Copy this file and run it against your domain, through a validating resolver:
`pytest test_dns_policy.py --smtp-mx=example.com --smtp-resolver=192.0.2.53`.
The tests that take `smtp_server` or `smtp_session` run once per MX host and
address; the others check the domain once. Without --smtp-mx, give
`--smtp-target=HOST --smtp-var SMTP_DOMAIN=example.com --smtp-resolver=IP`.
Without DNS options (`pytest examples` against the sandbox) every test here is
skipped, and no DNS server is asked.
"""

import pytest


@pytest.fixture(scope="module")
def domain(smtp_dns):
    """The mail domain: --smtp-mx, else the SMTP_DOMAIN variable."""
    if smtp_dns.domain is None:
        pytest.skip("needs the mail domain: give --smtp-mx=DOMAIN, or --smtp-var SMTP_DOMAIN=DOMAIN")
    return smtp_dns.domain


def mx_addresses(smtp_dns, domain):
    return [address for record in smtp_dns.mx(domain) for address in smtp_dns.addresses(record.host)]


def test_mx_hosts_exist_and_have_addresses(smtp_dns, domain):
    records = smtp_dns.mx(domain)
    assert records, f"{domain} has no MX record: senders fall back to its own address (the implicit MX)"
    assert not any(record.null for record in records), f"{domain} publishes a null MX: it accepts no mail"
    assert [record.host for record in records if not smtp_dns.addresses(record.host)] == []


def test_server_names_itself_by_its_confirmed_reverse_dns(smtp_dns, smtp_server, smtp_session):
    smtp_session.ehlo()
    names = smtp_server.host_names(smtp_session)
    assert names.fcrdns.confirmed, names.problems
    assert names.matches, names.problems


def test_spf_record_is_sound_and_lets_the_mx_hosts_send(smtp_dns, domain):
    spf = smtp_dns.spf(domain)
    assert spf.record, f"{domain} publishes no SPF record"
    assert not spf.problems
    sender = f"postmaster@{domain}"
    verdicts = {address: spf.evaluate(address, sender) for address in mx_addresses(smtp_dns, domain)}
    assert verdicts, f"{domain} has no MX address to check"
    refused = {address: (verdict, spf.explanation(address, sender)) for address, verdict in verdicts.items()
               if verdict != "pass"}
    assert not refused, f"SPF does not pass these MX addresses (verdict, the domain's explanation): {refused}"


def test_dmarc_policy_rejects_or_quarantines(smtp_dns, domain):
    dmarc = smtp_dns.dmarc(domain)
    assert dmarc.record, f"{domain} publishes no DMARC record"
    assert not dmarc.problems
    assert dmarc.policy in ("reject", "quarantine")


def test_mta_sts_enforces_and_names_every_mx_host(smtp_dns, domain):
    sts = smtp_dns.mta_sts(domain)
    assert sts.record, f"{domain} publishes no MTA-STS record"
    assert not sts.problems
    assert sts.policy.mode == "enforce"
    assert sts.mx_matches(), f"MX hosts the policy does not name: {sts.unmatched()}"


def test_tls_reports_have_somewhere_to_go(smtp_dns, domain):
    tls_rpt = smtp_dns.tls_rpt(domain)
    assert not tls_rpt.problems
    assert tls_rpt.rua, f"{domain} publishes no TLS-RPT report address"


@pytest.mark.smtp(tls="starttls")
def test_dane_records_match_the_certificate(smtp_dns, smtp_session):
    dane = smtp_session.dane()
    if not dane.records:
        pytest.skip("no TLSA records for this MX host: DANE is not published")
    assert dane.usable, f"TLSA records without DNSSEC or of a kind SMTP cannot use (usage 2 or 3): {dane.records}"
    assert dane.matched, f"no TLSA record matches the certificate the server presented: {dane.records}"
