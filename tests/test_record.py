"""`smtpcheck record`: a session typed (piped, or on a pseudo-terminal) becomes a `.smtp` file that replays it.

The CLI runs in a subprocess, as an engineer runs it; its files are then run by
pytest against the same server (they must pass) and against a misconfigured one
(they must fail where the servers differ).
"""

import base64
import os
import pty
import select
import subprocess
import sys
import time
from functools import partial

import pytest

from pytest_smtpcheck.cli import _parser, _session_options, main
from pytest_smtpcheck.sandbox import Sandbox
from pytest_smtpcheck.settings import Given, SessionOptions, SettingsError, TLSSettings, resolve

RELAY_SESSION = """\
EHLO probe.example.net
MAIL FROM:<probe@example.net>
RCPT TO:<victim@elsewhere.example>
QUIT
"""


def record(target, output, typed, *options, env=None):
    return subprocess.run([sys.executable, "-m", "pytest_smtpcheck", "record", target, "-o", str(output), *options],
                          input=typed, text=True, capture_output=True, timeout=60, env=env, check=False)


def replay(pytester, path, *args):
    return pytester.runpytest_inprocess(str(path), "-p", "no:cacheprovider", "--smtp-timeout=10", "-rfs", *args)


def test_recorded_postfix_session_passes_against_it_and_fails_at_rcpt_on_an_open_relay(pytester, postfix):
    target = f"{postfix.host}:{postfix.ports['smtp']}"
    path = pytester.path / "relay_denied.smtp"
    result = record(target, path, RELAY_SESSION)
    assert result.returncode == 0, result.stderr
    assert "554 5.7.1 <victim@elsewhere.example>: Relay access denied" in result.stdout  # replies shown as they came
    body = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert body == [
        "< 220", "> EHLO probe.example.net", "< 250", "> MAIL FROM:<probe@example.net>", "< 250 2.1.0",
        "> RCPT TO:<victim@elsewhere.example>", "< 554 5.7.1", "> QUIT", "< 221 2.0.0",
    ]
    assert f"pytest {path} --smtp-target={target}" in result.stderr

    passed = replay(pytester, path, f"--smtp-target={target}", f"--smtp-ca={postfix.ca_file}")
    passed.assert_outcomes(passed=5)

    relay = f"--smtp-target={postfix.host}:{postfix.ports['open_relay']}"
    failed = replay(pytester, path, relay, f"--smtp-ca={postfix.ca_file}")
    failed.assert_outcomes(passed=3, failed=1, skipped=1)
    failed.stdout.fnmatch_lines(["relay_denied.smtp:8: expected 554 5.7.1, got code 250",
                                 "FAILED relay_denied.smtp::line7-RCPT*"])


