"""Benchmarks of the grant platform (issue #8): ``.venv/bin/python -m bench``. See README.md."""
