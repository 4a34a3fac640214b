"""`! message file=`: files of the test tree only, unless a directory is listed in `smtp_message_dirs`.

A `.smtp` file must not be able to send `/etc/passwd`, a dotfile of the home directory or
`/proc/self/environ` (the run's password is in it) to a server that may be anyone's.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from faultserver import FaultServer, hostile_mx

from pytest_smtpcheck.paths import MessageFileRefused, MessageFiles
from pytest_smtpcheck.transcripts.bind import bind, check
from pytest_smtpcheck.transcripts.syntax import SMTPFileError, parse

SECRET_BODY = "Subject: not for the server\n\nthe-outside-file-was-sent\n"


def parse_script(source, path, variables=None, environ=None, files=None):
    """Read as collection does (the paths written out checked), then bind as a run does."""
    document = parse(source, path)
    check(document, files)
    return bind(document, variables or {}, environ or {}, files)


def smtp_file(path: str) -> str:
    return f"< 220\n> EHLO probe.example.net\n< 250\n> MAIL FROM:<a@b.example>\n< 250\n> RCPT TO:<p@hostile.test>\n" \
           f"< 250\n> DATA\n< 354\n! message file={path}\n< 250\n"


@pytest.fixture
def tree(tmp_path):
    """A test tree (the rootdir) with a message inside and a file outside it."""
    root = tmp_path / "tree"
    (root / "mail").mkdir(parents=True)
    (root / "mail" / "body.eml").write_text("Subject: inside\n\nhello\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.eml").write_text(SECRET_BODY)
    (root / "mail" / "link.eml").symlink_to(tmp_path / "outside" / "secret.eml")
    return root


@pytest.mark.parametrize(("written", "why"), [
    ("/etc/passwd", "an absolute path is not sent unless its directory is listed in the ini key smtp_message_dirs"),
    ("../../outside/secret.eml", "outside the test tree"),
    ("link.eml", "outside the test tree"),  # a symlink inside pointing out
    ("/proc/self/environ", "is in /proc, the kernel's tree"),
    ("../../../../../../../../proc/self/environ", "is in /proc, the kernel's tree"),
    ("/dev/zero", "is in /dev, the kernel's tree"),
    ("${env:HOME}/.bashrc", "an absolute path is not sent"),
])
def test_paths_outside_the_tree_are_refused_with_line_and_why(tree, written, why):
    with pytest.raises(SMTPFileError) as error:
        parse_script(smtp_file(written), tree / "mail" / "t.smtp", {}, {"HOME": "/root"}, MessageFiles(str(tree)))
    assert error.value.line == 10 and why in error.value.message, error.value.message
    assert str(error.value).startswith(f"{tree / 'mail' / 't.smtp'}:10: `! message file={written}`: ")


def test_files_of_the_tree_are_taken_by_their_real_path(tree):
    script = parse_script(smtp_file("body.eml"), tree / "mail" / "t.smtp", files=MessageFiles(str(tree)))
    assert script.exchanges[-1].steps[0].path == str(tree / "mail" / "body.eml")
    script = parse_script(smtp_file("../mail/./body.eml"), tree / "mail" / "t.smtp", files=MessageFiles(str(tree)))
    assert script.exchanges[-1].steps[0].path == str(tree / "mail" / "body.eml")


def test_a_listed_directory_lets_its_files_in_and_nothing_else(tree):
    outside = tree.parent / "outside"
    files = MessageFiles(str(tree), (str(outside),))
    assert files.resolve(str(outside / "secret.eml"), str(tree / "t.smtp")) == str(outside / "secret.eml")
    assert files.resolve("mail/link.eml", str(tree / "t.smtp")) == str(outside / "secret.eml")
    with pytest.raises(MessageFileRefused, match="absolute path"):
        files.resolve("/etc/hostname", str(tree / "t.smtp"))
    with pytest.raises(MessageFileRefused, match="kernel's tree"):
        MessageFiles(str(tree), ("/",)).resolve("/proc/self/environ", str(tree / "t.smtp"))


def test_unreadable_files_say_what_they_are(tree):
    files = MessageFiles(str(tree), ("/dev",))
    with pytest.raises(MessageFileRefused, match="no such file .*missing.eml"):
        files.resolve("missing.eml", str(tree / "t.smtp"))
    with pytest.raises(MessageFileRefused, match="is a directory"):
        files.resolve("mail", str(tree / "t.smtp"))
    fifo = tree / "mail" / "pipe.eml"
    os.mkfifo(fifo)
    with pytest.raises(MessageFileRefused, match="not a regular file"):
        files.resolve("mail/pipe.eml", str(tree / "t.smtp"))


def _refusal_as_nobody(root: Path) -> str:
    """The refusal as the unprivileged user nobody sees it: a forked child drops root (which reads every file) and
    runs the already-imported code, so nothing need be executable or importable by nobody."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        message = b"no refusal"
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            MessageFiles(str(root)).resolve("mail/locked.eml", str(root / "t.smtp"))
        except MessageFileRefused as error:
            message = str(error).encode()
        except BaseException as error:  # noqa: BLE001 - reported to the parent, which fails the test with it
            message = repr(error).encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_a_file_without_read_permission_says_so():
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "tree"
        (root / "mail").mkdir(parents=True)
        locked = root / "mail" / "locked.eml"
        locked.write_text("x")
        locked.chmod(0)
        if os.geteuid() != 0:
            with pytest.raises(MessageFileRefused, match="permission denied"):
                MessageFiles(str(root)).resolve("mail/locked.eml", str(root / "t.smtp"))
            return
        for directory in (Path(scratch), root, root / "mail"):
            directory.chmod(0o755)  # nobody may walk the tree; the file itself stays unreadable
        assert "permission denied" in _refusal_as_nobody(root)


