"""The pipeline board (``/<plural>/board``): one column per stage, cards to drag from one
stage to another, and on every card a small form that does the same without a mouse or
JavaScript.

A move goes through the service layer (:meth:`RecordService.update` with the card's
version), so allowed transitions, stage guards, close reasons, optimistic locking and
stage history are exactly the API's. Reading a board costs two statements whatever the
table's size: the count (and amount per currency) of every stage in one grouped query,
and the newest :data:`CARDS_PER_COLUMN` cards of every stage in one union of bounded
queries, each read from an index where the table has one (see :func:`card_order`).
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from sqlalchemy import select, union_all

from ..api import json_response
from ..db import db
from ..errors import AccordError, Conflict, NotFound, PreconditionFailed, RecordInvalid
from .. import permissions, pipeline_totals
from ..models import User
from ..query import field_expression
from ..records import begin_write
from ..registry import current_accord
from . import charts, present
from .auth import current_actor
from .rendering import current_theme, environment, render

log = logging.getLogger("accord.web")

bp = Blueprint("board", __name__)

CARDS_PER_COLUMN = 50


# Pages ----------------------------------------------------------------------------------


@bp.get("/<plural>/board")
def board(plural):
    catalog = current_accord().catalog()
    rt = board_type(catalog, plural)
    pipeline = catalog.pipeline_for(rt, request.args.get("pipeline") or None)
    if pipeline is None or not pipeline.stages:
        abort(404)
    layout = card_layout(rt)
    totals = column_totals(rt, pipeline, layout)
    cards = newest_cards(rt, pipeline, layout, [key for key, total in totals.items() if total["count"]])
    columns = [{
        "stage": stage, **totals[stage.key], "cards": cards.get(stage.key, []),
        "more": totals[stage.key]["count"] > len(cards.get(stage.key, [])),
        "list_url": f"/{rt.plural}?" + urlencode({"stage": stage.key, "pipeline": pipeline.key}),
        "reasons": [{"key": r, "label": reason_label(r)} for r in stage.reasons] if needs_reason(stage) else [],
        "targets": move_targets(pipeline, stage),
    } for stage in pipeline.stages]
    return render("board/board.html", title=f"{rt.plural_label} board",
                  breadcrumbs=[(rt.plural_label, f"/{rt.plural}"), ("Board", None)],
                  rt=rt, pipeline=pipeline, columns=columns, cards_per_column=CARDS_PER_COLUMN,
                  shown_by="newest" if card_order(rt)[0].name == "id" else "most recently changed",
                  pipelines=[p for p in catalog.pipelines.values() if p.record_type == rt.key])


@bp.get("/<plural>/<int:record_id>/move")
def move_form(plural, record_id):
    """The move as a page of its own: where the card form sends a move that needs a close
    reason, so the reason can be chosen without JavaScript."""
    catalog = current_accord().catalog()
    rt = board_type(catalog, plural)
    record = _record_or_404(rt, record_id)
    pipeline = record_pipeline(catalog, rt, record)
    current = pipeline.stage(record.get("stage"))
    targets = move_targets(pipeline, current)
    target = pipeline.stage(request.args.get("stage", ""))
    version = request.args.get("version", type=int) or record.version
    return render("board/move.html", title=f"Move {record.title}",
                  breadcrumbs=[(rt.plural_label, f"/{rt.plural}"), ("Board", board_url(rt, pipeline)),
                               (f"Move {record.title}", None)],
                  rt=rt, record=record, pipeline=pipeline, current=current, target=target, version=version,
                  targets=targets, back=board_url(rt, pipeline),
                  reasons=[(r, reason_label(r)) for r in target.reasons]
                  if target in targets and needs_reason(target) else [])


@bp.post("/<plural>/<int:record_id>/move")
def move(plural, record_id):
    """Move a card to another stage: JSON in and out for board.js, a form post with a
    redirect back to the board otherwise."""
    begin_write()
    catalog = current_accord().catalog()
    rt = board_type(catalog, plural)
    answer = JsonAnswer() if request.is_json else FormAnswer()
    answer.back = board_url(rt, catalog.pipeline_for(rt))
    sent = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(sent, dict):
        return answer.refused(400, "bad_request", "Send a JSON object with the stage to move to.")
    try:
        record = current_accord().records.get(rt.key, record_id, actor=current_actor())
    except NotFound as exc:
        return answer.missing(exc.message)
    pipeline = record_pipeline(catalog, rt, record)
    answer.back = board_url(rt, pipeline)
    stage_key = str(sent.get("stage") or "").strip()
    reason = str(sent.get("close_reason") or "").strip() or None
    version = _version(sent.get("version"))
    if version is False:
        return answer.refused(400, "bad_request", "The card's version is not a number; reload the board.")
    if not stage_key:
        return answer.refused(422, "validation_failed", "Choose a stage to move to.", {"stage": ["Choose a stage."]})
    target = pipeline.stage(stage_key)
    if not request.is_json and target is not None and needs_reason(target) and reason is None:
        if "close_reason" in sent:
            flash(f"Choose why it moves to {target.label}.", "error")
        return redirect(url_for("board.move_form", plural=rt.plural, record_id=record_id, stage=stage_key,
                                version=version), 303)
    values = {"stage": stage_key}
    if reason is not None and "close_reason" in rt.fields:
        values["close_reason"] = reason
    try:
        moved = current_accord().records.update(rt.key, record_id, values, current_actor(), expected_version=version)
    except RecordInvalid as exc:
        return answer.refused(422, exc.code, present.refusal_text(rt, exc), exc.fields)
    except (PreconditionFailed, Conflict):
        return answer.stale(rt, pipeline, record_id, f"“{record.title}” was changed by someone else meanwhile")
    except NotFound as exc:
        return answer.missing(exc.message)
    except AccordError as exc:
        log.error("moving %s %s failed: %s", rt.key, record_id, exc.message)
        return answer.refused(exc.status, exc.code, exc.message)
    landed = pipeline.stage(moved.get("stage"))
    return answer.moved(rt, pipeline, moved, record.get("stage"),
                        f"Moved “{moved.title}” to {landed.label if landed else moved.get('stage')}.")


def _version(sent):
    """The card's version from a form (text) or JSON (a number); ``None`` when not sent,
    ``False`` when it is not a whole number."""
    if sent is None or sent == "":
        return None
    if isinstance(sent, str) and sent.strip().isdigit():
        return int(sent)
    return sent if isinstance(sent, int) and not isinstance(sent, bool) else False


class FormAnswer:
    """Answers to a form post: a flash message and a redirect back to the board."""

    back = None

    def missing(self, message):
        abort(404, description=message)

    def refused(self, status, code, message, fields=None):
        flash(message, "error")
        return redirect(self.back, 303)

    def stale(self, rt, pipeline, record_id, message):
        flash(f"{message}; the board shows it as it is now.", "error")
        return redirect(self.back, 303)

    def moved(self, rt, pipeline, record, from_stage, message):
        flash(message)
        return redirect(self.back, 303)


class JsonAnswer(FormAnswer):
    """Answers to board.js: the API's error shape, and the card as it now is."""

    def missing(self, message):
        return self.refused(404, "not_found", message)

    def refused(self, status, code, message, fields=None):
        body = {"code": code, "message": message}
        if fields:
            body["fields"] = fields
        return json_response({"error": body}, status)

    def stale(self, rt, pipeline, record_id, message):
        card = read_card(rt, pipeline, record_id)
        return json_response({"error": {"code": "conflict", "message": f"{message}; the card shows it as it is now."},
                              **card_answer(rt, pipeline, card, pipeline.stages)}, 409)

    def moved(self, rt, pipeline, record, from_stage, message):
        card = read_card(rt, pipeline, record.id)
        stages = [s for s in pipeline.stages if s.key in (from_stage, record.get("stage"))]
        return json_response({"message": message, **card_answer(rt, pipeline, card, stages)})


