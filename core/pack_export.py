"""Writing an instance's own layer (every object with origin ``"local"``) out as a
vertical pack: :func:`export_local_layer`, whose ``vertical.toml`` passes
:func:`accord.core.pack_schema.check_document` and another instance can apply.
"""

import tomllib
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .pack_schema import PACK_NAME, _name_reason, _Reader, check_document
from .verticals import PACK_FILE, PackInvalid


def export_local_layer(name, directory, *, version="1.0.0", title=None):
    """Write the instance's own layer (every object with origin ``"local"``) as the pack
    ``<directory>/<name>/vertical.toml``, which :func:`~accord.core.verticals.load_pack_from`
    accepts and another instance can apply; returns the new folder. Needs an app context.
    Refuses (``ValueError``) a bad name or version and an existing folder; nothing is
    written unless the result passes :func:`check_document`."""
    import tomli_w

    if not isinstance(name, str) or not PACK_NAME.match(name):
        raise ValueError(_name_reason(PACK_NAME, name))
    try:
        Version(version)
    except InvalidVersion:
        raise ValueError(f"{version!r} is not a version number (PEP 440, e.g. '1.0.0')") from None
    folder = Path(directory) / name
    if folder.exists():
        raise ValueError(f"{folder} already exists; choose another name or folder")
    document = local_layer(name, version, title or f"{name.replace('_', ' ').capitalize()} (exported local layer)")
    text = tomli_w.dumps(document, multiline_strings=True)
    reader = _Reader(folder / PACK_FILE)
    check_document(reader, tomllib.loads(text), name)
    if reader.problems:
        raise PackInvalid(reader.problems)
    folder.mkdir(parents=True)
    (folder / PACK_FILE).write_text(text, encoding="utf-8")
    return folder


def local_layer(name, version, title):
    """The ``vertical.toml`` document (a dict) of every object with origin ``"local"``."""
    from sqlalchemy import select

    from .. import __version__
    from .automation import rule_to_spec
    from .db import db
    from .models import (
        AutomationRule,
        CustomField,
        DashboardWidgetDefinition,
        HelpTopicDefinition,
        PicklistValue,
        Pipeline,
        PipelineStage,
        RecordTypeDefinition,
        Role,
        SavedView,
        Term,
    )

    session = db.session
    local = "local"

    def rows(model, *order, where=()):
        return session.execute(select(model).where(model.origin == local, *where).order_by(*order)).scalars().all()

    document = {"pack": {"name": name, "version": version, "title": title,
                         "summary": "The objects this instance's administrators added.", "core": f">={__version__}"}}
    document["types"] = {row.key: _without_none({
        "label": row.label, "plural_label": row.plural_label, "plural": row.plural, "title_fields": row.title_fields,
        "description": row.description or None, "timeline": row.timeline or None, "pipeline": row.pipeline,
    }) for row in rows(RecordTypeDefinition, RecordTypeDefinition.key)}
    fields = {}
    for row in rows(CustomField, CustomField.record_type, CustomField.position, CustomField.id,
                    where=(CustomField.removed_at.is_(None),)):
        fields.setdefault(row.record_type, []).append(_without_none({
            "name": row.name, "label": row.label, "kind": row.kind, "required": row.required,
            "choices": row.choices, "default": row.default, "reference": row.reference, "pii": row.pii,
            "sensitive": row.sensitive, "indexed": row.indexed, "searchable": row.searchable, "help": row.help or None,
        }))
    document["fields"] = fields
    document["terms"] = {row.target.removeprefix("type:"): _without_none({"label": row.label, "plural": row.plural_label})
                         for row in rows(Term, Term.target)}
    document["pipelines"] = _local_pipelines(session, rows(Pipeline, Pipeline.key), local, Pipeline, PipelineStage)
    picklists = {}
    for row in rows(PicklistValue, PicklistValue.record_type, PicklistValue.field, PicklistValue.position, PicklistValue.id):
        picklists.setdefault(f"{row.record_type}.{row.field}", []).append({"key": row.key, "label": row.label})
    document["picklists"] = picklists
    document["views"] = [{"record_type": row.record_type, "name": row.name, "query": row.query}
                         for row in rows(SavedView, SavedView.record_type, SavedView.name,
                                         where=(SavedView.user_id.is_(None),))]
    document["widgets"] = [_without_none({"key": row.key, "title": row.title, "record_type": row.record_type,
                                          "measure": row.measure, "field": row.field, "group_by": row.group_by})
                           for row in rows(DashboardWidgetDefinition, DashboardWidgetDefinition.position,
                                           DashboardWidgetDefinition.key)]
    document["roles"] = [_without_none({"key": row.key, "label": row.label, "description": row.description or None,
                                        "grants": row.grants, "sensitive": row.sensitive})
                         for row in rows(Role, Role.key)]
    document["help"] = [_without_none({"key": row.key, "title": row.title, "body": row.body, "pages": row.pages,
                                       "group": row.group})
                        for row in rows(HelpTopicDefinition, HelpTopicDefinition.key)]
    document["rules"] = [_without_none(rule_to_spec(row)) for row in rows(AutomationRule, AutomationRule.key)]
    requires = _required_plugins(document)
    if requires:
        document["pack"]["requires"] = requires
    return {key: value for key, value in document.items() if value}


