"""Switching plugins on and off, their settings, upgrades and removal.

Every change is one transaction that also bumps the schema generation, so each worker
process picks it up on its next request without a restart; a failure (a migration that
raises, a clash found late) rolls everything back and leaves the plugins as they were.
Nothing is checked by a plugin's own code before its manifest says it may run.
"""

import json
import shutil
from pathlib import Path

from sqlalchemy import delete, inspect, select, text

from .db import db, utcnow
from .dependencies import DependencyError, ordered, plan_disable, plan_enable
from .errors import BadRequest, Conflict, NotFound, RecordInvalid
from .migrate import downgrade_plugin, plugin_revisions, upgrade_plugin, upgrade_sql
from .models import CustomField, Pipeline, PipelineTotal, PluginObject, PluginState, SearchEntry, StageHistory
from . import pipeline_totals
from .pipelines import sync_pipelines
from .plugin_settings import settings_of, validate_settings
from .records import write_unit
from .registry import PluginStartupFailed, RegistrationError, Registrations, bump_generation, current_accord
from .transfer import custom_values, write_json_lines

UNINSTALL_MODES = ("keep", "export", "purge")


def plugin_files(name):
    """The instance folder a plugin keeps its files in (recorded as its own when enabled)."""
    return Path(current_accord().app.instance_path) / "plugins" / name


def enabled_names():
    return [row.name for row in db.session.execute(select(PluginState).where(PluginState.enabled)).scalars()]


def installed_plugin(name):
    plugin = current_accord().installed.get(name)
    if plugin is None:
        raise NotFound(f"There is no installed plugin {name!r}.")
    return plugin


# Enabling ---------------------------------------------------------------------------


def enable(name, by="cli"):
    """Switch ``name`` on with what it requires, dependencies first; returns the names
    switched on (empty if it already was). Refuses, changing nothing, when a dependency is
    missing, broken or of the wrong version, or when the new set clashes."""
    accord = current_accord()
    installed_plugin(name)
    enabled = enabled_names()
    plan = plan_enable(name, accord.installed, enabled)
    if not plan:
        return []
    registrations = check_clashes(plan, enabled)
    try:
        with write_unit() as session:
            connection = session.connection()
            for plugin_name in plan:
                manifest = accord.installed[plugin_name].manifest
                _check_revision_ids(manifest, connection)
                before = _schema(connection)
                upgrade_plugin(manifest, connection)
                _own_schema_changes(session, plugin_name, before, _schema(connection))
                state = session.get(PluginState, plugin_name) or PluginState(name=plugin_name, settings={})
                state.enabled = True
                state.installed_version = str(manifest.version)
                state.changed_at = utcnow()
                state.changed_by = by
                session.add(state)
                _own_registrations(session, plugin_name, registrations, manifest)
            sync_pipelines(session, [(origin, d) for origin, d in registrations.pipeline_definitions if origin in plan])
            bump_generation(session)
            session.flush()
            accord.forget_catalog()
            for plugin_name in plan:
                _add_manifest_fields(session, plugin_name, accord.installed[plugin_name].manifest)
            _recount(session, plan)
    except BaseException:
        accord.discard_cached_catalog()
        raise
    for plugin_name in plan:
        plugin_files(plugin_name).mkdir(parents=True, exist_ok=True)
    return plan


def _check_revision_ids(manifest, connection):
    """Alembic keeps revision ids in a 32-character column; say so before PostgreSQL does."""
    for script in plugin_revisions(manifest, connection)[1]:
        if len(script.revision) > 32:
            raise Conflict(f"cannot enable {manifest.name}: its migration revision id {script.revision!r} is longer "
                           f"than 32 characters; shorten it in {Path(script.path).name}")