def card_answer(rt, pipeline, card, stages):
    """The card's stage, version and markup, and the figures of the columns ``stages``
    (after a move: the two it changed), for board.js."""
    totals = column_totals(rt, pipeline, card_layout(rt), stages)
    body = {"columns": {key: {"count": t["count"], "count_text": t["count_text"], "total_text": t["total_text"]}
                        for key, t in totals.items()}}
    if card is not None:
        context = {"card": card, "rt": rt, "targets": move_targets(pipeline, pipeline.stage(card["stage"]))}
        current_app.update_template_context(context)
        html = environment(current_theme()).get_or_select_template("board/card.html").render(context)
        body.update(id=card["id"], stage=card["stage"], version=card["version"], card_html=html)
    return body


# Reading the board ----------------------------------------------------------------------


def board_type(catalog, plural):
    """The record type at ``/<plural>`` when it moves through a pipeline; 404 otherwise."""
    rt = catalog.type_for_plural(plural)
    if rt is None or not all(name in rt.fields and not rt.fields[name].custom for name in ("stage", "pipeline")):
        abort(404)
    if not any(p.record_type == rt.key for p in catalog.pipelines.values()):
        abort(404)
    permissions.require(current_actor(), rt, "read")
    return rt


@dataclass(frozen=True)
class CardLayout:
    """Which fields a card of a type shows: its title, amount (with currency), close date."""

    title: tuple
    amount: str | None
    amount_kind: str | None
    currency: bool
    close: str | None


