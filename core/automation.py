"""Automation rules: when a record is created, enters a pipeline stage or has a field
changed, and every condition holds on it after the write, run the rule's actions (create a
task or an activity, set a field, assign the owner, email someone).

Rules are data (``automation_rule`` rows): a vertical pack adds them with origin
``pack:<name>``, an admin through the API or ``/admin/automation`` with origin ``local``.

Triggers: ``created`` fires on a new record; ``stage_entered`` when a record enters the
rule's stage, a new record created in it included (as stage history counts it);
``field_changed`` on an update that really changes the field (a new record is ``created``).

How a rule runs, whichever door the write came by (API, web form, import, CLI):

- the core's ``accord_record_before_save`` (:mod:`accord.core.defaults`) calls :func:`plan`,
  which notes the write when its type has enabled rules: a dictionary lookup in the rules
  cached with the catalog, no query at all for a type without rules;
- once the record is written (it has its id), the service layer calls :func:`run_planned`
  in the same transaction; each triggered rule whose conditions hold runs inside a
  SAVEPOINT. A rule that raises rolls back its savepoint alone (with the audit entries,
  totals and jobs its writes noted), keeps an ``automation_run`` row ``failed`` with the
  error, and the triggering write commits; a rule never leaves half its writes.
- writes a rule makes go through the record service as the actor ``rule <key>`` with the
  source ``automation``, so they are validated, indexed and audited like any other.
  Rules do not fire on writes made by rules: a rule that sets the field it watches runs
  once, and two rules cannot feed each other forever.
- ``notify`` queues a job (:data:`NOTIFY_JOB`) that sends the email after the commit
  through :mod:`accord.core.mail`.
"""

import copy
import logging
import re
from datetime import date, datetime, timedelta

from marshmallow import ValidationError
from sqlalchemy import delete, func, insert, select

from . import audit, jobs, mail, pipeline_totals
from .db import db, utcnow
from .errors import NotFound, RecordInvalid
from .fields import format_datetime
from .models import ACTIVITY_KINDS, AutomationRule, AutomationRun, User
from .registry import bump_generation, current_accord

log = logging.getLogger("accord.automation")

SOURCE = "automation"
"""The audit source of the writes rules make."""
TRIGGERS = ("created", "stage_entered", "field_changed")
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "is_empty", "is_set", "contains")
ORDERED_KINDS = ("integer", "decimal", "money", "date", "datetime")
TEXT_KINDS = ("text", "long_text", "email", "phone", "url")
SPEC_KEYS = ("key", "label", "record_type", "trigger", "stage", "field", "conditions", "actions", "enabled")
DEFINITION_KEYS = tuple(key for key in SPEC_KEYS if key not in ("key", "enabled"))
ACTION_KEYS = {
    "create_task": {"subject": True, "due_in_days": False, "due_in_hours": False, "assign_to": False},
    "create_activity": {"kind": True, "subject": True},
    "set_field": {"field": True, "value": True},
    "assign_owner": {"user": True},
    "notify": {"to": True, "subject": True, "body": True},
}
"""Each action's parameters (besides ``do``) and whether it is required."""
KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LABEL_CHARS = 200
SUBJECT_CHARS = 200
DETAIL_CHARS = 2000
MAX_DUE_DAYS = 3650
NOTIFY_JOB = "accord.automation_notify"
PLANNED = "accord_automation"
MEMO = ("automation", "enabled_rules")


# Rules as data ----------------------------------------------------------------------------


