"""SMTP extensions in Python tests: ESMTP parameters as keywords, OAuth submission, XCLIENT.

Against the sandbox all but the XCLIENT test run. Against your server, the OAuth test
needs a token in $SMTPCHECK_TOKEN and the XCLIENT test a server that offers XCLIENT to
this machine; each is skipped, saying so, without them. No test here sends a message.
"""

import pytest

OUTSIDE_CLIENT = "203.0.113.9"  # a documentation address (RFC 5737): certainly not in your networks


def test_dsn_and_body_parameters_accepted(smtp_session, smtp_server):
    smtp_session.ehlo()
    # Keyword parameters are checked against the EHLO reply before anything is sent.
    assert smtp_session.mail("probe@example.net", body="8BITMIME", ret="HDRS", envid="smtpcheck-example").code == 250
    reply = smtp_session.rcpt(f"postmaster@{smtp_server.var('SMTP_DOMAIN')}", notify="NEVER")
    assert reply.code == 250
    smtp_session.rset()


@pytest.mark.smtp(listener="submission", tls="starttls")
def test_oauth_submission_accepts_the_token(smtp_session, smtp_server):
    user, token = smtp_server.var("SMTP_USER"), smtp_server.var("SMTP_TOKEN")  # the token from $SMTPCHECK_TOKEN
    smtp_session.ehlo()
    assert smtp_session.auth("XOAUTH2", user, token).code == 235


def test_relay_denied_for_an_outside_client(smtp_session):
    smtp_session.ehlo()
    if not smtp_session.supports("XCLIENT"):
        pytest.skip("needs a server that offers XCLIENT to this machine (Postfix: smtpd_authorized_xclient_hosts); "
                    "the sandbox does not. Or run test_mx_policy.py with --smtp-as=203.0.113.9")
    assert smtp_session.xclient(ADDR=OUTSIDE_CLIENT).code == 220
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net")
    smtp_session.rcpt("victim@elsewhere.example").expect("550|554 (5.7.1)")
