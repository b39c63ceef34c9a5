"""Record pages: one record's detail page (with its history from the audit trail), its
create and edit forms (with an honest answer when someone else saved first), moving it to
the trash, and its activity timeline.

Every page is drawn from the record type's descriptor (:mod:`.forms` for the controls,
:mod:`.record_view` for what the detail page shows) and every write goes through the
service layer, so a plugin's type, a vertical's or a custom field gets the same pages
with no code of its own.
"""

import json
import logging
from contextlib import suppress
from dataclasses import replace

from flask import Blueprint, abort, flash, g, redirect, request
from markupsafe import Markup

from .. import audit, permissions
from ..errors import (
    AccordError,
    HookFailed,
    NotFound,
    PreconditionFailed,
    RecordInvalid,
)
from ..registry import current_accord
from . import forms, listing, present, record_view
from .rendering import render
from .records import type_at

log = logging.getLogger("accord.web")

bp = Blueprint("record_pages", __name__)

LOG_FIELDS = ("kind", "subject", "body", "due_at", "done")
"""The activity fields the timeline's "Log an activity" form asks for."""
REGARDING = ("related_type", "related_id")
FORM_KEYS = ("csrf_token", "_version", "_shown")
"""Posted keys that are not field values (a conflict page re-posts all the others)."""


# Detail ---------------------------------------------------------------------------------


@bp.get("/<plural>/<int:record_id>", endpoint="detail")
def detail(plural, record_id):
    rt = type_at(plural)
    record = _record(rt, record_id)
    audit.record_view(record, g.accord_actor)
    return _detail_page(rt, record)


def _detail_page(rt, record, log_form=None, log_errors=None):
    catalog = current_accord().catalog()
    page = record_view.build(catalog, rt, record, request.args.get("timeline"), request.args.get("history"))
    if page.timeline is not None:
        activity = catalog.type("activity")
        fields = _log_fields(activity)
        page.timeline["form"] = forms.controls(
            fields, values={"kind": "call"}, form=log_form, errors=log_errors, id_prefix="activity-")
        page.timeline["form_problems"] = _unplaced(log_errors, fields)
        page.timeline["open"] = bool(log_errors)
    url = present.record_url(rt, record.id)
    return render("record_pages/detail.html", title=record.title, rt=rt, record=record, page=page, url=url,
                  when=record_view.when, iso=record_view.iso, help_page="record_pages.detail",
                  breadcrumbs=[(rt.plural_label, f"/{rt.plural}"), (record.title, None)])


# Create and edit ------------------------------------------------------------------------


@bp.route("/<plural>/new", methods=["GET", "POST"], endpoint="new")
def new(plural):
    rt = type_at(plural)
    permissions.require(g.accord_actor, rt, "create")
    if request.method == "GET":
        return _form_page(rt, None, values=_starting_values(rt))
    data, errors = _posted(rt, None)
    status = 422
    if not errors:
        try:
            record = current_accord().records.create(rt.key, data, g.accord_actor)
        except AccordError as exc:
            errors, status = _refusal(rt, data, exc)
        else:
            flash(f"Created {rt.label.lower()} “{record.title}”.")
            return redirect(present.record_url(rt, record.id))
    return _form_page(rt, None, form=request.form, errors=errors), status


@bp.route("/<plural>/<int:record_id>/edit", methods=["GET", "POST"], endpoint="edit")
def edit(plural, record_id):
    rt = type_at(plural)
    record = _record(rt, record_id)
    permissions.require(g.accord_actor, rt, "update")
    if request.method == "GET":
        return _form_page(rt, record, values=record.values, version=record.version,
                          baseline=_shown(rt, record.values))
    version = _posted_version()
    baseline = _posted_baseline(rt, record)
    data, errors = _posted(rt, baseline)
    status = 422
    if not errors:
        if not data:
            flash(f"Nothing changed in {rt.label.lower()} “{record.title}”.")
            return redirect(present.record_url(rt, record.id))
        try:
            saved = current_accord().records.update(rt.key, record.id, data, g.accord_actor, expected_version=version)
        except PreconditionFailed:
            return _conflict_page(rt, record.id, data, baseline)
        except NotFound as exc:
            abort(404, description=exc.message)
        except AccordError as exc:
            errors, status = _refusal(rt, {**record.values, **data}, exc)
        else:
            flash(f"Saved {rt.label.lower()} “{saved.title}”.")
            return redirect(present.record_url(rt, record.id))
    return _form_page(rt, record, form=request.form, errors=errors, version=version, baseline=baseline), status