def check_clashes(plan, enabled):
    """The registrations of ``enabled`` plus ``plan``, or a :class:`Conflict` naming both
    sides of the first record type, pipeline, permission, route or template path claimed
    twice."""
    accord = current_accord()
    active = ordered(enabled, accord.installed) + list(plan)
    try:
        registrations = Registrations(accord.app, accord.plugin_manager(active), active)
        registrations.add_manifest_permissions(accord.installed[n].manifest for n in active)
    except RegistrationError as exc:
        raise Conflict(f"cannot enable {', '.join(plan)}: {exc}") from None
    except PluginStartupFailed as exc:
        accord.installed[exc.plugin_name].mark_broken(f"failed to start: {exc}")
        raise Conflict(f"cannot enable {', '.join(plan)}: plugin {exc.plugin_name!r} failed to start: {exc}") from None
    routes = _routes_by_owner(accord)
    templates = {n: _template_paths(accord.installed[n].manifest) for n in active}
    for new in plan:
        for other in active:
            if other == new:
                continue
            shared = sorted(routes.get(new, set()) & routes.get(other, set()))
            if shared and (other in enabled or active.index(other) < active.index(new)):
                raise Conflict(f"cannot enable {new}: its route {shared[0][1]} {shared[0][0]} "
                               f"is already served by plugin {other}")
            same = sorted(templates[new] & templates[other])
            if same and (other in enabled or active.index(other) < active.index(new)):
                raise Conflict(f"cannot enable {new}: its template {same[0]} is also shipped by plugin {other}; "
                               f"plugins keep their templates under a folder named after themselves")
        core_routes = routes.get(None, set()) & routes.get(new, set())
        if core_routes:
            rule, method = sorted(core_routes)[0]
            raise Conflict(f"cannot enable {new}: its route {method} {rule} is already served by the core")
    return registrations


def _routes_by_owner(accord):
    """``{plugin name or None for the core: {(rule, method), ...}}`` of every route."""
    owned = {}
    for rule in accord.app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0].split(".")[0]
        owner = accord.blueprint_owners.get(blueprint)
        owner = owner if owner in accord.installed else None
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            owned.setdefault(owner, set()).add((rule.rule, method))
    return owned


def _template_paths(manifest):
    folder = manifest.templates
    if folder is None:
        return set()
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def _schema(connection):
    inspector = inspect(connection)
    return {table: {c["name"] for c in inspector.get_columns(table)} for table in inspector.get_table_names()}


def _own_schema_changes(session, plugin_name, before, after):
    for table, columns in after.items():
        if table not in before:
            own(session, plugin_name, "table", table)
        else:
            for column in sorted(columns - before[table]):
                own(session, plugin_name, "column", f"{table}.{column}")


def _own_registrations(session, plugin_name, registrations, manifest):
    for key, rt in registrations.code_types.items():
        if rt.origin == plugin_name:
            own(session, plugin_name, "record_type", key)
    for permission, (owner, _) in registrations.permissions.items():
        if owner == plugin_name:
            own(session, plugin_name, "permission", permission)
    for origin, definition in registrations.pipeline_definitions:
        if origin == plugin_name:
            own(session, plugin_name, "pipeline", definition["key"])
            for stage in definition["stages"]:
                own(session, plugin_name, "stage", f"{definition['key']}.{stage['key']}")
    own(session, plugin_name, "file", f"plugins/{plugin_name}")


def _add_manifest_fields(session, plugin_name, manifest):
    """Add the custom fields a manifest declares; a field another plugin (or an admin)
    already added with the same kind is shared, one with another kind is a clash."""
    from .customfields import add_field

    for spec in manifest.fields:
        spec = dict(spec)
        record_type = spec.pop("record_type")
        existing = session.execute(select(CustomField).where(
            CustomField.record_type == record_type, CustomField.name == spec["name"])).scalar_one_or_none()
        if existing is not None and existing.removed_at is None:
            if existing.kind != spec["kind"]:
                raise Conflict(f"cannot enable {plugin_name}: field {record_type}.{spec['name']} is a {existing.kind} "
                               f"field from {existing.origin}, but {plugin_name} declares it as {spec['kind']}")
        else:
            try:
                add_field(record_type, spec, None, origin=plugin_name)
            except (RecordInvalid, NotFound) as exc:
                details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items())
                raise Conflict(f"cannot enable {plugin_name}: its field {record_type}.{spec['name']}: "
                               f"{exc.message} {details}".strip()) from None
        own(session, plugin_name, "field", f"{record_type}.{spec['name']}")


