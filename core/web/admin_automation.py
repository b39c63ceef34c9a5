"""The automation admin pages (``/admin/automation``): list the rules with their recent
runs and failures, make and edit local rules through a form, copy a pack's rule as a local
one, switch rules on and off, delete local rules, and read a rule's runs.

The form is plain HTML (the content security policy forbids inline script): conditions and
actions are rows of selects and inputs; "Add a condition", "Remove" and "Show the fields of
this type" post the form back to itself and only re-render it. ``automation.js`` (served
with the core's static files) hides the inputs the chosen trigger or action does not use
and refreshes the form when the record type changes; without it every input still works.

Saving goes through :func:`accord.core.automation.create_local_rule` and
:func:`~accord.core.automation.change_rule`, which validate with
:func:`~accord.core.automation.validate_rule` before writing anything; its errors
(``conditions.0.value``...) are shown next to the inputs of the row they name.
"""

import re

from flask import abort, flash, redirect, request, url_for

from .. import automation
from ..errors import AccordError, NotFound, RecordInvalid
from ..models import ACTIVITY_KINDS
from ..registry import current_accord
from .admin import _back, _crumbs, admin_only, bp, slug
from .rendering import render

RUNS_SHOWN = 50
LAST_RUNS = 3
"""How many of each rule's newest runs the list shows."""
BLANK_CONDITIONS = 2
BLANK_ACTIONS = 1
MAX_ROWS = 40
"""Rows of each kind a posted form may hold (blank ones included)."""
HELP_PAGE = "admin.automation_rules"
TRIGGER_LABELS = {"created": "A record is created", "stage_entered": "A record enters a stage",
                  "field_changed": "A field changes"}
OP_LABELS = {"eq": "is", "ne": "is not", "gt": "is more than", "gte": "is at least", "lt": "is less than",
             "lte": "is at most", "in": "is one of", "not_in": "is none of", "is_empty": "is empty",
             "is_set": "is filled in", "contains": "contains"}
ACTION_LABELS = {"create_task": "Create a task", "create_activity": "Log an activity", "set_field": "Set a field",
                 "assign_owner": "Assign the owner", "notify": "Send an email"}
PARAMS = ("subject", "due_in_days", "due_in_hours", "assign_to", "kind", "field", "value", "user", "to", "body")
"""Every action parameter the form has an input for (each action uses some of them)."""
ROW_NAME = re.compile(r"(conditions|actions)-(\d{1,3})-([a-z_]+)")


# Pages ----------------------------------------------------------------------------------


@bp.get("/admin/automation")
@admin_only
def automation_rules():
    rules = automation.list_rules()
    return render("admin/automation.html", title="Automation", breadcrumbs=_crumbs(("Automation", None)),
                  rules=rules, runs=automation.runs(limit=RUNS_SHOWN), shown=RUNS_SHOWN,
                  failures=automation.runs(limit=RUNS_SHOWN, status="failed"),
                  summary=automation.run_summary([row.key for row in rules], LAST_RUNS),
                  types=_type_labels(), run_links=_run_links)


@bp.post("/admin/automation/<name>/switch")
@admin_only
def switch_automation_rule(name):
    """Switch the rule with key ``name`` on (``enabled=1``) or off."""
    enabled = request.form.get("enabled") == "1"
    try:
        row = automation.change_rule(name, {"enabled": enabled})
    except AccordError as exc:
        flash(exc.message, "error")
    else:
        flash(f"{row.label} is now {'on' if enabled else 'off'}.")
    return redirect(_back(url_for("admin.automation_rules")))