def validate_rule(catalog, spec):
    """Check a rule spec (the ``[[rules]]`` table of a pack) against the live catalog.

    :raises RecordInvalid: ``{key: [reason]}`` naming every problem.
    """
    if not isinstance(spec, dict):
        raise RecordInvalid({"_schema": ["A rule is a table (a JSON object)."]})
    errors = {}
    for name in spec:
        if name not in SPEC_KEYS:
            errors[name] = [f"Unknown key; a rule has {', '.join(SPEC_KEYS)}."]
    if not isinstance(spec.get("key"), str) or not KEY.fullmatch(spec["key"]):
        errors["key"] = ["Give a key of lower-case letters, digits and _ starting with a letter (64 at most)."]
    label = spec.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_CHARS:
        errors["label"] = [f"Give a label of 1 to {LABEL_CHARS} characters."]
    if "enabled" in spec and not isinstance(spec["enabled"], bool):
        errors["enabled"] = ["Give true or false."]
    rt = catalog.type(spec["record_type"]) if isinstance(spec.get("record_type"), str) else None
    if rt is None:
        errors["record_type"] = [f"There is no record type {spec.get('record_type')!r}."]
    trigger = spec.get("trigger")
    if trigger not in TRIGGERS:
        errors["trigger"] = [f"Give one of {', '.join(TRIGGERS)}."]
    for name, wanted in (("stage", "stage_entered"), ("field", "field_changed")):
        if trigger == wanted and not isinstance(spec.get(name), str):
            errors[name] = [f"A {wanted} rule names its {name}."]
        elif trigger in TRIGGERS and trigger != wanted and name in spec:
            errors[name] = [f"Only a {wanted} rule names a {name}."]
    conditions, actions = spec.get("conditions", []), spec.get("actions")
    if not isinstance(conditions, list):
        errors["conditions"] = ["Give a list of {field, op, value} tables."]
        conditions = []
    if not isinstance(actions, list) or not actions:
        errors["actions"] = ["Give a list of one action or more."]
        actions = []
    if rt is not None:
        if trigger == "stage_entered" and isinstance(spec.get("stage"), str) and not _has_stage(catalog, rt, spec["stage"]):
            errors["stage"] = [f"No pipeline of {rt.plural_label.lower()} has the stage {spec['stage']!r}."]
        if trigger == "field_changed" and isinstance(spec.get("field"), str) and spec["field"] not in rt.fields:
            errors["field"] = [f"{rt.label} has no field {spec['field']!r}."]
        for position, condition in enumerate(conditions):
            _collect(errors, f"conditions.{position}", lambda c=condition: condition_test(rt, c))
        for position, action in enumerate(actions):
            _collect(errors, f"actions.{position}", lambda a=action: _check_action(catalog, rt, a))
    if errors:
        raise RecordInvalid(errors, message="The rule is not valid: " + "; ".join(
            f"{name}: {' '.join(reasons)}" for name, reasons in sorted(errors.items())))


def add_rule(session, spec, origin):
    """Store a rule (validate it first with :func:`validate_rule`); enabled rules reach
    every worker on its next request."""
    row = AutomationRule(key=spec["key"], origin=origin)
    _apply(row, spec)
    row.enabled = spec.get("enabled", True)
    session.add(row)
    session.flush()
    bump_generation(session)
    return row


def remove_rule(session, key):
    """Delete the rule ``key`` (its runs stay, as history); ``False`` when there is none."""
    removed = session.execute(delete(AutomationRule).where(AutomationRule.key == key)).rowcount
    if removed:
        bump_generation(session)
    return bool(removed)


def rule_to_spec(row):
    """A stored rule as the spec it was made from (the ``[[rules]]`` table of a pack)."""
    spec = {"key": row.key, "label": row.label, "record_type": row.record_type, "trigger": row.trigger}
    if row.trigger == "stage_entered":
        spec["stage"] = row.trigger_value
    elif row.trigger == "field_changed":
        spec["field"] = row.trigger_value
    spec["conditions"] = [dict(c) for c in row.conditions or ()]
    spec["actions"] = [dict(a) for a in row.actions or ()]
    if not row.enabled:
        spec["enabled"] = False
    return spec