def own(session, plugin_name, kind, name):
    """Record that ``plugin_name`` created (or shares) ``name`` of ``kind``."""
    exists = session.execute(select(PluginObject.id).where(
        PluginObject.plugin == plugin_name, PluginObject.kind == kind, PluginObject.name == name)).first()
    if exists is None:
        session.add(PluginObject(plugin=plugin_name, kind=kind, name=name))


# Disabling and settings --------------------------------------------------------------


def disable(name, cascade=False, by="cli"):
    """Switch ``name`` off (data kept); returns the names switched off. Refuses while an
    enabled plugin requires it, unless ``cascade``, which switches those off first."""
    accord = current_accord()
    enabled = enabled_names()
    if name not in enabled:
        if name not in accord.installed and db.session.get(PluginState, name) is None:
            raise NotFound(f"There is no installed plugin {name!r}.")
        return []
    going = plan_disable(name, accord.installed, enabled)
    dependents = [n for n in going if n != name]
    if dependents and not cascade:
        raise DependencyError(f"{', '.join(dependents)} require{'s' if len(dependents) == 1 else ''} {name}; "
                              f"disable {'it' if len(dependents) == 1 else 'them'} first, or use cascade "
                              f"to disable {', '.join(going)}")
    try:
        with write_unit() as session:
            for plugin_name in going:
                state = session.get(PluginState, plugin_name)
                state.enabled = False
                state.changed_at = utcnow()
                state.changed_by = by
            bump_generation(session)
    except BaseException:
        accord.discard_cached_catalog()
        raise
    accord.forget_catalog()
    return going


def disable_plan(name):
    """What disabling ``name`` with cascade would switch off, in order."""
    enabled = enabled_names()
    return plan_disable(name, current_accord().installed, enabled) if name in enabled else []


def update_settings(name, changes, by="cli"):
    """Validate and store settings of ``name``; returns all its settings."""
    manifest = installed_plugin(name).manifest
    if manifest is None:
        raise Conflict(f"plugin {name!r} is broken: {installed_plugin(name).problem}")
    clean = validate_settings(manifest, changes)
    with write_unit() as session:
        state = session.get(PluginState, name) or PluginState(name=name, enabled=False, settings={})
        state.settings = {**(state.settings or {}), **clean}
        state.changed_at = utcnow()
        state.changed_by = by
        session.add(state)
        bump_generation(session)
    current_accord().forget_catalog()
    return settings_of(manifest, state.settings)


# Upgrades -----------------------------------------------------------------------------


def upgrade_preview(name):
    """The migrations and SQL an upgrade of ``name`` would run, without running them."""
    manifest = installed_plugin(name).manifest
    if manifest is None:
        raise Conflict(f"plugin {name!r} is broken: {installed_plugin(name).problem}")
    state = db.session.get(PluginState, name)
    current, pending = plugin_revisions(manifest, db.session.connection())
    sql = upgrade_sql(manifest, db.engine.url.render_as_string(hide_password=False), current) if pending else ""
    return {"plugin": name, "from_version": state.installed_version if state else None,
            "to_version": str(manifest.version), "current_revision": current,
            "migrations": [{"revision": s.revision, "message": s.doc} for s in pending], "sql": sql}


