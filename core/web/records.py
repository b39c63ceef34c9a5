"""List pages of every record type, with filters, sortable columns, keyset pages, saved
views, bulk actions and the trash.

The rows come from the API's list query (:mod:`accord.core.query`: filters, sort and a
keyset cursor, never OFFSET, never a whole-table COUNT), the columns and filters from
the descriptor (:mod:`.listing`), and every write goes through the service layer, so a
page costs a few bounded statements however large the table and however deep the page.
"""

from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, abort, flash, g, redirect, request
from sqlalchemy import delete, or_, select
from werkzeug.datastructures import MultiDict

from .. import local_layer, permissions, search
from ..db import db
from ..errors import AccordError, BadRequest, Conflict, NotFound, RecordInvalid
from ..models import SavedView, User
from ..query import build_list_query, run_list
from ..records import record_from_row, write_unit
from ..registry import current_accord
from . import listing, present
from .rendering import render

bp = Blueprint("records", __name__)

MAX_BULK = 500
MAX_VIEWS = 100
MAX_VIEW_NAME = 120
MAX_QUERY = 2000
NOT_FILTERS = {"sort", "limit", "cursor"}
GENERAL_PROBLEMS = {"cursor": "This page link is out of date; go back to the first page.",
                    "sort": "The list cannot be sorted that way.", "limit": "Show between 1 and 500 rows per page."}


class Refused(Exception):
    """A bulk action or saved view that was not carried out; nothing was written."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


# Pages --------------------------------------------------------------------------------


@bp.get("/<plural>", endpoint="list")
def list_page(plural):
    rt = type_at(plural)
    given = list(request.args.items(multi=True))
    args = _clean(given)
    if list(args.items(multi=True)) != given:  # the filter form's empty boxes: keep links short
        return redirect(_url(f"/{rt.plural}", args))
    return _page(rt, args)


@bp.get("/<plural>/trash", endpoint="trash")
def trash_page(plural):
    rt = type_at(plural)
    return _page(rt, _clean(request.args.items(multi=True)), trashed=True)


def _page(rt, args, trashed=False, status=200, selected=(), **extra):
    """Render the list (or the trash) of ``rt`` for the list arguments ``args``."""
    catalog = current_accord().catalog()
    path = f"/{rt.plural}/trash" if trashed else f"/{rt.plural}"
    records, next_cursor, errors = _fetch(rt, args, trashed)
    if errors and status == 200:
        status = 400
    users = listing.active_users()
    hidden = permissions.hidden_fields(g.accord_actor, rt)
    shown = [column for column in listing.columns(rt, trashed) if column.field.name not in hidden]
    known = {("user", user.id): (user.name, True) for user in users}
    titles = listing.reference_titles(catalog, listing.referenced_ids(rt, shown, records, args), known)
    controls = [] if trashed else [control for control in listing.controls(catalog, rt, shown, users)
                                   if control.param.partition("__")[0] not in hidden]
    sort = args.get("sort") or ("-deleted_at" if trashed else rt.default_sort)
    filters = [(k, v) for k, v in args.items(multi=True) if k not in NOT_FILTERS]
    context = dict(
        rt=rt, trashed=trashed, path=path, list_path=f"/{rt.plural}", args=args, errors=errors,
        general_problems=_general_problems(rt, errors, controls), controls=controls, users=users,
        headers=[_header(path, args, sort, _title_label(rt), listing.title_sort(rt, trashed))]
        + [_header(path, args, sort, column.label, column.sort) for column in shown],
        rows=[{
            "id": record.id, "title": record.title, "checked": record.id in selected,
            "url": None if trashed else present.record_url(rt, record.id),
            "cells": [listing.cell(catalog, rt, column.field, record, titles) for column in shown],
        } for record in records],
        in_use=[{"text": listing.describe(catalog, rt, k, v, titles),
                 "url": _url(path, _without(args, k, v))} for k, v in filters],
        next_url=_url(path, args, cursor=next_cursor) if next_cursor else None,
        first_url=_url(path, args, cursor=None) if args.get("cursor") else None,
        page_query=_encode(args), view_query=_encode(args, drop=("cursor",)),
        views=[] if trashed else _saved_views(rt),
        board_url=f"/{rt.plural}/board" if catalog.pipeline_for(rt) is not None else None,
        **extra,
    )
    if trashed:
        crumbs = [(rt.plural_label, f"/{rt.plural}"), ("Trash", None)]
        return render("records/trash.html", title=f"{rt.plural_label} in the trash", breadcrumbs=crumbs,
                      help_page="records.trash", **context), status
    return render("records/list.html", title=rt.plural_label, breadcrumbs=[(rt.plural_label, None)],
                  help_page="records.list", **context), status


def _fetch(rt, args, trashed):
    """One page of records through the API's list query: ``(records, next cursor, errors)``,
    where errors are the query's complaints about the arguments, by argument."""
    query_args = MultiDict(args)
    if trashed:
        query_args.pop("q", None)  # the search index holds live records only
        query_args["trashed"] = "true"
    try:
        search_ids = search.matching_ids(db.session, rt.key, query_args["q"]) if query_args.get("q") else None
        rows, next_cursor = run_list(rt, query_args, search_ids, actor=g.accord_actor)
    except (BadRequest, RecordInvalid) as exc:
        return [], None, exc.fields or {"": [exc.message]}
    conceal = permissions.concealer(g.accord_actor, rt)
    return [conceal(record_from_row(rt, row)) for row in rows], next_cursor, {}