def _apply(row, spec):
    row.label = spec["label"].strip()
    row.record_type = spec["record_type"]
    row.trigger = spec["trigger"]
    row.trigger_value = spec.get("stage") or spec.get("field")
    row.conditions = _plain(spec.get("conditions", []))
    row.actions = _plain(spec["actions"])
    row.updated_at = utcnow()


def _plain(value):
    """``value`` with dates (a TOML file's) as ISO text, so it can be stored as JSON."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _collect(errors, prefix, check):
    try:
        check()
    except RecordInvalid as exc:
        for name, reasons in exc.fields.items():
            errors[f"{prefix}.{name}"] = reasons


def _has_stage(catalog, rt, stage):
    return any(p.record_type == rt.key and p.stage(stage) is not None for p in catalog.pipelines.values())


# Conditions -------------------------------------------------------------------------------


def condition_test(rt, condition):
    """``(field, op, expected)`` of a ``{field, op, value}`` table, the value in the field's
    Python form; :class:`RecordInvalid` when the field, op or value does not fit."""
    if not isinstance(condition, dict):
        raise RecordInvalid({"_schema": ["A condition is a table {field, op, value}."]})
    unknown = sorted(set(condition) - {"field", "op", "value"})
    if unknown:
        raise RecordInvalid({name: ["Unknown key; a condition has field, op and value."] for name in unknown})
    name, op = condition.get("field"), condition.get("op")
    f = rt.fields.get(name) if isinstance(name, str) else None
    if f is None:
        raise RecordInvalid({"field": [f"{rt.label} has no field {name!r}."]})
    if op not in OPS:
        raise RecordInvalid({"op": [f"Give one of {', '.join(OPS)}."]})
    if op in ("is_empty", "is_set"):
        return name, op, None
    if "value" not in condition:
        raise RecordInvalid({"value": [f"The op {op} compares with a value; give one."]})
    value = condition["value"]
    if f.kind == "multi_choice" and op != "contains":
        raise RecordInvalid({"op": ["A multi-choice field takes contains, is_empty or is_set."]})
    if op in ("gt", "gte", "lt", "lte") and f.kind not in ORDERED_KINDS:
        raise RecordInvalid({"op": [f"{op} compares numbers, amounts and dates; {name} is {f.kind}."]})
    if op == "contains" and f.kind not in TEXT_KINDS + ("multi_choice",):
        raise RecordInvalid({"op": [f"contains looks in text or a multi-choice field; {name} is {f.kind}."]})
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RecordInvalid({"value": [f"The op {op} takes a list of values."]})
        return name, op, [_field_value(f, item) for item in value]
    return name, op, _field_value(f, value)


def _field_value(f, raw):
    """``raw`` (from JSON or TOML) as the Python value of field ``f``."""
    if raw is None or isinstance(raw, (list, dict)) or (isinstance(raw, bool) and f.kind != "boolean"):
        raise RecordInvalid({"value": [f"Give a single {f.kind} value for {f.name}."]})
    if f.kind == "boolean" and not isinstance(raw, (bool, str)):
        raise RecordInvalid({"value": [f"Give true or false for {f.name}."]})
    try:
        value = f.kind_impl.parse_filter(raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool)
                                         else str(raw))
    except (ValueError, TypeError, ArithmeticError):
        raise RecordInvalid({"value": [f"{raw!r} is not a {f.kind} value for {f.name}."]}) from None
    keys = {choice.key for choice in f.choices}
    if f.kind in ("choice", "multi_choice") and keys and value not in keys:
        raise RecordInvalid({"value": [f"{raw!r} is not a choice of {f.name}: {', '.join(sorted(keys))}."]})
    return value


def holds(rt, condition, values):
    """Whether one condition holds on a record's ``values`` (Python-typed)."""
    name, op, expected = condition_test(rt, condition)
    actual = values.get(name)
    if rt.fields[name].kind == "money" and isinstance(actual, dict):
        actual = actual.get("amount")
    empty = actual is None or actual == "" or actual == [] or actual == {}
    if op == "is_empty":
        return empty
    if op == "is_set":
        return not empty
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if empty:
        return False
    if op == "contains":
        return expected in actual if isinstance(actual, list) else str(expected).lower() in str(actual).lower()
    return {"gt": actual > expected, "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected}[op]


# Actions ----------------------------------------------------------------------------------


def _check_action(catalog, rt, action):
    if not isinstance(action, dict) or not isinstance(action.get("do"), str) or action["do"] not in ACTION_KEYS:
        raise RecordInvalid({"do": [f"Give do = one of {', '.join(ACTION_KEYS)}."]})
    params = ACTION_KEYS[action["do"]]
    errors = {name: ["Unknown parameter of this action."] for name in action if name != "do" and name not in params}
    errors.update({name: ["Required."] for name, required in params.items() if required and name not in action})
    if errors:
        raise RecordInvalid(errors)
    for name in ("subject", "body"):
        if name in action and (not isinstance(action[name], str) or not action[name].strip()
                               or (name == "subject" and len(action[name]) > SUBJECT_CHARS)):
            errors[name] = [f"Give some text ({SUBJECT_CHARS} characters at most)." if name == "subject" else "Give some text."]
    for name in ("due_in_days", "due_in_hours"):
        value = action.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value <= MAX_DUE_DAYS * (24 if name == "due_in_hours" else 1)):
            errors[name] = [f"Give a number from 0 to {MAX_DUE_DAYS} days."]
    if action["do"] == "create_activity" and action.get("kind") not in ACTIVITY_KINDS:
        errors["kind"] = [f"Give one of {', '.join(ACTIVITY_KINDS)}."]
    if action["do"] == "create_task" and action.get("assign_to", "owner") != "owner":
        _collect(errors, "", lambda: _user_id(action["assign_to"], "assign_to"))
    if action["do"] == "assign_owner":
        _collect(errors, "", lambda: _user_id(action["user"], "user"))
    if action["do"] == "notify" and action["to"] != "owner" and (not isinstance(action["to"], str) or not EMAIL.fullmatch(action["to"])):
        errors["to"] = ["Give \"owner\" or an email address."]
    if action["do"] == "set_field":
        _collect(errors, "", lambda: _set_field_values(catalog, rt, action))
    if errors:
        raise RecordInvalid({name.lstrip("."): reasons for name, reasons in errors.items()})