def _posted(rt, baseline=None):
    """``(data, errors)`` from the posted form. A new record gets its filled-in fields. An
    edit sends only what the person changed (what differs from ``baseline``, the form as it
    was opened): an untouched field is never rewritten, so a time keeps its seconds and
    what someone else saved meanwhile in another field stays."""
    editing = baseline is not None
    fields = _writable(rt)
    if editing:
        fields = {name: fields[name] for name in forms.changed(fields, request.form, baseline)}
    data, errors = forms.parse(fields, request.form, omit_empty=not editing)
    for relation in rt.relations:
        try:
            ids = forms.parse_ids(request.form, relation.name)
        except ValueError as exc:
            errors[relation.name] = [str(exc)]
            continue
        wanted = sorted(map(str, ids)) != baseline.get(relation.name) if editing else bool(ids)
        if wanted:
            data[relation.name] = ids
    return data, _with_schema_errors(rt, data, errors, partial=editing)


def _with_schema_errors(rt, data, errors, partial):
    """When some input could not even be read, the schema's verdict on the rest as well,
    so every problem shows at once rather than one round after another."""
    if not errors:
        return errors
    rest = {name: value for name, value in data.items() if name not in errors}
    found = current_accord().catalog().schema(rt).validate(rest, partial=partial)
    return {**{name: found[name] for name in found if name not in errors}, **errors}


def _shown(rt, values):
    """What the edit form shows for ``values``, fields and relations (see :func:`forms.shown`)."""
    baseline = forms.shown(_writable(rt), values)
    baseline.update({r.name: sorted(str(i) for i in values.get(r.name) or ()) for r in rt.relations})
    return baseline


def _posted_baseline(rt, record):
    """The form as it was opened, carried in ``_shown``; without it (an old or hand-made
    post), what the form would show for the record as stored now."""
    try:
        baseline = json.loads(request.form.get("_shown", ""))
    except ValueError:
        baseline = None
    return baseline if isinstance(baseline, dict) else _shown(rt, record.values)


def _refusal(rt, values, exc):
    """``(errors, status)`` for a refused write of ``values`` (for an edit, the record as it
    would have been saved): field reasons where they belong."""
    if isinstance(exc, RecordInvalid):
        return _close_reason_errors(rt, values, exc.fields), 422
    if isinstance(exc, HookFailed):
        log.error("%s", exc.message, exc_info=exc.__cause__)
    return {"": [exc.message]}, exc.status


def _close_reason_errors(rt, values, errors):
    """A move to won or lost without one of the stage's close reasons is told on the close
    reason, the field the person must fill in, rather than on the stage."""
    if "stage" not in errors or "close_reason" not in rt.fields:
        return errors
    pipeline = current_accord().catalog().pipeline_for(rt, values.get("pipeline"))
    stage = pipeline.stage(values.get("stage")) if pipeline else None
    if stage is None or stage.outcome == "open" or not stage.reasons or values.get("close_reason") in stage.reasons:
        return errors
    about = [reason for reason in errors["stage"] if "close_reason" in str(reason)]
    if not about:
        return errors
    rest = [reason for reason in errors["stage"] if reason not in about]
    errors = {name: reasons for name, reasons in errors.items() if name != "stage"}
    if rest:
        errors["stage"] = rest
    choices = ", ".join(_reason_label(key) for key in stage.reasons)
    errors["close_reason"] = [f"Moving to {stage.label} needs a close reason: one of {choices}."]
    return errors


