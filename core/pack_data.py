"""What holds data among the objects a vertical pack would drop: the values stored in a
pack's fields and the records of its types (found in one scan per type), exported before
a forced revert or upgrade drops them, and the values purged from the fields that go.
Records in a pack's stages are :mod:`accord.core.pack_stages`.
"""

import json
from pathlib import Path

from sqlalchemy import text

from .db import utcnow
from .fields import KINDS
from .models import RecordTypeDefinition
from .registry import current_accord
from .transfer import custom_values, write_json_lines


def values_held(session, table_name, names):
    """``{name: rows of table_name holding a non-null value in custom field name}`` for
    all of ``names`` in one scan; rows whose ``custom`` cannot hold any of them are
    skipped before their JSON is read (``?|`` on PostgreSQL, a text search on SQLite)."""
    if not names:
        return {}
    dialect = session.get_bind().dialect.name
    counts = ", ".join(f"SUM(CASE WHEN {KINDS['text'].custom_expr(table_name, name, dialect)} IS NOT NULL "
                       f"THEN 1 ELSE 0 END)" for name in names)
    if dialect == "postgresql":
        keys = ", ".join(f"'{name}'" for name in names)
        where = f'"{table_name}".custom ?| array[{keys}]'
    else:
        where = " OR ".join(f"instr(\"{table_name}\".custom, '\"{name}\"') > 0" for name in names)
    row = session.execute(text(f'SELECT {counts} FROM "{table_name}" WHERE {where}')).one()
    return {name: int(row[index] or 0) for index, name in enumerate(names)}


def _table_name(session, type_key, catalog=None):
    rt = (catalog or current_accord().catalog()).type(type_key)
    if rt is not None and rt.table is not None:
        return rt.table.name
    row = session.get(RecordTypeDefinition, type_key)
    return row.table_name if row is not None else None


def holdings(session, created, after=None):
    """What dropping the objects ``created`` (changes that made them) would lose:
    ``[{"what", "kind", "type", "field", "table", "records"}]`` for each pack type with
    rows and each pack field with values (on a type that stays), then for each pack stage
    that records of a type that stays sit in (kind ``stage``, with ``pipeline``,
    ``stage``, where they would move, ``to_pipeline`` and ``to_stage``, and ``text``, see
    :mod:`accord.core.pack_stages`). ``after`` maps targets to their rows once done."""
    from .pack_stages import stage_holdings

    held, fields = [], {}
    dropped_types = {c.after["key"] for c in created if c.kind == "type" and c.after and not c.before and not c.noop}
    for change in created:
        if change.noop or change.after is None or change.before is not None:
            continue
        if change.kind == "type":
            table = _table_name(session, change.after["key"])
            count = session.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() if table else 0
            if count:
                held.append({"what": f"type {change.after['key']}", "kind": "type", "type": change.after["key"],
                             "field": None, "table": table, "records": count})
        elif change.kind == "field" and change.after["record_type"] not in dropped_types:
            fields.setdefault(change.after["record_type"], []).append(change.after["name"])
    for type_key, names in fields.items():
        table = _table_name(session, type_key)
        if table is None:
            continue
        for name, count in values_held(session, table, names).items():
            if count:
                held.append({"what": f"field {type_key}.{name}", "kind": "field", "type": type_key, "field": name,
                             "table": table, "records": count})
    return held + stage_holdings(session, current_accord().catalog(), created, after or {}, dropped_types)


def held_text(held):
    return "; ".join(item["text"] if item["kind"] == "stage" else f"{item['what']} holds data in {_records(item['records'])}"
                     for item in held)


def _held_reason(item):
    if item["kind"] == "stage":
        return f"holds data: {item['text']}"
    return f"holds data in {_records(item['records'])}"


def export_holdings(session, pack_name, held, export_dir=None):
    """Write what ``held`` names to a new folder ``<pack>-<timestamp>`` under
    ``exports/verticals/`` of the instance folder (or under ``export_dir``), one JSON lines
    file per type: ``<type>.jsonl`` every row of a pack type (its fields spread out),
    ``<type>.fields.jsonl`` the ``id`` and the pack's field values of each record holding
    one, ``<type>.stages.jsonl`` each record in a stage that goes (see
    :func:`accord.core.pack_stages.export`); ``pack.json`` says what was held. Returns the folder."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    base = Path(export_dir) if export_dir else Path(current_accord().app.instance_path) / "exports" / "verticals"
    folder = base / f"{pack_name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    from .pack_stages import export as export_stages

    fields = {}
    for item in held:
        if item["kind"] == "type":
            rows = session.execute(text(f'SELECT * FROM "{item["table"]}" ORDER BY id')).mappings()
            write_json_lines(folder / f"{item['type']}.jsonl", ({**_without_custom(row), **custom_values(row["custom"])}
                                                             for row in rows))
        elif item["kind"] == "field":
            fields.setdefault((item["type"], item["table"]), []).append(item["field"])
    export_stages(session, folder, [item for item in held if item["kind"] == "stage"])
    for (type_key, table), names in fields.items():
        rows = session.execute(text(f'SELECT id, custom FROM "{table}" ORDER BY id'))
        write_json_lines(folder / f"{type_key}.fields.jsonl", _held_values(rows, names))
    (folder / "pack.json").write_text(json.dumps({"pack": pack_name, "exported_at": stamp, "held": held}, indent=2),
                                      encoding="utf-8")
    return folder


def _held_values(rows, names):
    for row in rows:
        custom = custom_values(row.custom)
        values = {name: custom[name] for name in names if custom.get(name) is not None}
        if values:
            yield {"id": row.id, **values}


def _without_custom(row):
    return {key: value for key, value in row.items() if key != "custom"}


def _purge_values(session, table, name):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"UPDATE \"{table}\" SET custom = custom - '{name}' WHERE custom ? '{name}'"))
    else:
        session.execute(text(f"UPDATE \"{table}\" SET custom = json_remove(custom, '$.{name}') "
                             f"WHERE json_extract(custom, '$.{name}') IS NOT NULL"))



def _records(count):
    return f"{count} record{'s' if count != 1 else ''}"
