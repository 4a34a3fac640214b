"""A real DNSSEC-validating resolver (Debian's unbound) for the DNS tests, serving zones written here.

Unbound runs in the foreground on 127.0.0.1 at a free high port, in a temporary
directory, and answers from `auth-zone:` blocks with `for-upstream: yes`: the
iterator takes the zone data as if from an authoritative server and the validator
checks it, so answers carry the AD bit for real. The zones:
- `example.test`: signed (ldns-signzone), trust anchor configured: every check's data;
- `bogus.test`: signed, then the signatures of its MX, TXT and TLSA records broken: SERVFAIL;
- `insecure.test`: unsigned, no trust anchor: answers without the AD bit;
- `127.in-addr.arpa`: unsigned PTR records for the FCrDNS checks;
- `example.co.uk`, `com.au`, `example.com.au`, `dmarc.test`, `reports.test`, `noauth.test`: unsigned,
  for the DMARC tree walk under public suffixes and external report destinations.
A root zone of our own (empty, also an auth-zone) answers NXDOMAIN for every other
name: unbound never queries anything off this machine.

An HTTPS server on 127.0.0.1 (a thread, certificate from a run-local trustme CA)
serves the MTA-STS policies, chosen by the Host header.

Tests add records by overriding the session fixture `dns_zone_extras`, and HTTPS
answers through `dns_server.https_responses`.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from pytest_smtpcheck.dns import DNSChecks

UNBOUND = "/usr/sbin/unbound"
LDNS_KEYGEN = "/usr/bin/ldns-keygen"
LDNS_SIGNZONE = "/usr/bin/ldns-signzone"
INSTALL_HINT = "apt-get install unbound ldnsutils (CI's .ci/run does)"
BOGUS_TYPES = ("MX", "TXT", "TLSA")
MTA_STS_HOSTS = ("", "sts-badid.", "sts-nomode.", "sts-huge.", "sts-redirect.", "sts-mismatch.", "sts-v10.")
RUA = "rua=mailto:dmarc-reports@example.test"
# DMARC records at _dmarc.NAME.dmarc.test, one per RFC 9989 case the tests judge; nothing above them publishes
# one, so each NAME.dmarc.test is its own organizational domain and its record covers its subdomains too;
# {rua} is a report address inside NAME.dmarc.test
DMARC_CASES = {
    "testing": "v=DMARC1; p=reject; t=y; {rua}",
    "not-testing": "v=DMARC1; p=reject; t=n; {rua}",
    "legacy": "v=DMARC1; p=reject; pct=50; rf=afrf; ri=3600; {rua}",
    "no-p": "v=DMARC1; {rua}",
    "no-p-no-rua": "v=DMARC1; adkim=s",
    "bad-sp": "v=DMARC1; p=reject; sp=bogus",
    "bad-sp-rua": "v=DMARC1; p=reject; sp=bogus; {rua}",
    "unknown-tag": "v=DMARC1; p=reject; foo=bar; {rua}",
    "ext": "v=DMARC1; p=reject; rua=mailto:agg@reports.test,mailto:agg@noauth.test; ruf=mailto:fail@reports.test",
    "ext-redirect": "v=DMARC1; p=reject; rua=mailto:agg@reports.test",
    "ext-override": "v=DMARC1; p=reject; rua=mailto:agg@reports.test",
}

IP6_LOOPBACK_REVERSE = "1" + ".0" * 31 + ".ip6.arpa"  # ::1, answered by a zone of ours, not unbound's default
Dnssec = Literal["secure", "bogus", "insecure"]


@dataclass
class Zone:
    """A zone to serve: zone-file lines with names relative to `name`, and how it is signed."""

    name: str
    dnssec: Dnssec
    records: list[str] = field(default_factory=list)

    def owners(self) -> set[str]:
        """Owner names of the records, relative to the zone ("" for the apex)."""
        found = set()
        for line in self.records:
            owner = line.split()[0]
            if owner.endswith("."):
                owner = owner[: -len(self.name) - 1].rstrip(".") if owner != f"{self.name}." else ""
            found.add("" if owner == "@" else owner.lower())
        return found

    def empty_non_terminals(self) -> list[str]:
        """Names that exist only because names below them do.

        Unbound 1.17's auth-zone picks the wrong closest encloser for an NXDOMAIN below
        such a name, and its own validator then calls the denial bogus; signed zones get
        an HINFO record there instead (answers NODATA to every other type, as an empty
        non-terminal does).
        """
        owners = self.owners()
        ancestors = {owner.split(".", depth)[-1] for owner in owners for depth in range(1, owner.count(".") + 1)}
        return sorted(ancestors - owners)

    def text(self) -> str:
        fillers = [] if self.dnssec == "insecure" else [
            f'{name} HINFO "smtpcheck" "filled empty non-terminal"' for name in self.empty_non_terminals()]
        head = [
            f"$ORIGIN {self.name}.",
            "$TTL 300",
            "@ SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300",
            "@ NS ns.example.test.",
        ]
        return "\n".join(head + self.records + fillers) + "\n"


def spki_sha256(cert_pem: bytes) -> str:
    """The `3 1 1` TLSA data of a certificate: SHA-256 of its SubjectPublicKeyInfo, in hex."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def standard_zones(mx_cert_pem: bytes) -> dict[str, Zone]:
    """The zones every DNS test can rely on; `dns_zone_extras` adds to them."""
    matching = spki_sha256(mx_cert_pem)
    mismatching = hashlib.sha256(b"not the certificate mx2 presents").hexdigest()
    example = [
        "ns A 127.0.0.1",
        # Two MX hosts, the sandbox or test Postfix on 127.0.0.1 and 127.0.0.2.
        "@ MX 10 mx1",
        "@ MX 20 mx2",
        "mx1 A 127.0.0.1",
        "mx2 A 127.0.0.2",
        # Same preference twice, a host with IPv4 and IPv6: the order of --smtp-mx targets.
        "multi MX 10 mx-b",
        "multi MX 10 mx-a",
        "multi MX 5 mx2",
        "mx-a A 127.0.0.5",
        "mx-a AAAA ::1",
        "mx-b A 127.0.0.4",
        "mx-b A 127.0.0.3",
        "noaddr MX 10 ghost",  # an MX host that does not exist
        "implicit A 127.0.0.1",  # no MX: the implicit MX (RFC 5321 §5.1)
        "implicit AAAA ::1",
        "nullmx MX 0 .",  # RFC 7505
        # SPF (RFC 7208)
        '@ TXT "v=spf1 mx -all"',
        'spf-softfail TXT "v=spf1 ip4:127.0.0.1 ~all"',
        'spf-neutral TXT "v=spf1 ?all"',
        'spf-include TXT "v=spf1 include:example.test ~all"',
        'spf-redirect TXT "v=spf1 redirect=example.test"',
        'spf-exists TXT "v=spf1 exists:%{i}._spf.example.test -all"',
        "127.0.0.1._spf A 127.0.0.2",
        'spf-ptr TXT "v=spf1 ptr:example.test -all"',
        'spf-ip6 TXT "v=spf1 ip6:::1 a:implicit.example.test/32//128 -all"',
        'spf-many TXT "v=spf1 a:mx1.example.test a:mx2.example.test mx mx:example.test a:implicit.example.test '
        'a:mx-a.example.test a:mx-b.example.test mx:multi.example.test a:ns.example.test a a:mx1.example.test -all"',
        'spf-two TXT "v=spf1 -all"',
        'spf-two TXT "v=spf1 +all"',
        'spf-void TXT "v=spf1 a:nx1.example.test a:nx2.example.test mx:nx3.example.test ip4:127.0.0.1 -all"',
        'spf-syntax TXT "v=spf1 ip4:127.0.0.300 frobnicate -all"',
        'spf-temperror TXT "v=spf1 mx:bogus.test -all"',
        # DMARC (RFC 9989); sub.example.test has none of its own and falls back to example.test
        f'_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; {RUA}"',
        'sub A 127.0.0.1',
        f'_dmarc.monitor TXT "v=DMARC1; p=none; {RUA}"',
        'x.monitor A 127.0.0.1',
        '_dmarc.dmarc-broken TXT "v=DMARC1; p=block; pct=150; rua=https://example.test/reports"',
        '_dmarc.np-org TXT "v=DMARC1; p=reject; sp=none; np=reject; psd=n"',
        'exists.np-org A 127.0.0.1',
        '_dmarc.two-records TXT "v=DMARC1; p=none"',
        '_dmarc.two-records TXT "v=DMARC1; p=reject"',
        # the tree walk's shortcut (RFC 9989 §4.10): a.b.c.… (11 labels) skips c.… (9 labels) and its record
        'a.b.c.d.e.f.g.h.deep A 127.0.0.1',
        '_dmarc.c.d.e.f.g.h.deep TXT "v=DMARC1; p=none"',
        # MTA-STS (RFC 8461) and TLS-RPT (RFC 8460)
        '_mta-sts TXT "v=STSv1; id=20240501T120000;"',
        '_mta-sts.sts-badid TXT "v=STSv1; id=not_valid!;"',
        *[f'_mta-sts.sts-{case} TXT "v=STSv1; id=1;"' for case in ("nomode", "huge", "redirect", "mismatch")],
        *[f"mta-sts.{prefix}example.test. A 127.0.0.1" for prefix in MTA_STS_HOSTS],
        *[f"sts-{case} MX 10 mx1" for case in ("badid", "nomode", "huge", "redirect", "mismatch", "missing", "v10")],
        '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.test,https://reports.example.test/tlsrpt"',
        # RFC 8461 §3.1, RFC 8460 §3: only records beginning exactly "v=STSv1;" / "v=TLSRPTv1;" count
        '_mta-sts.sts-v10 TXT "v=STSv10; id=x"',
        '_mta-sts.sts-v10 TXT "v=STSv1; id=1;"',
        '_mta-sts.sts-only-v10 TXT "v=STSv10; id=x"',
        '_mta-sts.sts-two TXT "v=STSv1; id=1;"',
        '_mta-sts.sts-two TXT "v=STSv1; id=2;"',
        '_smtp._tls.tlsrpt-bare TXT "v=TLSRPTv1"',
        '_smtp._tls.tlsrpt-bare TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.test"',
        '_smtp._tls.tlsrpt-only-bare TXT "v=TLSRPTv1"',
        '_smtp._tls.tlsrpt-nospace TXT "v=TLSRPTv1;rua=mailto:tls-reports@example.test"',
        '_smtp._tls.tlsrpt-two TXT "v=TLSRPTv1; rua=mailto:a@example.test"',
        '_smtp._tls.tlsrpt-two TXT "v=TLSRPTv1; rua=mailto:b@example.test"',
        '_smtp._tls.tlsrpt-broken TXT "v=TLSRPTv1; rua=ftp://reports.example.test/"',
        # DANE (RFC 7672): mx1 matches the harness's certificate, mx2 does not
        f"_25._tcp.mx1 TLSA 3 1 1 {matching}",
        f"_25._tcp.mx2 TLSA 3 1 1 {mismatching}",
    ]
    bogus = ["@ MX 10 mx", "mx A 127.0.0.1", '@ TXT "v=spf1 -all"', f"_25._tcp.mx TLSA 3 1 1 {matching}"]
    insecure = ["@ MX 10 mx", "mx A 127.0.0.1", f"_25._tcp.mx TLSA 3 1 1 {matching}"]
    reverse = ["1.0.0 PTR mx1.example.test.", "2.0.0 PTR mx2.example.test.", "3.0.0 PTR ghost.example.test."]
    return {
        "example.test": Zone("example.test", "secure", example),
        **public_suffix_zones(),
        "bogus.test": Zone("bogus.test", "bogus", bogus),
        "insecure.test": Zone("insecure.test", "insecure", insecure),
        "127.in-addr.arpa": Zone("127.in-addr.arpa", "insecure", reverse),
        ".": Zone("", "insecure"),
    }


