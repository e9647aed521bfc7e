"""Fixtures of the reliability tests (``private_kafka``, a broker of a test's own, is in
``tests/conftest.py``: the replay integration tests use it too)."""