@bp.get("/admin/automation/<name>")
@admin_only
def automation_rule(name):
    """One rule: its definition in words, its state, and its runs (``status=failed`` for
    the failed ones only; ``before`` pages to older runs)."""
    row = _rule(name)
    status = request.args.get("status") if request.args.get("status") in ("ok", "failed") else None
    before = request.args.get("before", "")
    before = int(before) if before.isdigit() and len(before) < 19 else None
    rows = automation.runs(row.key, RUNS_SHOWN + 1, before, status)
    summary = automation.run_summary([row.key], 0)[row.key]
    return render("admin/automation_rule.html", title=row.label,
                  breadcrumbs=_crumbs(("Automation", url_for("admin.automation_rules")), (row.label, None)),
                  help_page=HELP_PAGE, rule=row, described=describe(row), runs=rows[:RUNS_SHOWN],
                  older=rows[RUNS_SHOWN - 1].id if len(rows) > RUNS_SHOWN else None, status=status,
                  summary=summary, run_links=_run_links)


@bp.route("/admin/automation/new-rule", methods=["GET", "POST"])
@admin_only
def new_automation_rule():
    """Make a local rule; ``?copy=KEY`` starts from an existing rule (a pack's, say),
    ``?type=KEY`` from an empty rule of that record type."""
    catalog = current_accord().catalog()
    if request.method == "GET":
        copied = request.args.get("copy")
        if copied:
            source = _rule(copied)
            state = rule_state(automation.rule_to_spec(source), catalog)
            state.update(key=f"{source.key}_copy"[:64], label=f"{source.label} (copy)"[:automation.LABEL_CHARS],
                         enabled=True)
            return _form_page(state, {}, copied_from=source)
        wanted = request.args.get("type") or ""
        if catalog.type(wanted) is None:
            wanted = "contact" if catalog.type("contact") else _types()[0].key
        state = {"key": "", "label": "", "record_type": wanted,
                 "trigger": "created", "stage": "", "field": "", "enabled": True, "conditions": [], "actions": []}
        return _form_page(state, {})
    state = posted_state(request.form)
    if _round_trip(state, request.form):
        return _form_page(state, {})
    spec = state_to_spec(state, catalog)
    if not spec["key"]:
        spec["key"] = state["key"] = slug(state["label"])
    spec["enabled"] = state["enabled"]
    try:
        row = automation.create_local_rule(spec)
    except RecordInvalid as exc:
        return _form_page(state, exc.fields, status=422)
    flash(f"Added the rule {row.label}; it is {'on' if row.enabled else 'off'}.")
    return redirect(url_for("admin.automation_rule", name=row.key))


@bp.route("/admin/automation/<name>/edit", methods=["GET", "POST"])
@admin_only
def edit_automation_rule(name):
    """Edit a local rule's definition (its key never changes); a pack's rule is changed in
    its pack, or copied here under a new key."""
    row = _rule(name)
    if row.origin != "local":
        flash(f"{row.label} belongs to {row.origin}: switch it on or off here, or copy it as a local rule to change it.",
              "error")
        return redirect(url_for("admin.automation_rule", name=row.key))
    catalog = current_accord().catalog()
    if request.method == "GET":
        return _form_page(rule_state(automation.rule_to_spec(row), catalog), {}, rule=row)
    state = posted_state(request.form)
    state["key"] = row.key
    if _round_trip(state, request.form):
        return _form_page(state, {}, rule=row)
    patch = state_to_spec(state, catalog)
    patch.pop("key")
    try:
        automation.change_rule(row.key, patch)
    except RecordInvalid as exc:
        return _form_page(state, exc.fields, rule=row, status=422)
    flash(f"Saved the rule {patch['label'].strip()}.")
    return redirect(url_for("admin.automation_rule", name=row.key))


@bp.route("/admin/automation/<name>/delete", methods=["GET", "POST"])
@admin_only
def delete_automation_rule(name):
    """Ask, then delete a local rule (its runs stay listed, as history)."""
    row = _rule(name)
    if row.origin != "local":
        flash(f"{row.label} belongs to {row.origin}: switch it off here, or revert the pack to remove it.", "error")
        return redirect(url_for("admin.automation_rule", name=row.key))
    if request.method == "POST":
        try:
            automation.delete_rule(row.key)
        except NotFound as exc:
            flash(exc.message, "error")
        else:
            flash(f"Deleted the rule {row.label}.")
        return redirect(url_for("admin.automation_rules"))
    return render("admin/automation_delete.html", title=f"Delete {row.label}",
                  breadcrumbs=_crumbs(("Automation", url_for("admin.automation_rules")),
                                      (row.label, url_for("admin.automation_rule", name=row.key)), ("Delete", None)),
                  help_page=HELP_PAGE, rule=row, described=describe(row))


