"""Fixtures the web page tests share."""

from web_helpers import seller  # noqa: F401  (a signed-in user who is not an administrator)