def card_layout(rt):
    fields = rt.fields
    stored = {name: f for name, f in fields.items() if not f.custom}
    amount = pipeline_totals.amount_field(rt)
    currency = "currency" in stored and stored["currency"].kind == "text"
    close = next((name for name in ("expected_close_date", "close_date", "due_date") if name in fields), None)
    return CardLayout(title=tuple(n for n in rt.title_fields if n in fields), amount=amount,
                      amount_kind=stored[amount].kind if amount else None, currency=currency, close=close)


def column_totals(rt, pipeline, layout, stages=None):
    """``{stage: {"count", "count_text", "total_text"}}`` of ``stages`` (default: all), as
    the column heads show them; amounts per currency, joined, never added up."""
    figures = stage_figures(rt, pipeline, stages)
    return {key: {
        "count": figure["count"],
        "count_text": f"{figure['count']:,} {charts.noun(rt, figure['count'])}",
        "total_text": " + ".join(_amount_text(layout, amount, currency)
                                 for currency, (_count, amount) in sorted(figure["currencies"].items(),
                                                                          key=lambda item: item[0] or "")
                                 if amount is not None),
    } for key, figure in figures.items()}


def stage_figures(rt, pipeline, stages=None):
    """``{stage: {"count": n, "currencies": {currency: (n, amount)}}}`` of the live records
    in ``stages`` (default: all) of ``pipeline``, from the pipeline totals; the currency is
    ``None`` for a type without one, the amount ``None`` for a type without a summable one."""
    stages = pipeline.stages if stages is None else stages
    figures = {stage.key: {"count": 0, "currencies": {}} for stage in stages}
    only = permissions.visible(current_actor(), rt)
    for stage, currency, count, amount in pipeline_totals.totals(db.session, rt, pipeline.key, ("stage", "currency"),
                                                                 stages=list(figures), only=only):
        figure = figures[stage]
        figure["count"] += count
        figure["currencies"][currency] = (count, amount)
    return figures


def newest_cards(rt, pipeline, layout, stage_keys):
    """``{stage: [card, ...]}``: the :data:`CARDS_PER_COLUMN` most recently changed live
    records of each stage, in one statement of per-stage bounded queries."""
    if not stage_keys:
        return {}
    table = rt.table
    order = card_order(rt)
    parts = [
        _card_select(rt, layout).where(table.c.pipeline == pipeline.key, table.c.stage == key)
        .order_by(*(column.desc() for column in order)).limit(CARDS_PER_COLUMN).subquery()
        for key in stage_keys
    ]
    statement = union_all(*(select(part) for part in parts)) if len(parts) > 1 else select(parts[0])
    cards = {}
    for row in db.session.execute(statement).mappings():
        cards.setdefault(row["stage"], []).append(_card(rt, layout, row))
    names = [column.name for column in order]
    for stage_cards in cards.values():
        stage_cards.sort(key=lambda card: tuple(card[name] for name in names), reverse=True)
    return cards


