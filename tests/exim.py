"""A real Exim 4.96 (Debian's exim4-daemon-heavy) for the tests, with the policy of the test Postfix.

Debian's MTA packages conflict (installing exim4 removes postfix), so Exim is not installed:
`.ci/unpack-exim` downloads its packages and the libraries this machine lacks and unpacks them
with `dpkg-deb -x` into `.cache/exim/root` (or `$SMTPCHECK_EXIM_ROOT`). Exim runs from there in
the foreground, with a configuration, spool and log of its own in a temporary directory. Given a
configuration with `-C` that is not in its trusted list, Exim gives up root and runs as the user
Debian-exim, which is all a high port and a `:blackhole:` delivery need.

Loopback listeners on high ports, each answering as Exim does (no ENHANCEDSTATUSCODES, no RFC 3463 codes):
- smtp: the local domain sandbox.test (postmaster and the lab users accepted, others `550 Unrouteable
  address`), relay denied (`550 relay not permitted`), STARTTLS with the test CA's certificate;
- open_relay: the same server, but it relays for loopback: the misconfiguration the examples must catch;
- submission: STARTTLS required before MAIL (530), then AUTH PLAIN/LOGIN (offered only over TLS) with the
  lab account Postfix has too, and MAIL refused without it (530);
- submissions: implicit TLS, then AUTH.
Every listener advertises SIZE (1 MiB), PIPELINING, CHUNKING, DSN, 8BITMIME and SMTPUTF8.
Nothing leaves the machine: there is no smtp transport, every address routes to `:blackhole:`, no DNS lookups.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from postfix import (
    SASL_PASSWORD,
    SASL_REALM,
    SASL_USER,
    USERS,
    UTF8_USER,
    free_ports,
    wait_for_log,
    wait_for_ports,
    write_certificate,
)

ROOT = Path(os.environ.get("SMTPCHECK_EXIM_ROOT") or Path(__file__).parent.parent / ".cache" / "exim" / "root")
EXIM_USER = "Debian-exim"
UNPACK_HINT = "run `bash .ci/unpack-exim` as root (CI's .ci/run does)"
LISTENERS = ("smtp", "open_relay", "submission", "submissions")
ACCOUNT = f"{SASL_USER}@{SASL_REALM}"  # the lab's submission account, the same on Postfix


@dataclass
class EximInstance:
    host: str
    ports: dict[str, int]
    ca_file: str
    directory: Path

    def log_text(self) -> str:
        path = self.directory / "log" / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""

    def logged(self, text: str) -> bool:
        """Whether the main log has `text` (a delivery is logged by a child process, after the reply)."""
        return wait_for_log(self.log_text, text)

    def target_args(self, *, open_relay: bool = False) -> list[str]:
        smtp = self.ports["open_relay" if open_relay else "smtp"]
        return [
            f"--smtp-target={self.host}:{smtp}",
            f"--smtp-listener=submission={self.ports['submission']}",
            f"--smtp-listener=submissions={self.ports['submissions']}",
            f"--smtp-ca={self.ca_file}",
        ]


def _library_path() -> str:
    """Where the unpacked libraries are: Debian puts most under the multiarch directory, libspf2 in /usr/lib."""
    return f"{ROOT}/usr/lib/x86_64-linux-gnu:{ROOT}/usr/lib"


def _configuration(directory: Path, ports: dict[str, int]) -> str:
    """The policy of tests/postfix.py in Exim's words; `$received_port` tells the listeners apart."""
    exim = ROOT / "usr" / "sbin" / "exim4"
    # Exim's expansions are all braces: written as plain strings with the values joined in, not as f-strings.
    on_submission = "inlist{$received_port}{" + f"{ports['submission']}:{ports['submissions']}" + "}"
    relays_for_anyone = "${if eq{$received_port}{" + str(ports["open_relay"]) + "}}"
    auth_offered = "${if and{{def:tls_in_cipher}{" + on_submission + "}}}"  # RFC 4954 4: not before TLS here
    plain = "${if and{{eq{$auth2}{" + ACCOUNT + "}}{eq{$auth3}{" + SASL_PASSWORD + "}}}}"
    login = "${if and{{eq{$auth1}{" + ACCOUNT + "}}{eq{$auth2}{" + SASL_PASSWORD + "}}}}"
    interfaces = " ; ".join(f"127.0.0.1.{port}" for port in ports.values())
    return f"""\
exim_path = {exim}
keep_environment = LD_LIBRARY_PATH
spool_directory = {directory}/spool
log_file_path = {directory}/log/%slog
pid_file_path = {directory}/spool/exim.pid
primary_hostname = mx.sandbox.test
qualify_domain = sandbox.test
domainlist local_domains = sandbox.test
local_interfaces = <; {interfaces}
tls_on_connect_ports = {ports['submissions']}
tls_advertise_hosts = *
tls_certificate = {directory}/server.pem
tls_privatekey = {directory}/server.key
message_size_limit = 1M
host_lookup =
rfc1413_hosts =
dsn_advertise_hosts = *
chunking_advertise_hosts = *
pipelining_advertise_hosts = *
pipelining_connect_advertise_hosts =
smtputf8_advertise_hosts = *
accept_8bitmime = true
acl_smtp_mail = check_mail
acl_smtp_rcpt = check_rcpt
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error

begin acl

check_mail:
  deny    condition = ${{if {on_submission}}}
          !encrypted = *
          message = 530 Must issue a STARTTLS command first
  deny    condition = ${{if {on_submission}}}
          !authenticated = *
          message = 530 Authentication required
  accept

check_rcpt:
  accept  authenticated = *
  accept  condition = {relays_for_anyone}
          domains = !+local_domains
  require message = relay not permitted
          domains = +local_domains
  defer   local_parts = greylisted
          message = 450 Greylisted, try again later
  require verify = recipient
  accept

begin routers

local_users:
  driver = redirect
  domains = +local_domains
  local_parts = lsearch;{directory}/local_users
  data = :blackhole:

elsewhere:
  driver = redirect
  domains = !+local_domains
  data = :blackhole:

begin transports

begin retry

*   *   F,1h,15m

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_advertise_condition = {auth_offered}
  server_prompts = :
  server_condition = {plain}
  server_set_id = $auth2

login:
  driver = plaintext
  public_name = LOGIN
  server_advertise_condition = {auth_offered}
  server_prompts = <| Username: | Password:
  server_condition = {login}
  server_set_id = $auth1
"""


