"""Accord: a plugin-based, extensible CRM framework."""

__version__ = "0.1.0"
