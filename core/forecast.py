"""The weighted forecast: open deal amounts times their stage probability, plus won
amounts, grouped by expected close month, owner, territory and currency, in one SQL
aggregate (the probabilities come from the stored pipeline, so relabelled or re-weighted
stages count at once)."""

from datetime import date

from sqlalchemy import case, func, literal, select, text

from .db import db
from .errors import BadRequest

GROUPS = ("month", "owner", "territory")


def forecast(catalog, pipeline_key=None, group_by=GROUPS, start=None, end=None):
    rt = catalog.type("deal")
    pipeline = catalog.pipeline_for(rt, pipeline_key)
    if pipeline is None:
        raise BadRequest(f"There is no deal pipeline {pipeline_key!r}.", {"pipeline": ["Unknown pipeline."]})
    unknown = [g for g in group_by if g not in GROUPS]
    if unknown:
        raise BadRequest("Unknown grouping.", {"group_by": [f"Use any of: {', '.join(GROUPS)}."]})
    table = rt.table
    if db.session.get_bind().dialect.name == "postgresql":
        # One aggregate over many rows: hash it in memory, and skip JIT compilation,
        # which costs more than it saves here.
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        db.session.execute(text("SET LOCAL jit = off"))
    month = table.c.expected_close_month
    columns = {"month": month.label("month"), "owner": table.c.owner_id.label("owner_id"),
               "territory": table.c.territory_id.label("territory_id")}
    open_keys = [s.key for s in pipeline.stages if s.outcome == "open"]
    won_keys = [s.key for s in pipeline.stages if s.outcome == "won"]
    probability = case(
        {s.key: literal(s.probability) for s in pipeline.stages if s.outcome == "open"},
        value=table.c.stage, else_=literal(0),
    )
    is_open = table.c.stage.in_(open_keys)
    is_won = table.c.stage.in_(won_keys) if won_keys else literal(False)
    amount = func.coalesce(table.c.amount, 0)
    selected = [columns[g] for g in group_by] + [table.c.currency]
    stmt = select(
        *selected,
        func.sum(case((is_open, 1), else_=0)).label("open_deals"),
        func.sum(case((is_open, amount), else_=0)).label("open_amount"),
        func.sum(case((is_open, amount * probability), else_=0)).label("weighted_cents"),
        func.sum(case((is_won, 1), else_=0)).label("won_deals"),
        func.sum(case((is_won, amount), else_=0)).label("won_amount"),
    ).where(
        table.c.deleted_at.is_(None), table.c.pipeline == pipeline.key,
        table.c.stage.in_(open_keys + won_keys),
    )
    if start is not None:
        stmt = stmt.where(table.c.expected_close_date >= start)
    if end is not None:
        stmt = stmt.where(table.c.expected_close_date <= end)
    stmt = stmt.group_by(*[columns[g] for g in group_by], table.c.currency).order_by(
        *[columns[g] for g in group_by], table.c.currency
    )
    rows = []
    for row in db.session.execute(stmt).mappings():
        weighted = _money(row["weighted_cents"], scale=100)
        won = _money(row["won_amount"])
        entry = {key: row[key] for key in row.keys() if key in ("month", "owner_id", "territory_id", "currency")}
        entry.update(
            open_deals=int(row["open_deals"] or 0), open_amount=_text(_money(row["open_amount"])),
            weighted_amount=_text(weighted), won_deals=int(row["won_deals"] or 0), won_amount=_text(won),
            forecast_amount=_text(weighted + won),
        )
        rows.append(entry)
    return {"pipeline": pipeline.key, "group_by": list(group_by), "data": rows}


def _money(value, scale=1):
    from decimal import ROUND_HALF_UP, Decimal

    number = Decimal(str(value or 0)) / scale
    return number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _text(value):
    return format(value, "f")


def parse_month_bound(raw, name, end=False):
    """``YYYY-MM`` or ``YYYY-MM-DD`` to a date (a month's last day when ``end``)."""
    if raw is None:
        return None
    try:
        if len(raw) == 7:
            year, month = (int(part) for part in raw.split("-"))
            if end:
                next_month = date(year + month // 12, month % 12 + 1, 1)
                return date.fromordinal(next_month.toordinal() - 1)
            return date(year, month, 1)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be YYYY-MM or YYYY-MM-DD.", {name: ["Not a month or date."]}) from None
