"""The bundled acceptance battery (`--smtp-baseline`, `smtpcheck check`): checks, the facts they share, their
settings and the scorecard. No pytest here; the pytest face is :mod:`pytest_smtpcheck.plugin.baseline`."""