def _form_page(rt, record, values=None, form=None, errors=None, version=None, baseline=None):
    catalog = current_accord().catalog()
    fields = _writable(rt)
    chosen = form if form is not None else values
    options, hints = _options(catalog, rt, chosen, record)
    built = forms.controls(fields, values=values, form=form, errors=errors, options=options, hints=hints)
    built = [_pipeline_control(rt, control) for control in built]
    relations = []
    for relation in rt.relations:
        target = catalog.type(relation.target)
        ids = (values or {}).get(relation.name)
        choices = forms.record_options(target, g.accord_actor)
        hint = _id_hint(catalog, target, ids, several=True) if choices is None else ""
        relations.append(forms.id_list_control(relation.name, relation.label or target.plural_label, ids=ids,
                                               form=form, errors=errors, options=choices, hint=hint))
    everything = built + relations
    problems = [(c.label, c.id, c.errors) for c in everything if c.errors]
    problems += [(None, None, reasons) for reasons in _unplaced(errors, fields, rt.relations)]
    list_url = f"/{rt.plural}"
    if record is None:
        heading, action, cancel = f"New {rt.label}", f"{list_url}/new", list_url
        crumbs = [(rt.plural_label, list_url), (heading, None)]
    else:
        url = present.record_url(rt, record.id)
        heading, action, cancel = f"Edit {record.title}", f"{url}/edit", url
        crumbs = [(rt.plural_label, list_url), (record.title, url), ("Edit", None)]
    return render("record_pages/form.html", title=heading, breadcrumbs=crumbs, rt=rt, heading=heading,
                  action=action, cancel=cancel, version=version, problems=problems,
                  shown=json.dumps(baseline, separators=(",", ":")) if baseline is not None else None,
                  main=[c for c in built if not fields[c.name].custom], relations=relations,
                  more=[c for c in built if fields[c.name].custom])


def _options(catalog, rt, chosen, record):
    """Selects for references (when few enough records), the pipeline, its stages (for a
    stored record, its stage and those allowed next) and the close reasons; hints for
    references that ask for an id."""
    stored = record.values if record is not None else {}
    options, hints, cache = {}, {}, {}
    for name, f in _writable(rt).items():
        target = catalog.type(f.reference) if f.kind == "reference" else None
        if target is None:
            continue
        if target.key not in cache:
            cache[target.key] = forms.record_options(target, g.accord_actor)
        options[name] = cache[target.key]
        if options[name] is None:
            hints[name] = _id_hint(catalog, target, stored.get(name))
        elif stored.get(name) is not None and all(key != stored[name] for key, _label in options[name]):
            title = listing.reference_titles(catalog, {target.key: {stored[name]}}, {}).get(
                (target.key, stored[name]), (f"{target.label} {stored[name]}", False))[0]
            options[name] += ((stored[name], f"{title} (no longer offered)"),)
    if "stage" in rt.fields and "pipeline" in rt.fields and catalog.pipeline_for(rt) is not None:
        mine = [p for p in catalog.pipelines.values() if p.record_type == rt.key]
        options["pipeline"] = tuple((p.key, p.label) for p in mine)
        picked = (chosen or {}).get("pipeline") or None
        pipeline = catalog.pipeline_for(rt, picked) or catalog.pipeline_for(rt)
        stages = pipeline.stages
        now = pipeline.stage(stored.get("stage")) if stored.get("pipeline") == pipeline.key else None
        if now is not None and now.allowed_next is not None:
            stages = [s for s in stages if s.key == now.key or s.key in now.allowed_next]
        options["stage"] = tuple((s.key, s.label) for s in stages)
        reasons = dict.fromkeys(r for p in mine for s in p.stages if s.outcome != "open" for r in s.reasons)
        if reasons and rt.fields.get("close_reason") and rt.fields["close_reason"].kind == "text":
            options["close_reason"] = tuple((key, _reason_label(key)) for key in reasons)
    return options, hints