def upgrade(name, by="cli"):
    """Run the pending migrations of enabled plugin ``name`` in one transaction; returns
    the revisions applied."""
    accord = current_accord()
    manifest = installed_plugin(name).manifest
    state = db.session.get(PluginState, name)
    if manifest is None or state is None or not state.enabled:
        raise Conflict(f"plugin {name!r} is not enabled; enable it (which runs its migrations) instead")
    with write_unit() as session:
        connection = session.connection()
        _check_revision_ids(manifest, connection)
        _, pending = plugin_revisions(manifest, connection)
        before = _schema(connection)
        upgrade_plugin(manifest, connection)
        _own_schema_changes(session, name, before, _schema(connection))
        registrations = accord.catalog().registrations
        _own_registrations(session, name, registrations, manifest)
        sync_pipelines(session, [(o, d) for o, d in registrations.pipeline_definitions if o == name])
        state = session.get(PluginState, name)
        state.installed_version = str(manifest.version)
        state.changed_at = utcnow()
        state.changed_by = by
        bump_generation(session)
    accord.forget_catalog()
    if pending:
        with write_unit() as session:
            _recount(session, [name])
    return [s.revision for s in pending]


def _recount(session, plugin_names):
    """Count the pipeline totals of the plugins' record types afresh: their migrations
    may have written records around the service layer."""
    for rt in current_accord().catalog().types.values():
        if rt.origin in plugin_names:
            pipeline_totals.rebuild(session, rt)


def upgrade_enabled_plugins():
    """Bring every enabled, healthy plugin's schema up to date (``accord db upgrade``);
    returns ``{plugin: why it was skipped}`` for enabled plugins that are broken or gone."""
    accord = current_accord()
    skipped = {}
    for name in ordered(enabled_names(), accord.installed):
        if name in accord.loaded:
            upgrade(name, by="db upgrade")
        else:
            plugin = accord.installed.get(name)
            skipped[name] = plugin.problem if plugin else "not installed"
    return skipped


# Removal ------------------------------------------------------------------------------


def uninstall(name, mode, export_to=None, by="cli"):
    """Remove ``name`` from this instance.

    ``keep``: switch it off and forget its settings, keeping its data for a later return;
    ``export``: also write its data to ``export_to``; ``purge``: export, then drop what it
    owns (its tables, fields, pipelines, files) except what another plugin also claims.
    Refuses, changing nothing, while an enabled plugin requires it or another plugin's
    tables or fields point at its data, naming them.
    """
    accord = current_accord()
    if mode not in UNINSTALL_MODES:
        raise BadRequest(f"choose how to uninstall: {', '.join(UNINSTALL_MODES)}")
    plugin = accord.installed.get(name)
    owned = _owned(name)
    state = db.session.get(PluginState, name)
    if plugin is None and state is None and not owned:
        raise NotFound(f"There is no installed plugin {name!r}.")
    if mode == "purge" and (plugin is None or plugin.manifest is None):
        raise Conflict(f"plugin {name!r} must be installed (and not broken) to purge it: its migrations undo its tables")
    enabled = enabled_names()
    dependents = [n for n in plan_disable(name, accord.installed, enabled) if n != name] if name in enabled else []
    if dependents:
        raise DependencyError(f"cannot uninstall {name}: {', '.join(dependents)} require it and are enabled")
    report = {"plugin": name, "mode": mode, "export": None, "dropped": [], "kept": []}
    if mode in ("export", "purge"):
        report["export"] = str(export_data(name, owned, export_to))
    if mode == "purge":
        _refuse_if_used(name, owned)
    try:
        with write_unit() as session:
            if state is not None:
                session.delete(state)
            if mode == "purge":
                session.flush()
                report["dropped"], report["kept"] = _purge(session, plugin.manifest, owned)
            bump_generation(session)
    except BaseException:
        accord.discard_cached_catalog()
        raise
    accord.forget_catalog()
    if mode == "purge":
        shutil.rmtree(plugin_files(name), ignore_errors=True)
    return report


