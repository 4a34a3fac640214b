"""Pure parts of the DNS checks, no sockets: SPF syntax and macros, DMARC and MTA-STS parsing, DANE matching."""

from __future__ import annotations

import hashlib
import ipaddress

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pytest_smtpcheck.dns import TLSARecord, TLSAResult, dane_match
from pytest_smtpcheck.dns.dmarc import (
    WalkStep,
    applied_policies,
    check_tags,
    organizational_domain,
    parse_tags,
    walk_names,
)
from pytest_smtpcheck.dns.mta_sts import MTASTSPolicy, parse_policy, parse_record, versioned
from pytest_smtpcheck.dns.spf import _ip_macro, expand, is_spf, parse

# SPF syntax


@pytest.mark.parametrize("record", [
    "v=spf1 -all",
    "v=spf1",
    "V=SPF1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 a:mail.example.com/24//64 ~all",
    "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} ptr ?all",
    "v=spf1 redirect=_spf.example.com exp=explain._spf.%{d} unknown-mod=anything",
    "v=spf1  mx   -all",  # several spaces between terms
])
def test_spf_valid_records(record: str) -> None:
    assert parse(record)[1] == []


@pytest.mark.parametrize(("record", "error"), [
    ("v=spf1 ip4:192.0.2.300 -all", "bad ip4 address"),
    ("v=spf1 ip4:192.0.2.0/33", "bad ip4 address or prefix length"),
    ("v=spf1 ip6:192.0.2.1", "bad ip6 address"),
    ("v=spf1 a/33", "prefix length out of range"),
    ("v=spf1 frobnicate", "unknown mechanism 'frobnicate'"),
    ("v=spf1 all:example.com", "`all` takes no argument"),
    ("v=spf1 include", "include needs a domain"),
    ("v=spf1 include:localhost", "'localhost' is not a domain name"),
    ("v=spf1 include:example.123", "'example.123' is not a domain name"),
    ("v=spf1 a:%{x}.example.com", "unknown macro letter %{x}"),
    ("v=spf1 a:%{d0}.example.com", "keeps no labels"),
    ("v=spf1 a:100%.example.com", "bad macro or character"),
    ("v=spf1 redirect=a.example redirect=b.example", "redirect= appears twice"),
    ("v=spf1 ptr/24", "ptr takes no prefix length"),
    ("v=spf10 -all", "must start with v=spf1"),
])
def test_spf_syntax_errors(record: str, error: str) -> None:
    errors = parse(record)[1]
    assert any(error in e for e in errors), errors


def test_spf_record_selection() -> None:
    assert is_spf("v=spf1 -all") and is_spf("v=spf1")
    assert not is_spf("v=spf10 -all") and not is_spf("spf2.0/pra -all") and not is_spf("google-site-verification=x")


def test_spf_parse_keeps_terms_in_order() -> None:
    record, _ = parse("v=spf1 ~a:mail.example.com/24//48 ip4:192.0.2.1 -all redirect=other.example")
    assert [(d.qualifier, d.mechanism) for d in record.directives] == [("~", "a"), ("+", "ip4"), ("-", "all")]
    assert (record.directives[0].spec, record.directives[0].cidr4, record.directives[0].cidr6) == (
        "mail.example.com", 24, 48)
    assert record.directives[1].network == ipaddress.ip_network("192.0.2.1/32")
    assert record.redirect == "other.example"


# SPF macros: the examples of RFC 7208 §7.4


RFC_VALUES = {
    "s": "strong-bad@email.example.com", "l": "strong-bad", "o": "email.example.com", "d": "email.example.com",
    "i": "192.0.2.3", "v": "in-addr", "h": "mx.example.org", "p": "unknown", "c": "192.0.2.3", "r": "unknown",
    "t": "0",
}


@pytest.mark.parametrize(("spec", "expanded"), [
    ("%{s}", "strong-bad@email.example.com"),
    ("%{o}", "email.example.com"),
    ("%{d}", "email.example.com"),
    ("%{d4}", "email.example.com"),
    ("%{d3}", "email.example.com"),
    ("%{d2}", "example.com"),
    ("%{d1}", "com"),
    ("%{dr}", "com.example.email"),
    ("%{d2r}", "example.email"),
    ("%{l}", "strong-bad"),
    ("%{l-}", "strong.bad"),
    ("%{lr}", "strong-bad"),
    ("%{lr-}", "bad.strong"),
    ("%{l1r-}", "strong"),
    ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
    ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
    ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
    ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
    ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ("%%-%_-%-", "%- -%20"),
])
def test_spf_macro_expansion(spec: str, expanded: str) -> None:
    assert expand(spec, RFC_VALUES, exp="%_" in spec) == expanded