def _id_hint(catalog, target, current, several=False):
    """How to fill in a box that asks for ids, and what it holds now, by title."""
    noun = target.plural_label.lower() if several else target.label.lower()
    if several:
        hint = (f"The ids of the {noun}, separated by commas: the number at the end of each one's page "
                f"address (see {target.plural_label}).")
    else:
        hint = f"The {noun}'s id: the number at the end of its page address (see {target.plural_label})."
    ids = [i for i in (current if several else [current]) if i is not None] if current else []
    if ids:
        titles = listing.reference_titles(catalog, {target.key: set(ids)}, {})
        hint += " Now: " + ", ".join(
            f"{titles.get((target.key, i), (f'{target.label} {i}', False))[0]} ({i})" for i in ids) + "."
    return hint


def _pipeline_control(rt, control):
    """A pipelined record always has a pipeline and a stage: offer no empty choice, and
    leave out the help meant for the API (keys), since the choices speak for themselves."""
    if control.name in ("pipeline", "stage") and control.options and "stage" in rt.fields:
        return replace(control, required=True, hint="")
    return control


def _reason_label(key):
    return key.replace("_", " ").capitalize()


def _starting_values(rt):
    """A new record's form: the fields' defaults, the signed-in user as owner, the default
    pipeline's first stage, then anything the link named (``?organization_id=5``)."""
    catalog = current_accord().catalog()
    values = {name: f.default for name, f in _writable(rt).items() if f.default is not None}
    if "owner_id" in _writable(rt):
        values["owner_id"] = g.accord_user.id
    pipeline = catalog.pipeline_for(rt) if "stage" in rt.fields else None
    if pipeline is not None:
        values.update(pipeline=pipeline.key, stage=pipeline.first_stage.key)
    named = {name: f for name, f in _writable(rt).items() if name in request.args and f.kind != "boolean"}
    given, _refused = forms.parse(named, request.args)
    values.update({name: value for name, value in given.items() if value is not None})
    for relation in rt.relations:
        with suppress(ValueError):  # a mangled link prefills nothing rather than failing
            values[relation.name] = forms.parse_ids(request.args, relation.name)
    return values


def _posted_version():
    raw = request.form.get("_version", "")
    if not raw.isdigit():
        abort(400, description="The form lacks the version of the record it edits; reload the page and try again.")
    return int(raw)


def _unplaced(errors, fields, relations=()):
    """Reasons about no control on the form (a rule over several fields, a plugin's check)."""
    placed = set(fields) | {relation.name for relation in relations}
    return [forms.reasons(reasons) for name, reasons in (errors or {}).items() if name not in placed]


# Someone else saved first -----------------------------------------------------------------


def _conflict_page(rt, record_id, data, baseline):
    """The fields the person changed whose stored value now differs, side by side, and the
    choice between them. Nothing is written until the person chooses; choosing theirs
    changes nothing, choosing mine re-posts only the fields the person changed."""
    catalog = current_accord().catalog()
    current = _record(rt, record_id)
    mine = {**current.values, **catalog.schema(rt).load(data, partial=True)}
    names = [name for name in data if not record_view.same(mine.get(name), current.get(name))]
    if not names:
        flash(f"{rt.label} “{current.title}” was saved meanwhile with the same values as yours.")
        return redirect(present.record_url(rt, current.id))
    rows = record_view.compare(catalog, rt, names, mine, current.values)
    url = present.record_url(rt, current.id)
    repost = [(k, v) for k, v in request.form.items(multi=True) if k not in FORM_KEYS]
    repost.append(("_shown", json.dumps({k: v for k, v in baseline.items() if k not in data}, separators=(",", ":"))))
    return render("record_pages/conflict.html", title=f"{current.title} was changed meanwhile", rt=rt,
                  record=current, rows=rows, repost=repost, url=url, when=record_view.when, iso=record_view.iso,
                  breadcrumbs=[(rt.plural_label, f"/{rt.plural}"), (current.title, url), ("Edit", None)]), 409


