"""The resolver and the mail-routing checks (MX, addresses, FCrDNS, --smtp-mx targets) against a real unbound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_smtpcheck.dns import (
    DNSCheckError,
    DNSChecks,
    DNSSECBogus,
    DNSServerFailure,
    DNSTimeout,
    MXRecord,
    Resolver,
)
from pytest_smtpcheck.errors import SMTPCheckError


@pytest.fixture
def failing_resolver() -> Iterator[tuple[str, int]]:
    """A resolver on loopback that answers every query SERVFAIL, with EDE 22 (no reachable authority)."""
    import dns.edns
    import dns.message
    import dns.rcode

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            response = dns.message.make_response(dns.message.from_wire(data))
            response.set_rcode(dns.rcode.SERVFAIL)
            response.use_edns(0, options=[dns.edns.EDEOption(22, "no reachable authority")])
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, name="smtpcheck-servfail", daemon=True)
    thread.start()
    yield "127.0.0.1", sock.getsockname()[1]
    stop.set()
    thread.join(5)
    sock.close()


@pytest.fixture
def silent_resolver() -> Iterator[tuple[str, int]]:
    """A UDP socket on loopback that receives queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        yield "127.0.0.1", sink.getsockname()[1]


def test_signed_zone_answers_carry_the_ad_bit(dns_checks: DNSChecks) -> None:
    answer = dns_checks.lookup("mx1.example.test", "A")
    assert (answer.status, answer.secure) == ("ok", True)


def test_unsigned_zone_answers_lack_the_ad_bit(dns_checks: DNSChecks) -> None:
    answer = dns_checks.lookup("mx.insecure.test", "A")
    assert (answer.status, answer.secure) == ("ok", False)


def test_nxdomain_and_nodata_are_told_apart(dns_checks: DNSChecks) -> None:
    assert dns_checks.lookup("missing.example.test", "A").status == "nxdomain"
    assert dns_checks.lookup("mx1.example.test", "AAAA").status == "nodata"


def test_bogus_data_raises_instead_of_reading_as_absent(dns_checks: DNSChecks) -> None:
    with pytest.raises(DNSSECBogus, match=r"bogus.*EDE 6"):
        dns_checks.lookup("bogus.test", "MX")
    assert dns_checks.lookup("mx.bogus.test", "A").secure  # only the broken signatures are bogus


def test_a_resolver_that_never_answers_fails_within_the_timeout(silent_resolver: tuple[str, int]) -> None:
    checks = DNSChecks(Resolver(*silent_resolver, timeout=0.5))
    started = time.monotonic()
    with pytest.raises(DNSTimeout, match=r"no answer from the resolver at 127\.0\.0\.1:\d+ within 0\.5 s") as caught:
        checks.mx("example.test")
    assert time.monotonic() - started < 2
    assert isinstance(caught.value, SMTPCheckError)