def public_suffix_zones() -> dict[str, Zone]:
    """Names under public suffixes, for the tree walk that replaced the Public Suffix List (RFC 9989 §4.10).

    `co.uk` publishes nothing and `example.co.uk` a policy; `com.au` publishes a public
    suffix domain's policy (`psd=y`) under which `example.com.au` has its own and
    `other.com.au` none; `dmarc.test` holds one organizational domain per record case;
    `reports.test` takes external DMARC reports for a few of them, `noauth.test` for none.
    """
    reports = [
        '_dmarc TXT "v=DMARC1; p=reject"',
        'ext.dmarc.test._report._dmarc TXT "v=DMARC1"',
        'ext-redirect.dmarc.test._report._dmarc TXT "v=DMARC1; rua=mailto:agg@elsewhere.test"',
        'ext-override.dmarc.test._report._dmarc TXT "v=DMARC1; rua=mailto:dmarc@reports.test"',
    ]
    return {
        "example.co.uk": Zone("example.co.uk", "insecure", [
            '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.co.uk"', "mail A 127.0.0.1"]),
        "com.au": Zone("com.au", "insecure", ['_dmarc TXT "v=DMARC1; p=none; psd=y"', "foo.other A 127.0.0.1"]),
        "example.com.au": Zone("example.com.au", "insecure", ['_dmarc TXT "v=DMARC1; p=reject"', "foo A 127.0.0.1"]),
        "dmarc.test": Zone("dmarc.test", "insecure", [
            *[f'_dmarc.{name} TXT "{record.format(rua=f"rua=mailto:dmarc@{name}.dmarc.test")}"'
              for name, record in DMARC_CASES.items()], "x.bad-sp A 127.0.0.1"]),
        "reports.test": Zone("reports.test", "insecure", reports),
        "noauth.test": Zone("noauth.test", "insecure", ['_dmarc TXT "v=DMARC1; p=reject"']),
    }


