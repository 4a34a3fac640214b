"""pytest-smtpcheck: SMTP acceptance tests for mail infrastructure, as pytest tests and `.smtp` transcripts."""

__version__ = "0.1.0"
