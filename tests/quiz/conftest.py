"""The quiz's browser tests use the suite's shared headless Chromium (``browser`` in
tests/conftest.py)."""
