"""TLS and submission checks: STARTTLS with a valid certificate, AUTH only after TLS.

The checks of what a server offers in plain text say `tls="none"`: they hold under `--smtp-tls=starttls` too.
The others ask for TLS with `tls="starttls"` and get a session already upgraded (then EHLO again, RFC 3207).
"""

from datetime import datetime, timezone

import pytest


@pytest.mark.smtp(tls="none")
def test_starttls_offered_and_certificate_valid(smtp_session):
    smtp_session.ehlo()
    assert smtp_session.supports("STARTTLS")
    assert smtp_session.starttls().code == 220
    tls = smtp_session.tls_info
    assert tls.verified
    assert tls.version in ("TLSv1.2", "TLSv1.3")
    expires = datetime.strptime(tls.not_after, "%b %d %H:%M:%S %Y GMT").replace(tzinfo=timezone.utc)
    assert (expires - datetime.now(timezone.utc)).days >= 14, f"certificate expires {tls.not_after}"


@pytest.mark.smtp(listener="submission", tls="none")
def test_submission_offers_no_auth_in_plain_text(smtp_session):
    smtp_session.ehlo()
    assert not smtp_session.supports("AUTH"), f"AUTH offered before TLS: {smtp_session.capabilities['AUTH']}"
    assert smtp_session.mail("probe@example.net").code == 530


@pytest.mark.smtp(listener="submission", tls="starttls")
def test_submission_requires_auth_after_tls(smtp_session):
    smtp_session.ehlo()
    assert smtp_session.supports("AUTH")
    smtp_session.mail("probe@example.net").expect("530 (5.7.0)")


@pytest.mark.smtp(listener="submission", tls="starttls")
def test_submission_rejects_a_wrong_password(smtp_session, smtp_server):
    smtp_session.ehlo()
    reply = smtp_session.auth("PLAIN", smtp_server.var("SMTP_USER"), "not-the-password")
    assert reply.code == 535


@pytest.mark.smtp(listener="submission", tls="starttls")
def test_submission_accepts_valid_credentials(smtp_session, smtp_server):
    smtp_session.ehlo()
    reply = smtp_session.auth("PLAIN", smtp_server.var("SMTP_USER"), smtp_server.var("SMTP_PASSWORD"))
    assert reply.code == 235
