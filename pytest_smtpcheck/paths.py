"""Which files a `.smtp` file may send as a message: files of the test tree, and nothing else by default.

`! message file=PATH` reads a file from disk and sends it to a server that may be
anyone's. A path written in a test (or built from a variable) must not reach
`/etc/passwd`, `~/.bashrc` or `/proc/self/environ`, which holds the run's password.
So a path is taken relative to the `.smtp` file, resolved (`..` and symlinks), and
must then lie under the test tree's root (pytest's rootdir) or a directory the team
listed on purpose (the `smtp_message_dirs` ini key); an absolute path needs such a
listing too. The kernel's trees (/proc, /sys, /dev) are refused even when listed,
and the file must be a regular file this process can read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

__all__ = ["ALLOW_KEY", "SYSTEM_TREES", "MessageFileRefused", "MessageFiles"]

SYSTEM_TREES = ("/proc", "/sys", "/dev")  # never message files: they hold the process's environment, devices
ALLOW_KEY = "smtp_message_dirs"  # the ini key that lists further directories


class MessageFileRefused(ValueError):
    """A `file=` path that may not be sent; the message says why and what to do."""


@dataclass(frozen=True)
class MessageFiles:
    """Where message files may come from: under *root* (the test tree) or one of *allowed*."""

    root: str
    allowed: tuple[str, ...] = ()

    def resolve(self, written: str, smtp_file: str) -> str:
        """The real path of the file *written* in *smtp_file*, once it is known to be allowed and readable."""
        if not written:
            raise MessageFileRefused("the path is empty")
        real = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(smtp_file)), written))
        inside = [os.path.realpath(base) for base in (self.root, *self.allowed)]
        system = next((tree for tree in SYSTEM_TREES if _under(real, tree)), None)
        if system is not None:
            raise MessageFileRefused(f"{real} is in {system}, the kernel's tree: it is never sent as a message")
        listed = any(_under(real, base) for base in inside[1:])
        if os.path.isabs(written) and not listed:
            raise MessageFileRefused(
                f"an absolute path is not sent unless its directory is listed in the ini key {ALLOW_KEY}; "
                f"write the path relative to this .smtp file, inside the test tree {inside[0]}")
        if not listed and not _under(real, inside[0]):
            raise MessageFileRefused(
                f"{written} resolves to {real}, outside the test tree {inside[0]} (after `..` and symlinks); "
                f"keep message files in the test tree, or list their directory in the ini key {ALLOW_KEY}")
        return _readable(real)


def _readable(real: str) -> str:
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise MessageFileRefused(f"no such file {real}; the path is relative to this .smtp file") from None
    except OSError as error:
        raise MessageFileRefused(f"cannot read {real}: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        raise MessageFileRefused(f"{real} is a directory; name the message file in it")
    if not stat.S_ISREG(mode):
        raise MessageFileRefused(f"{real} is not a regular file (a device, FIFO or socket) and cannot be a message")
    if not os.access(real, os.R_OK):
        raise MessageFileRefused(f"cannot read {real}: permission denied for this user")
    return real


def _under(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)