def card_order(rt):
    """How a column picks its newest cards: by last change where an index on
    ``(pipeline, stage, updated_at)`` serves it, else by id (creation) where one on
    ``(pipeline, stage, id)`` does, so a column reads its first cards from an index however
    many records the stage holds; a table with neither is sorted by last change."""
    table = rt.table
    leading = {tuple(column.name for column in index.columns)[:3] for index in table.indexes}
    if ("pipeline", "stage", "updated_at") not in leading and ("pipeline", "stage", "id") in leading:
        return (table.c.id,)
    return (table.c.updated_at, table.c.id)


def read_card(rt, pipeline, record_id):
    """One live card as the board shows it, or ``None``."""
    layout = card_layout(rt)
    row = db.session.execute(_card_select(rt, layout).where(rt.table.c.id == record_id)).mappings().first()
    return None if row is None else _card(rt, layout, row)


def _card_select(rt, layout):
    table = rt.table
    owner = User.__table__.alias("owner")
    dialect = db.session.get_bind().dialect.name
    columns = [table.c.id, table.c.version, table.c.stage, table.c.updated_at, owner.c.name.label("owner_name")]
    columns += [field_expression(rt, name, dialect)[0].label(f"title_{i}") for i, name in enumerate(layout.title)]
    if layout.amount:
        columns.append(table.c[layout.amount].label("amount_value"))
    if layout.currency:
        columns.append(table.c.currency.label("currency_code"))
    if layout.close:
        columns.append(field_expression(rt, layout.close, dialect)[0].label("close_value"))
    statement = (select(*columns).select_from(table.outerjoin(owner, owner.c.id == table.c.owner_id))
                 .where(table.c.deleted_at.is_(None)))
    scope = permissions.visible(current_actor(), rt)
    return statement if scope is None else statement.where(scope)


def _card(rt, layout, row):
    titles = {name: row[f"title_{i}"] for i, name in enumerate(layout.title)}
    close = row.get("close_value") if layout.close else None
    return {
        "id": row["id"], "version": row["version"], "stage": row["stage"], "updated_at": row["updated_at"],
        "title": rt.title_of({**titles, "id": row["id"]}), "url": present.record_url(rt, row["id"]),
        "move_url": url_for("board.move", plural=rt.plural, record_id=row["id"]),
        "owner": row["owner_name"],
        "amount": _amount_text(layout, row["amount_value"], row.get("currency_code")) if layout.amount else None,
        "close": present.show(rt.fields[layout.close], close) if close is not None else None,
    }


def _amount_text(layout, amount, currency):
    if amount is None:
        return None
    if layout.amount_kind == "money":
        return charts.money(amount.get("amount"), amount.get("currency"))
    if layout.amount_kind == "integer":
        return f"{amount:,}" + (f" {currency}" if currency else "")
    return charts.money(amount, currency)


# Stages ---------------------------------------------------------------------------------


def move_targets(pipeline, stage):
    """The stages a record in ``stage`` may move to, in pipeline order."""
    if stage is None:
        return list(pipeline.stages)
    return [s for s in pipeline.stages
            if s.key != stage.key and (stage.allowed_next is None or s.key in stage.allowed_next)]


def needs_reason(stage):
    """Closing in ``stage`` asks why (the core's close-reason guard checks the same)."""
    return stage.outcome != "open" and bool(stage.reasons)


def reason_label(key):
    return key.replace("_", " ").capitalize()


def record_pipeline(catalog, rt, record):
    """The pipeline a record is in (the type's default if its own is gone)."""
    return catalog.pipeline_for(rt, record.get("pipeline")) or catalog.pipeline_for(rt)


def board_url(rt, pipeline):
    default = current_accord().catalog().pipeline_for(rt)
    query = "" if default is not None and default.key == pipeline.key else "?" + urlencode({"pipeline": pipeline.key})
    return url_for("board.board", plural=rt.plural) + query


def _record_or_404(rt, record_id):
    try:
        return current_accord().records.get(rt.key, record_id, actor=current_actor())
    except NotFound:
        abort(404)