def _set_field_values(catalog, rt, action):
    """The validated ``{field: value}`` a ``set_field`` action writes."""
    name = action["field"]
    if not isinstance(name, str) or name not in rt.writable_fields:
        raise RecordInvalid({"field": [f"{rt.label} has no field {name!r} that can be written."]})
    try:
        catalog.schema(rt).load({name: action["value"]}, partial=True)
    except ValidationError as exc:
        reasons = exc.normalized_messages().get(name, ["Not a valid value."])
        raise RecordInvalid({"value": [" ".join(map(str, reasons))]}) from None
    return {name: action["value"]}


def _user_id(email, name):
    """The id of the active user with ``email``; :class:`RecordInvalid` on ``name`` otherwise."""
    if isinstance(email, str):
        user_id = db.session.execute(select(User.id).where(
            func.lower(User.email) == email.strip().lower(), User.is_active.is_(True), User.deleted_at.is_(None))
        ).scalar_one_or_none()
        if user_id is not None:
            return user_id
    raise RecordInvalid({name: [f"No active user has the email {email!r}."]})


def _create_task(rule, record, action, actor):
    due = utcnow() + timedelta(days=action.get("due_in_days") or 0, hours=action.get("due_in_hours") or 0)
    assign_to = action.get("assign_to", "owner")
    owner_id = record.get("owner_id") if assign_to == "owner" else _user_id(assign_to, "assign_to")
    task = _records().create("activity", {
        "kind": "task", "subject": action["subject"], "due_at": format_datetime(due),
        "related_type": record.type.key, "related_id": record.id, "owner_id": owner_id,
    }, actor)
    return f"created task {task.id}"


