"""App-scoped state: the plugins loaded in this process, what each set of active plugins
registered, and the catalog of record types, pipelines and active plugins as of the
current schema generation.

Nothing here is module-level: every app has its own :class:`Accord` in
``app.extensions["accord"]``. The catalog is a per-process cache derived from the
database and checked against the ``schema_generation`` counter once per request, so a
field added or a plugin switched on or off through one worker is seen by every other on
its next request.
"""

import inspect
import logging
import threading
from dataclasses import dataclass, field as dc_field

import pluggy
from flask import current_app, g
from marshmallow import Schema, fields as ma, validate
from sqlalchemy import select, update

from . import hookspecs
from .db import db
from .descriptors import Choice, Field, RecordType, describe_model
from .fields import MAX_ID, StrictInteger
from .models import CustomField, PluginObject, PluginState, Role, SchemaGeneration
from .plugin_settings import settings_of
from .themes import load_instance_settings
from .pipelines import load_pipelines, validate_definition

log = logging.getLogger("accord")


class RegistrationError(RuntimeError):
    """A plugin registered something malformed or already taken; the message names it."""


@dataclass
class Catalog:
    """Record types (with their custom fields) and pipelines at one schema generation."""

    generation: int
    types: dict
    pipelines: dict
    registrations: object = None
    plugin_settings: dict = dc_field(default_factory=dict)
    instance_settings: dict = dc_field(default_factory=dict)
    roles: dict = dc_field(default_factory=dict)
    widgets: tuple = ()
    help_topics: tuple = ()
    _memo: dict = dc_field(default_factory=dict)
    _lock: threading.Lock = dc_field(default_factory=threading.Lock)

    def __post_init__(self):
        self.by_plural = {rt.plural: rt for rt in self.types.values()}

    @property
    def pm(self):
        return self.registrations.pm

    @property
    def active_plugins(self):
        return self.registrations.active

    def type(self, key):
        return self.types.get(key)

    def type_for_plural(self, plural):
        return self.by_plural.get(plural)

    def pipeline_for(self, record_type, key=None):
        """The named pipeline of a type, or its default."""
        if key is not None:
            pipeline = self.pipelines.get(key)
            return pipeline if pipeline and pipeline.record_type == record_type.key else None
        for pipeline in self.pipelines.values():
            if pipeline.record_type == record_type.key and pipeline.is_default:
                return pipeline
        return self.pipelines.get(record_type.pipeline)

    def memo(self, key, build):
        """What ``build()`` returns, computed once per generation (schemas, the OpenAPI document)."""
        value = self._memo.get(key)
        if value is None:
            with self._lock:
                value = self._memo.get(key)
                if value is None:
                    value = build()
                    self._memo[key] = value
        return value

    def schema(self, record_type):
        """The marshmallow schema for writes to ``record_type``."""
        return self.memo(("schema", record_type.key), lambda: build_schema(record_type))


def build_schema(record_type):
    declared = {}
    for name, f in record_type.writable_fields.items():
        declared[name] = f.kind_impl.marshmallow_field(
            f, required=f.required, allow_none=not f.required
        )
    for relation in record_type.relations:
        declared[relation.name] = ma.List(StrictInteger(validate=validate.Range(min=1, max=MAX_ID)), allow_none=False)
    return Schema.from_dict(declared, name=f"{record_type.key.title()}Write")()


KEPT_PLUGIN_SETS = 8
"""How many sets of active plugins a process keeps the registrations of (the newest)."""


class PluginStartupFailed(RuntimeError):
    """A plugin's registration hook raised; the plugin is quarantined, the app goes on."""

    def __init__(self, plugin_name, exc):
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.plugin_name = plugin_name