def _rule(name):
    try:
        return automation.get_rule(name)
    except NotFound as exc:
        abort(404, description=exc.message)


def _types():
    return sorted(current_accord().catalog().types.values(), key=lambda rt: rt.label)


def _type_labels():
    return {rt.key: rt.label for rt in current_accord().catalog().types.values()}


def _run_links(run):
    """The page of the record a run worked on, or ``None`` when its type is gone."""
    rt = current_accord().catalog().type(run.record_type)
    return f"/{rt.plural}/{run.record_id}" if rt is not None and run.record_id is not None else None


# The form -------------------------------------------------------------------------------


def _form_page(state, errors, rule=None, copied_from=None, status=200):
    """The rule form: ``state`` (what the inputs show) with blank rows to fill in, and the
    validator's ``errors`` placed on the inputs they name."""
    catalog = current_accord().catalog()
    rt = catalog.type(state["record_type"])
    shown = dict(state)
    shown["conditions"] = state["conditions"] + [{"field": "", "op": "eq", "value": ""}
                                                 for _ in range(state.get("blank_conditions", BLANK_CONDITIONS))]
    shown["actions"] = state["actions"] + [dict.fromkeys(("do", *PARAMS), "")
                                           for _ in range(state.get("blank_actions", BLANK_ACTIONS))]
    if rule is not None:
        title = f"Edit {rule.label}"
        trail = [(rule.label, url_for("admin.automation_rule", name=rule.key)), ("Edit", None)]
        action = url_for("admin.edit_automation_rule", name=rule.key)
    else:
        title = "New automation rule"
        trail = [("New rule", None)]
        action = url_for("admin.new_automation_rule")
    placed = {"key", "label", "record_type", "trigger", "stage", "field", "enabled", "conditions", "actions"}
    unplaced = [name for name in errors if name.split(".")[0] not in placed]
    return render("admin/automation_form.html", title=title,
                  breadcrumbs=_crumbs(("Automation", url_for("admin.automation_rules")), *trail),
                  help_page=HELP_PAGE, form=shown, errors=errors, other_errors=unplaced, rule=rule,
                  copied_from=copied_from, action=action, options=_options(catalog, rt, shown),
                  trigger_labels=TRIGGER_LABELS, op_labels=OP_LABELS, action_labels=ACTION_LABELS,
                  filled={"conditions": len(state["conditions"]), "actions": len(state["actions"])},
                  action_inputs=("do", *PARAMS), row_errors=_row_errors,
                  uses={name: [do for do, params in automation.ACTION_KEYS.items() if name in params] for name in PARAMS}
                  ), status


def _options(catalog, rt, state):
    """``(value, label)`` choices of each select, after terms (renamed labels); a value
    the type does not have (after a change of type) stays listed, marked, so nothing
    typed is lost and the validator names it."""
    types = [(t.key, t.label) for t in _types()]
    fields = [(f.name, f"{f.label or f.name} ({f.name})") for f in rt.fields.values()] if rt else []
    writable = [(f.name, f"{f.label or f.name} ({f.name})") for f in rt.writable_fields.values()] if rt else []
    stages = [(stage.key, f"{stage.label} ({pipeline.label})" if _pipelines(catalog, rt) > 1 else stage.label)
              for pipeline in catalog.pipelines.values() if rt and pipeline.record_type == rt.key
              for stage in pipeline.stages]
    return {
        "record_type": _keep(types, state["record_type"]), "stage": _keep(stages, state["stage"]),
        "field": _keep(fields, state["field"]), "fields": fields, "writable": writable,
        "kinds": [(kind, kind.replace("_", " ").capitalize()) for kind in ACTIVITY_KINDS],
        "keep": _keep,
    }


