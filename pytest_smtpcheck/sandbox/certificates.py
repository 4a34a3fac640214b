"""The sandbox's TLS: a CA made for this run and a certificate for the sandbox's names, from trustme."""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass

__all__ = ["Certificates"]


@dataclass(frozen=True)
class Certificates:
    """A server context with the certificate, and the CA file clients trust (in a directory of its own)."""

    context: ssl.SSLContext
    ca_file: str

    @classmethod
    def issue(cls, hostname: str) -> Certificates:
        """A certificate for *hostname*, localhost, 127.0.0.1 and ::1, so verification stays on for every name."""
        import trustme

        ca = trustme.CA(organization_name="pytest-smtpcheck sandbox CA")
        cert = ca.issue_cert(hostname, "localhost", "127.0.0.1", "::1")
        ca_file = os.path.join(tempfile.mkdtemp(prefix="smtpcheck-sandbox-"), "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return cls(context, ca_file)

    def remove(self) -> None:
        shutil.rmtree(os.path.dirname(self.ca_file), ignore_errors=True)