class Registrations:
    """What the core and one set of active plugins registered, and the plugin manager whose
    hooks fire for that set. Built once per set of active plugins."""

    def __init__(self, app, plugin_manager, active):
        self.app = app
        self.pm = plugin_manager
        self.active = tuple(active)
        self.code_types = {}
        self.pipeline_definitions = []
        self.permissions = {}
        self.navigation = []
        self.dashboard_widgets = []
        self.help_topics = []
        self.jobs = {}
        self.search_providers = []
        self.privacy_handlers = []
        self.url_map = None
        self._collect()

    def _collect(self):
        """Run every registration hook once and validate what comes back."""
        hook = self.pm.hook
        for plugin_name, items in self._results(hook.accord_record_types):
            for item in items:
                rt = item if isinstance(item, RecordType) else describe_model(item, origin=plugin_name)
                self._add_type(rt, plugin_name)
        for plugin_name, items in self._results(hook.accord_pipelines):
            for definition in items:
                try:
                    validate_definition(definition, plugin_name)
                except ValueError as exc:
                    raise RegistrationError(str(exc)) from None
                if definition["record_type"] not in self.code_types:
                    raise RegistrationError(
                        f"pipeline {definition['key']!r} from {plugin_name}: unknown record type {definition['record_type']!r}"
                    )
                for other_name, other in self.pipeline_definitions:
                    if other["key"] == definition["key"]:
                        raise RegistrationError(f"pipeline {definition['key']!r} is declared by {other_name} and {plugin_name}")
                self.pipeline_definitions.append((plugin_name, definition))
        for plugin_name, items in self._results(hook.accord_permissions):
            for name, description in items:
                self._add_permission(name, description, plugin_name)
        for plugin_name, items in self._results(hook.accord_jobs):
            for job in items:
                if job["name"] in self.jobs:
                    raise RegistrationError(
                        f"job {job['name']!r} is declared by {self.jobs[job['name']]['plugin']} and {plugin_name}"
                    )
                self.jobs[job["name"]] = {**job, "plugin": plugin_name}
        for attr, caller in (
            ("navigation", hook.accord_navigation),
            ("dashboard_widgets", hook.accord_dashboard_widgets),
            ("help_topics", hook.accord_help_topics),
            ("search_providers", hook.accord_search_providers),
            ("privacy_handlers", hook.accord_privacy_handlers),
        ):
            for plugin_name, items in self._results(caller):
                getattr(self, attr).extend((plugin_name, item) for item in items)

    def add_manifest_permissions(self, manifests):
        for manifest in manifests:
            for name, description in manifest.permissions.items():
                self._add_permission(name, description, manifest.name)

    def _add_permission(self, name, description, plugin_name):
        owner = self.permissions.get(name)
        if owner is not None and owner[0] != plugin_name:
            raise RegistrationError(f"permission {name!r} is declared by {owner[0]} and {plugin_name}")
        self.permissions[name] = (plugin_name, description)

    def _results(self, caller):
        """``(plugin name, result)`` for each implementation, core first, then plugins in order."""
        for impl in caller.get_hookimpls():
            try:
                result = impl.function(**{arg: self.app for arg in impl.argnames})
            except RegistrationError:
                raise
            except Exception as exc:
                raise PluginStartupFailed(impl.plugin_name, exc) from exc
            if result:
                yield impl.plugin_name, result

    def _add_type(self, rt, plugin_name):
        for other in self.code_types.values():
            if other.key == rt.key or other.plural == rt.plural:
                raise RegistrationError(
                    f"record type {rt.key!r} ({rt.plural}) from {plugin_name} clashes with {other.key!r} from {other.origin}"
                )
        self.code_types[rt.key] = rt


