"""The dashboard (``/``): where the sales pipeline stands, what should close in the next
months, what was won and lost, the signed-in user's open tasks, and what active plugins
add.

The deal figures are read from the pipeline totals and the tasks from an index on the
activity table, so the page runs the same few small statements with ten deals as with a
million. Amounts are never added across currencies: the charts show one currency (the one
asked for, else the instance's default, else the one most open deals use) and say which.
"""

import json
import logging
from collections import defaultdict
from datetime import date
from decimal import Decimal

from flask import Blueprint, current_app, g, request
from sqlalchemy import false, literal, select

from .. import permissions, pipeline_totals
from ..db import db, utcnow
from ..forecast import forecast
from ..registry import current_accord
from . import charts
from .board import stage_figures
from .rendering import render

log = logging.getLogger("accord.web")

bp = Blueprint("dashboard", __name__)

FORECAST_MONTHS = 6
CLOSED_MONTHS = 12
TASKS_SHOWN = 10
WIDGET_ITEMS = 10
WIDGET_COLUMNS = 8
WIDGET_TEXT = 200


@bp.get("/")
def index():
    catalog = current_accord().catalog()
    user = g.accord_user
    deals = deal_figures(catalog, g.accord_actor, request.args.get("currency", "").strip().upper(), utcnow().date())
    tasks = my_open_tasks(catalog, g.accord_actor)
    widgets = plugin_widgets(catalog, user) + data_widgets(catalog, g.accord_actor)
    return render("dashboard/index.html", title="Dashboard", breadcrumbs=[], deals=deals, tasks=tasks,
                  tasks_url=f"/activities?kind=task&done=false&owner_id={user.id}", widgets=widgets)


# Deals ----------------------------------------------------------------------------------


def deal_figures(catalog, actor, requested_currency, today):
    """The funnel, the forecast and the won/lost columns of the default deal pipeline over
    the deals ``actor`` may read, or ``None`` when this instance has no deal pipeline or
    the actor reads no deals."""
    rt = catalog.type("deal")
    pipeline = catalog.pipeline_for(rt) if rt is not None else None
    if pipeline is None or not permissions.allows(actor, rt, "read"):
        return None
    open_stages = [s for s in pipeline.stages if s.outcome == "open"]
    by_stage = stage_figures(rt, pipeline, open_stages)
    months = month_keys(today, 0, FORECAST_MONTHS)
    window = forecast(catalog, actor, pipeline.key, group_by=("month",), start=_first_day(months[0]),
                      end=_last_day(months[-1]))["data"]
    open_counts = defaultdict(int)
    for figure in by_stage.values():
        for currency, (count, _amount) in figure["currencies"].items():
            open_counts[currency] += count
    currencies = sorted((set(open_counts) | {row["currency"] for row in window}) - {None})
    currency = choose_currency(requested_currency, current_app.config["ACCORD"]["DEFAULT_CURRENCY"],
                               currencies, open_counts)
    return {
        "type": rt, "pipeline": pipeline, "currency": currency, "currencies": currencies,
        "other_currency_deals": sum(n for c, n in open_counts.items() if c != currency),
        "funnel": _funnel(rt, open_stages, by_stage, currency),
        "forecast": _forecast(months, window, currency),
        "closed": _closed(rt, pipeline, month_keys(today, -(CLOSED_MONTHS - 1), CLOSED_MONTHS),
                          permissions.visible(actor, rt)),
    }


def choose_currency(requested, default, currencies, open_counts):
    """The currency the charts show: the one asked for, the instance default, or the one
    with the most open deals."""
    if requested in currencies:
        return requested
    if default in currencies or not currencies:
        return default
    return max(currencies, key=lambda c: (open_counts.get(c, 0), c))


