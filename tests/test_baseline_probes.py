"""The baseline's probes against the lab's real Postfixes: TLS versions, cipher classes, certificates, one
plain session's envelope questions and their verdicts on a server wrong in each; and their pure parts (forward
secrecy, name matching, key rules)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import trustme
from baseline_lab import GOOD_MX, LAX_ADDRESS, LAX_MX, Lab, running_lab
from faultserver import FaultServer, Peer

from pytest_smtpcheck.baseline.checks import CHECKS
from pytest_smtpcheck.smtp.certfacts import certificate_facts, name_covering
from pytest_smtpcheck.smtp.mxprobe import outside_domain, probe_mx
from pytest_smtpcheck.smtp.session import SMTPSession
from pytest_smtpcheck.smtp.tls import ProbeTLSSettings, TLSSettings
from pytest_smtpcheck.smtp.tlsprobe import TLSProbe, forward_secret


@pytest.fixture(scope="module")
def baseline_lab() -> Iterator[Lab]:
    with running_lab() as lab:
        yield lab


def _probe(lab: Lab, address: str, name: str) -> TLSProbe:
    def session(settings: ProbeTLSSettings) -> SMTPSession:
        return SMTPSession(address, lab.port, helo="probe.smtpcheck.invalid", timeout=10, tls=settings)

    return TLSProbe(session, TLSSettings(ca_file=lab.ca_file, server_name=name), spacing=0)


def test_the_good_mx_accepts_tls_1_2_and_1_3_only_and_no_weak_class(baseline_lab: Lab) -> None:
    result = _probe(baseline_lab, "127.0.0.20", GOOD_MX).run()
    assert result.failure is None
    assert result.trusted is True and result.trust_problem is None
    outcomes = {version: shake.outcome for version, shake in result.versions.items()}
    # RFC 8996: TLS 1.0 and 1.1 MUST NOT be negotiated; OpenSSL 3 cannot even offer SSLv3
    assert outcomes == {"SSLv3": "untestable", "TLSv1": "refused", "TLSv1.1": "refused", "TLSv1.2": "accepted",
                        "TLSv1.3": "accepted"}
    assert result.accepted_versions == ["TLSv1.2", "TLSv1.3"]
    assert "cannot offer SSLv3" in result.versions["SSLv3"].detail
    assert result.versions["TLSv1"].transcript is not None  # every handshake has its session
    ciphers = {name: shake.outcome for name, shake in result.ciphers.items()}
    assert ciphers == {"NULL": "refused", "anonymous": "refused", "EXPORT": "untestable", "RC4": "untestable",
                       "DES": "untestable", "MD5": "refused", "static-RSA": "refused"}
    assert result.forward_secret is True
    facts = certificate_facts(result.chain)
    assert name_covering(facts.names, GOOD_MX) == GOOD_MX
    assert facts.key == "RSA 2048" and facts.key_problem is None
    assert facts.signature_problem is None and 88 <= facts.days_left <= 90
    assert any(line.startswith("TLSv1 only -> refused") for line in result.evidence())


def test_the_lax_mx_accepts_tls_1_0_anonymous_suites_and_an_untrusted_certificate(baseline_lab: Lab) -> None:
    result = _probe(baseline_lab, LAX_ADDRESS, LAX_MX).run()
    assert result.failure is None
    assert result.trusted is False
    assert "not trusted" in (result.trust_problem or "") or "issuer" in (result.trust_problem or "")
    assert result.default.offered == "this client's defaults, certificate not verified"
    assert {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"} <= set(result.accepted_versions)
    assert result.versions["TLSv1"].version == "TLSv1"  # the handshake really was TLS 1.0
    assert result.ciphers["anonymous"].outcome == "accepted"
    assert result.ciphers["anonymous"].cipher is not None and "ADH" in result.ciphers["anonymous"].cipher
    facts = certificate_facts(result.chain)
    assert facts.names == ("localhost",) and name_covering(facts.names, LAX_MX) is None
    assert 3 <= facts.days_left <= 5


def test_a_server_that_gives_no_tls_session_is_asked_nothing_more(baseline_lab: Lab) -> None:
    shakes: list[ProbeTLSSettings] = []

    def session(settings: ProbeTLSSettings) -> SMTPSession:
        shakes.append(settings)
        return SMTPSession("127.0.0.1", baseline_lab.https_port, timeout=1, tls=settings)  # HTTPS: no greeting

    result = TLSProbe(session, TLSSettings(), spacing=0).run()
    assert result.failure is not None and result.default.outcome == "error"
    assert result.versions == {} and result.ciphers == {}
    assert len(shakes) == 1 and shakes[0].versions is None  # one attempt with this client's defaults


def test_handshakes_are_spaced(baseline_lab: Lab) -> None:
    slept: list[float] = []
    probe = _probe(baseline_lab, "127.0.0.20", GOOD_MX)
    probe.spacing, probe._sleep = 30.0, slept.append
    probe.run(versions=("TLSv1", "TLSv1.3"), ciphers=())
    assert len(slept) == 1 and 29 < slept[0] <= 30  # the default handshake, then TLSv1 after the pause


def test_one_plain_session_answers_the_envelope_questions_of_the_good_mx(baseline_lab: Lab) -> None:
    session = SMTPSession("127.0.0.20", baseline_lab.port, helo="probe.smtpcheck.invalid", timeout=10)
    result = probe_mx(session, "good.example.test")
    assert result.failure is None
    assert result.greeting is not None and result.greeting.code == 220
    assert result.offers("STARTTLS") and not result.offers("AUTH") and result.offers("SIZE")
    assert result.vrfy_known is not None and result.vrfy_known.code == 502  # disable_vrfy_command
    assert result.null_sender is not None and result.null_sender.code == 250  # RFC 5321 §4.5.5
    assert result.postmaster is not None and result.postmaster.code == 250  # RFC 5321 §4.5.1
    assert result.relay is not None and result.relay.code == 554 and result.relay.enhanced == "5.7.1"
    sent = [entry.text.split()[0] for entry in result.transcript.entries if entry.direction == "C"]
    assert sent == ["EHLO", "VRFY", "VRFY", "EXPN", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"]


def test_the_lax_mx_relays_and_confirms_users(baseline_lab: Lab) -> None:
    session = SMTPSession(LAX_ADDRESS, baseline_lab.port, helo="probe.smtpcheck.invalid", timeout=10)
    result = probe_mx(session, "lax.test")
    assert result.relay is not None and result.relay.code == 250  # open relay
    assert result.vrfy_known is not None and result.vrfy_unknown is not None
    assert (result.vrfy_known.code, result.vrfy_unknown.code) == (252, 550)  # tells who exists
    assert not baseline_lab.messages_accepted()


def test_a_dead_server_is_a_failure_of_the_probe_not_an_exception(baseline_lab: Lab) -> None:
    session = SMTPSession("127.0.0.1", baseline_lab.https_port, timeout=1)  # TLS, not SMTP: no greeting
    result = probe_mx(session, "good.example.test")
    assert result.failure is not None and "greeting" in result.failure
    assert result.ehlo is None and result.relay is None


def test_the_relay_probe_asks_for_a_domain_that_is_not_the_one_tested() -> None:
    assert outside_domain("good.example.test") == "example.net"
    assert outside_domain("example.net") == "example.org"
    assert outside_domain("mail.example.net") == "example.org"


@pytest.mark.parametrize(("version", "cipher", "expected"), [
    ("TLSv1.3", "TLS_AES_256_GCM_SHA384", True),
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", True),
    ("TLSv1.2", "DHE-RSA-AES256-GCM-SHA384", True),
    ("TLSv1.2", "AES256-GCM-SHA384", False),  # static RSA key exchange
    ("TLSv1", "ADH-AES256-SHA", False),
])
def test_forward_secrecy_follows_the_key_exchange(version: str, cipher: str, expected: bool) -> None:
    assert forward_secret(version, cipher) is expected


@pytest.mark.parametrize(("names", "host", "expected"), [
    (("mx1.example.com",), "MX1.example.com.", "mx1.example.com"),
    (("*.example.com",), "mx1.example.com", "*.example.com"),
    (("*.example.com",), "a.mx1.example.com", None),  # RFC 6125 §6.4.3: one label only
    (("*.com",), "example.com", None),  # a wildcard over a whole top-level domain
    (("*.example.com",), "example.com", None),
    (("mx1.example.com",), "mx2.example.com", None),
    ((), "mx1.example.com", None),
])
def test_names_are_matched_as_rfc_6125_says(names: tuple[str, ...], host: str, expected: str | None) -> None:
    assert name_covering(names, host) == expected


def test_certificate_facts_of_a_weak_key_and_a_near_expiry() -> None:
    ca = trustme.CA(key_type=trustme.KeyType.ECDSA)
    now = datetime.now(timezone.utc)
    cert = ca.issue_cert("mx.example.com", not_after=now + timedelta(days=3, hours=1))
    facts = certificate_facts([_der(cert)], now)
    assert facts.days_left == 3
    assert facts.key == "EC secp256r1" and facts.key_problem is None
    assert facts.names == ("mx.example.com",)
    assert [digest for _, digest in facts.signatures] == ["sha256"]
    with pytest.raises(ValueError, match="no certificate"):
        certificate_facts([])


def _der(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


def test_an_rsa_key_below_2048_bits_and_a_sha1_signature_are_problems(tmp_path: Path) -> None:
    """cryptography no longer signs with SHA-1, so the openssl command line makes the old-style certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command (apt-get install openssl)")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=Old CA", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "30")
    openssl("req", "-new", "-newkey", "rsa:1024", "-nodes", "-subj", "/CN=mx.example.com", "-keyout", "leaf.key",
            "-out", "leaf.csr")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-sha1", "-days", "30",
            "-out", "leaf.pem")
    leaf = ssl.PEM_cert_to_DER_cert((tmp_path / "leaf.pem").read_text())
    facts = certificate_facts([leaf, ssl.PEM_cert_to_DER_cert((tmp_path / "ca.pem").read_text())])
    assert facts.key == "RSA 1024" and facts.key_problem is not None and "2048" in facts.key_problem
    assert facts.names == ()  # no subjectAltName: no name RFC 6125 would match
    assert facts.signatures == (("CN=mx.example.com", "sha1"),)  # the self-signed root's own signature is not judged
    assert facts.signature_problem == "CN=mx.example.com is signed with sha1"


