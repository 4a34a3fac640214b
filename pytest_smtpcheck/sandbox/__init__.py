"""The embedded sandbox MX: a small, correctly configured mail domain on 127.0.0.1 (docs/sandbox.md).

A policy, not a mail system: it answers like a well-run Postfix, records what
each client sent (AUTH payloads masked), keeps no mail, and relays nothing.
Its parts:

- server.py: the listeners and the per-connection socket loop;
- the sans-IO protocol it drives, in smtp/server/ (framing, syntax, sequence);
- policy.py: the mail domain, the secure and misconfigured policies, and the
  handler that decides each reply; SASL from smtp/sasl.py;
- certificates.py: the run's CA and the server certificate;
- records.py: what tests can inspect afterwards (sessions, accepted messages).

The plugin imports this package only when a test needs the sandbox.
"""

from __future__ import annotations

from .records import AcceptedMessage, SessionRecord
from .server import Sandbox

__all__ = ["AcceptedMessage", "Sandbox", "SessionRecord"]
