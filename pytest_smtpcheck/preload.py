"""Import, in the thread about to start others, the modules those threads would import on first use.

The plugin imports most of its modules lazily, to stay cheap when idle. pytest rewrites the asserts of a
plugin's modules as it imports them (it parses each into an AST), and CPython 3.11 can fail that when two
threads build ASTs at once: "SystemError: AST constructor recursion depth mismatch" (seen here on 3.11.7 when
a run-ahead thread imported the runner; see CPython gh-106905). So whatever starts threads of the plugin's own
(the run-ahead of `.smtp` files, the battery's probes) first imports what they need, here.
"""

from __future__ import annotations

import importlib

__all__ = ["BASELINE_PROBES", "FILE_SESSIONS", "preload"]

# What a `.smtp` file's session may import on first use: binding, running, TLS, AUTH, messages, parameters,
# XCLIENT and PROXY (no file step asks DNS, so dnspython stays unloaded).
FILE_SESSIONS = (
    "pytest_smtpcheck.transcripts.bind", "pytest_smtpcheck.transcripts.runner", "pytest_smtpcheck.transcripts.steps",
    "pytest_smtpcheck.smtp.session", "pytest_smtpcheck.smtp.connection", "pytest_smtpcheck.smtp.tls",
    "pytest_smtpcheck.smtp.sasl", "pytest_smtpcheck.smtp.message", "pytest_smtpcheck.smtp.params",
    "pytest_smtpcheck.smtp.proxy", "pytest_smtpcheck.smtp.transcript",
)
# What the battery's probes of an address import: the plain session, the handshakes, the certificates, DNS.
BASELINE_PROBES = (
    "pytest_smtpcheck.smtp.session", "pytest_smtpcheck.smtp.connection", "pytest_smtpcheck.smtp.tls",
    "pytest_smtpcheck.smtp.mxprobe", "pytest_smtpcheck.smtp.tlsprobe", "pytest_smtpcheck.smtp.certfacts",
    "pytest_smtpcheck.smtp.transcript", "pytest_smtpcheck.dns",
)


def preload(modules: tuple[str, ...]) -> None:
    """Import *modules* (and so what they import at their top) in the calling thread."""
    for name in modules:
        importlib.import_module(name)
