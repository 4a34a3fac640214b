"""`python -m pytest_smtpcheck record ...`, the same as the `smtpcheck` console script."""

from .cli import main

raise SystemExit(main())