def test_spf_macro_ipv6_and_url_escaping() -> None:
    values = dict(RFC_VALUES, i=_ip_macro(ipaddress.IPv6Address("2001:db8::cb01")), v="ip6")
    # RFC 7208 §7.4 writes the nibbles in lower case, RFC 4408 §8.1 and the RFC 7208 suite in upper;
    # a name compares without case (RFC 4343), so the query is the same either way.
    assert expand("%{ir}.%{v}._spf.%{d2}", values).lower() == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
    assert expand("%{S}", dict(RFC_VALUES, s="a b@example.com"), exp=True) == "a%20b%40example.com"


def test_spf_macro_expansion_is_cut_to_253_characters() -> None:
    expanded = expand("%{l}.example.com", dict(RFC_VALUES, l=".".join(["label"] * 60)))
    assert len(expanded) <= 253 and expanded.endswith(".label.example.com")


# DMARC tags (RFC 9989 §4.7, §4.8)


def test_dmarc_tags_parsed() -> None:
    record = "v=DMARC1; p=reject; sp=none; np=reject; psd=n; t=n; rua=mailto:a@example.com,mailto:b@example.net;"
    tags, problems = parse_tags(record)
    assert problems == []
    assert tags == {"v": "DMARC1", "p": "reject", "sp": "none", "np": "reject", "psd": "n", "t": "n",
                    "rua": "mailto:a@example.com,mailto:b@example.net"}
    assert applied_policies(tags) == ("reject", "none", "reject")


@pytest.mark.parametrize(("record", "problem"), [
    ("p=reject; v=DMARC1", "v=DMARC1 must be the first tag"),
    ("v=DMARC1; p=reject; p=none", "tag p appears twice"),
    ("v=DMARC1; p=reject; junk", "'junk' is not a tag=value pair"),
    ("v=DMARC1; rua=mailto:a@example.com", "no p= tag"),
    ("v=DMARC1; adkim=s; p=reject", "p= is not the second tag"),
    ("v=DMARC1; p=reject; adkim=x", "adkim=x is not r or s"),
    ("v=DMARC1; p=reject; psd=maybe", "psd=maybe is not y or n or u"),
    ("v=DMARC1; p=reject; t=yes", "t=yes is not y or n"),
    ("v=DMARC1; p=reject; pct=-1", "pct=-1 is obsolete"),
    ("v=DMARC1; p=reject; pct=0", "receivers still on RFC 7489 to 0% of it"),
    ("v=DMARC1; p=reject; ruf=reports@example.com", "ruf address 'reports@example.com' is not a mailto: URI"),
    ("v=DMARC1; p=reject; rua=mailto:a@example.com!10m", "the !size limit is obsolete"),
    ("v=DMARC1; p=reject; np=bogus", "np=bogus is not one of none, quarantine, reject"),
])
def test_dmarc_tag_problems(record: str, problem: str) -> None:
    tags, problems = parse_tags(record)
    assert any(problem in p for p in problems + check_tags(tags)), problems + check_tags(tags)


def test_a_clean_record_has_no_problems() -> None:
    """The failing sides above have a passing one: each tag written as RFC 9989 wants it."""
    tags, problems = parse_tags("v=DMARC1; p=quarantine; sp=reject; adkim=s; aspf=r; psd=u; t=n; "
                                "rua=mailto:a@example.com; ruf=mailto:f@example.com; fo=1")
    assert problems + check_tags(tags) == []


@pytest.mark.parametrize(("record", "policies"), [
    ("v=DMARC1; p=reject", ("reject", "reject", "reject")),
    ("v=DMARC1; p=reject; sp=quarantine", ("reject", "quarantine", "quarantine")),  # np defaults to sp (§4.7)
    ("v=DMARC1; p=reject; np=none", ("reject", "reject", "none")),
    ("v=DMARC1; rua=mailto:a@example.com", ("none", "none", "none")),  # §4.7: no p is none
    ("v=DMARC1; p=reject; sp=bogus", (None, None, None)),  # §4.10.1: no valid rua, no DMARC
    ("v=DMARC1; p=reject; sp=bogus; rua=mailto:a@example.com", ("none", "none", "none")),
    ("v=DMARC1; p=Reject; SP=None", ("reject", "none", "none")),  # ABNF literals are case-insensitive
])
def test_dmarc_applied_policies(record: str, policies: tuple[str | None, ...]) -> None:
    assert applied_policies(parse_tags(record)[0]) == policies


# DMARC tree walk (RFC 9989 §4.10)


