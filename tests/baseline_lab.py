"""The baseline battery's lab: one well-run mail domain and two badly run ones, all on loopback.

- `good.example.test` (signed zone): MX `mx1.good.example.test` on 127.0.0.20 and ::1, a Postfix that passes
  every check (TLS 1.2+, no weak suites, relay denied, VRFY off, PTR and banner agree), DANE 3 1 1 with a
  next key published (rollover-safe), SPF `-all`, DMARC `p=reject`, MTA-STS (enforce, served over HTTPS with
  the lab CA) and TLS-RPT.
- `lax.test` (unsigned zone): MX `mail.lax.test` on 127.0.0.21, a Postfix with every classic fault planted:
  open relay (mynetworks 127.0.0.0/8), TLS 1.0 and 1.1 and every suite accepted (anonymous included), VRFY
  answering, no IPv6, no PTR, a certificate from an untrusted CA for another name expiring in 5 days, and no
  SPF, DMARC, MTA-STS or TLS-RPT.
- `weak.example.test` (signed zone): DNS faults only, its MX a CNAME to the good MX host: SPF over the
  10-lookup limit, DMARC `p=none`, no MTA-STS or TLS-RPT. A TLSA record that matches nothing sits at the alias
  name: RFC 7672 §2.2.2 has senders use the expanded name's records first.
- `fallback.example.test` and `insecure.example.test` (signed): MX hosts that are aliases, for DANE's TLSA base
  domain (RFC 7672 §2.2.2). The first is a CNAME to `mx.solo.example.test` (the good Postfix, no TLSA there) with
  the good key's TLSA at the alias name; the second a CNAME into the unsigned `lax.test`.
- `daneonly.example.test` and `stsdane.example.test` (signed): MX hosts on the lax Postfix, whose certificate no
  CA of the run trusts and which names localhost, authenticated by DANE-EE alone (TLSA 3 1 1 of its key). The
  second also publishes an MTA-STS policy in mode enforce, whose senders want a trusted certificate naming the MX
  host whatever DANE says (RFC 8461 §4.2).
- `bogus.test` (tests/unbound.py): signed, its MX, TXT and TLSA signatures broken: the MX lookup fails.

Both Postfix instances listen on one port (each on its own addresses), as every MX of a domain does on 25.
Every transport is `discard`: nothing leaves the machine, and the battery sends no message anyway.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import postfix
import pytest
import unbound

GOOD_ADDRESSES = ("127.0.0.20", "::1")
LAX_ADDRESS = "127.0.0.21"
GOOD_MX, LAX_MX = "mx1.good.example.test", "mail.lax.test"


def policy(mx: str) -> bytes:
    """An MTA-STS policy in mode enforce for the MX host MX (RFC 8461 §3.2)."""
    return f"version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 604800\r\n".encode()


@dataclass
class Lab:
    """The running lab: the resolver, the MX port every host shares, the CA the run trusts, both Postfixes."""

    dns: unbound.DNSServer
    port: int
    ca_file: str
    https_port: int
    good: Path  # the Postfix directories, whose maillog the tests read
    lax: Path

    def args(self, domain: str, *, spacing: str = "0") -> list[str]:
        """The battery's command line for DOMAIN in this lab."""
        return ["--smtp-baseline", f"--smtp-mx={domain}", *self.options(spacing=spacing)]

    def options(self, *, spacing: str = "0") -> list[str]:
        """Where the lab is: its resolver, MX port, CA and policy server; the pause between handshakes (none:
        a test on loopback need not spare the server)."""
        return [
            f"--smtp-resolver={self.dns.host}:{self.dns.port}",
            f"--smtp-port={self.port}", f"--smtp-ca={self.ca_file}",
            "-o", f"smtp_mta_sts_port={self.https_port}", "-o", f"smtp_mta_sts_ca={self.ca_file}",
            "-o", f"smtp_baseline_spacing={spacing}",
        ]

    def maillogs(self) -> str:
        return "".join((path / "maillog").read_text(errors="replace") for path in (self.good, self.lax)
                       if (path / "maillog").exists())

    def good_log_lines(self, wait: float = 3.0) -> list[str]:
        """The good Postfix's log, once it stops growing: postlogd writes a session's lines after it ended."""
        path = self.good / "maillog"
        deadline, previous = time.monotonic() + wait, None
        while True:
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            if lines == previous or time.monotonic() > deadline:
                return lines
            previous = lines
            time.sleep(0.3)

    def messages_accepted(self) -> list[str]:
        """Log lines that only a message taken in writes (a queue file, DATA or BDAT counted at disconnect)."""
        return [line for line in self.maillogs().splitlines()
                if re.search(r"message-id=|: from=<|\b(data|bdat)=\d", line)]