def test_starttls_auth_message_and_bdat_replay_and_no_password_is_written_or_shown(pytester, monkeypatch):
    with Sandbox() as sb:
        target = f"{sb.host}:{sb.ports['submission']}"
        path = pytester.path / "submission.smtp"
        typed = ("EHLO probe.example.net\n! starttls\nEHLO probe.example.net\n"
                 f"! auth LOGIN {sb.username} {sb.password}\n"
                 "MAIL FROM:<probe@example.net>\nRCPT TO:<postmaster@sandbox.test>\nDATA\nSubject: ${HOME} as typed\n\n"
                 ".hidden\n.\nMAIL FROM:<probe@example.net>\nRCPT TO:<postmaster@sandbox.test>\nDATA\n! message 2KiB\n"
                 "MAIL FROM:<probe@example.net>\nRCPT TO:<postmaster@sandbox.test>\n! bdat 3000 chunk=1000\nQUIT\n")
        result = record(target, path, typed, f"--ca={sb.ca_file}")
        assert result.returncode == 0, result.stderr
        written = path.read_text()
        assert sb.password not in written + result.stdout + result.stderr
        assert sb.username not in written
        assert "! auth LOGIN ${SMTP_USER} ${SMTP_PASSWORD}\n< 235 2.7.0\n" in written
        assert "> Subject: $${HOME} as typed\n>\n> .hidden\n> .\n< 250 2.0.0\n" in written  # sent as typed, unstuffed
        assert "! message 2KiB\n< 250 2.0.0\n" in written
        assert "! bdat 3000 chunk=1000\n< 250 2.0.0\n" in written
        assert "SMTPCHECK_PASSWORD=... pytest" in result.stderr and "--smtp-user=USER" in result.stderr
        assert len(sb.messages) == 3

        monkeypatch.setenv("SMTPCHECK_PASSWORD", sb.password)
        args = [f"--smtp-target={target}", f"--smtp-ca={sb.ca_file}", f"--smtp-user={sb.username}"]
        replay(pytester, path, *args).assert_outcomes(passed=len(written.split("\n<")) - 1)
        monkeypatch.setenv("SMTPCHECK_PASSWORD", "wrong-password")
        failed = replay(pytester, path, *args)
        failed.stdout.fnmatch_lines(["submission.smtp:*: expected 235 2.7.0, got code 535",
                                     "FAILED submission.smtp::line*-AUTH*"])


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_an_oauth_auth_is_written_with_the_token_variable_and_replays_with_the_token(pytester, monkeypatch,
                                                                                        mechanism):
    """XOAUTH2 and OAUTHBEARER send a bearer token, not a password: the file says ${SMTP_TOKEN}, the replay hint
    names SMTPCHECK_TOKEN, and the replay with the token set is accepted (with only a password set it skips)."""
    with Sandbox() as sb:
        target = f"{sb.host}:{sb.ports['submission']}"
        path = pytester.path / "oauth.smtp"
        typed = f"EHLO probe.example.net\n! starttls\nEHLO probe.example.net\n! auth {mechanism} {sb.username} {sb.token}\nQUIT\n"
        result = record(target, path, typed, f"--ca={sb.ca_file}")
        assert result.returncode == 0, result.stderr
        written = path.read_text()
        assert f"! auth {mechanism} ${{SMTP_USER}} ${{SMTP_TOKEN}}\n< 235" in written
        assert sb.token not in written + result.stdout + result.stderr
        assert "SMTPCHECK_TOKEN=... pytest" in result.stderr and "SMTPCHECK_PASSWORD" not in result.stderr
        args = [f"--smtp-target={target}", f"--smtp-ca={sb.ca_file}", f"--smtp-user={sb.username}"]
        monkeypatch.setenv("SMTPCHECK_TOKEN", sb.token)
        replay(pytester, path, *args).assert_outcomes(passed=len(written.split("\n<")) - 1)


def test_a_typed_auth_plain_line_is_sent_as_typed_and_written_with_variables(pytester):
    with Sandbox() as sb:
        secret = base64.b64encode(f"\0{sb.username}\0{sb.password}".encode()).decode()
        path = pytester.path / "plain.smtp"
        result = record(f"{sb.host}:{sb.ports['submission']}", path,
                        f"EHLO a.example\nSTARTTLS\nEHLO a.example\nAUTH PLAIN {secret}\nQUIT\n", f"--ca={sb.ca_file}")
        assert result.returncode == 0, result.stderr
        written = path.read_text()
        assert "! starttls\n< 220 2.0.0\n" in written  # a typed STARTTLS also starts TLS, so it is the directive
        assert "! auth PLAIN ${SMTP_USER} ${SMTP_PASSWORD}\n< 235 2.7.0\n" in written
        for shown in (written, result.stdout, result.stderr):
            assert secret not in shown and sb.password not in shown
        assert "AUTH PLAIN ****" in result.stdout


def test_keep_text_writes_escaped_patterns_that_match_the_next_session_too(pytester):
    with Sandbox() as sb:
        target = f"{sb.host}:{sb.ports['smtp']}"
        path = pytester.path / "text.smtp"
        typed = "EHLO a.example\nMAIL FROM:<a@example.net>\nRCPT TO:<postmaster@sandbox.test>\nDATA\nhi\n.\nQUIT\n"
        assert record(target, path, typed, "--keep-text").returncode == 0
        written = path.read_text()
        assert r"< 220 /mx\.sandbox\.test ESMTP pytest\-smtpcheck sandbox/" in written
        assert r"SIZE \S+\n" in written  # words with digits match any word
        replay(pytester, path, f"--smtp-target={target}").assert_outcomes(passed=7)