def _local_pipelines(session, local_pipelines, local, Pipeline, PipelineStage):
    """New pipelines the admins made (whole), and stages they added to other pipelines,
    with the full order when a local stage sits before another."""
    from sqlalchemy import select

    def stage(row):
        return _without_none({"key": row.key, "label": row.label, "probability": row.probability,
                              "outcome": row.outcome if row.outcome != "open" else None,
                              "allowed_next": row.allowed_next, "reasons": row.reasons})

    found = {}
    for pipeline in local_pipelines:
        stages = session.execute(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline.id)
                                 .order_by(PipelineStage.position, PipelineStage.id)).scalars()
        found[pipeline.key] = {"record_type": pipeline.record_type, "label": pipeline.label,
                               "stages": [stage(row) for row in stages]}
    touched = session.execute(select(Pipeline).where(Pipeline.origin != local, Pipeline.id.in_(
        select(PipelineStage.pipeline_id).where(PipelineStage.origin == local))).order_by(Pipeline.key)).scalars()
    for pipeline in touched:
        every = session.execute(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline.id)
                                .order_by(PipelineStage.position, PipelineStage.id)).scalars().all()
        mine = [row for row in every if row.origin == local]
        entry = {"stages": [stage(row) for row in mine]}
        first_local = every.index(mine[0])
        if any(row.origin != local for row in every[first_local:]):
            entry["order"] = [row.key for row in every]
        found[pipeline.key] = entry
    return found


def _without_none(value):
    """``value`` without ``None`` anywhere in it (TOML has no null) nor empty lists."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def _required_plugins(document):
    """``{plugin: ">=<installed version>"}`` for the installed plugins whose record types
    the layer uses, so it installs only where they are."""
    from .registry import current_accord

    accord = current_accord()
    catalog = accord.catalog()
    used = set(document["types"]) | set(document["fields"])
    used |= {key.split(".")[0] for key in document["picklists"]}
    used |= {p["record_type"] for p in document["pipelines"].values() if p.get("record_type")}
    used |= {item["record_type"] for section in ("views", "widgets", "rules") for item in document[section]}
    used |= {key for role in document["roles"] for key in role["grants"] if key != "*"}
    used |= {spec["reference"] for specs in document["fields"].values() for spec in specs if spec.get("reference")}
    requires = {}
    for key in sorted(used):
        rt = catalog.type(key)
        installed = accord.installed.get(rt.origin) if rt is not None else None
        if installed is not None and installed.manifest is not None:
            requires[installed.name] = f">={installed.manifest.version}"
    return requires