def _create_activity(rule, record, action, actor):
    activity = _records().create("activity", {
        "kind": action["kind"], "subject": action["subject"], "related_type": record.type.key,
        "related_id": record.id, "owner_id": record.get("owner_id"),
    }, actor)
    return f"created {action['kind']} {activity.id}"


def _set_field(rule, record, action, actor):
    values = _set_field_values(_records().catalog(), record.type, action)
    _write_back(record, _records().update(record.type.key, record.id, values, actor))
    return f"set {action['field']}"


def _assign_owner(rule, record, action, actor):
    user_id = _user_id(action["user"], "user")
    _write_back(record, _records().update(record.type.key, record.id, {"owner_id": user_id}, actor))
    return f"assigned to user {user_id}"


def _notify(rule, record, action, actor):
    to = action["to"]
    if to == "owner":
        to = db.session.execute(select(User.email).where(
            User.id == record.get("owner_id"), User.is_active.is_(True), User.deleted_at.is_(None))).scalar_one_or_none()
        if to is None:
            raise RecordInvalid({"to": [f"{record.type.label} {record.id} has no active owner to notify."]})
    body = f"{action['body']}\n\n{record.type.label}: {record.title} (#{record.id})\n\n-- Rule: {rule['label']}\n"
    jobs.enqueue(NOTIFY_JOB, to=to, subject=action["subject"], body=body)
    return f"notified {to}"


ACTIONS = {"create_task": _create_task, "create_activity": _create_activity, "set_field": _set_field,
           "assign_owner": _assign_owner, "notify": _notify}


def _write_back(record, updated):
    """The triggering record takes the values a rule wrote to it, so the caller answers them."""
    record.values.update(updated.values)
    record.stored_custom = updated.stored_custom


def send_notification(app, to, subject, body):
    """The :data:`NOTIFY_JOB`: email a rule's notification."""
    mail.send(to, subject, body)


def jobs_declared():
    """The job that sends rules' emails (registered by the core's ``accord_jobs``)."""
    return [{"name": NOTIFY_JOB, "run": send_notification, "max_attempts": 5, "backoff_seconds": 30}]


# The engine -------------------------------------------------------------------------------


def enabled_rules(catalog):
    """``{record type: (rule spec, ...)}`` of the enabled rules, read once per schema
    generation (every change to a rule bumps it)."""
    return catalog.memo(MEMO, _load_enabled)


def _load_enabled():
    rules = {}
    for row in db.session.execute(select(AutomationRule.__table__).where(AutomationRule.enabled.is_(True))
                                  .order_by(AutomationRule.id)):
        rules.setdefault(row.record_type, []).append(rule_to_spec(row))
    return {key: tuple(specs) for key, specs in rules.items()}


def plan(app, record, changes, event, actor):
    """Note a create or update of a type with enabled rules (called by the core's
    ``accord_record_before_save``); :func:`run_planned` runs them once it is written."""
    if event not in ("create", "update") or actor.source == SOURCE:
        return
    rules = enabled_rules(current_accord(app).catalog()).get(record.type.key)
    if rules:
        db.session().info.setdefault(PLANNED, []).append((record, event, rules))


def run_planned(session, record, changes):
    """Run the rules :func:`plan` noted for ``record``, now written, in its transaction."""
    planned = session.info.get(PLANNED)
    if not planned:
        return
    position = next((i for i, entry in enumerate(planned) if entry[0] is record), None)
    if position is None:
        return
    _, event, rules = planned.pop(position)
    for rule in rules:
        if _triggered(rule, record, event, changes):
            run_rule(session, rule, record)


def _triggered(rule, record, event, changes):
    if rule["trigger"] == "created":
        return event == "create"
    if rule["trigger"] == "stage_entered":
        entered = event == "create" or "stage" in changes or "pipeline" in changes
        return entered and record.get("stage") == rule["stage"]
    return event == "update" and rule["field"] in changes