def _pipelines(catalog, rt):
    return sum(1 for pipeline in catalog.pipelines.values() if pipeline.record_type == rt.key)


def _keep(options, value):
    if value and all(option != value for option, _ in options):
        return [*options, (value, f"{value} (not known here)")]
    return options


def _row_errors(errors, group, index, placed):
    """Errors of row ``index`` of ``group`` that no input of the row shows (``_schema``...)."""
    prefix = f"{group}.{index}."
    return [" ".join(reasons) for name, reasons in errors.items()
            if name.startswith(prefix) and name[len(prefix):] not in placed]


def posted_state(form):
    """What the posted form holds, as the form shows it again: strings, rows in order with
    the blank ones left out (so row ``i`` is ``conditions.i`` of the spec)."""
    state = {name: form.get(name, "").strip() for name in ("key", "label", "record_type", "trigger", "stage", "field")}
    state["enabled"] = form.get("enabled") == "1"
    rows = {"conditions": {}, "actions": {}}
    for name in form:
        match = ROW_NAME.fullmatch(name)
        if match and int(match[2]) < MAX_ROWS:
            rows[match[1]].setdefault(int(match[2]), {})[match[3]] = form.get(name, "")
    state["conditions"] = [{"field": row.get("field", "").strip(), "op": row.get("op", "eq"),
                            "value": row.get("value", "").strip()}
                           for _, row in sorted(rows["conditions"].items())
                           if row.get("field", "").strip() or row.get("value", "").strip()]
    state["actions"] = []
    for _, row in sorted(rows["actions"].items()):
        action = {name: row.get(name, "").replace("\r\n", "\n").strip() for name in ("do", *PARAMS)}
        if any(action.values()):
            state["actions"].append(action)
    return state


def _round_trip(state, form):
    """Apply a button that only re-renders the form (add or remove a row, show another
    type's fields); ``True`` when the form is not to be saved."""
    more, remove = form.get("more"), form.get("remove", "")
    state["blank_conditions"] = BLANK_CONDITIONS + (1 if more == "condition" else 0)
    state["blank_actions"] = BLANK_ACTIONS + (1 if more == "action" else 0)
    group, _, index = remove.partition(".")
    if group in ("conditions", "actions") and index.isdigit() and int(index) < len(state[group]):
        del state[group][int(index)]
    return bool(more or remove or form.get("refresh"))


def state_to_spec(state, catalog):
    """The rule spec a posted form stands for, typed as :func:`automation.validate_rule`
    takes it: lists split at commas, numbers as numbers, a set field's value in its kind."""
    spec = {"key": state["key"], "label": state["label"], "record_type": state["record_type"],
            "trigger": state["trigger"]}
    if state["trigger"] == "stage_entered":
        spec["stage"] = state["stage"]
    elif state["trigger"] == "field_changed":
        spec["field"] = state["field"]
    rt = catalog.type(state["record_type"])
    spec["conditions"] = [_condition(row) for row in state["conditions"]]
    spec["actions"] = [_action(row, rt) for row in state["actions"]]
    return spec


def _condition(row):
    condition = {"field": row["field"] or None, "op": row["op"]}
    if row["op"] in ("in", "not_in"):
        condition["value"] = [part.strip() for part in row["value"].split(",") if part.strip()]
    elif row["op"] not in ("is_empty", "is_set") and row["value"] != "":
        condition["value"] = row["value"]
    return condition


def _action(row, rt):
    do = row["do"]
    action = {"do": do}
    for name, required in automation.ACTION_KEYS.get(do, {}).items():
        raw = row.get(name, "")
        if name == "value":
            action[name] = _set_value(rt, row.get("field", ""), raw)
        elif raw != "" or required:
            action[name] = _number(raw) if name.startswith("due_in_") else raw
    return action


