"""DNS failures, worded for the engineer who reads the test report.

They are `ServerFault`s (an `SMTPCheckError`), so a DNS lookup that cannot be judged fails the test
at its own line, the same way a server that gives no reply does.
"""

from __future__ import annotations

from pytest_smtpcheck.errors import ServerFault

__all__ = ["DNSCheckError", "DNSSECBogus", "DNSServerFailure", "DNSTimeout"]


class DNSCheckError(ServerFault):
    """Base class: a DNS question got no answer a check can use."""


class DNSTimeout(DNSCheckError):
    """The resolver did not answer within the timeout."""


class DNSServerFailure(DNSCheckError):
    """The resolver answered SERVFAIL, REFUSED or another error code, or could not be reached."""


class DNSSECBogus(DNSCheckError):
    """DNSSEC validation failed: the data exists but its signatures do not verify.

    A validating resolver hides bogus data behind SERVFAIL; reading that as "no
    records" would pass a check that must fail, so it is an error of its own.
    """
