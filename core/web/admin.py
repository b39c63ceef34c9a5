"""The admin pages (``/admin``): switch plugins on and off and set their settings, add,
edit and remove custom fields, choose the theme, watch and retry background jobs.

Administrators only; everyone else gets the 403 page. The views are thin: they call the
same service functions as the CLI and the admin API (:mod:`accord.core.lifecycle`,
:mod:`accord.core.customfields`, :mod:`accord.core.themes`), so a change made here reaches
every worker on its next request, and a refusal reads the same everywhere.
"""

import logging
import re
import unicodedata
from functools import wraps

from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from sqlalchemy import select

from .. import customfields, jobs, lifecycle
from ..db import db
from ..errors import AccordError, NotFound, RecordInvalid
from ..fields import KINDS
from ..models import JOB_STATES, CustomField
from ..plugin_settings import setting_field
from ..records import write_unit
from ..registry import current_accord
from ..themes import active_theme_name, use_theme
from .rendering import current_theme, render

log = logging.getLogger("accord.web")

bp = Blueprint("admin", __name__)

KIND_WORDS = {
    "text": "Text", "long_text": "Long text", "integer": "Whole number", "decimal": "Decimal number",
    "money": "Money (amount and currency)", "date": "Date", "datetime": "Date and time", "boolean": "Yes or no",
    "choice": "Choice (one of a list)", "multi_choice": "Choices (several of a list)", "email": "Email address",
    "phone": "Phone number", "url": "Web address", "reference": "Link to another record",
}
KIND_LABELS = {kind: KIND_WORDS.get(kind, kind) for kind in KINDS}
"""Every field kind as an admin reads it (a kind added later shows by its key)."""
FLAGS = ("required", "indexed", "searchable", "pii")


def admin_only(view):
    """Refuse the page (403) to anyone who is not an administrator."""

    @wraps(view)
    def checked(*args, **kwargs):
        if not g.accord_user.is_admin:
            abort(403, description="Only administrators manage plugins, fields, themes and jobs.")
        return view(*args, **kwargs)

    return checked


def _by():
    user = g.accord_user
    return f"web:{user.name or user.id}"


def _back(default):
    """Where to go after an action: the admin page it came from, else ``default``."""
    target = request.form.get("next", "")
    return target if target.startswith("/admin") and not target.startswith("//") else default


# Overview -------------------------------------------------------------------------------


@bp.get("/admin")
@admin_only
def index():
    accord = current_accord()
    catalog = accord.catalog()
    enabled = set(lifecycle.enabled_names())
    summary = {
        "installed": len(accord.installed), "enabled": len(enabled & set(accord.installed)),
        "broken": sorted(name for name, plugin in accord.installed.items() if plugin.broken),
        "types": len(catalog.types),
        "custom_fields": sum(1 for rt in catalog.types.values() for f in rt.fields.values() if f.custom),
        "theme": accord.themes[current_theme()], "themes": len(accord.themes),
        "broken_themes": len(accord.theme_problems), "jobs": jobs.counts(),
    }
    return render("admin/index.html", title="Administration", breadcrumbs=[("Administration", None)],
                  summary=summary)


# Plugins --------------------------------------------------------------------------------


@bp.get("/admin/plugins")
@admin_only
def plugins():
    report = lifecycle.plugin_report()
    return render("admin/plugins.html", title="Plugins", breadcrumbs=_crumbs(("Plugins", None)), plugins=report,
                  broken=[entry for entry in report if entry["error"] or entry["status"] == "missing"])


@bp.get("/admin/plugins/<name>")
@admin_only
def plugin(name):
    return _plugin_page(_report(name))


def _plugin_page(entry, submitted=None, errors=None, status=200):
    manifest = _manifest(entry["name"])
    settings = _settings_form(manifest, entry, submitted, errors or {}) if manifest and not entry["error"] else []
    return render("admin/plugin.html", title=entry.get("title") or entry["name"],
                  breadcrumbs=_crumbs(("Plugins", url_for("admin.plugins")), (entry.get("title") or entry["name"], None)),
                  plugin=entry, settings=settings, errors=errors or {}), status