def test_the_envelope_verdicts_hold_on_exim_which_sends_no_enhanced_codes(exim: object) -> None:
    """No judge reads an MTA's reply text or needs RFC 3463 codes (RFC 2034: only servers that advertise
    ENHANCEDSTATUSCODES send them)."""
    judges = {check.id: check.judge for check in CHECKS}
    ports = exim.ports  # type: ignore[attr-defined]
    good = probe_mx(SMTPSession("127.0.0.1", ports["smtp"], timeout=10), "sandbox.test")
    assert good.relay is not None and good.relay.enhanced is None and good.relay.code == 550
    verdicts = {name: judges[name](SimpleNamespace(smtp=good)) for name in
                ("greeting", "ehlo", "relay", "postmaster", "null-sender", "auth-plaintext", "size")}
    assert {name: verdict.ok for name, verdict in verdicts.items()} == dict.fromkeys(verdicts, True)
    open_relay = probe_mx(SMTPSession("127.0.0.1", ports["open_relay"], timeout=10), "sandbox.test")
    relay = judges["relay"](SimpleNamespace(smtp=open_relay))
    assert not relay.ok and "an open relay" in relay.found


def _wrong_in_every_envelope_question(peer: Peer) -> None:
    """An MX that offers AUTH in plain text, advertises no SIZE, refuses the null sender and postmaster."""
    peer.reply("220 mx.fault.test ESMTP")
    while (line := peer.readline()) is not None:
        verb = line.split(" ")[0].upper()
        if verb == "EHLO":
            peer.reply("250-mx.fault.test", "250-AUTH PLAIN LOGIN", "250 8BITMIME")
        elif line.upper() == "MAIL FROM:<>":
            peer.reply("550 5.7.1 no bounces here")
        elif verb == "RCPT":
            peer.reply("550 5.1.1 no such user" if "postmaster@" in line.lower() else "554 5.7.1 relaying denied")
        elif verb in ("MAIL", "RSET"):
            peer.reply("250 2.0.0 ok")
        elif verb == "QUIT":
            return peer.reply("221 2.0.0 bye")
        else:
            peer.reply("502 5.5.2 not implemented")
    return None


