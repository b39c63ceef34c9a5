"""``/admin/layer``: this instance's customizations (its own layer, origin ``local``),
listed by kind, with the forms to add a record type, rename a term, add a stage or a
choice, remove what was added here, and download the whole layer as a vertical pack.

The views call :mod:`accord.core.local_layer` (as the API does) and
:func:`accord.core.pack_export.export_local_layer`; they hang on the admin blueprint, so
they are administrators' pages like the others."""

import io
import tempfile
import zipfile
from pathlib import Path

from flask import flash, redirect, request, send_file, url_for

from .. import local_layer
from ..errors import AccordError, RecordInvalid
from ..pipelines import OUTCOMES
from ..registry import current_accord
from .admin import _crumbs, admin_only, bp, slug
from .rendering import render

FORMS = ("type", "term", "stage", "choice", "export")


@bp.get("/admin/layer")
@admin_only
def layer():
    return _layer_page()


def _layer_page(failed=None, form=None, errors=None, status=200):
    """The page; ``failed`` names the form (one of :data:`FORMS`) shown again with
    ``form`` (what was typed) and ``errors`` by input name."""
    catalog = current_accord().catalog()
    types = sorted(catalog.types.values(), key=lambda t: t.label)
    targets = [(f"type:{rt.key}", f"Record type: {rt.label}") for rt in types]
    targets += [(f"field:{rt.key}.{f.name}", f"Field: {rt.label} › {f.label or f.name}")
                for rt in types for f in rt.fields.values()]
    pipelines = sorted(catalog.pipelines.values(), key=lambda p: p.label)
    targets += [(f"stage:{p.key}.{s.key}", f"Stage: {p.label} › {s.label}") for p in pipelines for s in p.stages]
    choice_fields = [(f"{rt.key}.{f.name}", f"{rt.label} › {f.label or f.name}")
                     for rt in types for f in rt.fields.values() if f.kind in ("choice", "multi_choice")]
    return render("admin/layer.html", title="This instance's customizations",
                  breadcrumbs=_crumbs(("This instance's customizations", None)),
                  layer=local_layer.local_objects(), catalog=catalog, targets=targets,
                  pipelines=[(p.key, p.label) for p in pipelines], stages={p.key: p.stages for p in pipelines},
                  choice_fields=choice_fields, outcomes=[(o, o.capitalize()) for o in OUTCOMES],
                  failed=failed, form=form or {}, errors=errors or {}), status


def _done(message):
    flash(message)
    return redirect(url_for("admin.layer"))


def _refused(name, exc):
    """A refusal: the form again with the reasons beside its inputs (422), or a message."""
    if isinstance(exc, RecordInvalid) and name in FORMS:
        return _layer_page(name, request.form, exc.fields, 422)
    flash(exc.message, "error")
    for reasons in exc.fields.values() if isinstance(exc, RecordInvalid) else ():
        flash(" ".join(map(str, reasons)), "error")
    return redirect(url_for("admin.layer"))


@bp.post("/admin/layer/types")
@admin_only
def layer_add_type():
    form = request.form
    label, plural_label = form.get("label", "").strip(), form.get("plural_label", "").strip()
    key = form.get("key", "").strip() or slug(label)[:40]
    spec = {"key": key, "label": label, "plural_label": plural_label,
            "plural": form.get("plural", "").strip() or slug(plural_label).replace("_", "-")[:64],
            "description": form.get("description", "").strip(), "timeline": "timeline" in form}
    try:
        rt = local_layer.declare_local_type(spec)
    except AccordError as exc:
        return _refused("type", exc)
    flash(f"Declared the record type {rt.label}; add its fields next.")
    return redirect(url_for("admin.fields", type=rt.key))


@bp.post("/admin/layer/types/<key>/remove")
@admin_only
def layer_remove_type(key):
    try:
        local_layer.remove_local_type(key, purge=request.form.get("purge") == "1")
    except AccordError as exc:
        return _refused("types", exc)
    return _done(f"Removed the record type {key}.")