def mta_sts_responses() -> dict[str, tuple[int, dict[str, str], bytes]]:
    """HTTPS answers by host name: (status, headers, body)."""
    good = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.example.test\r\nmax_age: 604800\r\n"
    plain = {"Content-Type": "text/plain"}
    huge = good + b"".join(b"mx: filler%05d.example.test\r\n" % n for n in range(3000))
    return {
        "mta-sts.example.test": (200, plain, good),
        "mta-sts.sts-badid.example.test": (200, plain, good),
        "mta-sts.sts-v10.example.test": (200, plain, good),
        "mta-sts.sts-nomode.example.test": (200, plain, good.replace(b"mode: enforce\r\n", b"")),
        "mta-sts.sts-huge.example.test": (200, plain, huge),
        "mta-sts.sts-redirect.example.test": (
            301, {"Location": "https://mta-sts.example.test/.well-known/mta-sts.txt"}, b""),
        "mta-sts.sts-mismatch.example.test": (200, plain, good.replace(b"*.example.test", b"mail.elsewhere.test")
                                              .replace(b"mx1.example.test", b"mx9.example.test")),
    }


@dataclass
class DNSServer:
    """The running resolver and HTTPS server, with the CA and certificates the tests need."""

    host: str
    port: int
    https_port: int
    directory: Path
    ca_file: str
    ca: Any  # trustme.CA
    mx_cert: Any  # trustme.LeafCert for mx1.example.test, matching _25._tcp.mx1.example.test TLSA
    zones: dict[str, Zone]
    https_responses: dict[str, tuple[int, dict[str, str], bytes]]


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, kind) as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
            with socket.socket(socket.AF_INET, other) as second:
                try:
                    second.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def _run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def _break_signatures(signed: str, types: tuple[str, ...]) -> str:
    """Flip one character in the signature of every RRSIG covering TYPES: the data stays, validation fails."""
    lines = []
    for line in signed.splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[3] == "RRSIG" and fields[4] in types:
            signature = fields[-1]
            flipped = signature[:10] + ("B" if signature[10] != "B" else "C") + signature[11:]
            lines.append(line[: line.rindex(signature)] + flipped)
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _write_zones(directory: Path, zones: dict[str, Zone]) -> tuple[list[str], list[str]]:
    """Write (and sign) the zones; the `server:` lines (trust anchors) and the `auth-zone:` blocks."""
    server, auth_zones = [], []
    for zone in zones.values():
        path = directory / f"{zone.name}.zone"
        path.write_text(zone.text())
        if zone.dnssec != "insecure":
            key = _run(LDNS_KEYGEN, "-a", "ECDSAP256SHA256", "-k", zone.name, cwd=directory).strip()
            _run(LDNS_SIGNZONE, "-f", f"{path}.signed", str(path), key, cwd=directory)
            signed = Path(f"{path}.signed")
            if zone.dnssec == "bogus":
                signed.write_text(_break_signatures(signed.read_text(), BOGUS_TYPES))
            path = signed
            server.append(f'  trust-anchor-file: "{directory / (key + ".ds")}"')
        auth_zones.append(f'auth-zone:\n  name: "{zone.name}."\n  zonefile: "{path}"\n'
                          "  for-downstream: no\n  for-upstream: yes\n  fallback-enabled: no\n")
    return server, auth_zones


