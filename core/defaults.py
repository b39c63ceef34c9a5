"""The core's own behaviour, registered as hook implementations like any plugin's,
so the core exercises the contract it offers."""

from .errors import RecordInvalid
from .hookspecs import hookimpl
from .models import CORE_MODELS
from .pipelines import SALES_PIPELINE

name = "accord.core"


@hookimpl
def accord_record_types(app):
    return list(CORE_MODELS)


@hookimpl
def accord_pipelines(app):
    return [SALES_PIPELINE]


@hookimpl
def accord_permissions(app):
    return [
        ("core.fields.manage", "Add and remove custom fields"),
        ("core.records.restore", "Restore records from the trash"),
    ]


@hookimpl
def accord_help_topics(app):
    """The core's help: a topic for every core page and concept (:mod:`.help_topics`)."""
    from .help_topics import TOPICS

    return TOPICS


@hookimpl
def accord_record_validate(app, record_type, values, record, actor):
    """Activities point at a live record of a known type; deals carry a known currency code."""
    if record_type.key == "activity":
        _check_regarding(app, values, record)
    if record_type.key == "deal" and values.get("currency") is not None:
        currency = values["currency"]
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise RecordInvalid({"currency": ["Use a three-letter ISO 4217 code such as EUR or USD."]})


@hookimpl
def accord_record_before_save(app, record, changes, event, actor):
    """Fill what a record needs and the caller left out: deal currency and close month
    (the forecast groups by it), activity times, when a consent was given; note the
    automation rules the write triggers (run once it is written). A user who is deactivated or deleted loses
    their web sessions in the same transaction (reactivating them revives none)."""
    switched_off = event == "update" and "is_active" in changes and not record.get("is_active")
    if record.type.key == "user" and (event == "delete" or switched_off):
        from .sessions import end_all

        end_all(record.get("id"))
    if event not in ("create", "update"):
        return
    from .automation import plan

    plan(app, record, changes, event, actor)
    if record.type.key == "deal":
        if not record.get("currency"):
            record["currency"] = app.config["ACCORD"]["DEFAULT_CURRENCY"]
        close = record.get("expected_close_date")
        record["expected_close_month"] = close.strftime("%Y-%m") if close else None
    if record.type.key == "consent" and record.get("at") is None:
        from .db import utcnow

        record["at"] = utcnow()
    if record.type.key == "activity":
        from .db import utcnow

        if record.get("occurred_at") is None:
            record["occurred_at"] = record.get("due_at") or utcnow()
        if "done" in changes:
            record["done_at"] = utcnow() if record.get("done") else None


@hookimpl
def accord_jobs(app):
    """The retry of a failed after-commit hook call; the sending of a webhook delivery; the
    sending of a password-reset email and of automation rules' emails; the daily privacy retention."""
    from .automation import jobs_declared as automation_jobs
    from .password_reset import jobs_declared
    from .privacy import retention_jobs
    from .records import AFTER_COMMIT_JOB, run_after_commit_hook
    from .webhooks import delivery_jobs

    return [{"name": AFTER_COMMIT_JOB, "run": run_after_commit_hook, "max_attempts": 8, "backoff_seconds": 30},
            *delivery_jobs(), *jobs_declared(), *automation_jobs(), *retention_jobs(app)]


@hookimpl
def accord_stage_transition_guard(app, record, pipeline, from_stage, to_stage, actor):
    """Closing as won or lost needs a reason from the stage's list, where it has one."""
    stage = pipeline.stage(to_stage)
    if stage is None or stage.outcome == "open" or not stage.reasons:
        return None
    reason = record.get("close_reason")
    if not reason:
        return f"Moving to '{to_stage}' needs a close_reason; one of: {', '.join(stage.reasons)}."
    if reason not in stage.reasons:
        return f"close_reason {reason!r} is not one of: {', '.join(stage.reasons)}."
    return None


def _check_regarding(app, values, record):
    from .registry import current_accord
    from .records import live_ids

    related_type = values.get("related_type", record.get("related_type") if record else None)
    related_id = values.get("related_id", record.get("related_id") if record else None)
    if related_type is None and related_id is None:
        return
    if related_type is None or related_id is None:
        raise RecordInvalid({"related_type": ["Give related_type and related_id together."]})
    target = current_accord(app).catalog().type(related_type)
    if target is None:
        raise RecordInvalid({"related_type": [f"There is no record type {related_type!r}."]})
    if "related_type" in values or "related_id" in values:
        if not live_ids(target, [related_id]):
            raise RecordInvalid({"related_id": [f"No live {target.label} has id {related_id}."]})