def test_answers_and_errors_are_cached_per_resolver() -> None:
    """The second question (any case, with or without the root dot) sends no query: the sink receives none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        resolver = Resolver(*sink.getsockname(), timeout=0.3)
        with pytest.raises(DNSTimeout):
            resolver.query("example.test", "MX")
        first = _drain(sink)
        with pytest.raises(DNSTimeout):
            resolver.query("EXAMPLE.test.", "MX")
        assert first >= 1 and _drain(sink) == 0


def _drain(sink: socket.socket) -> int:
    """How many datagrams wait in the sink, read out."""
    sink.setblocking(False)
    count = 0
    while True:
        try:
            sink.recv(4096)
        except BlockingIOError:
            return count
        count += 1


def test_threads_asking_the_same_question_share_one_answer(dns_checks: DNSChecks) -> None:
    results: list[list[MXRecord]] = []
    threads = [threading.Thread(target=lambda: results.append(dns_checks.mx("example.test"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(r == results[0] for r in results)


def test_an_invalid_name_is_an_error_that_says_so(dns_checks: DNSChecks) -> None:
    with pytest.raises(DNSCheckError, match="not a valid domain name"):
        dns_checks.mx("a..example.test")


def test_two_mx_hosts_in_preference_order(dns_checks: DNSChecks) -> None:
    assert dns_checks.mx("example.test") == [MXRecord(10, "mx1.example.test"), MXRecord(20, "mx2.example.test")]
    assert not any(record.null for record in dns_checks.mx("example.test"))


def test_no_mx_records_is_an_empty_list(dns_checks: DNSChecks) -> None:
    assert dns_checks.mx("implicit.example.test") == []
    assert dns_checks.mx("missing.example.test") == []


def test_null_mx_is_recognisable(dns_checks: DNSChecks) -> None:
    records = dns_checks.mx("nullmx.example.test")
    assert records == [MXRecord(0, ".")] and records[0].null


def test_addresses_are_a_then_aaaa(dns_checks: DNSChecks) -> None:
    assert dns_checks.addresses("implicit.example.test") == ["127.0.0.1", "::1"]
    assert dns_checks.addresses("mx-b.example.test") == ["127.0.0.3", "127.0.0.4"]
    assert dns_checks.addresses("ghost.example.test") == []


def test_fcrdns_confirmed(dns_checks: DNSChecks) -> None:
    result = dns_checks.fcrdns("127.0.0.1")
    assert result.names == ["mx1.example.test"] and result.confirmed


def test_fcrdns_ptr_name_that_does_not_resolve_back(dns_checks: DNSChecks) -> None:
    result = dns_checks.fcrdns("127.0.0.3")
    assert result.names == ["ghost.example.test"] and not result.confirmed


def test_fcrdns_without_ptr(dns_checks: DNSChecks) -> None:
    result = dns_checks.fcrdns("127.0.0.9")
    assert result.names == [] and not result.confirmed
    assert repr(result) == "FCrDNS(address='127.0.0.9', names=[], confirmed=False)"


def test_mx_targets_every_host_and_address_in_a_stable_order(dns_checks: DNSChecks) -> None:
    plan = dns_checks.mx_targets("multi.example.test")
    assert plan.problem is None and not plan.implicit
    assert [t.id for t in plan.targets] == [
        "mx2.example.test-127.0.0.2",
        "mx-a.example.test-127.0.0.5",
        "mx-a.example.test-::1",
        "mx-b.example.test-127.0.0.3",
        "mx-b.example.test-127.0.0.4",
    ]


def test_mx_targets_implicit_mx(dns_checks: DNSChecks) -> None:
    plan = dns_checks.mx_targets("implicit.example.test")
    assert plan.implicit and plan.problem is None
    assert [(t.host, t.address) for t in plan.targets] == [
        ("implicit.example.test", "127.0.0.1"), ("implicit.example.test", "::1")]


@pytest.mark.parametrize(("domain", "problem"), [
    ("nullmx.example.test", "publishes a null MX (RFC 7505)"),
    ("missing.example.test", "does not exist (NXDOMAIN)"),
    ("bogus.test", "DNSSEC validation failed (bogus)"),
    ("ghost.example.test", "does not exist (NXDOMAIN)"),
])
def test_mx_targets_problems_instead_of_errors(dns_checks: DNSChecks, domain: str, problem: str) -> None:
    plan = dns_checks.mx_targets(domain)
    assert plan.targets == () and problem in (plan.problem or "")


def test_mx_targets_host_without_address_is_a_failing_target(dns_checks: DNSChecks) -> None:
    plan = dns_checks.mx_targets("noaddr.example.test")
    assert [(t.id, t.problem) for t in plan.targets] == [
        ("ghost.example.test-no-address", "noaddr.example.test MX host ghost.example.test has no A/AAAA record")]


def test_mx_targets_servfail_is_a_problem(failing_resolver: tuple[str, int]) -> None:
    plan = DNSChecks(Resolver(*failing_resolver, timeout=1)).mx_targets("example.test")
    assert plan.targets == () and "answered SERVFAIL (EDE 22 no reachable authority)" in (plan.problem or "")


def test_servfail_that_is_not_dnssec_is_not_called_bogus(failing_resolver: tuple[str, int]) -> None:
    with pytest.raises(DNSServerFailure) as caught:
        Resolver(*failing_resolver, timeout=1).query("example.test", "MX")
    assert "bogus" not in str(caught.value) and not isinstance(caught.value, DNSSECBogus)


def test_mx_targets_timeout_is_a_problem(silent_resolver: tuple[str, int]) -> None:
    plan = DNSChecks(Resolver(*silent_resolver, timeout=0.3)).mx_targets("example.test")
    assert plan.targets == () and "no answer from the resolver" in (plan.problem or "")


def test_harness_skips_naming_the_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    import unbound

    monkeypatch.setattr(unbound, "UNBOUND", "/nonexistent/unbound")
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install unbound ldnsutils"), unbound.running_unbound():
        pass