def _funnel(rt, open_stages, by_stage, currency):
    rows = []
    for stage in open_stages:
        count = by_stage[stage.key]["count"]
        amount = Decimal(by_stage[stage.key]["currencies"].get(currency, (0, 0))[1] or 0)
        rows.append({"key": stage.key, "label": stage.label, "probability": stage.probability, "count": count,
                     "amount": charts.money(amount, currency),
                     "text": f"{count} {charts.noun(rt, count)} · {charts.compact(amount)} {currency}"})
    summary = "; ".join(f"{r['label']}: {r['count']}" for r in rows)
    return {"rows": rows, "total": sum(r["count"] for r in rows), "chart": charts.funnel(rows),
            "summary": f"Open {rt.plural_label.lower()} per stage, {summary}."}


def _forecast(months, window, currency):
    found = {row["month"]: row for row in window if row["currency"] == currency}
    rows = []
    for month in months:
        row = found.get(month, {})
        won, weighted, total = (Decimal(row.get(name, "0")) for name in ("won_amount", "weighted_amount", "forecast_amount"))
        rows.append({"month": month, "label": charts.month_label(month), "won": won, "weighted": weighted,
                     "total": total, "won_text": charts.money(won, currency),
                     "weighted_text": charts.money(weighted, currency), "total_text": charts.money(total, currency)})
    chart = charts.columns(
        [(r["month"], charts.month_label(r["month"], "\n")) for r in rows],
        [{"key": "won", "label": "Won", "values": [r["won"] for r in rows]},
         {"key": "weighted", "label": "Open, weighted by stage", "values": [r["weighted"] for r in rows]}],
        stacked=True, value_text=charts.compact,
    )
    summary = "; ".join(f"{r['label']}: {charts.compact(r['total'])} {currency}" for r in rows)
    return {"rows": rows, "chart": chart, "empty": not any(r["total"] for r in rows),
            "summary": f"Forecast per month (won plus weighted open), {summary}."}


def _closed(rt, pipeline, months, only):
    """Deals won and lost per month of their closing, from the first of ``months``."""
    outcomes = {s.key: s.outcome for s in pipeline.stages if s.outcome in ("won", "lost")}
    counts = defaultdict(int)
    if outcomes:
        for stage, month, count, _amount in pipeline_totals.totals(db.session, rt, pipeline.key, ("stage", "closed_month"),
                                                                   stages=outcomes, closed_from=months[0], only=only):
            counts[(outcomes[stage], month)] += count
    rows = [{"month": m, "label": charts.month_label(m), "won": counts[("won", m)], "lost": counts[("lost", m)]}
            for m in months]
    chart = charts.columns(
        [(r["month"], charts.month_label(r["month"], "\n")) for r in rows],
        [{"key": "won", "label": "Won", "values": [r["won"] for r in rows]},
         {"key": "lost", "label": "Lost", "values": [r["lost"] for r in rows]}],
        whole=True,
    )
    summary = "; ".join(f"{r['label']}: {r['won']} won, {r['lost']} lost" for r in rows if r["won"] or r["lost"])
    return {"rows": rows, "chart": chart, "empty": not any(r["won"] or r["lost"] for r in rows),
            "summary": f"{rt.plural_label} closed per month, {summary}."}


def month_keys(today, offset, count):
    """``count`` months as ``YYYY-MM`` starting ``offset`` months from ``today``'s."""
    start = today.year * 12 + today.month - 1 + offset
    return [f"{(start + i) // 12:04d}-{(start + i) % 12 + 1:02d}" for i in range(count)]


def _first_day(month):
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1)