def run_rule(session, rule, record):
    """Run one rule on a written record: nothing when a condition fails; else its actions
    in a savepoint, and an ``automation_run`` row saying what they did or why they failed."""
    try:
        if not all(holds(record.type, condition, record.values) for condition in rule["conditions"]):
            return None
    except Exception as exc:  # noqa: BLE001 - a condition that no longer fits its field fails the rule alone
        return _store_run(session, rule, record, "failed", _describe(exc))
    from .records import Actor

    actor = Actor(user_id=None, source=SOURCE, is_admin=True, name=f"rule {rule['key']}")
    state = _unit_state(session)
    values, stored_custom = dict(record.values), record.stored_custom
    savepoint = session.begin_nested()
    try:
        done = [ACTIONS[action["do"]](rule, record, action, actor) for action in rule["actions"]]
        savepoint.commit()
    except Exception as exc:  # noqa: BLE001 - a failing rule never costs the triggering write
        savepoint.rollback()
        _restore(session, state)
        record.values.clear()
        record.values.update(values)
        record.stored_custom = stored_custom
        log.warning("automation rule %r failed on %s %s: %s", rule["key"], record.type.key, record.id, _describe(exc),
                    exc_info=not isinstance(exc, RecordInvalid))
        return _store_run(session, rule, record, "failed", _describe(exc))
    return _store_run(session, rule, record, "ok", "; ".join(done))


def _store_run(session, rule, record, status, detail):
    session.execute(insert(AutomationRun.__table__).values(
        rule_key=rule["key"], record_type=record.type.key, record_id=record.id, status=status,
        detail=detail[:DETAIL_CHARS], at=utcnow()))
    return status


def _describe(exc):
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    fields = getattr(exc, "fields", None)
    if fields:
        message += " " + "; ".join(f"{name}: {' '.join(map(str, reasons))}" for name, reasons in fields.items())
    return message


def _unit_state(session):
    """What the write unit noted so far for its commit (audit entries, pipeline totals,
    after-commit callbacks, job batches), so a failed rule's notes can be taken back."""
    info = session.info
    return {
        "after_commit": len(info.get("accord_after_commit", ())),
        "audit": len(info.get(audit.PENDING, ())),
        "totals": copy.deepcopy(info.get(pipeline_totals.PENDING)),
        "batches": {key: len(items) for key, items in info.get("accord_commit_batches", {}).items()},
        "planned": len(info.get(PLANNED, ())),
    }


def _restore(session, state):
    info = session.info
    del info.get("accord_after_commit", [])[state["after_commit"]:]
    del info.get(audit.PENDING, [])[state["audit"]:]
    del info.get(PLANNED, [])[state["planned"]:]
    if state["totals"] is None:
        info.pop(pipeline_totals.PENDING, None)
    else:
        info[pipeline_totals.PENDING] = state["totals"]
    batches = info.get("accord_commit_batches", {})
    for key in list(batches):
        if key in state["batches"]:
            del batches[key][state["batches"][key]:]
        else:
            del batches[key]


def _records():
    return current_accord().records


# The admin's doors (API and admin page) ---------------------------------------------------


def get_rule(key):
    """The rule ``key``; :class:`NotFound` when there is none."""
    row = db.session.execute(select(AutomationRule).where(AutomationRule.key == key)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"There is no automation rule {key!r}.")
    return row


def list_rules():
    return db.session.execute(select(AutomationRule).order_by(AutomationRule.record_type, AutomationRule.key)).scalars().all()


def create_local_rule(spec):
    """Validate and store a rule an admin made (origin ``local``)."""
    from .records import write_unit

    with write_unit() as session:
        validate_rule(current_accord().catalog(), spec)
        if session.execute(select(AutomationRule.id).where(AutomationRule.key == spec["key"])).first():
            raise RecordInvalid({"key": [f"A rule with the key {spec['key']!r} exists already."]})
        row = add_rule(session, spec, "local")
    current_accord().forget_catalog()
    return row


