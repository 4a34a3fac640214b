"""What an infra team checks on its inbound MX, written as plain pytest tests.

Run against the embedded sandbox: `pytest examples`; against a real server:
`pytest examples --smtp-target=mx.example.com --smtp-var SMTP_DOMAIN=example.com`.
No test here sends a message: each stops before DATA.
"""

OUTSIDE_SENDER = "probe@example.net"


def test_relay_denied(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail(OUTSIDE_SENDER)
    # 550|554, and 5.7.1 where the server advertises ENHANCEDSTATUSCODES (RFC 2034): Postfix and Exim both pass.
    smtp_session.rcpt("victim@elsewhere.example").expect("550|554 (5.7.1)")


def test_unknown_user_rejected(smtp_session, smtp_server):
    smtp_session.ehlo()
    smtp_session.mail(OUTSIDE_SENDER)
    smtp_session.rcpt(f"no-such-user-smtpcheck@{smtp_server.var('SMTP_DOMAIN')}").expect("550 (5.1.1)")


def test_postmaster_accepted(smtp_session, smtp_server):
    smtp_session.ehlo()
    assert smtp_session.mail(OUTSIDE_SENDER).code == 250
    reply = smtp_session.rcpt(f"postmaster@{smtp_server.var('SMTP_DOMAIN')}")
    assert reply.code == 250
    smtp_session.rset()


def test_oversize_message_refused(smtp_session):
    smtp_session.ehlo()
    limit = int(smtp_session.capabilities["SIZE"])
    smtp_session.mail(OUTSIDE_SENDER, f"SIZE={limit + 1}").expect("552 (5.3.4)")
