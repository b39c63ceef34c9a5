"""Running totals of pipelined records: how many live records, and how much of their
amount, sit in each stage, per currency, expected close month and closing month.

The board's column heads, the dashboard's funnel, forecast and won/lost chart read these
few rows instead of grouping every record, so they cost the same with a million deals as
with ten. The service layer keeps them in step: each write notes how a record moved
between buckets (:func:`track`) and :func:`~accord.core.records.write_unit` adds the
differences up in the same transaction, just before it commits. Writes that bypass the
service layer (a plugin's data migration, a bulk load) call :func:`rebuild` afterwards;
``accord db upgrade`` counts every type that has records but no totals yet.
"""

from dataclasses import dataclass
from datetime import timezone
from decimal import Decimal

from sqlalchemy import (
    BigInteger, Numeric, String, cast, delete, exists, func, insert, inspect, literal, literal_column, select, text,
)

from .models import PipelineTotal

AMOUNT_KINDS = ("decimal", "integer", "money")
"""Kinds a record's amount may have; only the plain numbers among them are added up."""
SUMMED_KINDS = ("decimal", "integer")
MICROS = 1_000_000
KEY = ("record_type", "pipeline", "stage", "currency", "close_month", "closed_month")
SUMS = ("records", "amount_units", "amount_micros")
PENDING = "accord_pipeline_totals"


@dataclass(frozen=True)
class Measures:
    """What the totals of a pipelined type hold beyond the count: the name of its summed
    amount field, and whether it has a currency, an expected close month and a closing time."""

    amount: str | None
    currency: bool
    close_month: bool
    closed_at: bool


def amount_field(rt):
    """The field that holds a record's amount: ``amount`` when it is a number or money,
    else the first stored money field; ``None`` when the type has none."""
    stored = {name: f for name, f in rt.fields.items() if not f.custom}
    if "amount" in stored and stored["amount"].kind in AMOUNT_KINDS:
        return "amount"
    return next((name for name, f in stored.items() if f.kind == "money"), None)


def measures(rt):
    """The :class:`Measures` of a type that moves through a pipeline, else ``None``."""
    fields = rt.fields
    if "stage" not in fields or "pipeline" not in fields:
        return None
    amount = amount_field(rt)

    def stored(name, kind):
        return name in fields and not fields[name].custom and fields[name].kind == kind

    return Measures(
        amount=amount if amount and fields[amount].kind in SUMMED_KINDS else None,
        currency=stored("currency", "text"),
        close_month=stored("expected_close_month", "text"),
        closed_at=stored("closed_at", "datetime"),
    )


# Keeping them ---------------------------------------------------------------------------


def track(session, rt, before, after):
    """Note that one record of ``rt`` went from values ``before`` to ``after`` (either
    ``None`` for a record that did not or no longer exists); written at commit."""
    shape = measures(rt)
    if shape is None:
        return
    old, new = _bucket(rt, shape, before), _bucket(rt, shape, after)
    old_amount = _split(before.get(shape.amount)) if old and shape.amount else (0, 0)
    new_amount = _split(after.get(shape.amount)) if new and shape.amount else (0, 0)
    if old == new and old_amount == new_amount:
        return
    pending = session.info.setdefault(PENDING, {})
    if old:
        _add(pending, old, -1, old_amount, -1)
    if new:
        _add(pending, new, 1, new_amount, 1)