def _unbound_conf(directory: Path, port: int, zones: tuple[list[str], list[str]]) -> str:
    anchors, auth_zones = "\n".join(zones[0]), "".join(zones[1])
    return f"""\
server:
  interface: 127.0.0.1
  port: {port}
  do-ip6: no
  username: ""
  chroot: ""
  directory: "{directory}"
  pidfile: ""
  use-syslog: no
  logfile: "{directory}/unbound.log"
  verbosity: 1
  val-log-level: 2
  log-servfail: yes
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  ede: yes
  harden-dnssec-stripped: yes
  local-zone: "test." nodefault
  local-zone: "127.in-addr.arpa." nodefault
  local-zone: "{IP6_LOOPBACK_REVERSE}." nodefault
{anchors}
{auth_zones}remote-control:
  control-enable: no
"""


def _wait_for_answers(process: subprocess.Popen[bytes], port: int, directory: Path, timeout: float = 15) -> None:
    import dns.exception
    import dns.message
    import dns.query

    query = dns.message.make_query("example.test", "SOA")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            dns.query.udp(query, "127.0.0.1", timeout=0.2, port=port)
            return
        except (OSError, EOFError, dns.exception.DNSException):
            time.sleep(0.05)
    log = directory / "unbound.log"
    raise RuntimeError(f"unbound did not answer on 127.0.0.1:{port}:\n{log.read_text() if log.exists() else ''}")