def _free_shared_port(addresses: tuple[str, ...]) -> int:
    """A port free on every one of ADDRESSES."""
    for _ in range(50):
        with socket.create_server((addresses[0], 0)) as first:
            port: int = first.getsockname()[1]
        try:
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                socket.create_server((address, port), family=family).close()
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on all of {addresses}")


def _listen(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


GOOD_MAIN = """
myhostname = mx1.good.example.test
mydomain = good.example.test
myorigin = good.example.test
mydestination = good.example.test
inet_interfaces = all
inet_protocols = all
disable_vrfy_command = yes
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, RC4, DES, 3DES, MD5, kRSA
"""

LAX_MAIN = """
myhostname = mail.lax.test
mydomain = lax.test
myorigin = lax.test
mydestination = lax.test
inet_interfaces = all
mynetworks = 127.0.0.0/8
smtpd_tls_protocols = >=TLSv1
smtpd_tls_ciphers = low
tls_low_cipherlist = ALL:@SECLEVEL=0
"""


def _merged(base: str, changes: str) -> str:
    """BASE main.cf with the settings CHANGES gives replaced: a setting given twice makes every Postfix process
    log a warning, and postlogd, which reads main.cf too, then blocks on its own log socket."""
    changed = {line.split("=")[0].strip() for line in changes.splitlines() if "=" in line}
    kept = [line for line in base.splitlines() if line.split("=")[0].strip() not in changed]
    return "\n".join(kept) + "\n" + changes.lstrip("\n")


def _write_postfix(directory: Path, main_extra: str, listeners: list[str], cert: Any, domain: str) -> None:
    (directory / "server.pem").write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(directory / "server.key"))
    os.chmod(directory / "server.key", 0o600)
    (directory / "main.cf").write_text(_merged(postfix._main_cf(directory), main_extra))
    smtpd = "".join(f"{listener} inet n - n - - smtpd\n" for listener in listeners)
    (directory / "master.cf").write_text(smtpd + postfix.MASTER_SERVICES)
    (directory / "local_users").write_text(f"postmaster@{domain} ok\nalice@{domain} ok\n")
    (directory / "recipient_access").write_text("")
    (directory / "queue").mkdir()
    (directory / "data").mkdir()
    shutil.chown(directory / "data", user="postfix")


@contextmanager
def _running_postfix(main_extra: str, listeners: list[str], cert: Any, domain: str) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="smtpcheck-postfix-"))
    os.chmod(directory, 0o755)
    try:
        _write_postfix(directory, main_extra, listeners, cert, domain)
        postfix._run(f"{postfix.POSTFIX} -c {directory} check")
        postfix._run(f"{postfix.POSTFIX} -c {directory} start")
        yield directory
    finally:
        postfix._stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