# Trash ----------------------------------------------------------------------------------


@bp.route("/<plural>/<int:record_id>/delete", methods=["GET", "POST"], endpoint="delete")
def delete(plural, record_id):
    """Ask first (a page, so it works without JavaScript), then move the record to the trash."""
    rt = type_at(plural)
    record = _record(rt, record_id)
    permissions.require(g.accord_actor, rt, "delete")
    url = present.record_url(rt, record.id)
    if request.method == "GET":
        return render("record_pages/delete.html", title=f"Move {record.title} to the trash?", rt=rt, record=record,
                      url=url, breadcrumbs=[(rt.plural_label, f"/{rt.plural}"), (record.title, url), ("Trash", None)])
    try:
        current_accord().records.delete(rt.key, record.id, g.accord_actor)
    except NotFound as exc:
        abort(404, description=exc.message)
    except AccordError as exc:
        flash(f"{rt.label} “{record.title}” was not moved to the trash: {exc.message}", "error")
        return redirect(url)
    flash(Markup("{} “{}” moved to the trash — <a href=\"{}\">Restore</a>").format(
        rt.label, record.title, f"/{rt.plural}/trash"))
    return redirect(f"/{rt.plural}")


# Timeline -------------------------------------------------------------------------------


@bp.post("/<plural>/<int:record_id>/activities", endpoint="log_activity")
def log_activity(plural, record_id):
    """Log a call, email, meeting, task or note regarding this record."""
    rt = type_at(plural)
    record = _record(rt, record_id)
    activity = current_accord().catalog().type("activity")
    if activity is None or not rt.timeline:
        abort(404, description=f"{rt.plural_label} have no timeline.")
    fields = _log_fields(activity)
    data, errors = forms.parse(fields, request.form, omit_empty=True)
    errors = _with_schema_errors(activity, data, errors, partial=True)
    if not errors:
        try:
            logged = current_accord().records.create(
                activity.key, {**data, "related_type": rt.key, "related_id": record.id}, g.accord_actor)
        except AccordError as exc:
            errors = _refusal(activity, data, exc)[0]
        else:
            kind = present.show(activity.fields["kind"], logged.get("kind")).lower()
            flash(f"Logged the {kind} “{logged.title}”.")
            return redirect(present.record_url(rt, record.id) + "#timeline")
    return _detail_page(rt, record, log_form=request.form, log_errors=errors), 422


@bp.post("/<plural>/<int:record_id>/activities/<int:activity_id>/done", endpoint="task_done")
def task_done(plural, record_id, activity_id):
    """Mark a task on this record's timeline as done."""
    rt = type_at(plural)
    back = present.record_url(rt, _record(rt, record_id).id) + "#timeline"
    try:
        task = current_accord().records.update("activity", activity_id, {"done": True}, g.accord_actor)
    except NotFound as exc:
        abort(404, description=exc.message)
    except AccordError as exc:
        flash(f"The task was not marked done: {exc.message}", "error")
        return redirect(back)
    flash(f"Marked “{task.title}” done.")
    return redirect(back)


def _log_fields(activity):
    """The fields of the log form: the usual ones, plus any required field an admin added."""
    writable = activity.writable_fields
    names = [n for n in LOG_FIELDS if n in writable]
    names += [n for n, f in writable.items() if f.required and n not in names and n not in REGARDING]
    return {name: writable[name] for name in names}


# Lookups --------------------------------------------------------------------------------


def _writable(rt):
    """The fields of ``rt`` the signed-in user may fill in: sensitive ones only with the right."""
    hidden = permissions.hidden_fields(g.accord_actor, rt)
    return {name: f for name, f in rt.writable_fields.items() if name not in hidden}


def _record(rt, record_id):
    try:
        return permissions.conceal(g.accord_actor, current_accord().records.get(rt.key, record_id, actor=g.accord_actor))
    except NotFound:
        abort(404, description=f"There is no {rt.label.lower()} {record_id}; it may have been moved to the trash.")