def flush(session):
    """Write the noted differences, one upsert per bucket in key order (so concurrent
    writers lock the rows in the same order and never deadlock on them)."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    rows = [dict(zip(KEY, key), **dict(zip(SUMS, sums))) for key, sums in sorted(pending.items()) if any(sums)]
    if not rows:
        return
    table = PipelineTotal.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY), set_={name: table.c[name] + statement.excluded[name] for name in SUMS})
    session.execute(statement, rows)


def discard(session):
    """Forget the noted differences of a transaction that rolled back."""
    session.info.pop(PENDING, None)


def _bucket(rt, shape, values):
    if values is None or values.get("deleted_at") is not None:
        return None
    pipeline, stage = values.get("pipeline"), values.get("stage")
    if pipeline is None or stage is None:
        return None
    closed = values.get("closed_at") if shape.closed_at else None
    return (rt.key, pipeline, stage,
            (values.get("currency") or "") if shape.currency else "",
            (values.get("expected_close_month") or "") if shape.close_month else "",
            closed.astimezone(timezone.utc).strftime("%Y-%m") if closed is not None else "")


def _split(value):
    """An amount as (whole units, millionths), both with its sign."""
    if value is None:
        return (0, 0)
    value = Decimal(value)
    units = int(value)
    return (units, int(((value - units) * MICROS).to_integral_value()))


def _add(pending, key, records, amount, sign):
    sums = pending.get(key, (0, 0, 0))
    pending[key] = (sums[0] + records, sums[1] + sign * amount[0], sums[2] + sign * amount[1])


# Counting them afresh -------------------------------------------------------------------


def rebuild(session, rt, pipelines=None):
    """Count the live records of ``rt`` into the totals afresh (only those of the
    ``pipelines`` named, when given: records bulk-moved between stages of those). On
    PostgreSQL the type's table is locked against writes meanwhile, so no concurrent write
    is counted twice or missed."""
    shape = measures(rt)
    if shape is None:
        return
    table, totals = rt.table, PipelineTotal.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text(f'LOCK TABLE "{table.name}" IN SHARE MODE'))
    dropped = delete(totals).where(totals.c.record_type == rt.key)
    live = _buckets(rt, shape, postgres)
    if pipelines is not None:
        dropped = dropped.where(totals.c.pipeline.in_(list(pipelines)))
        live = live.where(table.c.pipeline.in_(list(pipelines)))
    session.execute(dropped)
    rows = live.subquery()
    keys = [rows.c[name] for name in KEY[1:]]
    counted = select(literal(rt.key, String), *keys, func.count(), func.sum(rows.c.units), func.sum(rows.c.micros)).group_by(*keys)
    session.execute(insert(totals).from_select(list(KEY + SUMS), counted))


def _buckets(rt, shape, postgres):
    """Each live pipelined record of ``rt`` as its bucket (:data:`KEY` but the type) and
    its amount in whole units and millionths."""
    table = rt.table
    amount = func.coalesce(table.c[shape.amount], 0) if shape.amount else literal(0)
    if postgres:
        whole = func.trunc(cast(amount, Numeric))
        units, micros = cast(whole, BigInteger), cast((cast(amount, Numeric) - whole) * MICROS, BigInteger)
    else:
        units = cast(amount, BigInteger)
        micros = cast(func.round((amount - units) * MICROS), BigInteger)
    empty = literal("", String)
    return select(
        table.c.pipeline.label("pipeline"), table.c.stage.label("stage"),
        (func.coalesce(table.c.currency, empty) if shape.currency else empty).label("currency"),
        (func.coalesce(table.c.expected_close_month, empty) if shape.close_month else empty).label("close_month"),
        (func.coalesce(month_of(table.c.closed_at, postgres), empty) if shape.closed_at else empty).label("closed_month"),
        units.label("units"), micros.label("micros"), literal(1).label("records"),
    ).where(table.c.deleted_at.is_(None), table.c.pipeline.isnot(None), table.c.stage.isnot(None))


def build_missing(session, types):
    """Count each of ``types`` that has live pipelined records but no totals yet (a
    database from before the totals, or records loaded around the service layer). A type
    whose table is not there yet (a plugin that creates it later) is left alone."""
    totals = PipelineTotal.__table__
    schema = inspect(session.connection())
    for rt in types:
        table = rt.table
        if measures(rt) is None or not schema.has_table(table.name):
            continue
        counted = session.execute(select(exists().where(totals.c.record_type == rt.key))).scalar()
        if not counted and session.execute(select(exists().where(
                table.c.deleted_at.is_(None), table.c.pipeline.isnot(None)))).scalar():
            rebuild(session, rt)


def month_of(column, postgres):
    """``YYYY-MM`` of a UTC timestamp column, in SQL (with literal arguments, so the same
    expression in a select list and a ``GROUP BY`` is one expression to PostgreSQL)."""
    if postgres:
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


# Reading them ---------------------------------------------------------------------------


def totals(session, rt, pipeline_key, by, stages=None, close_months=None, closed_from=None, only=None):
    """``[(*values of by, records, amount)]`` of ``pipeline_key``, grouped by the columns
    named in ``by`` (of :data:`KEY`); an empty currency or month reads ``None``, the
    amount is ``None`` for a type without a summed one. ``stages`` limits the stages,
    ``close_months`` is an inclusive ``(first, last)`` of ``YYYY-MM`` (either may be
    ``None``), ``closed_from`` the first closing month counted.

    ``only``, a condition on ``rt``'s rows (a user's record scope), counts just those
    records, from the records themselves rather than the kept totals."""
    shape = measures(rt)
    if only is None:
        kept = PipelineTotal.__table__
        table = select(kept, kept.c.amount_units.label("units"), kept.c.amount_micros.label("micros")).where(
            kept.c.record_type == rt.key, kept.c.records > 0).subquery()
    else:
        table = _buckets(rt, shape, session.get_bind().dialect.name == "postgresql").where(only).subquery()
    keys = [table.c[name] for name in by]
    statement = select(*keys, func.sum(table.c.records), func.sum(table.c.units), func.sum(table.c.micros)).where(
        table.c.pipeline == pipeline_key)
    if stages is not None:
        statement = statement.where(table.c.stage.in_(list(stages)))
    first, last = close_months or (None, None)
    if first is not None:
        statement = statement.where(table.c.close_month >= first)
    if last is not None:
        statement = statement.where(table.c.close_month <= last, table.c.close_month != "")
    if closed_from is not None:
        statement = statement.where(table.c.closed_month >= closed_from)
    result = []
    for *values, records, units, micros in session.execute(statement.group_by(*keys)):
        amount = (Decimal(units) + Decimal(micros) / MICROS).quantize(Decimal("0.000001")) if shape.amount else None
        result.append((*(None if value == "" and name != "stage" else value for name, value in zip(by, values)),
                       int(records), amount))
    return result