@bp.post("/admin/plugins/<name>/settings")
@admin_only
def plugin_settings(name):
    entry = _report(name)
    manifest = _manifest(name)
    if manifest is None or entry["error"]:
        flash(f"{entry['name']} cannot be configured while it is {entry['status']}.", "error")
        return redirect(url_for("admin.plugin", name=name))
    changes, errors = {}, {}
    for key, setting in manifest.settings.items():
        try:
            value = _setting_value(setting, request.form)
        except ValueError as exc:
            errors[key] = [str(exc)]
            continue
        if value != entry["settings"][key]["value"]:
            changes[key] = value
    if errors:
        return _plugin_page(entry, request.form, errors, 422)
    if not changes:
        flash("Nothing changed.")
        return redirect(url_for("admin.plugin", name=name))
    try:
        lifecycle.update_settings(name, changes, by=_by())
    except RecordInvalid as exc:
        return _plugin_page(entry, request.form, exc.fields, 422)
    except AccordError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.plugin", name=name))
    flash(f"Saved the settings of {entry.get('title') or name}; every worker uses them from its next request.")
    return redirect(url_for("admin.plugin", name=name))


@bp.post("/admin/plugins/<name>/enable")
@admin_only
def enable_plugin(name):
    try:
        switched = lifecycle.enable(name, by=_by())
    except AccordError as exc:
        flash(f"Could not enable {name}: {exc.message}", "error")
    except Exception as exc:  # noqa: BLE001 - a plugin's own migration failed; nothing was changed
        log.exception("enabling plugin %s failed", name)
        flash(f"Could not enable {name}; nothing was changed. {type(exc).__name__}: {exc}", "error")
    else:
        flash(f"Enabled {', '.join(switched)}." if switched else f"{name} was already enabled.")
    return redirect(_back(url_for("admin.plugins")))


@bp.route("/admin/plugins/<name>/disable", methods=["GET", "POST"])
@admin_only
def disable_plugin(name):
    """Switch a plugin off; when others require it, first show what would go and ask."""
    entry = _report(name)
    going = lifecycle.disable_plan(name)
    cascade = request.form.get("cascade") == "1"
    if request.method == "POST" and len(going) > 1 and not cascade:
        return redirect(url_for("admin.disable_plugin", name=name))
    if request.method == "GET":
        if not going:
            flash(f"{name} is not enabled.")
            return redirect(url_for("admin.plugins"))
        return render("admin/disable.html", title=f"Disable {entry.get('title') or name}",
                      breadcrumbs=_crumbs(("Plugins", url_for("admin.plugins")), ("Disable", None)),
                      plugin=entry, going=going)
    try:
        switched = lifecycle.disable(name, cascade=cascade, by=_by())
    except AccordError as exc:
        flash(f"Could not disable {name}: {exc.message}", "error")
    else:
        flash(f"Disabled {', '.join(switched)}; their data is kept." if switched else f"{name} is not enabled.")
    return redirect(_back(url_for("admin.plugins")))


def _report(name):
    try:
        return lifecycle.plugin_report(name)[0]
    except NotFound as exc:
        abort(404, description=exc.message)


def _manifest(name):
    plugin = current_accord().installed.get(name)
    return plugin.manifest if plugin else None


def _settings_form(manifest, entry, submitted, errors):
    """One row per setting: its field (same kinds as record fields), what the input shows
    (the stored value, or what was typed when the form came back with errors) and its errors."""
    rows = []
    for key, setting in manifest.settings.items():
        f = setting_field(setting)
        if submitted is None:
            value = entry["settings"][key]["value"]
        elif setting.kind == "multi_choice":
            value = submitted.getlist(f"setting-{key}")
        elif setting.kind == "boolean":
            value = f"setting-{key}" in submitted
        else:
            value = submitted.get(f"setting-{key}", "")
        rows.append({"key": key, "id": f"setting-{key}", "field": f, "setting": setting, "value": value,
                     "options": [(c.key, c.label) for c in f.choices], "errors": errors.get(key, [])})
    return rows