class Accord:
    """The Accord extension of one Flask app: the plugins installed and loaded in this
    process, and what the active ones registered."""

    def __init__(self, app, settings, static_plugins, installed):
        """:param static_plugins: ``(name, plugin)`` always active: the core's defaults and
            the ``PLUGINS`` setting.
        :param installed: discovered plugins by name (see :mod:`accord.core.discovery`).
        """
        self.app = app
        self.settings = settings
        self.static_plugins = list(static_plugins)
        self.installed = installed
        self.blueprint_owners = {}
        self._registrations = {}
        self._registrations_lock = threading.RLock()
        self._catalog = None
        self._catalog_lock = threading.Lock()

    @property
    def loaded(self):
        """Plugins that imported cleanly and are not quarantined, by name."""
        return {name: p for name, p in self.installed.items() if not p.broken and p.plugin is not None}

    def plugin_manager(self, active=()):
        """A plugin manager with the static plugins, then the ``active`` ones in order."""
        return hook_manager([*self.static_plugins, *((name, self.installed[name].plugin) for name in active)])

    def registrations(self, active=()):
        """What the static plugins and ``active`` (ordered names) registered; an active plugin
        whose registration raises is quarantined and the set is built without it."""
        active = tuple(name for name in active if name in self.loaded)
        built = self._registrations.get(active)
        if built is not None:
            return built
        with self._registrations_lock:
            built = self._registrations.get(active)
            if built is None:
                built = self._build(active)
                self._registrations[active] = built
                while len(self._registrations) > KEPT_PLUGIN_SETS:
                    self._registrations.pop(next(iter(self._registrations)))
        return built

    def _build(self, active):
        try:
            registrations = Registrations(self.app, self.plugin_manager(active), active)
            registrations.add_manifest_permissions(self.installed[name].manifest for name in active)
            return registrations
        except (PluginStartupFailed, RegistrationError) as exc:
            culprit = getattr(exc, "plugin_name", None) or next(
                (name for name in reversed(active) if name in str(exc)), None)
            if culprit not in active:
                raise
            self.installed[culprit].mark_broken(f"failed to start: {exc}")
            return self.registrations(tuple(name for name in active if name != culprit))

    def register_blueprints(self):
        """Register the blueprints of the static plugins and of every loaded plugin once;
        requests to a plugin's blueprint answer 404 while that plugin is not active."""
        owners = [(name, plugin) for name, plugin in self.static_plugins]
        owners += [(name, p.plugin) for name, p in sorted(self.loaded.items())]
        for owner, plugin in owners:
            implementation = getattr(plugin, "accord_blueprints", None)
            if implementation is None:
                continue
            static = owner in dict(self.static_plugins)
            try:
                blueprints = implementation(**({"app": self.app} if "app" in _argnames(implementation) else {})) or ()
                for blueprint in blueprints:
                    if blueprint.name in self.app.blueprints:
                        raise RegistrationError(
                            f"blueprint {blueprint.name!r} from {owner} is already registered by "
                            f"{self.blueprint_owners.get(blueprint.name, 'the core')}")
                    self.app.register_blueprint(blueprint)
                    self.blueprint_owners[blueprint.name] = owner
            except Exception as exc:
                if static:
                    raise
                self.installed[owner].mark_broken(f"failed to register its blueprints: {exc}")

    @property
    def pm(self):
        """The plugin manager of the plugins active for this request."""
        return self.catalog().pm

    # Catalog --------------------------------------------------------------------------

    def catalog(self):
        """The catalog for this request: checked against the database once per request."""
        cached = g.get("accord_catalog")
        if cached is not None:
            return cached
        generation = g.pop("accord_generation", None)
        if generation is None:
            generation = db.session.connection().execute(GENERATION).scalar_one_or_none() or 0
        catalog = self._catalog
        if catalog is None or catalog.generation != generation:
            with self._catalog_lock:
                catalog = self._catalog
                if catalog is None or catalog.generation != generation:
                    catalog = self._load_catalog(generation)
                    self._catalog = catalog
        g.accord_catalog = catalog
        return catalog

    def _load_catalog(self, generation):
        from .dependencies import ordered

        states = {row.name: row for row in db.session.execute(select(PluginState)).scalars()}
        enabled = [name for name, row in states.items() if row.enabled]
        registrations = self.registrations(ordered(enabled, self.installed))
        active = set(registrations.active)
        hidden_fields = self._fields_of_inactive_plugins(active)
        rows = db.session.execute(
            select(CustomField).where(CustomField.removed_at.is_(None))
            .order_by(CustomField.record_type, CustomField.position, CustomField.id)
        ).scalars().all()
        custom = {}
        for row in rows:
            if (row.record_type, row.name) not in hidden_fields:
                custom.setdefault(row.record_type, []).append(custom_field_descriptor(row))
        types = {key: rt.with_custom_fields(custom.get(key, ()))
                 for key, rt in registrations.code_types.items()}
        from . import declared_types, terms

        types.update(declared_types.load_types(db.session, types, custom))
        pipelines = {key: p for key, p in load_pipelines(db.session).items() if p.record_type in types}
        types, pipelines = terms.apply(db.session, types, pipelines)
        settings = {name: settings_of(self.installed[name].manifest, states[name].settings)
                    for name in registrations.active}
        from .permissions import role_from_row

        roles = {row.key: role_from_row(row) for row in db.session.execute(select(Role)).scalars()}
        return Catalog(generation=generation, types=types, pipelines=pipelines,
                       registrations=registrations, plugin_settings=settings,
                       instance_settings=load_instance_settings(db.session), roles=roles,
                       widgets=declared_types.load_widgets(db.session),
                       help_topics=declared_types.load_help_topics(db.session))

    def _fields_of_inactive_plugins(self, active):
        """Custom fields that only plugins now switched off declared: hidden, values kept."""
        owners = {}
        for plugin, name in db.session.execute(
            select(PluginObject.plugin, PluginObject.name).where(PluginObject.kind == "field")
        ):
            record_type, _, field_name = name.partition(".")
            owners.setdefault((record_type, field_name), set()).add(plugin)
        return {key for key, plugins in owners.items() if not plugins & active}

    def forget_catalog(self):
        """Drop the request's catalog so the next access reloads it (after a schema change)."""
        g.pop("accord_catalog", None)

    def discard_cached_catalog(self):
        """Forget the process-wide catalog too: after a rolled-back change whose uncommitted
        generation it may have been built from."""
        g.pop("accord_catalog", None)
        self._catalog = None


