"""The weighted forecast: open deal amounts times their stage probability, plus won
amounts, grouped by expected close month, owner, territory and currency.

Grouped by month alone (or not at all) over whole months, the sums per stage come from
the pipeline totals, a few rows whatever the number of deals. Grouped by owner or
territory, or bounded inside a month, the database sums the deals themselves, streaming
them in the order of the ``ix_deal_forecast`` covering index, so neither engine reads the
wide rows nor sorts a million of them. The stage probabilities (as stored now, so
re-weighted stages count at once) are applied to those sums here.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select, text

from . import pipeline_totals
from .db import db
from . import permissions
from .errors import BadRequest

GROUPS = ("month", "owner", "territory")
CENT = Decimal("0.01")


def forecast(catalog, actor, pipeline_key=None, group_by=GROUPS, start=None, end=None):
    """The forecast of the deals ``actor`` may read."""
    rt = catalog.type("deal")
    permissions.require(actor, rt, "read")
    only = permissions.visible(actor, rt)
    pipeline = catalog.pipeline_for(rt, pipeline_key)
    if pipeline is None:
        raise BadRequest(f"There is no deal pipeline {pipeline_key!r}.", {"pipeline": ["Unknown pipeline."]})
    unknown = [g for g in group_by if g not in GROUPS]
    if unknown:
        raise BadRequest("Unknown grouping.", {"group_by": [f"Use any of: {', '.join(GROUPS)}."]})
    counted = [s for s in pipeline.stages if s.outcome in ("open", "won")]
    if set(group_by) <= {"month"} and _whole_months(start, end):
        sums = _month_totals(rt, pipeline, counted, "month" in group_by, start, end, only)
    else:
        sums = _grouped_deals(rt, pipeline, counted, group_by, start, end, only)
    stages = {s.key: s for s in counted}
    totals = defaultdict(lambda: {"open_deals": 0, "open_amount": Decimal(0), "weighted": Decimal(0),
                                  "won_deals": 0, "won_amount": Decimal(0)})
    for stage_key, *group, deals, amount in sums:
        stage = stages[stage_key]
        amount = Decimal(amount or 0)
        total = totals[tuple(group)]
        if stage.outcome == "won":
            total["won_deals"] += deals
            total["won_amount"] += amount
        else:
            total["open_deals"] += deals
            total["open_amount"] += amount
            total["weighted"] += amount * stage.probability / 100
    names = [{"month": "month", "owner": "owner_id", "territory": "territory_id"}[g] for g in GROUPS if g in group_by]
    rows = []
    for group in sorted(totals, key=lambda key: tuple((value is None, value) for value in key)):
        total = totals[group]
        weighted, won = _cents(total["weighted"]), _cents(total["won_amount"])
        rows.append({
            **dict(zip(names + ["currency"], group)),
            "open_deals": total["open_deals"], "open_amount": _text(_cents(total["open_amount"])),
            "weighted_amount": _text(weighted), "won_deals": total["won_deals"], "won_amount": _text(won),
            "forecast_amount": _text(weighted + won),
        })
    return {"pipeline": pipeline.key, "group_by": list(group_by), "data": rows}


def _whole_months(start, end):
    return (start is None or start.day == 1) and (end is None or (end + timedelta(days=1)).day == 1)


def _month_totals(rt, pipeline, counted, by_month, start, end, only):
    """Sums per stage (and expected close month) from the pipeline totals."""
    months = (start and start.strftime("%Y-%m"), end and end.strftime("%Y-%m"))
    by = ("stage", "close_month", "currency") if by_month else ("stage", "currency")
    return pipeline_totals.totals(db.session, rt, pipeline.key, by, stages=[s.key for s in counted],
                                  close_months=months, only=only)


def _grouped_deals(rt, pipeline, counted, group_by, start, end, only):
    """Sums per stage and group over the deals themselves, along ``ix_deal_forecast``."""
    table = rt.table
    if db.session.get_bind().dialect.name == "postgresql":
        # JIT compilation costs more than it saves on this one pass over an index.
        db.session.execute(text("SET LOCAL jit = off"))
    columns = {"month": table.c.expected_close_month, "owner": table.c.owner_id, "territory": table.c.territory_id}
    keys = [columns[g] for g in GROUPS if g in group_by] + [table.c.currency]
    stmt = (
        select(table.c.stage, *keys, func.count().label("deals"), func.sum(table.c.amount).label("amount"))
        .where(table.c.deleted_at.is_(None), table.c.pipeline == pipeline.key,
               table.c.stage.in_([s.key for s in counted]))
        .group_by(table.c.stage, *keys)
    )
    if only is not None:
        stmt = stmt.where(only)
    # Whole months are bounded on expected_close_month, which the covering index holds;
    # a bound inside a month also checks the day.
    if start is not None:
        stmt = stmt.where(table.c.expected_close_month >= start.strftime("%Y-%m"))
        if start.day != 1:
            stmt = stmt.where(table.c.expected_close_date >= start)
    if end is not None:
        stmt = stmt.where(table.c.expected_close_month <= end.strftime("%Y-%m"))
        if (end + timedelta(days=1)).day != 1:
            stmt = stmt.where(table.c.expected_close_date <= end)
    return db.session.execute(stmt)


def _cents(value):
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


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