def test_end_of_input_inside_a_message_leaves_data_out_and_the_file_still_replays(pytester):
    with Sandbox() as sb:
        target = f"{sb.host}:{sb.ports['smtp']}"
        path = pytester.path / "unfinished.smtp"
        result = record(target, path, "EHLO a.example\nMAIL FROM:<a@example.net>\nRCPT TO:<postmaster@sandbox.test>\n"
                                      "DATA\nSubject: never sent\n")
        assert result.returncode == 0, result.stderr
        assert "DATA is left out of the file" in result.stderr
        assert "DATA" not in path.read_text() and "never sent" not in path.read_text()
        replay(pytester, path, f"--smtp-target={target}").assert_outcomes(passed=4)
        assert not sb.messages


@pytest.mark.parametrize(("typed", "message"), [
    ("AUTH LOGIN\n", "type `! auth MECHANISM USER PASSWORD`"),
    ("BDAT 10 LAST\n", "type `! bdat SIZE [chunk=BYTES]`"),
    ("! frobnicate\n", "unknown directive `! frobnicate`"),
    ("! auth PLAIN onlyuser\n", "`! auth` takes 3 arguments, got 2"),
    ("! message\n", "`! message` sends a message body, so it must follow `> DATA`"),
    ("NOOP " + "x" * 1000 + "\n", "RFC 5321 allows 998"),
    ("! auth PLAIN u ${PASSWORD}\n", "${PASSWORD} is not set here"),
])
def test_a_piped_line_that_cannot_be_sent_stops_with_one_line_and_writes_nothing(tmp_path, typed, message):
    with Sandbox() as sb:
        path = tmp_path / "refused.smtp"
        result = record(f"{sb.host}:{sb.ports['smtp']}", path, "EHLO a.example\n" + typed + "QUIT\n")
        assert result.returncode == 1
        assert result.stderr.startswith("smtpcheck record: stdin:2: ") and message in result.stderr
        assert result.stderr.count("\n") == 1
        assert not path.exists()
        assert "QUIT" not in [command.split()[0] for command in sb.sessions[-1].commands[1:-1]]


def test_cannot_connect_is_one_line_and_exit_status_1(tmp_path):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = record(f"127.0.0.1:{port}", tmp_path / "x.smtp", "QUIT\n")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in result.stderr and "refused" in result.stderr
    assert not (tmp_path / "x.smtp").exists()


def test_a_server_that_hangs_up_leaves_the_file_up_to_there_and_exit_status_1(tmp_path, postfix):
    path = tmp_path / "strict.smtp"
    typed = "EHLO a.example\nBOGUS\nBOGUS\nNOOP\nNOOP\n"  # the strict listener answers 421 after two errors, hangs up
    result = record(f"{postfix.host}:{postfix.ports['strict']}", path, typed)
    assert result.returncode == 1
    assert "smtpcheck record:" in result.stderr and "the file ends before that line" in result.stderr
    assert path.read_text().endswith("> BOGUS\n< 500 5.5.2\n> NOOP\n< 421 4.7.0\n")


