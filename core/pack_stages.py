"""Records in the pipeline stages that reverting (or upgrading) a vertical pack drops.

A stage a pack added goes with the pack, and so does a pipeline it made. Records of a type
that stays may still sit there; like values in a pack's fields, they hold data: without
force the revert is refused naming them ("3 deals in stage Viewing booked"); with force
each one's id and stage go to the export first, then it moves to the stage chosen by
:func:`destination`, as an ordinary stage change would: a stage history row, a new
``version`` and ``updated_at``, an ``updated`` audit entry whose ``details`` name the pack,
its webhooks, and the pipeline totals of the pipelines involved counted afresh.
"""

import json
from itertools import groupby

from sqlalchemy import func, insert, select, text, update

from . import audit, pipeline_totals, webhooks
from .db import utcnow
from .models import StageHistory
from .query import record_columns
from .records import record_from_row


def stage_holdings(session, catalog, created, after, dropped_types):
    """What records sit in the stages ``created`` made (changes with ``after`` a stage or
    a pipeline row), on types other than ``dropped_types``: one item per stage holding
    records, in pipeline order, with where they would move. ``after`` maps a target to
    its row once the revert or upgrade is done (the destination's label then)."""
    stages, pipelines = {}, set()
    for change in created:
        if change.noop or change.after is None or change.before is not None:
            continue
        if change.kind == "stage":
            stages.setdefault(change.after["pipeline"], set()).add(change.after["key"])
        elif change.kind == "pipeline":
            pipelines.add(change.after["key"])
    held = []
    for pipeline_key in sorted(stages):
        pipeline = catalog.pipelines.get(pipeline_key)
        rt = catalog.type(pipeline.record_type) if pipeline is not None else None
        if rt is None or rt.key in dropped_types or rt.table is None or "stage" not in rt.table.c:
            continue
        table = rt.table
        counts = dict(session.execute(
            select(table.c.stage, func.count()).where(table.c.pipeline == pipeline_key,
                                                      table.c.stage.in_(sorted(stages[pipeline_key])))
            .group_by(table.c.stage)).all())
        for stage in pipeline.stages:
            count = counts.get(stage.key)
            if not count:
                continue
            target, to_stage = destination(catalog, pipeline, stage, stages, pipelines)
            if target is None:
                continue
            to_label = (after.get(f"stage:{target.key}.{to_stage.key}") or {}).get("label") or to_stage.label
            noun = rt.label.lower() if count == 1 else rt.plural_label.lower()
            where = f"stage {stage.label}" + (f" of pipeline {pipeline.label}" if pipeline.key in pipelines else "")
            into = to_label if target.key == pipeline.key else f"{to_label} of pipeline {target.label}"
            held.append({"what": f"stage {pipeline.key}.{stage.key}", "kind": "stage", "type": rt.key, "field": None,
                         "table": table.name, "records": count, "pipeline": pipeline.key, "stage": stage.key,
                         "to_pipeline": target.key, "to_stage": to_stage.key,
                         "text": f"{count} {noun} in {where} (force moves {'it' if count == 1 else 'them'} to {into})"})
    return held


def destination(catalog, pipeline, stage, dropped_stages, dropped_pipelines):
    """Where records in ``stage`` of ``pipeline`` go when it is dropped: ``(pipeline,
    stage)`` definitions, or ``(None, None)`` when no pipeline of the type remains.

    In a pipeline that stays: the nearest remaining stage of the same outcome before it in
    the pipeline's order, else after it (an open deal stays open, a won one won), else the
    nearest remaining stage before it, else after it. When the pipeline goes too: the first
    stage of the same outcome, else the first stage, of the type's default pipeline among
    those that stay (else the first of them by key)."""
    if pipeline.key not in dropped_pipelines:
        order = list(pipeline.stages)
        index = order.index(stage)
        gone = dropped_stages.get(pipeline.key, set())
        before = [s for s in reversed(order[:index]) if s.key not in gone]
        later = [s for s in order[index + 1:] if s.key not in gone]
        same = [s for s in before + later if s.outcome == stage.outcome]
        found = same or before or later
        if found:
            return pipeline, found[0]
    others = sorted((p for p in catalog.pipelines.values()
                     if p.record_type == pipeline.record_type and p.key not in dropped_pipelines and p.key != pipeline.key),
                    key=lambda p: (not p.is_default, p.key))
    for other in others:
        remaining = [s for s in other.stages if s.key not in dropped_stages.get(other.key, set())]
        if remaining:
            return other, next((s for s in remaining if s.outcome == stage.outcome), remaining[0])
    return None, None