def _setting_value(setting, form):
    """A setting's input as the JSON value :func:`lifecycle.update_settings` checks; an
    empty input is ``None`` (refused for required settings); raises ``ValueError``."""
    key = f"setting-{setting.name}"
    if setting.kind == "boolean":
        return key in form
    if setting.kind == "multi_choice":
        return form.getlist(key) or None
    raw = form.get(key, "").strip()
    if raw == "":
        return None
    if setting.kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("Enter a whole number.") from None
    return raw


# Fields ---------------------------------------------------------------------------------


@bp.get("/admin/fields")
@admin_only
def fields():
    catalog = current_accord().catalog()
    key = request.args.get("type") or ("contact" if catalog.type("contact") else next(iter(sorted(catalog.types)), None))
    return _fields_page(_record_type(key), {}, {})


@bp.post("/admin/fields/<type_key>")
@admin_only
def add_field(type_key):
    rt = _record_type(type_key)
    form = request.form
    spec = {"kind": form.get("kind", ""), "help": form.get("help", "").strip(),
            **{flag: flag in form for flag in FLAGS}}
    label = form.get("label", "").strip()
    if label:
        spec["label"] = label
    spec["name"] = form.get("name", "").strip() or slug(label)
    choices = choice_lines(form.get("choices", ""))
    if choices:
        spec["choices"] = choices
    if form.get("reference"):
        spec["reference"] = form["reference"]
    try:
        if not label:
            raise RecordInvalid({"label": ["Give the field a label: the name people see on forms and lists."]})
        f = customfields.add_field(rt.key, spec, g.accord_actor)
    except RecordInvalid as exc:
        errors = dict(exc.fields)
        if "choices" in errors and not choices:
            errors["choices"] = ["Give at least one choice, one per line."]
        return _fields_page(rt, form, errors, 422)
    flash(f"Added the field {f.label} to {rt.plural_label}.")
    return redirect(url_for("admin.fields", type=rt.key))


@bp.route("/admin/fields/<type_key>/<name>/edit", methods=["GET", "POST"])
@admin_only
def edit_field(type_key, name):
    rt, f = _custom_field(type_key, name)
    form, errors, status = None, {}, 200
    if request.method == "POST":
        form = request.form
        changes = {"label": form.get("label", "").strip(), "help": form.get("help", "").strip(),
                   "required": "required" in form}
        if f.kind in customfields.CHOICE_KINDS:
            changes["choices"] = choice_lines(form.get("choices", ""))
        try:
            customfields.update_field(rt.key, name, changes, g.accord_actor)
        except RecordInvalid as exc:
            errors, status = exc.fields, 422
        else:
            flash(f"Saved the field {changes['label']} of {rt.plural_label}.")
            return redirect(url_for("admin.fields", type=rt.key))
    return render("admin/field_edit.html", title=f"Edit {f.label}", breadcrumbs=_field_crumbs(rt, f"Edit {f.label}"),
                  record_type=rt, field=f, kind_label=KIND_LABELS[f.kind], form=form, errors=errors,
                  choices_text=_choices_text(f)), status


@bp.route("/admin/fields/<type_key>/<name>/remove", methods=["GET", "POST"])
@admin_only
def remove_field(type_key, name):
    """Remove a custom field (values kept, hidden) or, with purge, erase its values too; a
    field removed earlier can only be purged."""
    rt = _record_type(type_key)
    f = rt.fields.get(name)
    removed = f is None
    if not removed:
        rt, f = _custom_field(type_key, name)
    elif _removed_field(rt, name) is None:
        abort(404, description=f"{rt.label} has no custom field {name!r}.")
    if request.method == "POST":
        purge = removed or request.form.get("purge") == "1"
        try:
            customfields.remove_field(rt.key, name, purge=purge)
        except AccordError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Erased the stored values of {name}." if removed else
                  f"Removed the field {f.label}{' and erased its values' if purge else '; its values are kept'}.")
        return redirect(url_for("admin.fields", type=rt.key))
    label = f.label if f else name
    return render("admin/field_remove.html", title=f"Remove {label}", breadcrumbs=_field_crumbs(rt, f"Remove {label}"),
                  record_type=rt, field=f, name=name, label=label)


