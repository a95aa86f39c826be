"""Fixtures of the pack's tests; the helpers are in tests/nag/findings.py."""