@bp.post("/admin/layer/terms")
@admin_only
def layer_set_term():
    form = request.form
    body = {"label": form.get("label", "")}
    if form.get("plural_label", "").strip():
        body["plural_label"] = form["plural_label"]
    try:
        row = local_layer.set_term(form.get("target", ""), body)
    except AccordError as exc:
        return _refused("term", exc)
    return _done(f"{row.target} now reads “{row.label}”.")


@bp.post("/admin/layer/terms/remove")
@admin_only
def layer_remove_term():
    target = request.form.get("target", "")
    try:
        local_layer.delete_term(target)
    except AccordError as exc:
        return _refused("terms", exc)
    return _done(f"Removed the term {target}; the label below it shows again.")


@bp.post("/admin/layer/stages")
@admin_only
def layer_add_stage():
    form = request.form
    label = form.get("label", "").strip()
    body = {"key": form.get("key", "").strip() or slug(label)[:64], "label": label,
            "outcome": form.get("outcome") or "open"}
    raw = form.get("probability", "").strip()
    errors = {}
    if raw:
        if raw.isdigit():
            body["probability"] = int(raw)
        else:
            errors["probability"] = ["A whole number from 0 to 100."]
    if form.get("after"):
        body["after"] = form["after"]
    try:
        if errors:
            raise RecordInvalid(errors)
        stage = local_layer.add_stage(form.get("pipeline", ""), body)
    except AccordError as exc:
        return _refused("stage", exc)
    return _done(f"Added the stage {stage.label}.")


@bp.post("/admin/layer/stages/<pipeline>/<stage>/remove")
@admin_only
def layer_remove_stage(pipeline, stage):
    try:
        local_layer.remove_stage(pipeline, stage)
    except AccordError as exc:
        return _refused("stages", exc)
    return _done(f"Removed the stage {pipeline}.{stage}.")


@bp.post("/admin/layer/choices")
@admin_only
def layer_add_choice():
    form = request.form
    type_key, _, name = form.get("field", "").partition(".")
    label = form.get("label", "").strip()
    body = {"key": form.get("key", "").strip() or slug(label)[:64], "label": label}
    try:
        row = local_layer.add_choice(type_key, name, body)
    except AccordError as exc:
        return _refused("choice", exc)
    return _done(f"Added the choice {row.label} to {row.record_type}.{row.field}.")


@bp.post("/admin/layer/choices/<type_key>/<name>/<key>/remove")
@admin_only
def layer_remove_choice(type_key, name, key):
    try:
        local_layer.remove_choice(type_key, name, key)
    except AccordError as exc:
        return _refused("choices", exc)
    return _done(f"Removed the choice {key} of {type_key}.{name}.")


@bp.post("/admin/layer/views/<int:view_id>/remove")
@admin_only
def layer_remove_view(view_id):
    try:
        local_layer.remove_shared_view(view_id)
    except AccordError as exc:
        return _refused("views", exc)
    return _done("Removed the shared view.")


@bp.post("/admin/layer/export")
@admin_only
def layer_export():
    """The layer as a pack folder, zipped: ``<name>/vertical.toml``, ready for
    ``accord verticals apply`` on another instance once unpacked into its ``verticals/``."""
    from ..pack_export import export_local_layer
    from ..verticals import PackInvalid

    form = request.form
    name = form.get("name", "").strip()
    version = form.get("version", "").strip() or "1.0.0"
    with tempfile.TemporaryDirectory() as folder:
        try:
            written = export_local_layer(name, folder, version=version, title=form.get("title", "").strip() or None)
        except ValueError as exc:
            return _layer_page("export", form, {"name" if "version" not in str(exc) else "version": [str(exc)]}, 422)
        except PackInvalid as exc:
            return _layer_page("export", form, {"name": [str(problem) for problem in exc.problems]}, 422)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(Path(written).rglob("*")):
                if path.is_file():
                    zipped.write(path, path.relative_to(folder).as_posix())
    archive.seek(0)
    return send_file(archive, mimetype="application/zip", as_attachment=True, download_name=f"{name}-{version}.zip")