def _fields_page(rt, form, errors, status=200):
    types = sorted(current_accord().catalog().types.values(), key=lambda t: t.label)
    removed = db.session.execute(select(CustomField).where(
        CustomField.record_type == rt.key, CustomField.removed_at.is_not(None)).order_by(CustomField.name)).scalars().all()
    return render("admin/fields.html", title="Fields", breadcrumbs=_crumbs(("Fields", None)),
                  record_type=rt, types=types, reference_options=[(t.key, t.label) for t in types],
                  removed=removed, form=form, errors=errors, kinds=KIND_LABELS, flags=FLAGS), status


def _record_type(key):
    rt = current_accord().catalog().type(key) if key else None
    if rt is None:
        abort(404, description=f"There is no record type {key!r}.")
    return rt


def _custom_field(type_key, name):
    """The record type and one custom field an admin added here (404 for anything else:
    built-in fields cannot change, and a plugin manages its own)."""
    rt = _record_type(type_key)
    f = rt.fields.get(name)
    if f is None or not f.custom or f.origin != "local":
        abort(404, description=f"{rt.label} has no field {name!r} that admins can change here.")
    return rt, f


def _removed_field(rt, name):
    return db.session.execute(select(CustomField).where(
        CustomField.record_type == rt.key, CustomField.name == name, CustomField.removed_at.is_not(None))).scalar()


def _field_crumbs(rt, label):
    return _crumbs(("Fields", url_for("admin.fields")), (rt.plural_label, url_for("admin.fields", type=rt.key)), (label, None))


def _choices_text(f):
    return "\n".join(f"{c.key} = {c.label}" for c in f.choices)