@pytest.mark.parametrize(("args", "message"), [
    (["record", "127.0.0.1:99999", "-o", "x.smtp"], "HOST[:PORT]"),
    (["record", "[::1", "-o", "x.smtp"], "HOST[:PORT]"),
    (["record", "127.0.0.1", "-o", "x.txt"], "must end in .smtp"),
    (["record", "127.0.0.1", "-o", "no/such/dir/x.smtp"], "no such directory"),
    # the plugin's own rules (settings.py), named by the recorder's options
    (["record", "127.0.0.1", "-o", "x.smtp", "--ca", "missing.pem"], "--ca: no such file: "),
    (["record", "127.0.0.1", "-o", "x.smtp", "--tls", "ssl"], "--tls: must be one of none, starttls, implicit, not 'ssl'"),
    (["record", "127.0.0.1", "-o", "x.smtp", "--timeout", "0"], "--timeout: must be a number of seconds above 0"),
    (["record", "127.0.0.1", "-o", "x.smtp", "--timeout", "5000"], "--timeout: must be a number of seconds above 0 and at most 3600"),
    (["record", "127.0.0.1", "-o", "x.smtp", "--helo", "two words"], "--helo: must be one host name or [address]"),
    (["record", "127.0.0.1:0", "-o", "x.smtp"], "HOST[:PORT]: must be a whole number from 1 to 65535"),
    (["record", "127.0.0.1"], "required: -o/--output"),
    ([], "required: COMMAND"),
])
def test_bad_usage_exits_2_naming_the_option(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "pytest_smtpcheck", *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=30, check=False)
    assert result.returncode == 2
    assert message in result.stderr


# Each recorder option that is one of the plugin's settings (cli._SETTINGS and the target), with a value the
# setting's rule refuses: the recorder is one more door, so it must refuse the same values in the same words
RECORDER_SETTINGS = [  # the recorder's option, the plugin's key, a value its rule refuses
    ("HOST[:PORT]", "target", "not a host!"),
    ("HOST[:PORT]", "target", "127.0.0.1:0"),
    ("--tls-name", "tls_name", "not a host!"),
    ("--tls-name", "tls_name", "two words.example"),
    ("--tls", "tls", "ssl"),
    ("--helo", "helo", "two words"),
    ("--timeout", "timeout", "5000"),
    ("--ca", "ca", "missing.pem"),
]


@pytest.mark.parametrize(("option", "key", "value"), RECORDER_SETTINGS)
def test_each_recorder_option_refuses_what_the_plugin_refuses_in_its_words(tmp_path, monkeypatch, capsys, option,
                                                                           key, value):
    """Every rule once (issue 16): `--tls-name 'not a host!'` was accepted, and connected, where
    `--smtp-tls-name='not a host!'` is a usage error. The recorder exits 2 before connecting, naming its own
    option with the plugin's rule word for word."""
    monkeypatch.chdir(tmp_path)
    target = {} if key == "target" else {"target": Given("127.0.0.1", "--smtp-target", "command line")}
    with pytest.raises(SettingsError) as plugin:
        resolve([{key: Given(value, "--smtp-" + key.replace("_", "-"), "command line"), **target}], environ={})
    args = [value, "-o", "x.smtp"] if key == "target" else ["127.0.0.1", "-o", "x.smtp", option, value]
    with pytest.raises(SystemExit) as exited:
        main(["record", *args])
    assert exited.value.code == 2
    assert f"{option}: {plugin.value.problem}" in capsys.readouterr().err
    assert not (tmp_path / "x.smtp").exists()


def test_the_recorder_takes_what_the_plugin_takes():
    """The passing side: a host name or an address as --tls-name, as --smtp-tls-name takes them."""
    for name in ("mx.example.com", "192.0.2.25", "2001:db8::25"):
        options = _session_options(_parser().parse_args(["record", "127.0.0.1:2525", "-o", "x.smtp",
                                                         "--tls-name", name, "--timeout", "5"]))
        assert options == ("127.0.0.1", 2525, SessionOptions(timeout=5.0, tls=TLSSettings(server_name=name)))