def _owned(name):
    rows = db.session.execute(select(PluginObject.kind, PluginObject.name).where(PluginObject.plugin == name))
    return [(kind, object_name) for kind, object_name in rows]


def _co_owners(kind, object_name, name):
    return sorted(db.session.execute(select(PluginObject.plugin).where(
        PluginObject.kind == kind, PluginObject.name == object_name, PluginObject.plugin != name)).scalars())


def _refuse_if_used(name, owned):
    """A purge must not break another plugin: refuse while another's table has a foreign key
    into this plugin's tables, or another's field references one of its record types."""
    tables = {n for kind, n in owned if kind == "table"}
    types = {n for kind, n in owned if kind == "record_type"}
    owners = {}
    for plugin, table in db.session.execute(select(PluginObject.plugin, PluginObject.name).where(
            PluginObject.kind == "table", PluginObject.plugin != name)):
        owners[table] = plugin
    inspector = inspect(db.session.connection())
    for table in inspector.get_table_names():
        if table in tables:
            continue
        for foreign_key in inspector.get_foreign_keys(table):
            if foreign_key["referred_table"] in tables:
                user = f"plugin {owners[table]}" if table in owners else "the core"
                raise Conflict(f"cannot purge {name}: table {table} of {user} refers to its table "
                               f"{foreign_key['referred_table']}; uninstall that first")
    for field in db.session.execute(select(CustomField).where(CustomField.reference.in_(types))).scalars():
        if field.origin != name:
            raise Conflict(f"cannot purge {name}: field {field.record_type}.{field.name} ({field.origin}) "
                           f"refers to its record type {field.reference}")


def _purge(session, manifest, owned):
    from .customfields import drop_index

    name = manifest.name
    dropped, kept = [], []
    shared = {(kind, n): _co_owners(kind, n, name) for kind, n in owned}
    for (kind, object_name), others in sorted(shared.items()):
        if others:
            kept.append(f"{kind} {object_name} (also used by {', '.join(others)})")
    types = [n for kind, n in owned if kind == "record_type" and not shared[("record_type", n)]]
    if types:
        session.execute(delete(StageHistory).where(StageHistory.record_type.in_(types)))
        session.execute(delete(SearchEntry).where(SearchEntry.record_type.in_(types)))
        session.execute(delete(CustomField).where(CustomField.record_type.in_(types)))
        session.execute(delete(PipelineTotal).where(PipelineTotal.record_type.in_(types)))
    for kind, object_name in owned:
        if shared[(kind, object_name)]:
            continue
        if kind == "pipeline":
            session.execute(delete(Pipeline).where(Pipeline.key == object_name))
            session.execute(delete(PipelineTotal).where(PipelineTotal.pipeline == object_name))
        elif kind == "field":
            record_type, _, field_name = object_name.partition(".")
            rt = current_accord().catalog().type(record_type)
            if rt is not None:
                drop_index(session, rt, field_name)
                session.execute(_remove_value(session, rt.table.name, field_name))
            session.execute(delete(CustomField).where(
                CustomField.record_type == record_type, CustomField.name == field_name))
        if kind not in ("stage",):
            dropped.append(f"{kind} {object_name}")
    downgrade_plugin(manifest, session.connection())
    session.execute(text(f'DROP TABLE IF EXISTS "alembic_version_{name}"'))
    session.execute(delete(PluginObject).where(PluginObject.plugin == name))
    return sorted(dropped), kept


def _remove_value(session, table, field_name):
    if session.get_bind().dialect.name == "postgresql":
        return text(f"UPDATE \"{table}\" SET custom = custom - '{field_name}' WHERE custom ? '{field_name}'")
    return text(f"UPDATE \"{table}\" SET custom = json_remove(custom, '$.{field_name}') "
                f"WHERE json_extract(custom, '$.{field_name}') IS NOT NULL")