def slug(text):
    """A field or choice key from what a person typed: ``"Loyalty tier"`` → ``loyalty_tier``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if key and not key[0].isalpha():
        key = f"f_{key}"
    return key[:63]


def choice_lines(text):
    """Choices typed one per line: ``key = Label``, or just a label (its key made from it)."""
    choices = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, label = line.partition("=")
        if sep:
            choices.append({"key": key.strip(), "label": label.strip() or key.strip()})
        else:
            choices.append({"key": slug(line) or line, "label": line})
    return choices


# Themes ---------------------------------------------------------------------------------


@bp.get("/admin/themes")
@admin_only
def themes():
    accord = current_accord()
    wanted = active_theme_name(accord.catalog().instance_settings)
    return render("admin/themes.html", title="Themes", breadcrumbs=_crumbs(("Themes", None)),
                  themes=sorted(accord.themes.values(), key=lambda t: (t.name != "default", t.title)),
                  problems=sorted(accord.theme_problems.items()), active=current_theme(),
                  missing=wanted if wanted not in accord.themes else None)


@bp.post("/admin/themes/<name>/use")
@admin_only
def choose_theme(name):
    accord = current_accord()
    try:
        with write_unit() as session:
            use_theme(session, accord.themes, name)
    except AccordError as exc:
        flash(exc.message, "error")
    else:
        accord.forget_catalog()
        flash(f"{accord.themes[name].title} is now the theme of this instance, for everyone from their next page.")
    return redirect(url_for("admin.themes"))


# Jobs -----------------------------------------------------------------------------------

JOBS_SHOWN = 50


@bp.get("/admin/jobs")
@admin_only
def job_queue():
    state = request.args.get("state") or None
    if state is not None and state not in JOB_STATES:
        state = None
    return render("admin/jobs.html", title="Background jobs", breadcrumbs=_crumbs(("Background jobs", None)),
                  counts=jobs.counts(), state=state, states=JOB_STATES, rows=jobs.listing(state, limit=JOBS_SHOWN),
                  shown=JOBS_SHOWN)


@bp.post("/admin/jobs/retry")
@admin_only
def retry_jobs():
    """Retry one failed job (``job_id``) or every failed one."""
    raw = request.form.get("job_id", "")
    ids = [int(raw)] if raw.isdigit() else [job.id for job in jobs.listing("failed", limit=1000)]
    app = current_app._get_current_object()
    retried = 0
    for job_id in ids:
        try:
            jobs.retry(app, job_id)
            retried += 1
        except AccordError as exc:
            flash(exc.message, "error")
    if retried:
        flash(f"Queued {retried} failed {'job' if retried == 1 else 'jobs'} again with a fresh set of attempts.")
    return redirect(_back(url_for("admin.job_queue")))


@bp.post("/admin/jobs/purge")
@admin_only
def purge_jobs():
    raw = request.form.get("older_than_days", "").strip()
    if not raw.isdigit():
        flash("Give the age in whole days (0 or more) of the finished jobs to remove.", "error")
        return redirect(url_for("admin.job_queue"))
    states = [s for s in request.form.getlist("state") if s in ("succeeded", "failed")] or ["succeeded"]
    removed = jobs.purge(tuple(states), int(raw))
    flash(f"Removed {removed} finished {'job' if removed == 1 else 'jobs'}.")
    return redirect(url_for("admin.job_queue"))


# Vertical packs -------------------------------------------------------------------------


@bp.get("/admin/verticals")
@admin_only
def verticals():
    from .. import changesets

    return render("admin/verticals.html", title="Vertical packs", breadcrumbs=_crumbs(("Vertical packs", None)),
                  packs=changesets.pack_report())


@bp.get("/admin/verticals/<name>")
@admin_only
def vertical(name):
    """One pack: what applying it would change (its diff, problems and conflicts), what it
    changed here and what reverting it would undo, with the buttons to do either."""
    from .. import changesets, pack_plan

    entry = next((e for e in changesets.pack_report() if e["name"] == name), None)
    if entry is None:
        abort(404, description=f"There is no vertical pack {name!r}.")
    planned = undo = None
    if entry["status"] not in ("broken", "missing"):
        planned = pack_plan.plan(changesets.pack_named(name))
    if entry["applied_version"]:
        undo = changesets.revert_plan(name)
    return render("admin/vertical.html", title=entry["title"],
                  breadcrumbs=_crumbs(("Vertical packs", url_for("admin.verticals")), (entry["title"], None)),
                  pack=entry, plan=planned, undo=undo, history=changesets.history(name))


@bp.post("/admin/verticals/<name>/apply")
@admin_only
def apply_vertical(name):
    from .. import changesets

    try:
        outcome = changesets.apply(changesets.pack_named(name), g.accord_actor, force=request.form.get("force") == "1")
    except NotFound as exc:
        abort(404, description=exc.message)
    except AccordError as exc:
        _flash_refusal(exc)
    else:
        done = {"already applied": f"{name} {outcome.version} is already applied; nothing changed."}.get(
            outcome.status, f"{outcome.status.capitalize()} {name} {outcome.version}: {len(outcome.lines)} "
                            f"{'change' if len(outcome.lines) == 1 else 'changes'}.")
        flash(done + (f" Its dropped data was exported to {outcome.export_path}." if outcome.export_path else ""))
    return redirect(url_for("admin.vertical", name=name))


@bp.post("/admin/verticals/<name>/revert")
@admin_only
def revert_vertical(name):
    """Revert a pack; with ``force`` ("export and revert") the data its fields and types
    hold is exported to the instance folder first."""
    from .. import changesets

    try:
        outcome = changesets.revert(name, g.accord_actor, force=request.form.get("force") == "1")
    except NotFound as exc:
        abort(404, description=exc.message)
    except AccordError as exc:
        _flash_refusal(exc)
    else:
        flash(f"Reverted {name} {outcome.version}." +
              (f" The data it held was exported to {outcome.export_path}." if outcome.export_path else ""))
    return redirect(url_for("admin.vertical", name=name))


def _flash_refusal(exc):
    from ..changesets import refusal_lines

    flash(exc.message, "error")
    for line in refusal_lines(exc) if getattr(exc, "problems", None) else ():
        flash(line, "error")


def _crumbs(*trail):
    return [("Administration", url_for("admin.index")), *trail]


from . import admin_automation  # noqa: E402,F401  (the /admin/automation pages hang on this blueprint)
from . import layer  # noqa: E402,F401  (the /admin/layer pages hang on this blueprint)
