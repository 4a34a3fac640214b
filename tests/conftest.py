"""Test-suite plumbing: the Postfix harness is a plugin of its own (tests/postfix.py)."""

pytest_plugins = ["postfix"]