def change_rule(key, patch):
    """Apply a partial change. Any rule can be switched on or off; only a local rule's
    definition can be edited: a pack's rule is changed in its pack (or copied under a new
    key), so reverting or upgrading the pack never meets a rule edited behind its back."""
    from .records import write_unit

    if not isinstance(patch, dict):
        raise RecordInvalid({"_schema": ["Expected a JSON object."]})
    with write_unit() as session:
        row = get_rule(key)
        if "key" in patch and patch["key"] != row.key:
            raise RecordInvalid({"key": ["A rule's key never changes; add a new rule instead."]})
        definition = [name for name in patch if name not in ("key", "enabled")]
        if definition and row.origin != "local":
            raise RecordInvalid({name: [f"This rule belongs to {row.origin}; change it in the pack or copy it "
                                        "under a new key."] for name in definition})
        empty = [name for name, value in patch.items() if value is None]
        if empty:
            raise RecordInvalid({name: ["Give a value (null is not one)."] for name in empty})
        if "enabled" in patch and not isinstance(patch["enabled"], bool):
            raise RecordInvalid({"enabled": ["Give true or false."]})
        if definition:
            spec = rule_to_spec(row)
            if "trigger" in patch:
                spec.pop("stage", None)
                spec.pop("field", None)
            spec.update(patch)
            validate_rule(current_accord().catalog(), spec)
            _apply(row, spec)
        if "enabled" in patch:
            row.enabled = patch["enabled"]
            row.updated_at = utcnow()
        session.flush()
        bump_generation(session)
    current_accord().forget_catalog()
    return row


def delete_rule(key):
    """Remove a rule (a pack's too: the pack's revert then finds it gone)."""
    from .records import write_unit

    with write_unit() as session:
        if not remove_rule(session, key):
            raise NotFound(f"There is no automation rule {key!r}.")
    current_accord().forget_catalog()


def rule_json(row):
    return {
        "key": row.key, "label": row.label, "record_type": row.record_type, "trigger": row.trigger,
        "stage": row.trigger_value if row.trigger == "stage_entered" else None,
        "field": row.trigger_value if row.trigger == "field_changed" else None,
        "conditions": row.conditions or [], "actions": row.actions or [], "enabled": row.enabled,
        "origin": row.origin, "created_at": format_datetime(row.created_at), "updated_at": format_datetime(row.updated_at),
    }


def run_json(row):
    return {"id": row.id, "rule": row.rule_key, "record_type": row.record_type, "record_id": row.record_id,
            "status": row.status, "detail": row.detail, "at": format_datetime(row.at)}


# Reading runs ---------------------------------------------------------------------------------


def run_summary(keys, last=3):
    """``{rule key: {"failed": count, "last": newest runs}}`` of the rules ``keys``, for the
    admin page: one grouped count of failures, one indexed query per rule for its ``last``
    newest runs."""
    table = AutomationRun.__table__
    summary = {key: {"failed": 0, "last": []} for key in keys}
    if not summary:
        return summary
    failed = (select(table.c.rule_key, func.count()).where(table.c.status == "failed", table.c.rule_key.in_(list(summary)))
              .group_by(table.c.rule_key))
    for key, number in db.session.execute(failed):
        summary[key]["failed"] = number
    if last:
        for key, entry in summary.items():
            entry["last"] = runs(key, last)
    return summary


def runs(rule_key=None, limit=50, before=None, status=None):
    """Runs newest first, optionally of one rule, with a status, older than id ``before``."""
    table = AutomationRun.__table__
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    if rule_key is not None:
        query = query.where(table.c.rule_key == rule_key)
    if status is not None:
        query = query.where(table.c.status == status)
    if before is not None:
        query = query.where(table.c.id < before)
    return db.session.execute(query).all()