def hook_manager(named_plugins):
    """A pluggy manager over the hook contract with ``(name, plugin)`` registered in order;
    a misspelt hook name or an unknown argument is refused here."""
    plugin_manager = pluggy.PluginManager(hookspecs.PROJECT)
    plugin_manager.add_hookspecs(hookspecs)
    for name, plugin in named_plugins:
        plugin_manager.register(plugin, name=name)
    plugin_manager.check_pending()
    return plugin_manager


def _argnames(function):
    return tuple(inspect.signature(function).parameters)


def custom_field_descriptor(row):
    return Field(
        name=row.name, kind=row.kind, label=row.label, required=row.required,
        choices=tuple(Choice(c["key"], c["label"]) for c in (row.choices or ())),
        default=row.default, pii=row.pii, sensitive=row.sensitive, indexed=row.indexed, searchable=row.searchable,
        help=row.help, reference=row.reference, custom=True, origin=row.origin,
    )


GENERATION = select(SchemaGeneration.value).where(SchemaGeneration.id == 1)
"""The schema generation on its own, for a request whose first query did not carry it."""


def current_generation():
    """The schema generation as a scalar subquery, so a request's first query (the token
    lookup) can carry it and the catalog check costs no round trip of its own; whoever
    reads it puts it in ``g.accord_generation``."""
    return select(SchemaGeneration.value).where(SchemaGeneration.id == 1).scalar_subquery()


def bump_generation(session):
    """Mark types, fields or pipelines as changed, in the caller's transaction."""
    session.execute(update(SchemaGeneration).where(SchemaGeneration.id == 1).values(value=SchemaGeneration.value + 1))


def plugin_settings(name):
    """The settings of active plugin ``name`` (defaults from its manifest, overridden by
    what an admin stored), as of this request; a plugin's hooks read their settings here."""
    settings = current_accord().catalog().plugin_settings
    if name not in settings:
        raise LookupError(f"plugin {name!r} is not enabled")
    return dict(settings[name])


def current_accord(app=None):
    """The :class:`Accord` state of ``app`` (default: the current app)."""
    return (app or current_app).extensions["accord"]