def _wait_listening(addresses: tuple[str, ...], port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    missing = list(addresses)
    while missing and time.monotonic() < deadline:
        for address in list(missing):
            try:
                socket.create_connection((address, port), timeout=0.5).close()
                missing.remove(address)
            except OSError:
                time.sleep(0.1)
    if missing:
        raise RuntimeError(f"the lab's Postfix did not listen on {missing} port {port}")


def _spki_hash(cert: Any) -> str:
    return unbound.spki_sha256(cert.cert_chain_pems[0].bytes())


def lab_zones(good_cert: Any, lax_cert: Any) -> dict[str, list[str]]:
    """The lab's records, added to the DNS harness's zones (example.test is signed, lax.test is not)."""
    next_key = hashlib.sha256(b"the key mx1.good.example.test rolls over to next").hexdigest()
    too_many = [f"a:host{n}.weak.example.test" for n in range(11)]
    return {
        "example.test": [
            "good MX 10 mx1.good",
            *(f"mx1.good {'AAAA' if ':' in a else 'A'} {a}" for a in GOOD_ADDRESSES),
            'good TXT "v=spf1 mx -all"',
            '_dmarc.good TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.example.test"',
            '_mta-sts.good TXT "v=STSv1; id=20260101T000000;"',
            "mta-sts.good A 127.0.0.1",
            '_smtp._tls.good TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.example.test"',
            f"_25._tcp.mx1.good TLSA 3 1 1 {_spki_hash(good_cert)}",
            f"_25._tcp.mx1.good TLSA 3 1 1 {next_key}",
            "weak MX 10 alias.weak",
            f"alias.weak CNAME {GOOD_MX}.",
            f'weak TXT "v=spf1 {" ".join(too_many[:6])} " "{" ".join(too_many[6:])} -all"',  # 255-octet strings
            *(f"host{n}.weak A 127.0.0.{30 + n}" for n in range(11)),
            '_dmarc.weak TXT "v=DMARC1; p=none; rua=mailto:dmarc@weak.example.test"',
            f"_25._tcp.alias.weak TLSA 3 1 1 {next_key}",
            "fallback MX 10 alias.fallback",
            "alias.fallback CNAME mx.solo.example.test.",
            f"_25._tcp.alias.fallback TLSA 3 1 1 {_spki_hash(good_cert)}",
            "insecure MX 10 alias.insecure",
            f"alias.insecure CNAME {LAX_MX}.",
            # for bench/baseline.py: one MX host with one address, and two MX hosts (each a Postfix of its own)
            "solo MX 10 mx.solo",
            "mx.solo A 127.0.0.20",
            "duo MX 10 mx.solo",
            # nothing listens on the lab's port at 127.0.0.22; a null MX; an MX record naming an address
            "dead MX 10 mx.dead",
            "mx.dead A 127.0.0.22",
            "nomail MX 0 .",
            "literal MX 10 127.0.0.20.",
            f"duo MX 20 {LAX_MX}.",
            # the lax Postfix's certificate authenticated by DANE alone; under MTA-STS (enforce) for stsdane
            *(line for name in ("daneonly", "stsdane") for line in (
                f"{name} MX 10 mx.{name}", f"mx.{name} A {LAX_ADDRESS}", f"_25._tcp.mx.{name} TLSA 3 1 1 "
                f"{_spki_hash(lax_cert)}")),
            '_mta-sts.stsdane TXT "v=STSv1; id=20260101T000000;"',
            "mta-sts.stsdane A 127.0.0.1",
        ],
        "lax.test": ["@ MX 10 mail", f"mail A {LAX_ADDRESS}", "www A 127.0.0.1"],
        "127.in-addr.arpa": [f"20.0.0 PTR {GOOD_MX}."],
        unbound.IP6_LOOPBACK_REVERSE: [f"@ PTR {GOOD_MX}."],
    }


@contextmanager
def running_lab() -> Iterator[Lab]:
    """Start the lab; skip (with the reason) where Postfix, unbound or root is missing."""
    for program in (postfix.POSTFIX, unbound.UNBOUND, unbound.LDNS_SIGNZONE):
        if not os.path.exists(program):
            pytest.skip(f"{program} not found: {postfix.INSTALL_HINT}; {unbound.INSTALL_HINT}")
    if os.geteuid() != 0:
        pytest.skip("the baseline lab starts private Postfix instances, which needs root")
    import trustme

    ca = trustme.CA(organization_name="pytest-smtpcheck baseline lab CA")
    stranger = trustme.CA(organization_name="an issuer no one trusts")
    now = datetime.now(timezone.utc)
    good_cert = ca.issue_cert(GOOD_MX, key_type=trustme.KeyType.RSA, not_after=now + timedelta(days=90))
    lax_cert = stranger.issue_cert("localhost", not_after=now + timedelta(days=5))
    port = _free_shared_port((*GOOD_ADDRESSES, LAX_ADDRESS))
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smtpcheck-lab-")))
        ca_file = str(directory / "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
        dns = stack.enter_context(unbound.running_unbound(lab_zones(good_cert, lax_cert)))
        policies = {f"mta-sts.{domain}": (200, {"Content-Type": "text/plain"}, policy(mx))
                    for domain, mx in (("good.example.test", GOOD_MX), ("stsdane.example.test", "mx.stsdane.example.test"))}
        https_port = stack.enter_context(unbound._https_server(ca, policies, names=tuple(policies)))
        good = stack.enter_context(_running_postfix(
            GOOD_MAIN, [_listen(a, port) for a in GOOD_ADDRESSES], good_cert, "good.example.test"))
        lax = stack.enter_context(_running_postfix(LAX_MAIN, [_listen(LAX_ADDRESS, port)], lax_cert, "lax.test"))
        _wait_listening((*GOOD_ADDRESSES, LAX_ADDRESS), port)
        yield Lab(dns, port, ca_file, https_port, good, lax)
