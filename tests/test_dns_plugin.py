"""DNS in the plugin, against a real unbound: `--smtp-mx` targets, `--smtp-resolver`, `smtp_dns`, host names, DANE.

The test zone's MX hosts are mx1.example.test → 127.0.0.1 and mx2.example.test →
127.0.0.2; the sandbox listens on 127.0.0.1, and a relay in this module gives it
the same ports on 127.0.0.2, so every MX address reaches a real server.
"""

from __future__ import annotations

import re
import selectors
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import pytest

from pytest_smtpcheck import mx
from pytest_smtpcheck.sandbox import Sandbox

if TYPE_CHECKING:
    from faultserver import Peer
    from unbound import DNSServer

EXAMPLES = Path(__file__).parent.parent / "examples"
MX1, MX2 = "mx1.example.test-127.0.0.1", "mx2.example.test-127.0.0.2"
PASSWORD = "sandbox-Pa55word"


class Relay:
    """Listens on 127.0.0.2 at the given ports and pipes each connection to the same port on 127.0.0.1."""

    def __init__(self, ports: list[int]) -> None:
        self.connections = 0
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        for port in ports:
            listener = socket.create_server(("127.0.0.2", port))
            listener.setblocking(False)
            self._sockets.append(listener)
            self._selector.register(listener, selectors.EVENT_READ, None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smtpcheck-test-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.1):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                if key.data is None:
                    self._accept(sock)
                else:
                    self._pipe(sock, key.data)

    def _accept(self, listener: socket.socket) -> None:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=5)
        self.connections += 1
        for one, other in ((client, upstream), (upstream, client)):
            one.setblocking(True)
            one.settimeout(5)
            self._sockets.append(one)
            self._selector.register(one, selectors.EVENT_READ, other)

    def _pipe(self, sock: socket.socket, other: socket.socket) -> None:
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        for end in (sock, other):
            if end.fileno() != -1:
                self._selector.unregister(end)
                end.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()
        self._selector.close()


@pytest.fixture(scope="module")
def two_mx() -> Iterator[Sandbox]:
    """The sandbox on 127.0.0.1, and the same listeners on 127.0.0.2 through a relay."""
    with Sandbox() as sandbox:
        relay = Relay(list(sandbox.ports.values()))
        try:
            yield sandbox
        finally:
            relay.stop()


def resolver_arg(dns_server: DNSServer) -> str:
    return f"--smtp-resolver={dns_server.host}:{dns_server.port}"


def mx_args(dns_server: DNSServer, sandbox: Sandbox, domain: str = "example.test") -> list[str]:
    """Point a run at the sandbox through DOMAIN's MX records; TLS checks the sandbox's own name and CA."""
    return [f"--smtp-mx={domain}", resolver_arg(dns_server), f"--smtp-port={sandbox.ports['smtp']}",
            f"--smtp-listener=submission={sandbox.ports['submission']}",
            f"--smtp-listener=submissions={sandbox.ports['submissions']}",
            f"--smtp-ca={sandbox.ca_file}", f"--smtp-tls-name={sandbox.hostname}",
            "--smtp-var=SMTP_DOMAIN=sandbox.test", f"--smtp-user={sandbox.username}", "-p", "no:cacheprovider"]


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k in ("passed", "failed", "skipped", "errors")}


# --smtp-mx: the "done when"