def test_the_command_does_not_import_pytest():
    code = "import sys, pytest_smtpcheck.cli; assert 'pytest' not in sys.modules, 'pytest imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_on_a_terminal_lines_can_be_edited_and_ctrl_d_ends_the_session(tmp_path):
    """Ctrl-A (readline: start of line) fixes a line typed without its first letter; Ctrl-D writes the file."""
    with Sandbox() as sb:
        path = tmp_path / "typed.smtp"
        pid, fd = pty.fork()
        if pid == 0:  # the child: the recorder, its stdin a terminal
            os.execv(sys.executable, [sys.executable, "-m", "pytest_smtpcheck", "record",
                                      f"{sb.host}:{sb.ports['smtp']}", "-o", str(path)])
        screen = _until(fd, b"220 ", prompt=True)  # readline flushes what is typed before its prompt
        os.write(fd, b"HLO tty.example\x01E\r")
        screen += _until(fd, b"250 ", prompt=True)
        os.write(fd, b"\x04")
        screen += _until(fd, b"wrote ")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        assert os.waitstatus_to_exitcode(status) == 0, screen
        assert "> EHLO tty.example\n< 250\n" in path.read_text()
        assert sb.sessions[-1].commands[0] == "EHLO tty.example"


def _until(fd, wanted, prompt=False, timeout=15.0):
    seen = b""
    deadline = time.monotonic() + timeout
    while not (wanted in seen and (not prompt or seen.endswith(b"> "))) and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    assert wanted in seen, seen
    return seen


def test_a_refused_and_an_accepted_auth_replay_green_against_postfix_and_exim(pytester, mta, monkeypatch):
    """The recorder keeps what happened: the refused AUTH is written with a secret that is certainly wrong, so with
    the real password in $SMTPCHECK_PASSWORD its replay is refused again (535, RFC 4954 6) and the accepted one is
    accepted (235); were the refused one written with ${SMTP_PASSWORD}, its `< 535` would fail on replay."""
    target = f"{mta.host}:{mta.ports['submission']}"
    path = pytester.path / "auth.smtp"
    typed_wrong = "typed-Wr0ng-secret"
    typed = ("EHLO probe.example.net\n! auth LOGIN submit@sandbox.test typed-Wr0ng-secret\n"
             "! auth PLAIN submit@sandbox.test sandbox-Pa55word\nMAIL FROM:<probe@example.net>\nRSET\nQUIT\n")
    result = record(target, path, typed, "--tls=starttls", f"--ca={mta.ca_file}")
    assert result.returncode == 0, result.stderr
    written = path.read_text()
    assert "! auth LOGIN ${SMTP_USER} wrong-password-smtpcheck\n< 535" in written
    assert "! auth PLAIN ${SMTP_USER} ${SMTP_PASSWORD}\n< 235" in written
    for shown in (written, result.stdout, result.stderr):
        assert typed_wrong not in shown and "sandbox-Pa55word" not in shown
    assert "SMTPCHECK_PASSWORD=... pytest" in result.stderr

    monkeypatch.setenv("SMTPCHECK_PASSWORD", "sandbox-Pa55word")
    args = [f"--smtp-target={target}", f"--smtp-ca={mta.ca_file}", "--smtp-user=submit@sandbox.test"]
    replay(pytester, path, *args).assert_outcomes(passed=len(written.split("\n<")) - 1)
    monkeypatch.setenv("SMTPCHECK_PASSWORD", "not-the-lab-password")
    failed = replay(pytester, path, *args)
    failed.assert_outcomes(passed=3, failed=1, skipped=3)  # the greeting, EHLO, the refused AUTH; then stop
    failed.stdout.fnmatch_lines(["auth.smtp:*: expected 235*, got code 535", "FAILED auth.smtp::line*-AUTH*"])


def test_only_refused_auth_needs_no_password_to_replay(pytester):
    """The refused secret typed again in a command is written as the refused AUTH was: with the certainly wrong one."""
    with Sandbox() as sb:
        target = f"{sb.host}:{sb.ports['submission']}"
        path = pytester.path / "wrong.smtp"
        result = record(target, path, f"EHLO a.example\n! auth PLAIN {sb.username} nope-nope\nNOOP nope-nope\nQUIT\n",
                        "--tls=starttls", f"--ca={sb.ca_file}")
        assert result.returncode == 0, result.stderr
        written = path.read_text()
        assert "! auth PLAIN ${SMTP_USER} wrong-password-smtpcheck\n< 535 5.7.8\n" in written
        assert "> NOOP wrong-password-smtpcheck\n< 250" in written and "nope-nope" not in written
        assert "SMTPCHECK_PASSWORD" not in result.stderr and "--smtp-user=USER" in result.stderr
        replay(pytester, path, f"--smtp-target={target}", f"--smtp-ca={sb.ca_file}",
               f"--smtp-user={sb.username}").assert_outcomes(passed=5)