def _last_day(month):
    year, number = (int(part) for part in month.split("-"))
    following = date(year + number // 12, number % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


# Tasks ----------------------------------------------------------------------------------


def my_open_tasks(catalog, actor):
    """The first :data:`TASKS_SHOWN` open tasks the actor owns, soonest due first (undated
    last), and whether there are more. ``kind`` and ``done`` are written into the SQL as
    literals so that PostgreSQL's generic plans still match the partial open-task index."""
    rt = catalog.type("activity")
    if rt is None or not permissions.allows(actor, rt, "read"):
        return None
    user_id = actor.user_id
    table = rt.table
    rows = db.session.execute(
        select(table.c.id, table.c.subject, table.c.due_at)
        .where(table.c.deleted_at.is_(None), table.c.kind == literal("task", literal_execute=True),
               table.c.done == false(), table.c.owner_id == user_id)
        .order_by(table.c.due_at.asc().nulls_last(), table.c.id)
        .limit(TASKS_SHOWN + 1)
    ).all()
    now = utcnow()
    shown = [{"id": row.id, "subject": row.subject, "url": f"/{rt.plural}/{row.id}", "due_at": row.due_at,
              "overdue": row.due_at is not None and row.due_at < now}
             for row in rows[:TASKS_SHOWN]]
    return {"shown": shown, "more": len(rows) > TASKS_SHOWN, "field": rt.fields["due_at"]}


# Plugin widgets -------------------------------------------------------------------------


def plugin_widgets(catalog, user):
    """Each widget active plugins register with its data; a widget that fails is shown as
    unavailable (and logged, naming the plugin) instead of breaking the page. Each runs in
    a savepoint, so a failed query of one leaves the others a usable transaction."""
    app = current_app._get_current_object()
    widgets = []
    for plugin_name, widget in catalog.registrations.dashboard_widgets:
        spec = widget if isinstance(widget, dict) else {}
        shown = {"key": spec.get("key") or plugin_name, "title": spec.get("title") or plugin_name,
                 "plugin": plugin_name, "data": None, "failed": False}
        try:
            with db.session.begin_nested():
                shown["data"] = widget_view(spec["data"](app, user))
        except Exception:  # noqa: BLE001 - one plugin's widget must never break the dashboard
            log.exception("dashboard widget %r of plugin %r failed", shown["key"], plugin_name)
            shown["failed"] = True
        widgets.append(shown)
    return widgets


def data_widgets(catalog, actor):
    """The widgets declared as data (``dashboard_widget_definition`` rows), drawn like
    plugins' ones; a widget over a type the actor does not read is left out, one that
    fails is shown as unavailable."""
    from ..declared_types import widget_rows

    widgets = []
    for widget in catalog.widgets:
        shown = {"key": widget["key"], "title": widget["title"], "plugin": widget["origin"], "data": None,
                 "failed": False}
        try:
            with db.session.begin_nested():
                rows = widget_rows(catalog, widget, actor)
            if rows is None:
                continue
            shown["data"] = widget_view(rows)
        except Exception:  # a malformed definition must never break the dashboard
            log.exception("dashboard widget %r (%s) failed", widget["key"], widget["origin"])
            shown["failed"] = True
        widgets.append(shown)
    return widgets


def widget_view(value, depth=0):
    """Any JSON-able value as a small display tree the template draws generically: a
    mapping as a definition list, a list of mappings as a table, other lists as a list,
    the rest as text; long lists are cut at :data:`WIDGET_ITEMS` entries."""
    if isinstance(value, dict) and depth < 2:
        items = list(value.items())
        return {"kind": "pairs", "entries": [(_label(k), widget_view(v, depth + 1)) for k, v in items[:WIDGET_ITEMS * 2]],
                "more": max(len(items) - WIDGET_ITEMS * 2, 0)}
    if isinstance(value, (list, tuple)) and depth < 2:
        more = max(len(value) - WIDGET_ITEMS, 0)
        shown = list(value[:WIDGET_ITEMS])
        if shown and all(isinstance(item, dict) for item in shown):
            keys = list(dict.fromkeys(k for item in shown for k in item))
            if "label" in keys and "key" in keys:
                keys.remove("key")
            keys = keys[:WIDGET_COLUMNS]
            return {"kind": "table", "columns": [_label(k) for k in keys],
                    "rows": [[_text(item.get(k)) for k in keys] for item in shown], "more": more}
        return {"kind": "list", "entries": [widget_view(item, depth + 1) for item in shown], "more": more}
    return {"kind": "text", "text": _text(value)}


def _label(key):
    return str(key).replace("_", " ").strip().capitalize() or "—"


def _text(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float, Decimal)):
        return f"{value:,}"
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= WIDGET_TEXT else text[:WIDGET_TEXT - 1] + "…"
