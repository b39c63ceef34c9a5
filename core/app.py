"""The application factory."""

import importlib
import logging
from pathlib import Path

import pluggy
from flask import Flask

from . import defaults, hookspecs
from .config import load_config
from .db import configure_engine, db
from .records import RecordService
from .registry import Accord

log = logging.getLogger("accord")


def create_app(config=None):
    """Build an Accord app.

    :param config: overrides of the settings (keys as in ``ACCORD_*`` variables without the
        prefix, e.g. ``{"DATABASE_URL": ..., "INSTANCE_PATH": ...}``); ``PLUGINS`` lists
        extra hook implementations (modules, objects or import paths) to register.
    """
    settings = load_config(config)
    instance = Path(settings["INSTANCE_PATH"])
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask("accord", instance_path=str(instance), instance_relative_config=False)
    app.config.update(
        SECRET_KEY=settings["SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings["DATABASE_URL"]),
        MAX_CONTENT_LENGTH=settings["MAX_BODY_BYTES"],
        JSON_SORT_KEYS=False,
        ACCORD=settings,
    )
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, settings["SQLITE_SYNCHRONOUS"].upper())

    accord = Accord(app, plugin_manager_for(settings["PLUGINS"]), settings)
    app.extensions["accord"] = accord
    accord.records = RecordService(app)

    from .api import api

    app.register_blueprint(api)
    accord.collect_registrations()

    from .web import web

    app.register_blueprint(web)

    return app


def plugin_manager_for(plugins):
    """A plugin manager with the core's own implementations first, then ``plugins`` (modules,
    objects or import paths) in order; a misspelt hook name is refused here."""
    plugin_manager = pluggy.PluginManager(hookspecs.PROJECT)
    plugin_manager.add_hookspecs(hookspecs)
    plugin_manager.register(defaults, name=defaults.name)
    for plugin in plugins:
        module = importlib.import_module(plugin) if isinstance(plugin, str) else plugin
        plugin_manager.register(module, name=_plugin_name(module))
    plugin_manager.check_pending()
    return plugin_manager


def _engine_options(url):
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 10}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


def _plugin_name(plugin):
    return getattr(plugin, "name", None) if isinstance(getattr(plugin, "name", None), str) else getattr(
        plugin, "__name__", type(plugin).__name__
    )