def test_walk_names_of_the_rfc_example() -> None:
    """§4.10: the RFC's own example, thirteen labels in eight queries."""
    assert walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com") == [
        "a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com", "h.i.j.mail.example.com",
        "i.j.mail.example.com", "j.mail.example.com", "mail.example.com", "example.com", "com"]


@pytest.mark.parametrize(("labels", "queries"), [(1, 1), (2, 2), (7, 7), (8, 8), (9, 8), (30, 8)])
def test_walk_names_never_more_than_eight(labels: int, queries: int) -> None:
    names = walk_names(".".join(f"l{n}" for n in range(labels)))
    assert len(names) == queries and names[-1] == f"l{labels - 1}"
    assert all(name.count(".") + 1 <= 7 for name in names[1:])


def _steps(start: str, **records: str) -> list[WalkStep]:
    """A walk from START; RECORDS maps a domain (dots as underscores) to the record found there."""
    found = {name.replace("_", "."): record for name, record in records.items()}
    return [WalkStep(name, found.get(name), parse_tags(found[name])[0] if name in found else {})
            for name in walk_names(start)]


@pytest.mark.parametrize(("start", "records", "org"), [
    # §4.10.2's own examples
    ("a.mail.example.com", {"mail_example_com": "v=DMARC1; p=none", "example_com": "v=DMARC1; p=reject"},
     "example.com"),
    ("a.mail.example.com", {"mail_example_com": "v=DMARC1; p=none; psd=n", "example_com": "v=DMARC1; p=reject"},
     "mail.example.com"),
    ("a.mail.example.com", {"com": "v=DMARC1; p=none; psd=y"}, "example.com"),
    # Appendix B.4.3: psd=y one level up
    ("mail.giant.bank.example", {"giant_bank_example": "v=DMARC1; p=reject", "bank_example": "v=DMARC1; psd=y"},
     "giant.bank.example"),
    ("mail.mega.bank.example", {"giant_bank_example": "v=DMARC1; p=reject", "bank_example": "v=DMARC1; psd=y"},
     "mega.bank.example"),
    # psd=y at the start is not a boundary below it; no record at all: the start itself
    ("bank.example", {"bank_example": "v=DMARC1; psd=y"}, "bank.example"),
    ("a.b.example", {}, "a.b.example"),
])
def test_organizational_domain_selection(start: str, records: dict[str, str], org: str) -> None:
    assert organizational_domain(_steps(start, **records)) == org


# MTA-STS and TLS-RPT record selection


@pytest.mark.parametrize(("texts", "kept"), [
    (["v=STSv10; id=x", "v=STSv1; id=1;"], ["v=STSv1; id=1;"]),
    (["v=STSv1 ; id=1"], []),  # RFC 8461 §3.1: does not begin with exactly "v=STSv1;"
    (["v=stsv1; id=1"], []),  # %s"v=STSv1": case-sensitive
    (["v=spf1 -all", "v=STSv1;id=1"], ["v=STSv1;id=1"]),
])
def test_mta_sts_records_kept(texts: list[str], kept: list[str]) -> None:
    assert versioned(texts, "v=STSv1;")[0] == kept


def test_tls_rpt_records_kept() -> None:
    kept, note = versioned(["v=TLSRPTv1", "v=TLSRPTv1;rua=mailto:a@example.com"], "v=TLSRPTv1;")
    assert kept == ["v=TLSRPTv1;rua=mailto:a@example.com"]
    assert note == " (discarded, as senders do: 'v=TLSRPTv1', which do not begin with exactly 'v=TLSRPTv1;')"
    assert versioned(["v=TLSRPTv1; rua=mailto:a@example.com"], "v=TLSRPTv1;")[1] == ""


# MTA-STS parsing and matching


def test_mta_sts_record_id() -> None:
    record, problems = parse_record("v=STSv1;id=20160831085700Z")
    assert (record.id, problems) == ("20160831085700Z", [])
    assert parse_record("v=STSv1; id=abc-def;")[1] == [
        "id='abc-def' must be 1 to 32 letters and digits (RFC 8461 §3.1)"]
    assert parse_record("v=STSv1;")[1] == ["the record 'v=STSv1;' has no id= field"]


def test_mta_sts_policy_parsed_with_lf_or_crlf() -> None:
    text = "version: STSv1\nmode: testing\r\nmx: mail.example.com\nmx: *.example.net\nmax_age: 86400\n"
    policy, problems = parse_policy(text)
    assert problems == []
    assert policy == MTASTSPolicy("testing", ["mail.example.com", "*.example.net"], 86400, "STSv1")


