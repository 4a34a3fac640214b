"""pytest-smtpcheck: SMTP acceptance tests for mail infrastructure, as pytest tests and `.smtp` transcripts."""

__all__ = ["__version__"]

__version__ = "0.2.0"