def test_under_pytest_nothing_outside_is_sent_and_the_opt_in_sends_it(pytester):
    outside = pytester.path.parent / f"{pytester.path.name}-outside"
    outside.mkdir()
    (outside / "secret.eml").write_text(SECRET_BODY)
    pytester.makefile(".smtp", escape=smtp_file(f"../{outside.name}/secret.eml"))
    with FaultServer(hostile_mx) as server:
        refused = pytester.runpytest(f"--smtp-target={server.target}", "--smtp-timeout=5", "-p", "no:cacheprovider")
        refused.assert_outcomes(errors=1)
        refused.stdout.fnmatch_lines(["*escape.smtp:10: `! message file=../*-outside/secret.eml`: *outside the test "
                                      "tree*smtp_message_dirs*"])
        assert server.connections == 0  # collection failed: nothing went out
        pytester.makeini(f"[pytest]\nsmtp_message_dirs = ../{outside.name}\n")
        allowed = pytester.runpytest(f"--smtp-target={server.target}", "--smtp-timeout=5", "-p", "no:cacheprovider")
        allowed.assert_outcomes(passed=6)
        server.stop()
    assert b"the-outside-file-was-sent" in bytes(server.peers[0].wire)


def test_a_listed_directory_that_is_not_there_is_a_usage_error_naming_the_key_and_the_path(pytester):
    """A typo in `smtp_message_dirs` would allow nothing, silently: it stops the run, naming the ini key as written
    and the path as written (and where it resolved to), as every other setting's door does."""
    from test_options import assert_usage_error

    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.makeini("[pytest]\nsmtp_message_dirs = ../nowhere\n")
    assert_usage_error(pytester.runpytest_inprocess("-p", "no:cacheprovider"),
                       f"smtp_message_dirs (tox.ini): no such directory: ../nowhere ({pytester.path.parent / 'nowhere'})")
    (pytester.path / "body.eml").write_text("Subject: a file\n\n")
    pytester.makeini("[pytest]\nsmtp_message_dirs = body.eml\n")
    assert_usage_error(pytester.runpytest_inprocess("-p", "no:cacheprovider"),
                       "smtp_message_dirs (tox.ini): not a directory: body.eml")
    assert_usage_error(pytester.runpytest_inprocess("-p", "no:cacheprovider", "-o", "smtp_message_dirs=gone"),
                       "-o smtp_message_dirs: no such directory: gone")


def test_the_listed_directories_are_in_the_effective_settings_with_their_origin(pytester):
    outside = pytester.path.parent / f"{pytester.path.name}-outside"
    (outside / "two words").mkdir(parents=True)
    pytester.makepyfile("def test_nothing():\n    pass\n")
    pytester.makeini(f'[pytest]\nsmtp_message_dirs = ../{outside.name} "../{outside.name}/two words"\n')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    header = " ".join(line.removeprefix("smtpcheck: ") for line in result.outlines if line.startswith("smtpcheck: "))
    assert f"message_dirs {outside}, {outside / 'two words'} (ini (tox.ini))" in header
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--smtp-timeout=5")
    assert "message_dirs none (default: the test tree only)" in " ".join(result.outlines)
