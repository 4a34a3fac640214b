"""A real Postfix (Debian's package) for the tests, configured to the sandbox's policy in a temporary directory.

Loopback listeners on high ports:
- smtp: 127.0.0.1 is an outside client (mynetworks names another address), so relay is denied; UTF-8
  addresses only in an SMTPUTF8 transaction (strict_smtputf8), XCLIENT refused (550 5.7.0);
- open_relay: the same server with mynetworks=127.0.0.0/8, the misconfiguration examples must catch;
- submission: STARTTLS required, then AUTH (Cyrus SASL with a sasldb in the directory);
- submissions: implicit TLS, then AUTH;
- tarpit: every error reply delayed 3 s (smtpd_error_sleep_time), as a server slowing down a bad client;
- strict: `421` and a hang-up after two errors (smtpd_hard_error_limit);
- xclient: trusts loopback (mynetworks=127.0.0.0/8, so relay is allowed) and lets loopback send XCLIENT
  (smtpd_authorized_xclient_hosts), so a test can present an outside address and see relay denied again;
- proxy: the same trust, behind the haproxy PROXY protocol (v1 and v2): every connection must start with a
  PROXY header, whose source address is then the client address Postfix judges (no header: `421 4.3.0 …
  Server local error`); inet_protocols=all on this listener alone, so IPv6 addresses in a header parse.
Every listener advertises CHUNKING, DSN, 8BITMIME and SMTPUTF8 (smtputf8_enable).
Nothing leaves the machine: every transport is `discard`, DNS is off, no peer-name lookups.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTFIX = "/usr/sbin/postfix"
SASLPASSWD = "/usr/sbin/saslpasswd2"
INSTALL_HINT = "apt-get install postfix sasl2-bin libsasl2-modules (CI's .ci/run does)"
USERS = ("postmaster", "alice", "bob")
LISTENERS = ("smtp", "open_relay", "submission", "submissions", "tarpit", "strict", "xclient", "proxy")
UTF8_USER = "jörg@sandbox.test"  # a local mailbox with a non-ASCII name, accepted with SMTPUTF8
SASL_USER, SASL_REALM, SASL_PASSWORD = "submit", "sandbox.test", "sandbox-Pa55word"
LOG_WAIT = 10.0  # how long a log line may lag the reply it belongs to, on a machine busy with other suites
_CONNECT = re.compile(r"\]: connect from \S+$", re.M)
_DISCONNECT = re.compile(r"\]: disconnect from \S+ (.*)$", re.M)


def wait_for_log(read: Callable[[], str], text: str, wait: float = LOG_WAIT) -> bool:
    """An MTA logs a session a moment after its replies (Postfix through postlogd, Exim's deliveries in a
    child process): a test that reads the log right after a reply polls until the line is there."""
    deadline = time.monotonic() + wait
    while text not in read():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class PostfixInstance:
    host: str
    ports: dict[str, int]
    ca_file: str
    directory: Path

    def log_text(self) -> str:
        path = self.directory / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def logged(self, text: str) -> bool:
        """Whether the log has `text` (Postfix writes it through postlogd, a moment after the reply)."""
        return wait_for_log(self.log_text, text)

    def disconnect_summaries(self) -> list[str]:
        """Postfix's per-session command counts (`ehlo=1 mail=1 rcpt=0/1 quit=1`), once the log has settled:
        every session it logged a connect for has its disconnect, and the log stopped growing."""
        deadline = time.monotonic() + LOG_WAIT
        previous = None
        while True:
            text = self.log_text()
            settled = text == previous and len(_CONNECT.findall(text)) == len(_DISCONNECT.findall(text))
            if settled or time.monotonic() > deadline:
                return _DISCONNECT.findall(text)
            previous = text
            time.sleep(0.1)

    def stop(self) -> None:
        _stop(self.directory)

    def target_args(self, *, open_relay: bool = False) -> list[str]:
        smtp = self.ports["open_relay" if open_relay else "smtp"]
        return [
            f"--smtp-target={self.host}:{smtp}",
            f"--smtp-listener=submission={self.ports['submission']}",
            f"--smtp-listener=submissions={self.ports['submissions']}",
            f"--smtp-ca={self.ca_file}",
        ]


def free_ports(count: int) -> list[int]:
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run(command: str) -> str:
    """Postfix prints its errors only to a terminal: give it one with script(1), and capture it."""
    result = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def _main_cf(directory: Path) -> str:
    return f"""\
compatibility_level = 3.6
queue_directory = {directory}/queue
data_directory = {directory}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = smtpcheck-test-{directory.name}
maillog_file = {directory}/maillog
maillog_file_prefixes = {directory}
myhostname = mx.sandbox.test
mydomain = sandbox.test
myorigin = sandbox.test
mydestination = sandbox.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.254/32
smtpd_banner = $myhostname ESMTP Postfix
smtputf8_enable = yes
biff = no
alias_maps =
alias_database =
local_recipient_maps = texthash:{directory}/local_users
unknown_local_recipient_reject_code = 550
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:{directory}/recipient_access
message_size_limit = 1048576
default_transport = discard:never leaves the test machine
relay_transport = discard:never leaves the test machine
local_transport = discard:never leaves the test machine
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_cert_file = {directory}/server.pem
smtpd_tls_key_file = {directory}/server.key
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {directory}/sasl
smtpd_sasl_auth_enable = no
submission_sender_restrictions = permit_sasl_authenticated, check_sender_access static:{{530 5.7.0 Authentication required}}
"""


MASTER_SERVICES = """\
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""  # the internal services every instance needs, after its listeners


