"""Service desk: customer requests as tickets.

A ticket record type on its own table (``servicedesk_ticket``), the support pipeline
(new → open → pending → solved → closed), a first-response target per ticket from the
plugin's settings, the open and overdue work on the dashboard, and a help topic for the
ticket pages. Permissions and settings are declared in ``plugin.toml``.

The hooks below only wire things up; the rules live in :mod:`.sla`, the widgets in
:mod:`.dashboard`.
"""

from accord.core import hookimpl

from . import dashboard, sla
from .help import TICKETS_TOPIC
from .models import Ticket
from .pipeline import SUPPORT_PIPELINE


@hookimpl
def accord_record_types(app):
    return [Ticket]


@hookimpl
def accord_pipelines(app):
    return [SUPPORT_PIPELINE]


@hookimpl
def accord_record_before_save(app, record, changes, event):
    """Tickets get their first-response target on create and record their first response."""
    if record.type.key == Ticket.__accord__.key:
        sla.before_save(app, record, changes, event)


@hookimpl
def accord_navigation(app):
    return [{"label": "Tickets", "url": "/tickets", "order": 40}]


@hookimpl
def accord_dashboard_widgets(app):
    return [
        {"key": "servicedesk.open_by_priority", "title": "Open tickets by priority", "data": dashboard.open_by_priority},
        {"key": "servicedesk.overdue", "title": "Tickets overdue for a first response", "data": dashboard.overdue},
    ]


@hookimpl
def accord_help_topics(app):
    return [TICKETS_TOPIC]
