"""The service level of a ticket: its first-response target and the times it keeps.

Everything here runs inside the write's transaction (``accord_record_before_save``), so
the times are stored with the change that caused them, whichever door the write came
by (API, UI, import).

- ``first_response_due_at``: on create, the creation time plus the hours the plugin's
  settings give for the ticket's priority (``urgent_first_response_hours`` for urgent
  tickets, ``first_response_hours`` for the rest). Changing a ticket to or from urgent
  before anyone responded moves the target; a changed setting applies to new tickets.
- ``first_responded_at``: when the ticket first left the first stage of its pipeline
  (``new``); a ticket logged straight into a later stage was responded to as it was
  logged. Set once, never moved.
- ``closed_at`` is the core's: set when a ticket reaches a finished stage from an open one,
  kept from solved to closed (so it stays the time the request was resolved), cleared
  when it returns to an open stage.
"""

from datetime import timedelta

from accord.core import current_accord, plugin_settings

PLUGIN = "servicedesk"
URGENT = "urgent"
DEFAULT_PRIORITY = "normal"


def response_hours(priority, settings):
    """The hours to first response for a ticket of ``priority``."""
    if priority == URGENT:
        return settings["urgent_first_response_hours"]
    return settings["first_response_hours"]


def first_response_due(created_at, priority, settings):
    return created_at + timedelta(hours=response_hours(priority, settings))


def before_save(app, record, changes, event):
    """Keep a ticket's service-level times; see the module's docstring."""
    if event == "create":
        _on_create(app, record)
    elif event == "update":
        _on_update(app, record, changes)


def _on_create(app, record):
    if record.get("priority") is None:
        record["priority"] = DEFAULT_PRIORITY
    record["first_response_due_at"] = first_response_due(
        record["created_at"], record["priority"], plugin_settings(PLUGIN))
    if _past_first_stage(app, record):
        record["first_responded_at"] = record["created_at"]


def _on_update(app, record, changes):
    if "priority" in changes:
        before = changes["priority"][0]
        if record.get("priority") is None:
            record["priority"] = DEFAULT_PRIORITY
        if record.get("first_responded_at") is None and (before == URGENT) != (record["priority"] == URGENT):
            record["first_response_due_at"] = first_response_due(
                record["created_at"], record["priority"], plugin_settings(PLUGIN))
    if "stage" in changes and record.get("first_responded_at") is None and _past_first_stage(app, record):
        record["first_responded_at"] = record["updated_at"]


def _past_first_stage(app, record):
    pipeline = current_accord(app).catalog().pipeline_for(record.type, record.get("pipeline"))
    return pipeline is not None and record.get("stage") != pipeline.first_stage.key


def sla_status(ticket, now):
    """Where a ticket stands against its first-response target at ``now``.

    :param ticket: a ticket :class:`~accord.core.Record` (or a dict of its values, with
        datetimes as Python values).
    :param now: an aware datetime.
    :returns: ``{"state", "due_at", "responded_at"}`` where ``state`` is ``awaiting``
        (not yet due), ``overdue`` (due, no response yet), ``met`` (responded in time),
        ``missed`` (responded late) or ``none`` (no target).
    """
    due = ticket.get("first_response_due_at")
    responded = ticket.get("first_responded_at")
    if due is None:
        state = "none"
    elif responded is not None:
        state = "met" if responded <= due else "missed"
    else:
        state = "awaiting" if now < due else "overdue"
    return {"state": state, "due_at": due, "responded_at": responded}