class _PolicyHandler(http.server.BaseHTTPRequestHandler):
    """Answers from the server's `responses`, by Host header; no redirects followed or made on its own."""

    server: _PolicyServer

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        status, headers, body = self.server.responses.get(host, (404, {}, b"no policy for this host\n"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests judge the client's result, not this log."""


class _PolicyServer(http.server.HTTPServer):
    def __init__(self, context: ssl.SSLContext, responses: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), _PolicyHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.responses = responses

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that refuse the certificate are part of the tests."""


@contextmanager
def _https_server(ca: Any, responses: dict[str, tuple[int, dict[str, str], bytes]],
                  names: tuple[str, ...] = tuple(f"mta-sts.{prefix}example.test" for prefix in MTA_STS_HOSTS),
                  ) -> Iterator[int]:
    """An HTTPS server for RESPONSES whose certificate, from CA, names NAMES."""
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = _PolicyServer(context, responses)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="smtpcheck-mta-sts-https", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def running_unbound(extras: dict[str, list[str]] | None = None) -> Iterator[DNSServer]:
    """Start unbound (and the HTTPS server) on loopback; skip (with the reason) where a program is missing."""
    for program in (UNBOUND, LDNS_KEYGEN, LDNS_SIGNZONE):
        if not os.path.exists(program):
            pytest.skip(f"{program} not found: {INSTALL_HINT}")
    import trustme

    ca = trustme.CA(organization_name="pytest-smtpcheck DNS test CA")
    mx_cert = ca.issue_cert("mx1.example.test")
    zones = standard_zones(mx_cert.cert_chain_pems[0].bytes())
    for name, lines in (extras or {}).items():
        zones.setdefault(name, Zone(name, "insecure")).records.extend(lines)
    directory = Path(tempfile.mkdtemp(prefix="smtpcheck-unbound-"))
    process = None
    try:
        ca_file = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        port = _free_port()
        (directory / "unbound.conf").write_text(_unbound_conf(directory, port, _write_zones(directory, zones)))
        process = subprocess.Popen([UNBOUND, "-d", "-c", str(directory / "unbound.conf")],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_answers(process, port, directory)
        responses = mta_sts_responses()
        with _https_server(ca, responses) as https_port:
            yield DNSServer("127.0.0.1", port, https_port, directory, str(ca_file), ca, mx_cert, zones, responses)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def dns_zone_extras() -> dict[str, list[str]]:
    """Records to add, zone name → zone-file lines; override in a conftest to extend the zones."""
    return {}


@pytest.fixture(scope="session")
def dns_server(dns_zone_extras: dict[str, list[str]]) -> Iterator[DNSServer]:
    """The run's unbound and MTA-STS HTTPS server."""
    with running_unbound(dns_zone_extras) as server:
        yield server


@pytest.fixture
def dns_checks(dns_server: DNSServer) -> DNSChecks:
    """A `DNSChecks` on a fresh resolver (empty cache) pointed at the harness."""
    from pytest_smtpcheck.dns import DNSChecks, Resolver

    return DNSChecks(Resolver(dns_server.host, dns_server.port, timeout=3.0))