def _title_label(rt):
    names = [name for name in rt.title_fields if name in rt.fields]
    return rt.fields[names[0]].label if len(names) == 1 else "Name"


def _header(path, args, sort, label, key):
    """A column header: its sort link (ascending first, then the reverse) and ``aria-sort``."""
    if key is None:
        return {"label": label, "url": None, "aria_sort": None}
    first = sort.split(",")[0].strip()
    state = "ascending" if first == key else "descending" if first == f"-{key}" else None
    target = f"-{key}" if state == "ascending" else key
    return {"label": label, "url": _url(path, args, sort=target, cursor=None), "aria_sort": state}


def _general_problems(rt, errors, controls):
    """Problems with list arguments that no filter control shows beside itself."""
    placed = set()
    for control in controls:
        placed.update((f"{control.param}__gte", f"{control.param}__lte") if control.kind == "range" else (control.param,))
    return [GENERAL_PROBLEMS.get(name) or _problem(rt, name, reasons) for name, reasons in errors.items()
            if name not in placed]


def _problem(rt, param, reasons):
    name, _, op = param.partition("__")
    where = f"{listing.field_label(rt, name)} {listing.OPERATOR_WORDS.get(op, op)}".strip() if param else ""
    return (f"{where}: " if where else "") + " ".join(map(str, reasons))


def _saved_views(rt):
    """The user's own views and the shared ones (no user: from a vertical pack or an
    admin), which everyone sees and no user can delete."""
    return db.session.execute(
        select(SavedView.id, SavedView.name, SavedView.query, SavedView.user_id.is_(None).label("shared"))
        .where(or_(SavedView.user_id == g.accord_user.id, SavedView.user_id.is_(None)), SavedView.record_type == rt.key)
        .order_by(SavedView.name, SavedView.id).limit(MAX_VIEWS)
    ).all()


# Bulk actions and restore ---------------------------------------------------------------


@bp.post("/<plural>/bulk", endpoint="bulk")
def bulk(plural):
    """Trash, assign or restore the selected records in one write unit: all of them or none."""
    rt = type_at(plural)
    action = request.form.get("action")
    if action not in ("trash", "assign", "restore"):
        abort(400, description="Choose what to do with the selected records.")
    args = _posted_query()
    ids = _selected_ids()
    try:
        message = _apply(rt, action, ids)
    except Refused as exc:
        return _page(rt, args, trashed=action == "restore", status=422, selected=set(ids),
                     bulk_error=str(exc), bulk_field=exc.field, bulk_owner=request.form.get("owner_id", ""))
    flash(message)
    return redirect(_url(f"/{rt.plural}/trash" if action == "restore" else f"/{rt.plural}", args))


def _selected_ids():
    ids = {}
    for raw in request.form.getlist("ids"):
        record_id = listing.as_id(raw)
        if record_id is None:
            abort(400, description=f"{raw!r} is not a record id.")
        ids[record_id] = True
    return list(ids)


def _apply(rt, action, ids):
    """Carry out ``action`` on every id through the service layer; the message to show."""
    if not ids:
        raise Refused(f"Select at least one {rt.label.lower()} first.")
    if len(ids) > MAX_BULK:
        raise Refused(f"Select at most {MAX_BULK} {rt.plural_label.lower()} at a time; nothing was changed.")
    service = current_accord().records
    actor = g.accord_actor
    restoring = action == "restore"
    try:
        with write_unit():
            owner = _owner(request.form.get("owner_id", "")) if action == "assign" else None
            titles = listing.reference_titles(current_accord().catalog(), {rt.key: ids}, {})
            for record_id in ids:
                title, live = titles.get((rt.key, record_id), (None, None))
                if title is None or live == restoring:
                    where = "in the trash" if restoring else "any more"
                    raise Refused(f"{rt.label} {record_id} is not there {where}; nothing was changed. "
                                  "Reload the page and try again.")
                try:
                    if action == "trash":
                        service.delete(rt.key, record_id, actor)
                    elif restoring:
                        service.restore(rt.key, record_id, actor)
                    else:
                        service.update(rt.key, record_id, {"owner_id": owner.id}, actor)
                except AccordError as exc:
                    raise Refused(f"{rt.label} “{title}” was refused, so nothing was changed: {present.refusal_text(rt, exc)}") from exc
    except Conflict as exc:
        raise Refused(f"{exc.message} Nothing was changed.") from exc
    noun, them = (rt.label.lower(), "it") if len(ids) == 1 else (rt.plural_label.lower(), "them")
    if action == "trash":
        return f"Moved {len(ids)} {noun} to the trash; restore {them} from the trash if that was a mistake."
    if restoring:
        return f"Restored {len(ids)} {noun}."
    return f"Assigned {len(ids)} {noun} to {owner.name}."