@pytest.mark.parametrize(("text", "problem"), [
    ("version: STSv1\nmx: a.example\nmax_age: 1\n", "policy has no mode"),
    ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "policy mode is 'strict', not one of"),
    ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "policy version is 'STSv2'"),
    ("version: STSv1\nmode: enforce\nmax_age: 1\n", "policy has no mx patterns"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999\n", "exceeds 31557600 s"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: soon\n", "max_age 'soon' is not a number"),
    ("version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 1\n", "policy field mode appears twice"),
])
def test_mta_sts_policy_problems(text: str, problem: str) -> None:
    problems = parse_policy(text)[1]
    assert any(problem in p for p in problems), problems


def test_mta_sts_mx_patterns() -> None:
    policy = MTASTSPolicy("enforce", ["mail.example.com", "*.example.net"], 86400)
    assert policy.matches("MAIL.example.com.") and policy.matches("mx1.example.net")
    assert not policy.matches("example.net") and not policy.matches("a.mx1.example.net")
    assert not policy.matches("mail2.example.com")


# DANE matching


@pytest.fixture(scope="module")
def chain() -> tuple[list[bytes], list[x509.Certificate]]:
    """Leaf, intermediate, root: DER, leaf first, as a TLS peer presents it."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("mx.example.test")
    pems = [blob.bytes() for blob in leaf.cert_chain_pems] + [root.cert_pem.bytes()]
    certs = [x509.load_pem_x509_certificate(pem) for pem in pems]
    return [c.public_bytes(serialization.Encoding.DER) for c in certs], certs


def _data(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    raw = cert.public_bytes(serialization.Encoding.DER) if selector == 0 else cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {0: raw, 1: hashlib.sha256(raw).digest(), 2: hashlib.sha512(raw).digest()}[mtype]


def _secure(*records: TLSARecord) -> TLSAResult:
    return TLSAResult("_25._tcp.mx.example.test", list(records), True)


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_the_leaf(chain: tuple[list[bytes], list[x509.Certificate]], selector: int, mtype: int) -> None:
    der, certs = chain
    record = TLSARecord(3, selector, mtype, _data(certs[0], selector, mtype))
    assert dane_match(_secure(record), der) == dane_match(_secure(record), der[:1])
    result = dane_match(_secure(record), der)
    assert (result.usable, result.matched, result.match) == (True, True, record)


@pytest.mark.parametrize("anchor", [1, 2])
@pytest.mark.parametrize("selector", [0, 1])
def test_dane_ta_matches_an_issuer(
    chain: tuple[list[bytes], list[x509.Certificate]], anchor: int, selector: int
) -> None:
    der, certs = chain
    record = TLSARecord(2, selector, 1, _data(certs[anchor], selector, 1))
    assert dane_match(_secure(record), der, host="mx.example.test").matched


def test_dane_ta_needs_the_host_name_on_the_leaf(chain: tuple[list[bytes], list[x509.Certificate]]) -> None:
    der, certs = chain
    record = TLSARecord(2, 1, 1, _data(certs[1], 1, 1))
    assert not dane_match(_secure(record), der, host="other.example.test").matched


def test_dane_ta_needs_a_chain_that_verifies(chain: tuple[list[bytes], list[x509.Certificate]]) -> None:
    der, certs = chain
    stranger = trustme.CA().issue_cert("mx.example.test").cert_chain_pems[0].bytes()
    stranger_der = x509.load_pem_x509_certificate(stranger).public_bytes(serialization.Encoding.DER)
    record = TLSARecord(2, 1, 1, _data(certs[1], 1, 1))
    assert not dane_match(_secure(record), [stranger_der, *der[1:]]).matched


def test_dane_ee_does_not_match_an_issuer(chain: tuple[list[bytes], list[x509.Certificate]]) -> None:
    der, certs = chain
    result = dane_match(_secure(TLSARecord(3, 1, 1, _data(certs[1], 1, 1))), der)
    assert result.usable and not result.matched


@pytest.mark.parametrize("record", [
    TLSARecord(1, 1, 1, b""),  # PKIX-EE: unusable for SMTP (RFC 7672 §3.1.3)
    TLSARecord(3, 2, 1, b""),  # unknown selector
    TLSARecord(3, 1, 3, b""),  # unknown matching type
])
def test_dane_unusable_records(chain: tuple[list[bytes], list[x509.Certificate]], record: TLSARecord) -> None:
    assert dane_match(_secure(record), chain[0]).usable is False


def test_dane_insecure_records_are_never_usable(chain: tuple[list[bytes], list[x509.Certificate]]) -> None:
    der, certs = chain
    record = TLSARecord(3, 1, 1, _data(certs[0], 1, 1))
    result = dane_match(TLSAResult("_25._tcp.mx.example.test", [record], False), der)
    assert (result.usable, result.matched) == (False, False)