def test_examples_run_once_per_mx_host_and_address(pytester: pytest.Pytester, dns_server: DNSServer,
                                                    two_mx: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTPCHECK_PASSWORD", PASSWORD)
    for example in EXAMPLES.iterdir():
        if example.suffix in (".py", ".smtp"):
            shutil.copy(example, pytester.path / example.name)
    pytester.makeconftest(f"""
        import pytest

        @pytest.fixture(scope="session")
        def smtp_dns(smtp_dns):  # the test zone's MTA-STS policies are served here
            smtp_dns.https_port, smtp_dns.https_ca_file = {dns_server.https_port}, {dns_server.ca_file!r}
            return smtp_dns
    """)
    result = pytester.runpytest_subprocess(*mx_args(dns_server, two_mx), "-v", "-rfs", "--junitxml=junit.xml")
    text = result.stdout.str()
    ran = re.findall(r"^(\S+::\S+) (PASSED|FAILED|SKIPPED)", text, re.M)
    assert ran, text
    smtp_items = {name for name, _ in ran if ".smtp::" in name}
    python_smtp = {name for name, _ in ran if re.search(r"test_(mx_policy|tls_and_submission)\.py::", name)}
    for names in (smtp_items, python_smtp):
        assert {n.replace(MX1, "*") for n in names if MX1 in n} == {n.replace(MX2, "*") for n in names if MX2 in n}
        assert all(n.endswith((f"[{MX1}]", f"[{MX2}]")) for n in names), names
    # every .smtp exchange and every Python SMTP test, for both addresses; mx1 (preference 10) first
    assert len(smtp_items) >= 2 * 20 and len(python_smtp) == 2 * 9, text
    first_file = [name for name, _ in ran if name.startswith("oversize.smtp::")]
    assert first_file[0].endswith(f"[{MX1}]") and first_file[-1].endswith(f"[{MX2}]")
    assert not [name for name, verdict in ran if verdict == "FAILED" and "test_dns_policy" not in name], text
    # the domain's DNS is checked once; only the sandbox's name is wrong for the test zone's MX hosts
    policy = {name.split("::")[1]: verdict for name, verdict in ran if name.startswith("test_dns_policy.py")}
    assert policy == {
        "test_mx_hosts_exist_and_have_addresses": "PASSED",
        f"test_server_names_itself_by_its_confirmed_reverse_dns[{MX1}]": "FAILED",
        f"test_server_names_itself_by_its_confirmed_reverse_dns[{MX2}]": "FAILED",
        "test_spf_record_is_sound_and_lets_the_mx_hosts_send": "PASSED",
        "test_dmarc_policy_rejects_or_quarantines": "PASSED",
        "test_mta_sts_enforces_and_names_every_mx_host": "PASSED",
        "test_tls_reports_have_somewhere_to_go": "PASSED",
        f"test_dane_records_match_the_certificate[{MX1}]": "SKIPPED",
        f"test_dane_records_match_the_certificate[{MX2}]": "SKIPPED",
    }, text
    assert "the greeting names mx.sandbox.test, but 127.0.0.2 is mx2.example.test (FCrDNS)" in text
    # the report rows: JUnit test cases carry host and address too
    cases = [case.get("name", "") for case in ElementTree.parse(pytester.path / "junit.xml").iter("testcase")]
    assert sum(MX1 in name for name in cases) == sum(MX2 in name for name in cases) >= 29
    assert "line10-RCPT[mx2.example.test-127.0.0.2]" in cases


PROFILE = """\
profile = "acceptance"

[profiles.acceptance]
mx = "example.test"
resolver = "{resolver}"
port = {smtp}
listeners = {{ submission = {submission}, submissions = {submissions} }}
ca = "{ca}"
tls_name = "mx.sandbox.test"
user = "submit@sandbox.test"
password = {{ env = "MX_PROBE_PASSWORD" }}
vars = {{ SMTP_DOMAIN = "sandbox.test" }}
"""


@pytest.mark.parametrize("password_set", [True, False])
def test_the_same_run_from_a_profile_with_the_password_from_its_variable(
    pytester: pytest.Pytester, dns_server: DNSServer, two_mx: Sandbox, monkeypatch: pytest.MonkeyPatch,
    password_set: bool,
) -> None:
    for name in ("submission_auth.smtp", "relay_denied.smtp", "test_tls_and_submission.py"):
        shutil.copy(EXAMPLES / name, pytester.path / name)
    (pytester.path / "smtpcheck.toml").write_text(PROFILE.format(
        resolver=f"{dns_server.host}:{dns_server.port}", smtp=two_mx.ports["smtp"], ca=two_mx.ca_file,
        submission=two_mx.ports["submission"], submissions=two_mx.ports["submissions"]))
    monkeypatch.delenv("SMTPCHECK_PASSWORD", raising=False)
    if password_set:
        monkeypatch.setenv("MX_PROBE_PASSWORD", PASSWORD)
    else:
        monkeypatch.delenv("MX_PROBE_PASSWORD", raising=False)
    junit = pytester.path / "junit.xml"
    html = pytester.path / "report.html"
    result = pytester.runpytest_subprocess("-v", "-rfs", "-p", "no:cacheprovider", f"--junitxml={junit}",
                                           f"--html={html}", "--self-contained-html")
    text = result.stdout.str()
    ran = dict(re.findall(r"^(\S+::\S+) (PASSED|FAILED|SKIPPED)", text, re.M))
    needs_account = [name for name in ran if "submission_auth.smtp::" in name or "accepts_valid_credentials" in name]
    assert sum(MX1 in name for name in needs_account) == sum(MX2 in name for name in needs_account) >= 2, text
    assert f"relay_denied.smtp::line10-RCPT[{MX2}]" in ran and ran[f"relay_denied.smtp::line10-RCPT[{MX2}]"] == "PASSED"
    if password_set:
        assert all(ran[name] == "PASSED" for name in needs_account), text
        assert outcomes(result).get("failed", 0) == 0, text
    else:
        assert all(ran[name] in ("SKIPPED", "FAILED") for name in needs_account)
        assert "MX_PROBE_PASSWORD" in text, "the skip or failure names the variable that holds the password"
        assert "set the password in the environment variable MX_PROBE_PASSWORD" in text
    for output in (text, result.stderr.str(), junit.read_text(), html.read_text()):
        assert PASSWORD not in output


def test_targets_are_collected_in_the_same_order_every_time(pytester: pytest.Pytester, dns_server: DNSServer,
                                                            two_mx: Sandbox) -> None:
    pytester.makepyfile("def test_a(smtp_server):\n    pass\n")
    args = [*mx_args(dns_server, two_mx, "multi.example.test"), "--co", "-q"]
    first, second = ([line for line in pytester.runpytest_inprocess(*args).stdout.lines if "::" in line]
                     for _ in range(2))
    assert first == second == [
        "test_targets_are_collected_in_the_same_order_every_time.py::test_a[mx2.example.test-127.0.0.2]",
        "test_targets_are_collected_in_the_same_order_every_time.py::test_a[mx-a.example.test-127.0.0.5]",
        "test_targets_are_collected_in_the_same_order_every_time.py::test_a[mx-a.example.test-::1]",
        "test_targets_are_collected_in_the_same_order_every_time.py::test_a[mx-b.example.test-127.0.0.3]",
        "test_targets_are_collected_in_the_same_order_every_time.py::test_a[mx-b.example.test-127.0.0.4]",
    ]


def test_xdist_workers_agree_on_the_targets(pytester: pytest.Pytester, dns_server: DNSServer, two_mx: Sandbox) -> None:
    pytester.makepyfile("def test_a(smtp_session):\n    assert smtp_session.noop().code == 250\n")
    (pytester.path / "noop.smtp").write_text("< 220\n> NOOP\n< 250\n")
    result = pytester.runpytest_subprocess(*mx_args(dns_server, two_mx), "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=6)  # per address: the Python test and the file's two exchanges


def test_implicit_mx_is_the_domains_own_addresses(pytester: pytest.Pytester, dns_server: DNSServer,
                                                  two_mx: Sandbox) -> None:
    pytester.makepyfile("def test_a(smtp_session):\n    assert smtp_session.noop().code == 250\n")
    result = pytester.runpytest_inprocess(*mx_args(dns_server, two_mx, "implicit.example.test"), "-v",
                                          "-k", "127.0.0.1")
    result.assert_outcomes(passed=1, deselected=1)
    assert "test_a[implicit.example.test-127.0.0.1] PASSED" in result.stdout.str()


@pytest.mark.parametrize("case", [
    ("nullmx.example.test", "nullmx.example.test-no-mx", "nullmx.example.test publishes a null MX (RFC 7505)"),
    ("missing.example.test", "missing.example.test-no-mx", "missing.example.test does not exist (NXDOMAIN)"),
    ("noaddr.example.test", "ghost.example.test-no-address",
     "noaddr.example.test MX host ghost.example.test has no A/AAAA record"),
    ("bogus.test", "bogus.test-no-mx", "DNSSEC validation failed (bogus)"),
])
def test_nothing_to_connect_to_fails_each_test_saying_why(pytester: pytest.Pytester, dns_server: DNSServer,
                                                          two_mx: Sandbox, case: tuple[str, str, str]) -> None:
    domain, target_id, problem = case
    pytester.makepyfile("def test_a(smtp_session):\n    smtp_session.ehlo()\n")
    (pytester.path / "noop.smtp").write_text("< 220\n> NOOP\n< 250\n")
    result = pytester.runpytest_inprocess(*mx_args(dns_server, two_mx, domain), "-v")
    result.assert_outcomes(failed=2, skipped=1)  # the Python test, and the file's first exchange; the rest not run
    text = result.stdout.str()
    assert f"test_a[{target_id}] FAILED" in text and f"line1-greeting[{target_id}] FAILED" in text
    assert text.count(f"--smtp-mx={domain}: ") >= 2 and problem in text


def test_resolver_timeout_fails_the_tests_not_the_collection(pytester: pytest.Pytester, two_mx: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        pytester.makepyfile("def test_a(smtp_session):\n    smtp_session.ehlo()\n")
        result = pytester.runpytest_inprocess(
            "--smtp-mx=example.test", f"--smtp-resolver=127.0.0.1:{silent.getsockname()[1]}", "--smtp-timeout=0.5",
            "-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(failed=1)
    assert "test_a[example.test-no-mx]" in result.stdout.str()
    assert "no answer from the resolver at 127.0.0.1:" in result.stdout.str()


def test_smtp_mx_and_smtp_target_exclude_each_other(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--smtp-mx=example.test", "--smtp-target=127.0.0.1:2525")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--smtp-target and --smtp-mx exclude each other" in result.stderr.str()


def test_an_address_family_without_a_route_is_skipped_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoRoute(socket.socket):
        def connect(self, address: object) -> None:
            if self.family == socket.AF_INET6:
                raise OSError(101, "Network is unreachable")

    monkeypatch.setattr("pytest_smtpcheck.mx.socket.socket", NoRoute)
    assert mx.unreachable("127.0.0.1") is None
    assert mx.unreachable("::1") == ("IPv6 is not reachable from this machine (::1: Network is unreachable); "
                                     "run from a host with an IPv6 route to test this address")


def test_unreachable_address_skips_its_python_tests_and_smtp_files(pytester: pytest.Pytester, dns_server: DNSServer,
                                                                   two_mx: Sandbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mx, "unreachable", lambda address: "IPv6 is not reachable" if ":" in address else None)
    pytester.makepyfile("def test_a(smtp_server):\n    pass\n")
    (pytester.path / "noop.smtp").write_text("< 220\n> NOOP\n< 250\n")
    result = pytester.runpytest_inprocess(*mx_args(dns_server, two_mx, "implicit.example.test"), "-rs", "--co")
    assert "test_a[implicit.example.test-::1]" in result.stdout.str()
    result = pytester.runpytest_inprocess(*mx_args(dns_server, two_mx, "implicit.example.test"), "-rs")
    result.assert_outcomes(passed=3, skipped=3)
    assert result.stdout.str().count("IPv6 is not reachable") == 3


# smtp_dns and --smtp-resolver


def test_dns_examples_skip_against_the_sandbox_without_asking_any_dns(pytester: pytest.Pytester) -> None:
    shutil.copy(EXAMPLES / "test_dns_policy.py", pytester.path)
    pytester.makeconftest("""
        import sys

        def pytest_sessionfinish(session):
            print("dns imported:", any(name == "dns" or name.startswith("dns.") for name in sys.modules))
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", "-s")
    result.assert_outcomes(skipped=7)
    text = result.stdout.str()
    assert ("DNS checks need a mail domain and a resolver: give --smtp-mx=DOMAIN (or --smtp-target=HOST "
            "--smtp-var SMTP_DOMAIN=DOMAIN) and --smtp-resolver=IP[:PORT]") in text
    assert "dns imported: False" in text


def test_smtp_dns_asks_the_runs_resolver(pytester: pytest.Pytester, dns_server: DNSServer) -> None:
    pytester.makepyfile("""
        def test_checks(smtp_dns):
            assert smtp_dns.domain == "sandbox.test"
            assert [(r.preference, r.host) for r in smtp_dns.mx("example.test")] == [
                (10, "mx1.example.test"), (20, "mx2.example.test")]
            assert smtp_dns.dmarc("example.test").policy == "reject"

        def test_one_resolver_per_run(smtp_dns, request):
            from pytest_smtpcheck.plugin.keys import RUN

            assert request.config.stash[RUN].targets.dns() is smtp_dns
            assert smtp_dns.resolver.timeout == 2.0

        def test_dane_needs_a_host_name(smtp_session):
            import pytest
            from pytest_smtpcheck.errors import SessionMisuse

            smtp_session.ehlo()
            smtp_session.starttls()
            with pytest.raises(SessionMisuse, match="needs the server's host name, not the address 127.0.0.1"):
                smtp_session.dane()
    """)
    result = pytester.runpytest_inprocess(resolver_arg(dns_server), "--smtp-timeout=2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_smtp_dns_domain_is_the_mx_domain(pytester: pytest.Pytester, dns_server: DNSServer) -> None:
    pytester.makepyfile("""
        def test_domain(smtp_dns):
            assert smtp_dns.domain == "example.test"
            assert smtp_dns.spf("example.test").evaluate("127.0.0.9", "a@example.test") == "fail"
    """)
    result = pytester.runpytest_inprocess("--smtp-mx=example.test", resolver_arg(dns_server), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# host names and DANE, against a STARTTLS server that presents the certificate the TLSA record names


@pytest.fixture
def mx1_server(dns_server: DNSServer) -> Iterator[int]:
    """An SMTP server on 127.0.0.1 that greets as mx1.example.test and presents mx1's certificate after STARTTLS."""
    from faultserver import FaultServer

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    dns_server.mx_cert.configure_cert(context)

    def script(peer: Peer) -> None:
        peer.reply("220 mx1.example.test ESMTP test")
        while (line := peer.readline()) is not None:
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                peer.reply("250-mx1.example.test", "250 STARTTLS")
            elif verb == "STARTTLS":
                peer.reply("220 2.0.0 go ahead")
                peer.starttls(context)
            elif verb == "QUIT":
                peer.reply("221 2.0.0 bye")
                return
            else:
                peer.reply("250 2.0.0 ok")

    with FaultServer(script) as server:
        yield server.port


DANE_TESTS = """
    import pytest
    from pytest_smtpcheck.errors import SessionMisuse

    def test_names_match(smtp_server, smtp_session):
        names = smtp_server.host_names(smtp_session)
        assert (names.greeting, names.ehlo, names.matches, names.problems) == (
            "mx1.example.test", "mx1.example.test", True, [])

    def test_dane_needs_tls(smtp_session):
        with pytest.raises(SessionMisuse, match="needs a TLS session"):
            smtp_session.dane()

    @pytest.mark.parametrize(("host", "usable", "matched"), [
        (None, True, True),  # the MX host name TLS verified
        ("mx2.example.test", True, False),  # a TLSA record for another key
        ("mx.insecure.test", False, False),  # records, but no DNSSEC
    ])
    def test_dane(smtp_session, host, usable, matched):
        smtp_session.ehlo()
        smtp_session.starttls()
        dane = smtp_session.dane(host, port=25)
        assert (dane.usable, dane.matched, len(dane.records)) == (usable, matched, 1)

    def test_dane_at_the_port_connected_to(smtp_session):
        smtp_session.ehlo()
        smtp_session.starttls()
        assert smtp_session.dane().records == []

    def test_dane_bogus(smtp_session):
        smtp_session.ehlo()
        smtp_session.starttls()
        smtp_session.dane("mx.bogus.test", port=25)
"""


def test_host_names_and_dane_for_an_mx_target(pytester: pytest.Pytester, dns_server: DNSServer,
                                              mx1_server: int) -> None:
    pytester.makepyfile(DANE_TESTS)
    result = pytester.runpytest_inprocess(
        "--smtp-mx=example.test", resolver_arg(dns_server), f"--smtp-port={mx1_server}",
        f"--smtp-ca={dns_server.ca_file}", "-k", "mx1", "-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=6, failed=1, deselected=7)
    text = result.stdout.str()
    assert "FAILED test_host_names_and_dane_for_an_mx_target.py::test_dane_bogus[mx1.example.test-127.0.0.1]" in text
    assert "DNSSECBogus: DNS query _25._tcp.mx.bogus.test TLSA: DNSSEC validation failed (bogus)" in text


def test_host_names_do_not_match_a_server_with_another_name(pytester: pytest.Pytester, dns_server: DNSServer) -> None:
    pytester.makepyfile("""
        def test_names(smtp_server, smtp_session):
            names = smtp_server.host_names(smtp_session)
            assert names.fcrdns.confirmed and names.fcrdns.names == ["mx1.example.test"]
            assert (names.greeting, names.greeting_matches, names.ehlo_matches) == ("mx.sandbox.test", False, False)
            assert names.problems == [
                "the greeting names mx.sandbox.test, but 127.0.0.1 is mx1.example.test (FCrDNS)",
                "the EHLO reply names mx.sandbox.test, but 127.0.0.1 is mx1.example.test (FCrDNS)"]
    """)
    result = pytester.runpytest_inprocess(resolver_arg(dns_server), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
