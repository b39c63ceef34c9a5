"""The browser tests' fixtures (a live ``accord serve`` per module, a page per test)."""

from browser_helpers import live_server, ui  # noqa: F401  (fixtures for every module here)