ECHOED = "Hunter2-secret"


def test_a_secret_typed_in_a_command_is_written_as_its_variable_and_replays_the_same_bytes(pytester, monkeypatch,
                                                                                           tmp_path):
    """`NOOP <password>` to a server that echoes it, and the password in a message: the recorder's notice masks it,
    the file writes the password as the AUTH line does (${SMTP_PASSWORD}), and the replay, given that password,
    sends byte for byte what the recording sent (the server logs both, decrypted)."""
    from faultserver import Certificates, FaultServer, hostile_mx

    certs = Certificates(tmp_path)
    path = pytester.path / "echo.smtp"
    typed = (f"EHLO probe.example.net\n! auth PLAIN probe@example.net {ECHOED}\nNOOP {ECHOED}\n"
             f"MAIL FROM:<probe@example.net>\nRCPT TO:<postmaster@hostile.test>\nDATA\nSubject: pw {ECHOED}\n\nhi\n.\n"
             "QUIT\n")
    with FaultServer(partial(hostile_mx, starttls=certs.context("valid"), echo=True)) as server:
        result = record(server.target, path, typed, "--tls=starttls", f"--ca={certs.ca_file}", "--keep-text",
                        "--timeout=5")
        assert result.returncode == 0, result.stderr
        monkeypatch.setenv("SMTPCHECK_PASSWORD", ECHOED)
        replayed = replay(pytester, path, f"--smtp-target={server.target}", f"--smtp-ca={certs.ca_file}",
                          "--smtp-user=probe@example.net")
        server.stop()
    written = path.read_text()
    assert "\n> NOOP ${SMTP_PASSWORD}\n< 250 2.0.0\n" in written  # its echo is left out: only the codes
    assert "\n> Subject: pw ${SMTP_PASSWORD}\n" in written  # a message line the same
    assert "the reply to NOOP **** holds a secret that was sent" in result.stderr
    encoded = base64.b64encode(f"\0probe@example.net\0{ECHOED}".encode()).decode()
    for shown in (written, result.stdout, result.stderr, replayed.stdout.str()):
        assert ECHOED not in shown and encoded not in shown
    replayed.assert_outcomes(passed=len(written.split("\n<")) - 1)
    recorded, replay_wire = (bytes(peer.wire) for peer in server.peers)
    assert f"NOOP {ECHOED}\r\n".encode() in recorded and f"Subject: pw {ECHOED}\r\n".encode() in recorded
    assert replay_wire == recorded


def test_a_secret_typed_in_another_form_is_refused_before_it_is_sent(tmp_path):
    """The base64 of the PLAIN answer typed in a command: no variable writes it, so the line is not sent and, piped,
    nothing is written."""
    from faultserver import FaultServer, hostile_mx

    path = tmp_path / "encoded.smtp"
    encoded = base64.b64encode(f"\0probe@example.net\0{ECHOED}".encode()).decode()
    typed = f"EHLO probe.example.net\n! auth PLAIN probe@example.net {ECHOED}\nNOOP {encoded}\nQUIT\n"
    with FaultServer(partial(hostile_mx, echo=True)) as server:
        result = record(server.target, path, typed, "--timeout=5")
        server.stop()
    assert result.returncode == 1 and not path.exists()
    assert "stdin:3: the line holds a secret sent earlier in another form" in result.stderr
    assert encoded.encode() in bytes(server.peers[0].wire).split(b"AUTH PLAIN ")[1]  # the AUTH went
    assert b"NOOP" not in bytes(server.peers[0].wire)
    assert encoded not in result.stdout + result.stderr and ECHOED not in result.stdout + result.stderr