def _owner(raw):
    """The active user chosen as the new owner."""
    if not raw.strip():
        raise Refused("Choose the user who should own the selected records.", field="owner_id")
    owner, owner_id = None, listing.as_id(raw)
    if owner_id is not None:
        owner = db.session.execute(select(User.id, User.name).where(
            User.id == owner_id, User.is_active.is_(True), User.deleted_at.is_(None))).first()
    if owner is None:
        raise Refused("That user is not an active user; choose another owner. Nothing was changed.", field="owner_id")
    return owner


@bp.post("/<plural>/<int:record_id>/restore", endpoint="restore")
def restore(plural, record_id):
    """Bring one record back from the trash."""
    rt = type_at(plural)
    back = _url(f"/{rt.plural}/trash", _posted_query())
    try:
        record = current_accord().records.restore(rt.key, record_id, g.accord_actor)
    except NotFound as exc:
        abort(404, description=exc.message)
    except AccordError as exc:
        flash(f"{rt.label} {record_id} could not be restored: {present.refusal_text(rt, exc)}", "error")
        return redirect(back)
    flash(f"Restored {rt.label.lower()} “{record.title}”.")
    return redirect(back)


# Saved views ---------------------------------------------------------------------------


@bp.post("/<plural>/views", endpoint="save_view")
def save_view(plural):
    """Keep the current filters and sort under a name, for this user only; an administrator
    may share it with everyone (a shared view of the instance's own layer)."""
    rt = type_at(plural)
    args = MultiDict([(k, v) for k, v in _posted_query().items(multi=True) if k != "cursor"])
    name = request.form.get("name", "").strip()
    shared = request.form.get("shared") == "1" and g.accord_user.is_admin
    try:
        _check_view(rt, name, args)
        if shared:
            local_layer.add_shared_view({"record_type": rt.key, "name": name, "query": _encode(args)})
        else:
            with write_unit() as session:
                session.add(SavedView(user_id=g.accord_user.id, record_type=rt.key, name=name, query=_encode(args)))
    except Conflict:
        return _page(rt, args, status=422, view_error=f"You already have a view called “{name}”; choose another name.",
                     view_name=name)
    except RecordInvalid as exc:
        return _page(rt, args, status=422, view_error=" ".join(" ".join(map(str, r)) for r in exc.fields.values()),
                     view_name=name)
    except Refused as exc:
        return _page(rt, args, status=422, view_error=str(exc), view_name=name)
    flash(f"Shared the view “{name}” with everyone." if shared else f"Saved the view “{name}”.")
    return redirect(_url(f"/{rt.plural}", args))


def _check_view(rt, name, args):
    if not name:
        raise Refused("Give the view a name.")
    if len(name) > MAX_VIEW_NAME:
        raise Refused(f"Use at most {MAX_VIEW_NAME} characters.")
    if not name.isprintable():
        raise Refused("Use letters, digits, spaces and punctuation only.")
    try:
        build_list_query(rt, args, actor=g.accord_actor)
    except (BadRequest, RecordInvalid) as exc:
        raise Refused("Some filters of this list are not valid; correct them before saving the view.") from exc


@bp.post("/<plural>/views/<int:view_id>/delete", endpoint="delete_view")
def delete_view(plural, view_id):
    rt = type_at(plural)
    with write_unit() as session:
        name = session.execute(
            delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == g.accord_user.id,
                                    SavedView.record_type == rt.key).returning(SavedView.name)
        ).scalar_one_or_none()
        if name is None:
            abort(404, description="You have no saved view with that id here.")
    flash(f"Deleted the view “{name}”.")
    return redirect(_url(f"/{rt.plural}", _posted_query()))


# Arguments and links --------------------------------------------------------------------


def type_at(plural):
    """The record type whose pages live at ``/<plural>``; the 404 page otherwise."""
    rt = current_accord().catalog().type_for_plural(plural)
    if rt is None:
        abort(404, description=f"There is no list of records at /{plural}.")
    return rt


def _clean(pairs):
    """List arguments that mean something: filled-in values, without ``trashed`` (the
    trash has a page of its own) and without NUL characters no database keeps."""
    cleaned = ((k, v.replace("\x00", "").strip()) for k, v in pairs if k != "trashed")
    return MultiDict([(k, v) for k, v in cleaned if v])


def _posted_query():
    """The list arguments a form carried in its ``query`` field (the page it came from)."""
    return _clean(parse_qsl(request.form.get("query", "")[:MAX_QUERY]))


def _encode(args, drop=()):
    return urlencode([(k, v) for k, v in args.items(multi=True) if k not in drop])


def _without(args, key, value):
    return MultiDict([(k, v) for k, v in args.items(multi=True) if (k, v) != (key, value) and k != "cursor"])


def _url(path, args, **changes):
    """``path`` with ``args``, each of ``changes`` replacing its argument (``None`` removes it)."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return f"{path}?{urlencode(pairs)}" if pairs else path