def _write_config(directory: Path, ports: dict[str, int]) -> str:
    ca_file = write_certificate(directory, "Exim")
    (directory / "exim.conf").write_text(_configuration(directory, ports))
    os.chmod(directory / "exim.conf", 0o644)  # Exim refuses a configuration others may write
    mailboxes = [*USERS, "greylisted", UTF8_USER.split("@")[0]]
    (directory / "local_users").write_text("".join(f"{user}:\n" for user in mailboxes), encoding="utf-8")
    for name in ("spool", "log"):
        (directory / name).mkdir()
        shutil.chown(directory / name, user=EXIM_USER, group=EXIM_USER)
    shutil.chown(directory / "server.key", user=EXIM_USER)  # Exim reads it after giving up root
    return ca_file


def _missing() -> str | None:
    """Why Exim cannot run here, naming what is missing; None when it can."""
    exim = ROOT / "usr" / "sbin" / "exim4"
    if not exim.exists():
        return f"Exim is not unpacked at {ROOT}: {UNPACK_HINT}"
    if exim.stat().st_mode & 0o4000:
        return f"{exim} is setuid, so the loader ignores LD_LIBRARY_PATH: {UNPACK_HINT}"
    try:
        pwd.getpwnam(EXIM_USER)
    except KeyError:
        return f"no user {EXIM_USER}, whom Exim runs as: {UNPACK_HINT}"
    if os.geteuid() != 0:
        return "the Exim harness starts a private Exim, which needs root to run it as Debian-exim"
    ldd = subprocess.run(["ldd", str(exim)], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "LD_LIBRARY_PATH": _library_path()})
    absent = [line.split()[0] for line in ldd.stdout.splitlines() if "not found" in line]
    if absent:
        return f"{exim} needs libraries that are neither installed nor unpacked: {', '.join(absent)}; {UNPACK_HINT}"
    return None


def _group(pgid: int) -> list[int]:
    """The live processes of a process group (zombies wait for init, they run nothing)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The daemon and every process it forked: they share its process group (it ran in a session of its own)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 10
        while _group(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _group(process.pid):
            break
    process.wait(5)


@contextmanager
def running_exim() -> Iterator[EximInstance]:
    """Start a private Exim; skip, saying what is missing, where it cannot run."""
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="smtpcheck-exim-"))
    os.chmod(directory, 0o755)
    ports = dict(zip(LISTENERS, free_ports(len(LISTENERS)), strict=True))
    process = None
    try:
        ca_file = _write_config(directory, ports)
        output = open(directory / "daemon.out", "wb")  # noqa: SIM115 - the daemon writes it until it stops
        with output:
            process = subprocess.Popen(
                [str(ROOT / "usr" / "sbin" / "exim4"), "-C", str(directory / "exim.conf"), "-bdf"],
                env={"LD_LIBRARY_PATH": _library_path(), "PATH": "/usr/bin:/bin"},
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        missing = wait_for_ports(ports)
        if missing:
            log = "".join(p.read_text(errors="replace") for p in [directory / "daemon.out", *(directory / "log").glob("*")])
            raise RuntimeError(f"Exim did not listen on {missing} (exit status {process.poll()}):\n{log}")
        yield EximInstance("127.0.0.1", ports, ca_file, directory)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def exim() -> Iterator[EximInstance]:
    """The run's Exim, shared by every test that only talks to it."""
    with running_exim() as instance:
        yield instance


@pytest.fixture(params=["postfix", "exim"])
def mta(request: pytest.FixtureRequest) -> EximInstance:
    """Each real MTA of the lab in turn, with the same policy: Postfix (enhanced codes) and Exim (none)."""
    instance: EximInstance = request.getfixturevalue(request.param)  # PostfixInstance has the same face
    return instance