def _master_cf(ports: dict[str, int]) -> str:
    submission = (
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_delay_reject=no\n"
        "  -o smtpd_sender_restrictions=$submission_sender_restrictions\n"
    )
    return f"""\
127.0.0.1:{ports['smtp']} inet n - n - - smtpd
  -o strict_smtputf8=yes
127.0.0.1:{ports['open_relay']} inet n - n - - smtpd
  -o mynetworks=127.0.0.0/8
127.0.0.1:{ports['submission']} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
{submission}127.0.0.1:{ports['submissions']} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
{submission}127.0.0.1:{ports['tarpit']} inet n - n - - smtpd
  -o smtpd_soft_error_limit=1
  -o smtpd_error_sleep_time=3s
  -o smtpd_hard_error_limit=100
127.0.0.1:{ports['strict']} inet n - n - - smtpd
  -o smtpd_soft_error_limit=100
  -o smtpd_hard_error_limit=2
127.0.0.1:{ports['xclient']} inet n - n - - smtpd
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xclient_hosts=127.0.0.0/8
127.0.0.1:{ports['proxy']} inet n - n - - smtpd
  -o mynetworks=127.0.0.0/8
  -o smtpd_upstream_proxy_protocol=haproxy
  -o inet_protocols=all
{MASTER_SERVICES}"""


def write_certificate(directory: Path, server: str) -> str:
    """A test CA (ca.pem) and the lab MX's certificate signed by it (server.pem, server.key); returns the CA file."""
    import trustme

    ca = trustme.CA(organization_name=f"pytest-smtpcheck {server} test CA")
    cert = ca.issue_cert("mx.sandbox.test", "localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(directory / "server.pem"), append=True)
    cert.private_key_pem.write_to_path(str(directory / "server.key"))
    os.chmod(directory / "server.key", 0o600)
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return str(ca_file)


def _write_config(directory: Path, ports: dict[str, int]) -> str:
    ca_file = write_certificate(directory, "Postfix")
    (directory / "main.cf").write_text(_main_cf(directory))
    (directory / "master.cf").write_text(_master_cf(ports))
    mailboxes = [f"{user}@sandbox.test" for user in (*USERS, "greylisted")] + [UTF8_USER]
    (directory / "local_users").write_text("".join(f"{mailbox} ok\n" for mailbox in mailboxes), encoding="utf-8")
    (directory / "recipient_access").write_text(
        "greylisted@sandbox.test 450 4.2.0 Greylisted, try again later\n"
    )
    sasl = directory / "sasl"
    sasl.mkdir()
    (sasl / "smtpd.conf").write_text(
        f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {sasl}/sasldb2\nmech_list: PLAIN LOGIN\n"
    )
    subprocess.run([SASLPASSWD, "-c", "-p", "-f", str(sasl / "sasldb2"), "-u", SASL_REALM, SASL_USER],
                   input=SASL_PASSWORD, text=True, check=True, capture_output=True, timeout=30)
    shutil.chown(sasl / "sasldb2", group="postfix")
    os.chmod(sasl / "sasldb2", 0o640)
    (directory / "queue").mkdir()
    (directory / "data").mkdir()
    shutil.chown(directory / "data", user="postfix")
    return ca_file


def wait_for_ports(ports: dict[str, int], timeout: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout
    missing = list(ports.values())
    while missing and time.monotonic() < deadline:
        for port in list(missing):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                missing.remove(port)
            except OSError:
                pass
        time.sleep(0.1)
    return missing


def _stop(directory: Path) -> None:
    try:
        _run(f"{POSTFIX} -c {directory} stop")
    except (RuntimeError, subprocess.TimeoutExpired):
        pass
    pid_file = directory / "queue" / "pid" / "master.pid"
    deadline = time.monotonic() + 10
    while pid_file.exists() and time.monotonic() < deadline:
        pid = int(pid_file.read_text().split()[0] or 0)
        if not pid or not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.2)
    else:
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0] or 0)
            if pid and Path(f"/proc/{pid}").exists():
                os.killpg(os.getpgid(pid), signal.SIGKILL)


@contextmanager
def running_postfix() -> Iterator[PostfixInstance]:
    """Start a private instance; skip (with the reason) where Postfix or root is missing."""
    for program in (POSTFIX, SASLPASSWD, shutil.which("script") or "/usr/bin/script"):
        if not os.path.exists(program):
            pytest.skip(f"{program} not found: {INSTALL_HINT}")
    if os.geteuid() != 0:
        pytest.skip("the Postfix harness starts a private Postfix instance, which needs root")
    directory = Path(tempfile.mkdtemp(prefix="smtpcheck-postfix-"))
    os.chmod(directory, 0o755)
    ports = dict(zip(LISTENERS, free_ports(len(LISTENERS)), strict=True))
    try:
        ca_file = _write_config(directory, ports)
        _run(f"{POSTFIX} -c {directory} check")
        _run(f"{POSTFIX} -c {directory} start")
        missing = wait_for_ports(ports)
        if missing:
            raise RuntimeError(f"Postfix did not listen on {missing}:\n{(directory / 'maillog').read_text()}")
        instance = PostfixInstance("127.0.0.1", ports, ca_file, directory)
        instance.disconnect_summaries()  # the port probes' sessions are logged before any test counts sessions
        yield instance
    finally:
        _stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix() -> Iterator[PostfixInstance]:
    """The run's Postfix, shared by every test that only talks to it."""
    with running_postfix() as instance:
        yield instance


@pytest.fixture
def own_postfix() -> Iterator[PostfixInstance]:
    """A Postfix of this test's own, for tests that stop it."""
    with running_postfix() as instance:
        yield instance