def _number(text):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _set_value(rt, name, text):
    """A set-field action's typed text as the value of field ``name`` (empty clears it)."""
    f = rt.fields.get(name) if rt is not None else None
    if text == "":
        return None
    if f is None:
        return text
    if f.kind == "boolean":
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower(), text)
    if f.kind in ("integer", "reference") and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if f.kind == "multi_choice":
        return [part.strip() for part in text.split(",") if part.strip()]
    if f.kind == "money":
        amount, _, currency = text.partition(" ")
        return {"amount": amount, "currency": currency.strip().upper()} if currency.strip() else {"amount": amount}
    return text


def rule_state(spec, catalog):
    """A stored rule's spec as the form shows it (every value as text)."""
    state = {"key": spec["key"], "label": spec["label"], "record_type": spec["record_type"],
             "trigger": spec["trigger"], "stage": spec.get("stage", ""), "field": spec.get("field", ""),
             "enabled": spec.get("enabled", True)}
    state["conditions"] = [{"field": c.get("field", ""), "op": c.get("op", "eq"), "value": as_text(c.get("value"))}
                           for c in spec.get("conditions", [])]
    state["actions"] = [{"do": a.get("do", ""), **{name: as_text(a.get(name)) for name in PARAMS}}
                        for a in spec.get("actions", [])]
    return state


def as_text(value):
    """A stored value as the form's text: lists joined by commas, money as ``amount CUR``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(as_text(item) for item in value)
    if isinstance(value, dict):
        return " ".join(str(value[name]) for name in ("amount", "currency") if value.get(name) is not None)
    return str(value)


# A rule in words ------------------------------------------------------------------------


def describe(row):
    """``{"when", "conditions", "actions"}``: a rule's definition as sentences, with the
    labels people see (after terms)."""
    catalog = current_accord().catalog()
    rt = catalog.type(row.record_type)
    type_label = rt.label if rt else row.record_type

    def field_label(name):
        f = rt.fields.get(name) if rt else None
        return f.label or name if f else name

    if row.trigger == "created":
        when = f"A {type_label.lower()} is created"
    elif row.trigger == "stage_entered":
        stage = next((s.label for p in catalog.pipelines.values() if rt and p.record_type == rt.key
                      for s in p.stages if s.key == row.trigger_value), row.trigger_value)
        when = f"A {type_label.lower()} enters the stage {stage}"
    else:
        when = f"The {field_label(row.trigger_value)} of a {type_label.lower()} changes"
    conditions = []
    for c in row.conditions or ():
        text = f"{field_label(c.get('field'))} {OP_LABELS.get(c.get('op'), c.get('op'))}"
        if "value" in c:
            text += f" {as_text(c['value'])}"
        conditions.append(text)
    actions = [_action_words(a, field_label) for a in row.actions or ()]
    return {"when": when, "conditions": conditions, "actions": actions}


def _action_words(action, field_label):
    do = action.get("do")
    if do == "create_task":
        due = [f"{action[n]} {unit if action[n] == 1 else unit + 's'}"
               for n, unit in (("due_in_days", "day"), ("due_in_hours", "hour")) if action.get(n)]
        return (f"Create the task “{action.get('subject')}”" + (f", due in {' and '.join(due)}" if due else ", due now")
                + f", for {action.get('assign_to', 'owner')}")
    if do == "create_activity":
        return f"Log a {action.get('kind')} “{action.get('subject')}”"
    if do == "set_field":
        value = as_text(action.get("value"))
        return f"Set {field_label(action.get('field'))} to {value}" if value else f"Clear {field_label(action.get('field'))}"
    if do == "assign_owner":
        return f"Assign the owner {action.get('user')}"
    if do == "notify":
        return f"Email {action.get('to')}: “{action.get('subject')}”"
    return str(action)
