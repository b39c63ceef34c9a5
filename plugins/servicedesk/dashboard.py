"""Dashboard widgets: the open work by priority, and the tickets past their first-response
target. Each is one or two aggregate queries read from the ticket table's partial
indexes, with a bounded answer (a row per priority, at most :data:`OLDEST_SHOWN` tickets),
over the tickets the signed-in user may read."""

from datetime import datetime, timezone

from sqlalchemy import and_, func, or_, select

from accord.core import current_accord, db, readable_rows

from .models import Ticket

OLDEST_SHOWN = 5


def open_by_priority(app, user):
    """``{"total": n, "priorities": [{"key", "label", "count"}, ...]}``, most urgent first;
    open means in a stage whose outcome is open (new, open, pending)."""
    catalog = current_accord(app).catalog()
    ticket = catalog.type(Ticket.__accord__.key)
    table = Ticket.__table__
    open_stages = [
        and_(table.c.pipeline == pipeline.key, table.c.stage.in_([s.key for s in pipeline.stages if s.outcome == "open"]))
        for pipeline in catalog.pipelines.values() if pipeline.record_type == ticket.key
    ]
    counts = {}
    if open_stages:
        counts = dict(db.session.execute(
            select(table.c.priority, func.count())
            .where(table.c.deleted_at.is_(None), or_(*open_stages), readable_rows(ticket, user))
            .group_by(table.c.priority)
        ).all())
    choices = list(reversed(ticket.fields["priority"].choices))
    priorities = [{"key": c.key, "label": c.label, "count": counts.pop(c.key, 0)} for c in choices]
    priorities += [{"key": key, "label": key or "None", "count": n} for key, n in counts.items()]
    return {"total": sum(p["count"] for p in priorities), "priorities": priorities}


def overdue(app, user, now=None):
    """``{"count": n, "oldest": [...]}``: live tickets nobody has responded to whose
    first-response target has passed, and the :data:`OLDEST_SHOWN` most overdue."""
    now = now or datetime.now(timezone.utc)
    ticket = current_accord(app).catalog().type(Ticket.__accord__.key)
    table = Ticket.__table__
    waiting = and_(table.c.deleted_at.is_(None), table.c.first_responded_at.is_(None),
                   table.c.first_response_due_at < now, readable_rows(ticket, user))
    count = db.session.execute(select(func.count()).select_from(table).where(waiting)).scalar_one()
    rows = db.session.execute(
        select(table.c.id, table.c.subject, table.c.priority, table.c.first_response_due_at)
        .where(waiting).order_by(table.c.first_response_due_at, table.c.id).limit(OLDEST_SHOWN)
    ).all() if count else []
    to_json = ticket.fields["first_response_due_at"].kind_impl.to_json
    return {"count": count, "oldest": [
        {"id": row.id, "subject": row.subject, "priority": row.priority,
         "first_response_due_at": to_json(row.first_response_due_at)}
        for row in rows
    ]}
