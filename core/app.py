"""The application factory."""

import importlib
import logging
from datetime import timedelta
from pathlib import Path

import pluggy
from werkzeug.middleware.proxy_fix import ProxyFix

from . import defaults, discovery, headers, health, jobs, jsoncodec, logs, metrics
from .config import load_config
from .db import configure_engine, db
from .records import RecordService
from .registry import Accord, hook_manager
from .routing import AccordFlask
from .themes import discover_themes

log = logging.getLogger("accord")


def create_app(config=None):
    """Build an Accord app.

    :param config: overrides of the settings (keys as in ``ACCORD_*`` variables without the
        prefix, e.g. ``{"DATABASE_URL": ..., "INSTANCE_PATH": ...}``); ``PLUGINS`` lists
        hook implementations (modules, objects or import paths) that are always active, beside
        the installed plugins switched on in the database; ``DISCOVER_PLUGINS`` (default on)
        looks for installed plugins at all.
    """
    settings = load_config(config)
    instance = Path(settings["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    app = AccordFlask("accord", instance_path=str(instance), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings["DATABASE_URL"]),
        MAX_CONTENT_LENGTH=settings["MAX_BODY_BYTES"],
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="accord_session",
        SESSION_COOKIE_SECURE=settings["SESSION_COOKIE_SECURE"],
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings["SESSION_MAX_HOURS"]),
        ACCORD=settings,
    )
    logs.init_request_logging(app)
    metrics.init_metrics(app)
    headers.init_security_headers(app)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, settings["SQLITE_SYNCHRONOUS"].upper())

    installed = discovery.discover() if settings["DISCOVER_PLUGINS"] else {}
    discovery.load(installed)
    accord = Accord(app, settings, _static_plugins(settings["PLUGINS"]), installed)
    app.extensions["accord"] = accord
    accord.registrations()
    _check_hooks(accord)
    accord.records = RecordService(app)

    accord.themes, accord.theme_problems = discover_themes()

    from .api import api
    from .web import init_web

    app.register_blueprint(api)
    app.register_blueprint(health.bp)  # public: outside the API's tokens and the pages' sign-in
    app.register_blueprint(metrics.bp)
    init_web(app)
    jobs.init_jobs(app)
    metrics.register_queue_depth(jobs.counts, queue="jobs", app=app)
    accord.register_blueprints()
    if settings["TRUSTED_PROXIES"]:
        proxies = settings["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def plugin_manager_for(plugins):
    """A plugin manager with the core's own implementations first, then ``plugins`` (modules,
    objects or import paths) in order; a misspelt hook name is refused here."""
    return hook_manager(_static_plugins(plugins))


def _static_plugins(plugins):
    """``(name, plugin)`` of the core's own implementations, then of ``plugins`` (modules,
    objects or import paths): always active, whatever the database says."""
    imported = [importlib.import_module(p) if isinstance(p, str) else p for p in plugins]
    return [(defaults.name, defaults), *((_plugin_name(p), p) for p in imported)]


def _check_hooks(accord):
    """Quarantine a loaded plugin whose hook implementations do not match the contract
    (a misspelt hook name, an unknown argument)."""
    for name, plugin in accord.loaded.items():
        try:
            accord.plugin_manager((name,))
        except pluggy.PluginValidationError as exc:
            plugin.mark_broken(f"does not match the hook contract: {exc}")


def _engine_options(url):
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 10}, "json_deserializer": jsoncodec.loads}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, "json_deserializer": jsoncodec.loads}


def _plugin_name(plugin):
    return getattr(plugin, "name", None) if isinstance(getattr(plugin, "name", None), str) else getattr(
        plugin, "__name__", type(plugin).__name__
    )
