"""Configuration: defaults, ``ACCORD_*`` environment variables, then explicit overrides."""

import os
import secrets
from pathlib import Path

DEFAULTS = {
    "INSTANCE_PATH": "./instance",
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    "MAX_BODY_BYTES": 1024 * 1024,
    "DEFAULT_CURRENCY": "EUR",
    "SQLITE_SYNCHRONOUS": "FULL",
    "IDEMPOTENCY_TTL_HOURS": 24,
    "PLUGINS": (),
    "DISCOVER_PLUGINS": True,
    "BROKER_URL": None,
    "LOG_FORMAT": None,
    "METRICS_TOKEN": None,
    "GRACEFUL_TIMEOUT": 30,
    "JOBS_THREADS": 2,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    "SESSION_COOKIE_SECURE": False,
    "PASSWORD_RESET_MINUTES": 60,
    "BASE_URL": None,
    "TRUSTED_PROXIES": 0,
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": True,
    "MAIL_FROM": "accord@localhost",
    "RETENTION_INACTIVE_DAYS": 0,
}

INTEGER_SETTINGS = {"MAX_BODY_BYTES", "IDEMPOTENCY_TTL_HOURS", "GRACEFUL_TIMEOUT", "JOBS_THREADS", "TRUSTED_PROXIES",
                    "SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "PASSWORD_RESET_MINUTES", "SMTP_PORT",
                    "RETENTION_INACTIVE_DAYS"}
POSITIVE_SETTINGS = ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "PASSWORD_RESET_MINUTES")
"""Durations that must be at least 1: zero would end every session or link at once."""
BOOLEAN_SETTINGS = {"DISCOVER_PLUGINS", "SESSION_COOKIE_SECURE", "SMTP_STARTTLS"}
LOG_FORMATS = ("json", "text")


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""


def load_config(overrides=None, environ=None):
    """Return the settings dict: defaults < ``ACCORD_<NAME>`` variables < ``overrides``."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name in DEFAULTS:
        raw = environ.get(f"ACCORD_{name}")
        if raw is None:
            continue
        if name == "PLUGINS":
            settings[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
            continue
        if name in BOOLEAN_SETTINGS:
            if raw.lower() not in ("1", "true", "yes", "0", "false", "no"):
                raise ConfigError(f"ACCORD_{name} must be true or false, got {raw!r}")
            raw = raw.lower() in ("1", "true", "yes")
        if name in INTEGER_SETTINGS:
            try:
                raw = int(raw)
            except ValueError:
                raise ConfigError(f"ACCORD_{name} must be a whole number, got {raw!r}") from None
        settings[name] = raw
    settings.update(overrides or {})
    instance = Path(settings["INSTANCE_PATH"]).expanduser().resolve()
    settings["INSTANCE_PATH"] = str(instance)
    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'accord.db'}"
    settings["DATABASE_URL"] = _normalise_database_url(settings["DATABASE_URL"])
    if settings["SQLITE_SYNCHRONOUS"].upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ConfigError("ACCORD_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
    if settings["LOG_FORMAT"]:
        settings["LOG_FORMAT"] = settings["LOG_FORMAT"].lower()
        if settings["LOG_FORMAT"] not in LOG_FORMATS:
            raise ConfigError(f"ACCORD_LOG_FORMAT must be json or text, got {settings['LOG_FORMAT']!r}")
    for name in POSITIVE_SETTINGS:
        if settings[name] < 1:
            raise ConfigError(f"ACCORD_{name} must be at least 1, got {settings[name]!r}")
    if settings["RETENTION_INACTIVE_DAYS"] < 0:
        raise ConfigError(f"ACCORD_RETENTION_INACTIVE_DAYS must be 0 (off) or more, got {settings['RETENTION_INACTIVE_DAYS']!r}")
    if settings["BASE_URL"]:
        settings["BASE_URL"] = settings["BASE_URL"].rstrip("/")
        if not settings["BASE_URL"].startswith(("https://", "http://")):
            raise ConfigError(f"ACCORD_BASE_URL must start with https:// or http://, got {settings['BASE_URL']!r}")
    if settings["TRUSTED_PROXIES"] < 0:
        raise ConfigError(f"ACCORD_TRUSTED_PROXIES must be 0 (none) or more, got {settings['TRUSTED_PROXIES']!r}")
    if not settings["SECRET_KEY"]:
        settings["SECRET_KEY"] = _instance_secret(instance)
    return settings


def _normalise_database_url(url):
    """Accept the common ``postgres://`` spellings and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if not (url.startswith("sqlite") or url.startswith("postgresql+")):
        raise ConfigError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql+psycopg://")
    return url


def _instance_secret(instance):
    """A per-instance secret kept in the instance folder, so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