def lock(session, items):
    """On PostgreSQL, hold writes to the tables of ``items`` until the transaction ends, so
    the records exported are exactly the records moved."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in sorted({item["table"] for item in items}):
        session.execute(text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))


def export(session, folder, items):
    """Write ``<type>.stages.jsonl`` into ``folder`` for each type of ``items``: per record
    in a dropped stage, its ``id``, ``pipeline``, ``stage``, whether it is in the trash,
    and the pipeline and stage it moves to."""
    for type_key, group in groupby(sorted(items, key=lambda item: item["type"]), key=lambda item: item["type"]):
        with (folder / f"{type_key}.stages.jsonl").open("w", encoding="utf-8") as out:
            for item in group:
                rows = session.execute(text(
                    f'SELECT id, deleted_at FROM "{item["table"]}" WHERE pipeline = :pipeline AND stage = :stage ORDER BY id'),
                    {"pipeline": item["pipeline"], "stage": item["stage"]})
                for row in rows:
                    out.write(json.dumps({"id": row.id, "pipeline": item["pipeline"], "stage": item["stage"],
                                          "trashed": row.deleted_at is not None,
                                          "moved_to": {"pipeline": item["to_pipeline"], "stage": item["to_stage"]}})
                              + "\n")


def move(session, catalog, items, actor, details):
    """Move the records of each of ``items`` to its destination in the caller's
    transaction, as the module docstring says; ``details`` go into each audit entry."""
    now = utcnow()
    recount = {}
    for item in items:
        rt = catalog.type(item["type"])
        table = rt.table
        source, target = catalog.pipelines[item["pipeline"]], catalog.pipelines[item["to_pipeline"]]
        from_stage, to_stage = source.stage(item["stage"]), target.stage(item["to_stage"])
        where = (table.c.pipeline == source.key, table.c.stage == from_stage.key)
        rows = session.execute(select(*record_columns(rt)).where(*where).order_by(table.c.id)).mappings().all()
        if not rows:
            continue
        same_pipeline = target.key == source.key
        last = {}
        if same_pipeline:
            last = dict(session.execute(
                select(StageHistory.record_id, func.max(StageHistory.changed_at))
                .where(StageHistory.record_type == rt.key,
                       StageHistory.record_id.in_(select(table.c.id).where(*where)))
                .group_by(StageHistory.record_id)).all())
        values = {"pipeline": target.key, "stage": to_stage.key, "version": table.c.version + 1, "updated_at": now}
        if "closed_at" in table.c:
            if to_stage.outcome == "open":
                values["closed_at"] = None
            elif from_stage.outcome == "open":
                values["closed_at"] = now
        session.execute(update(table).where(*where).values(**values))
        history, entries = [], []
        for row in rows:
            record = record_from_row(rt, row)
            old = dict(record.values)
            record.values.update({name: value for name, value in values.items() if name != "version"},
                                 version=old["version"] + 1)
            changes = {name: (old.get(name), record.values[name]) for name in ("pipeline", "stage", "closed_at")
                       if name in values and old.get(name) != record.values[name]}
            previous = last.get(record.id)
            history.append({
                "record_type": rt.key, "record_id": record.id, "pipeline": target.key,
                "from_stage": from_stage.key if same_pipeline else None, "to_stage": to_stage.key, "changed_at": now,
                "changed_by": actor.user_id,
                "seconds_in_previous": int((now - previous).total_seconds()) if previous is not None else None,
                "reason": record.get("close_reason") if to_stage.outcome != "open" else None,
            })
            entry = audit.write_entry(record, "update", changes, actor)
            entry["details"] = details
            entries.append(entry)
            if record.get("deleted_at") is None:
                webhooks.record_events(session, record, "update", changes,
                                       (target, from_stage.key if same_pipeline else None, to_stage.key), actor)
        session.execute(insert(StageHistory), history)
        session.info.setdefault(audit.PENDING, []).extend(entries)
        recount.setdefault(rt.key, set()).update((source.key, target.key))
    for type_key, pipelines in sorted(recount.items()):
        pipeline_totals.rebuild(session, catalog.type(type_key), sorted(pipelines))
