"""App-scoped state: the plugin manager, what plugins registered, and the catalog of
record types and pipelines as of the current schema generation.

Nothing here is module-level: every app has its own :class:`Accord` in
``app.extensions["accord"]``. The catalog is a per-process cache derived from the
database and checked against the ``schema_generation`` counter once per request, so a
field added through one worker is seen by every other on its next request.
"""

import logging
import threading
from dataclasses import dataclass, field as dc_field

from flask import current_app, g
from marshmallow import Schema, fields as ma, validate
from sqlalchemy import select, update

from .db import db
from .descriptors import Choice, Field, RecordType, describe_model
from .fields import MAX_ID, StrictInteger
from .models import CustomField, SchemaGeneration
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
    _memo: dict = dc_field(default_factory=dict)
    _lock: threading.Lock = dc_field(default_factory=threading.Lock)

    def __post_init__(self):
        self.by_plural = {rt.plural: rt for rt in self.types.values()}

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


class Accord:
    """The Accord extension of one Flask app."""

    def __init__(self, app, plugin_manager, settings):
        self.app = app
        self.pm = plugin_manager
        self.settings = settings
        self.code_types = {}
        self.pipeline_definitions = []
        self.permissions = {}
        self.navigation = []
        self.dashboard_widgets = []
        self.help_topics = []
        self.jobs = {}
        self.search_providers = []
        self.privacy_handlers = []
        self._catalog = None
        self._catalog_lock = threading.Lock()

    # Registration ---------------------------------------------------------------------

    def collect_registrations(self):
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
                self.pipeline_definitions.append((plugin_name, definition))
        for plugin_name, items in self._results(hook.accord_permissions):
            for name, description in items:
                if name in self.permissions:
                    raise RegistrationError(f"permission {name!r} is declared by {self.permissions[name][0]} and {plugin_name}")
                self.permissions[name] = (plugin_name, description)
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
        for plugin_name, blueprints in self._results(hook.accord_blueprints):
            for blueprint in blueprints:
                if blueprint.name in self.app.blueprints:
                    raise RegistrationError(f"blueprint {blueprint.name!r} from {plugin_name} is already registered")
                self.app.register_blueprint(blueprint)

    def _results(self, caller):
        """``(plugin name, result)`` for each implementation, core first, then plugins in load order."""
        for impl in caller.get_hookimpls():
            result = impl.function(**{arg: self.app for arg in impl.argnames})
            if result:
                yield impl.plugin_name, result

    def _add_type(self, rt, plugin_name):
        for other in self.code_types.values():
            if other.key == rt.key or other.plural == rt.plural:
                raise RegistrationError(
                    f"record type {rt.key!r} ({rt.plural}) from {plugin_name} clashes with {other.key!r} from {other.origin}"
                )
        self.code_types[rt.key] = rt

    # Catalog --------------------------------------------------------------------------

    def catalog(self):
        """The catalog for this request: checked against the database once per request."""
        cached = g.get("accord_catalog")
        if cached is not None:
            return cached
        generation = g.pop("accord_generation", None)
        if generation is None:
            generation = db.session.execute(select(current_generation())).scalar_one_or_none() or 0
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
        rows = db.session.execute(
            select(CustomField).where(CustomField.removed_at.is_(None))
            .order_by(CustomField.record_type, CustomField.position, CustomField.id)
        ).scalars().all()
        custom = {}
        for row in rows:
            custom.setdefault(row.record_type, []).append(custom_field_descriptor(row))
        types = {key: rt.with_custom_fields(custom.get(key, ())) for key, rt in self.code_types.items()}
        return Catalog(generation=generation, types=types, pipelines=load_pipelines(db.session))

    def forget_catalog(self):
        """Drop the request's catalog so the next access reloads it (after a schema change)."""
        g.pop("accord_catalog", None)


def custom_field_descriptor(row):
    return Field(
        name=row.name, kind=row.kind, label=row.label, required=row.required,
        choices=tuple(Choice(c["key"], c["label"]) for c in (row.choices or ())),
        default=row.default, pii=row.pii, indexed=row.indexed, searchable=row.searchable,
        help=row.help, reference=row.reference, custom=True, origin=row.origin,
    )


def current_generation():
    """The schema generation as a scalar subquery, so a request's first query (the token
    lookup) can carry it and the catalog check costs no round trip of its own; whoever
    reads it puts it in ``g.accord_generation``."""
    return select(SchemaGeneration.value).where(SchemaGeneration.id == 1).scalar_subquery()


def bump_generation(session):
    """Mark types, fields or pipelines as changed, in the caller's transaction."""
    session.execute(update(SchemaGeneration).where(SchemaGeneration.id == 1).values(value=SchemaGeneration.value + 1))


def current_accord(app=None):
    """The :class:`Accord` state of ``app`` (default: the current app)."""
    return (app or current_app).extensions["accord"]