def export_data(name, owned, export_to=None):
    """Write everything ``name`` owns to a new folder: each table as JSON lines, each of its
    custom fields as ``{"id", "value"}`` lines, the stage history of its record types, and
    its settings; returns the folder."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    base = Path(export_to) if export_to else Path(current_accord().app.instance_path) / "exports"
    folder = base / f"{name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    connection = db.session.connection()
    state = db.session.get(PluginState, name)
    (folder / "plugin.json").write_text(json.dumps({
        "plugin": name, "exported_at": stamp, "installed_version": state.installed_version if state else None,
        "settings": state.settings if state else {}, "owned": [f"{k} {n}" for k, n in owned],
    }, indent=2))
    types = [n for kind, n in owned if kind == "record_type"]
    if types:
        rows = db.session.execute(select(StageHistory).where(StageHistory.record_type.in_(types))
                                  .order_by(StageHistory.id)).scalars()
        write_json_lines(folder / "stage_history.jsonl", ({c.name: getattr(row, c.name) for c in StageHistory.__table__.columns}
                                                       for row in rows))
    for kind, object_name in owned:
        if kind == "table":
            rows = connection.execute(text(f'SELECT * FROM "{object_name}"')).mappings()
            write_json_lines(folder / f"{object_name}.jsonl", (dict(row) for row in rows))
        elif kind == "field":
            record_type, _, field_name = object_name.partition(".")
            rt = current_accord().catalog().type(record_type)
            if rt is None:
                continue
            rows = connection.execute(text(f'SELECT id, custom FROM "{rt.table.name}"'))
            write_json_lines(folder / f"field.{object_name}.jsonl",
                         ({"id": row.id, "value": custom_values(row.custom).get(field_name)} for row in rows
                          if custom_values(row.custom).get(field_name) is not None))
    return folder


# Reports --------------------------------------------------------------------------------


def plugin_report(name=None):
    """What ``accord plugins list|info`` and the admin API show, for one plugin or all:
    installed plugins plus any the database knows that are no longer installed."""
    accord = current_accord()
    states = {row.name: row for row in db.session.execute(select(PluginState)).scalars()}
    enabled = {n for n, row in states.items() if row.enabled}
    active = set(accord.catalog().active_plugins)
    owners = {}
    for plugin, kind, object_name in db.session.execute(
            select(PluginObject.plugin, PluginObject.kind, PluginObject.name).order_by(PluginObject.id)):
        owners.setdefault(plugin, []).append(f"{kind} {object_name}")
    names = sorted(set(accord.installed) | set(states) | set(owners))
    if name is not None:
        if name not in names:
            raise NotFound(f"There is no installed plugin {name!r}.")
        names = [name]
    report = []
    for plugin_name in names:
        plugin = accord.installed.get(plugin_name)
        manifest = plugin.manifest if plugin else None
        state = states.get(plugin_name)
        if plugin is None:
            status = "missing" if state is not None and state.enabled else "not installed"
        elif plugin.broken:
            status = "broken"
        elif plugin_name in enabled:
            status = "enabled"
        elif state is None and plugin_name in owners:
            status = "uninstalled (data kept)"
        else:
            status = "disabled"
        entry = {
            "name": plugin_name, "status": status, "enabled": plugin_name in enabled,
            "active": plugin_name in active, "error": plugin.problem if plugin else None,
            "warnings": list(plugin.warnings) if plugin else [], "distribution": plugin.distribution if plugin else None,
            "installed_version": state.installed_version if state else None,
            "required_by": sorted(n for n in enabled if n in accord.installed and accord.installed[n].manifest
                                  and plugin_name in accord.installed[n].manifest.requires),
            "owns": owners.get(plugin_name, []),
        }
        if manifest is not None:
            entry.update(manifest.to_json())
            values = settings_of(manifest, state.settings if state else {})
            entry["settings"] = {key: {**spec, "value": values[key]} for key, spec in entry["settings"].items()}
        report.append(entry)
    return report