def test_the_envelope_verdicts_fail_where_the_server_is_wrong() -> None:
    """The failing side of the plain session's judges, each saying what it found and what to change."""
    judges = {check.id: check.judge for check in CHECKS}
    with FaultServer(_wrong_in_every_envelope_question) as server:
        probed = probe_mx(SMTPSession("127.0.0.1", server.port, timeout=10), "example.test")
    verdicts = {name: judges[name](SimpleNamespace(smtp=probed)) for name in
                ("greeting", "ehlo", "relay", "vrfy", "postmaster", "null-sender", "auth-plaintext", "size")}
    assert {name: verdict.ok for name, verdict in verdicts.items()} == {
        "greeting": True, "ehlo": True, "relay": True, "vrfy": True,
        "postmaster": False,  # RFC 5321 §4.5.1: postmaster MUST be accepted
        "null-sender": False,  # RFC 5321 §4.5.5: bounces come from <>
        "auth-plaintext": False,  # RFC 8314 §3: no AUTH before TLS
        "size": False,  # RFC 1870: not advertised
    }
    assert verdicts["postmaster"].found == "RCPT TO:<postmaster@example.test> refused: 550 5.1.1 no such user"
    assert verdicts["null-sender"].found == "MAIL FROM:<> refused: 550 5.7.1 no bounces here"
    assert verdicts["auth-plaintext"].found == "AUTH PLAIN LOGIN offered before STARTTLS"
    assert "smtpd_tls_auth_only = yes" in verdicts["auth-plaintext"].change
    assert verdicts["size"].found == "SIZE is not advertised"


def test_a_refused_greeting_fails_the_greeting_and_ehlo_verdicts() -> None:
    """RFC 5321 §3.1: a 554 greeting refuses the session; EHLO is then never asked."""
    judges = {check.id: check.judge for check in CHECKS}
    with FaultServer(lambda peer: peer.reply("554 5.3.2 no service here")) as server:
        probed = probe_mx(SMTPSession("127.0.0.1", server.port, timeout=10), "example.test")
    greeting, ehlo = judges["greeting"](SimpleNamespace(smtp=probed)), judges["ehlo"](SimpleNamespace(smtp=probed))
    assert not greeting.ok and greeting.found == "greeting 554 5.3.2 no service here"
    assert not ehlo.ok and ehlo.found.startswith("EHLO was not asked: the server refused the session in its greeting")
