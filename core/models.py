"""Core tables: the record types of the horizontal core and the tables the kernel runs on."""

from sqlalchemy import (
    BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .db import IdType, JsonType, UTCDateTime, db, utcnow
from .descriptors import RecordTypeOptions, Relation, record_field

LIVE = text("deleted_at IS NULL")
TRASHED = text("deleted_at IS NOT NULL")


class RecordColumns:
    """The standard columns of every record, including the trash and the custom-field store.

    Every column of every table carries a personal-data tag, ``info["pii"]`` (a test
    refuses an untagged one): ``True`` where it may hold values that identify a person.
    ``custom`` is tagged ``True`` because custom fields may be personal (each has its own
    ``pii`` flag, which privacy export and erasure follow)."""

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    updated_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    created_by = mapped_column(IdType, ForeignKey("user.id"), nullable=True, info={"pii": False})
    owner_id = record_field("reference", label="Owner", reference="user", foreign_key="user.id")
    version = mapped_column(Integer, nullable=False, default=1, info={"pii": False})
    deleted_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    deleted_by = mapped_column(IdType, ForeignKey("user.id"), nullable=True, info={"pii": False})
    custom = mapped_column(JsonType, nullable=False, default=dict, info={"pii": True})


def live_indexes(table_name, *columns):
    """The keyset indexes: live rows by ``(created_at, id)``, by owner then creation (a
    user who reads only their own or their team's records), by any extra sort keys, and
    the trash by deletion time. The trash index covers trashed rows only, so it never
    tempts a planner away from the live ones."""
    return (
        Index(f"ix_{table_name}_live_created", "created_at", "id", postgresql_where=LIVE, sqlite_where=LIVE),
        Index(f"ix_{table_name}_live_owner", "owner_id", "created_at", "id", postgresql_where=LIVE, sqlite_where=LIVE),
        Index(f"ix_{table_name}_trash", "deleted_at", "id", postgresql_where=TRASHED, sqlite_where=TRASHED),
        *(
            Index(f"ix_{table_name}_live_{col}", col, "id", postgresql_where=LIVE, sqlite_where=LIVE)
            for col in columns
        ),
    )


class Team(RecordColumns, db.Model):
    __tablename__ = "team"
    __accord__ = RecordTypeOptions(
        key="team", label="Team", plural_label="Teams", plural="teams", title_fields=("name",),
        description="A group of users that owns records together.", default_sort="name",
    )
    __table_args__ = live_indexes("team", "name")

    name = record_field("text", required=True, searchable=True, max_length=120)
    description = record_field("long_text")


class User(RecordColumns, db.Model):
    __tablename__ = "user"
    __accord__ = RecordTypeOptions(
        key="user", label="User", plural_label="Users", plural="users", title_fields=("name",),
        description="A person who signs in to Accord and owns records.", default_sort="name",
    )

    email = record_field("email", required=True, pii=True, searchable=True, max_length=254)
    name = record_field("text", required=True, pii=True, searchable=True, max_length=120)
    team_id = record_field("reference", label="Team", reference="team", index=True)
    is_active = record_field("boolean", label="Active", default=True)
    is_admin = record_field("boolean", label="Administrator", default=False, read_only=True)
    role = record_field("text", label="Role", default="user", read_only=True, max_length=64,
                        help="What the user may do: a key of 'accord users roles'. Set with 'accord users set-role'.")
    password_hash = mapped_column(String(255), nullable=True, info={"pii": False})

    __table_args__ = (*live_indexes("user", "name"), UniqueConstraint("email"))


class Territory(RecordColumns, db.Model):
    __tablename__ = "territory"
    __accord__ = RecordTypeOptions(
        key="territory", label="Territory", plural_label="Territories", plural="territories",
        title_fields=("name",), default_sort="name",
        description="A sales region; organizations and deals belong to one for forecasts.",
    )
    __table_args__ = live_indexes("territory", "name")

    name = record_field("text", required=True, searchable=True, max_length=120)
    description = record_field("long_text")


class Organization(RecordColumns, db.Model):
    __tablename__ = "organization"
    __accord__ = RecordTypeOptions(
        key="organization", label="Organization", plural_label="Organizations", plural="organizations",
        title_fields=("name",), timeline=True,
        description="A company, household or institution you do business with.",
    )
    __table_args__ = live_indexes("organization", "name")

    name = record_field("text", required=True, searchable=True, max_length=200)
    website = record_field("url", searchable=True)
    industry = record_field("text", max_length=80)
    phone = record_field("phone", searchable=True)
    email = record_field("email", searchable=True)
    employees = record_field("integer")
    street = record_field("text", max_length=200)
    city = record_field("text", max_length=120)
    postal_code = record_field("text", max_length=20)
    country = record_field("text", max_length=80)
    territory_id = record_field("reference", label="Territory", reference="territory",
                                foreign_key="territory.id", index=True)
    description = record_field("long_text")


class Contact(RecordColumns, db.Model):
    __tablename__ = "contact"
    __accord__ = RecordTypeOptions(
        key="contact", label="Contact", plural_label="Contacts", plural="contacts",
        title_fields=("first_name", "last_name"), timeline=True,
        description="A person: customer, prospect, donor or partner.",
    )
    __table_args__ = (
        *live_indexes("contact", "last_name"),
        Index("ix_contact_live_email", "email", postgresql_where=LIVE, sqlite_where=LIVE),
    )

    first_name = record_field("text", pii=True, searchable=True, max_length=100)
    last_name = record_field("text", required=True, pii=True, searchable=True, max_length=100)
    email = record_field("email", pii=True, searchable=True, max_length=254)
    phone = record_field("phone", pii=True, searchable=True)
    mobile = record_field("phone", pii=True, searchable=True)
    job_title = record_field("text", max_length=120)
    organization_id = record_field("reference", label="Organization", reference="organization",
                                   foreign_key="organization.id", index=True)
    street = record_field("text", pii=True, max_length=200)
    city = record_field("text", max_length=120)
    postal_code = record_field("text", pii=True, max_length=20)
    country = record_field("text", max_length=80)
    description = record_field("long_text")


deal_contact = Table(
    "deal_contact",
    db.metadata,
    Column("deal_id", IdType, ForeignKey("deal.id", ondelete="CASCADE"), primary_key=True, info={"pii": False}),
    Column("contact_id", IdType, ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True, index=True, info={"pii": False}),
)


class Deal(RecordColumns, db.Model):
    __tablename__ = "deal"
    __accord__ = RecordTypeOptions(
        key="deal", label="Deal", plural_label="Deals", plural="deals", title_fields=("name",),
        pipeline="sales", timeline=True,
        description="A sales opportunity moving through a pipeline from first contact to close.",
        relations=(Relation("contact_ids", "contact", deal_contact, "deal_id", "contact_id", "Contacts"),),
    )
    __table_args__ = (
        *live_indexes("deal", "name", "expected_close_date"),
        Index("ix_deal_live_stage", "pipeline", "stage", "id", postgresql_where=LIVE, sqlite_where=LIVE),
        # Covers the forecast, so it reads this narrow index instead of the wide rows.
        Index("ix_deal_live_stage_updated", "pipeline", "stage", "updated_at", "id", postgresql_where=LIVE,
              sqlite_where=LIVE),
        Index("ix_deal_closed", "pipeline", "stage", "closed_at", postgresql_where=LIVE, sqlite_where=LIVE),
        Index("ix_deal_forecast", "pipeline", "stage", "expected_close_month", "owner_id", "territory_id",
              "currency", "amount", postgresql_where=LIVE, sqlite_where=LIVE),
    )

    name = record_field("text", required=True, searchable=True, max_length=200)
    organization_id = record_field("reference", label="Organization", reference="organization",
                                   foreign_key="organization.id", index=True)
    amount = record_field("decimal", default="0")
    currency = record_field("text", max_length=3, help="ISO 4217 code; the instance default when omitted.")
    pipeline = record_field("text", max_length=64, help="Pipeline key; the type's default when omitted.")
    stage = record_field("text", max_length=64, help="Stage key within the pipeline.")
    expected_close_date = record_field("date")
    expected_close_month = record_field("text", max_length=7, read_only=True,
                                        help="YYYY-MM of the expected close date; kept by Accord.")
    closed_at = record_field("datetime", read_only=True)
    close_reason = record_field("text", max_length=200, help="Why the deal was won or lost.")
    territory_id = record_field("reference", label="Territory", reference="territory",
                                foreign_key="territory.id", index=True)
    description = record_field("long_text")


ACTIVITY_KINDS = ("call", "email", "meeting", "task", "note")


class Activity(RecordColumns, db.Model):
    __tablename__ = "activity"
    __accord__ = RecordTypeOptions(
        key="activity", label="Activity", plural_label="Activities", plural="activities",
        title_fields=("subject",), default_sort="-occurred_at",
        description="An interaction or to-do (call, email, meeting, task, note) on any record's timeline.",
    )
    __table_args__ = (
        *live_indexes("activity", "occurred_at"),
        Index("ix_activity_regarding", "related_type", "related_id", "occurred_at", "id",
              postgresql_where=LIVE, sqlite_where=LIVE),
        Index("ix_activity_open_tasks", "owner_id", "due_at",
              postgresql_where=text("deleted_at IS NULL AND kind = 'task' AND done = false"),
              sqlite_where=text("deleted_at IS NULL AND kind = 'task' AND done = 0")),
    )

    kind = record_field("choice", required=True, choices=ACTIVITY_KINDS)
    subject = record_field("text", required=True, pii=True, searchable=True, max_length=200)
    body = record_field("long_text", pii=True, searchable=True)
    related_type = record_field("text", label="Regarding type", max_length=64,
                                help="Key of the record type this activity belongs to.")
    related_id = record_field("integer", label="Regarding id")
    occurred_at = record_field("datetime", label="When", help="When it happened; defaults to now.")
    due_at = record_field("datetime", label="Due", help="Tasks: when it is due.")
    done = record_field("boolean", default=False, help="Tasks: whether it is done.")
    done_at = record_field("datetime", read_only=True)


CONSENT_CHANNELS = (("email", "Email"), ("phone", "Phone"), ("sms", "SMS"), ("post", "Post"), ("web", "Web"),
                    ("in_person", "In person"))
CONSENT_STATUSES = ("granted", "withdrawn")


class Consent(RecordColumns, db.Model):
    """A person's consent to be contacted for one purpose on one channel, granted or
    withdrawn: one record per decision, so the history of a consent is its records."""

    __tablename__ = "consent"
    __accord__ = RecordTypeOptions(
        key="consent", label="Consent", plural_label="Consents", plural="consents", title_fields=("purpose",),
        default_sort="-at",
        description="A contact's consent for a purpose on a channel: granted or withdrawn, when, where and the evidence.",
    )
    __table_args__ = live_indexes("consent", "at")

    contact_id = record_field("reference", label="Contact", required=True, reference="contact",
                              foreign_key="contact.id", index=True)
    purpose = record_field("text", required=True, searchable=True, max_length=120,
                           help="What the person agreed to or refused, e.g. newsletter or event invitations.")
    channel = record_field("choice", required=True, choices=CONSENT_CHANNELS, help="The channel it covers.")
    status = record_field("choice", required=True, choices=CONSENT_STATUSES,
                          help="granted or withdrawn; the newest record for a purpose and channel counts.")
    at = record_field("datetime", label="When", help="When it was granted or withdrawn; defaults to now.")
    source = record_field("text", max_length=200, help="Where it was given: a web form, a call, a paper form, an import.")
    evidence = record_field("long_text", pii=True,
                            help="What proves it: the wording agreed to, a form submission, a call recording reference.")


CORE_MODELS = (Team, User, Territory, Organization, Contact, Deal, Activity, Consent)


class Pipeline(db.Model):
    """A pipeline on a record type; stages are rows so packs and admins can change them."""

    __tablename__ = "pipeline"
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    key = mapped_column(String(64), nullable=False, unique=True, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    is_default = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="core", info={"pii": False})


class PipelineStage(db.Model):
    __tablename__ = "pipeline_stage"
    __table_args__ = (UniqueConstraint("pipeline_id", "key"),)
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    pipeline_id = mapped_column(Integer, ForeignKey("pipeline.id", ondelete="CASCADE"), nullable=False, info={"pii": False})
    key = mapped_column(String(64), nullable=False, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    position = mapped_column(Integer, nullable=False, info={"pii": False})
    probability = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    outcome = mapped_column(String(8), nullable=False, default="open", info={"pii": False})
    allowed_next = mapped_column(JsonType, nullable=True, info={"pii": False})
    reasons = mapped_column(JsonType, nullable=True, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="core", info={"pii": False})


class StageHistory(db.Model):
    """Every stage change of every pipelined record: the source of conversion and velocity."""

    __tablename__ = "stage_history"
    __table_args__ = (Index("ix_stage_history_record", "record_type", "record_id", "id"),)
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    record_id = mapped_column(IdType, nullable=False, info={"pii": False})
    pipeline = mapped_column(String(64), nullable=False, info={"pii": False})
    from_stage = mapped_column(String(64), nullable=True, info={"pii": False})
    to_stage = mapped_column(String(64), nullable=False, info={"pii": False})
    changed_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    changed_by = mapped_column(IdType, ForeignKey("user.id"), nullable=True, info={"pii": False})
    seconds_in_previous = mapped_column(Integer, nullable=True, info={"pii": False})
    reason = mapped_column(String(200), nullable=True, info={"pii": False})


class CustomField(db.Model):
    """A field added at run time; its values live in the record table's ``custom`` column."""

    __tablename__ = "custom_field"
    __table_args__ = (UniqueConstraint("record_type", "name"),)
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    name = mapped_column(String(63), nullable=False, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    kind = mapped_column(String(20), nullable=False, info={"pii": False})
    required = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    choices = mapped_column(JsonType, nullable=True, info={"pii": False})
    default = mapped_column(JsonType, nullable=True, info={"pii": False})
    reference = mapped_column(String(64), nullable=True, info={"pii": False})
    pii = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    sensitive = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    indexed = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    searchable = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    help = mapped_column(Text, nullable=False, default="", info={"pii": False})
    position = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    created_by = mapped_column(IdType, ForeignKey("user.id"), nullable=True, info={"pii": False})
    removed_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})


class Role(db.Model):
    """A custom role (:mod:`accord.core.permissions`), added by an admin or a vertical pack
    beside the built-in ones. ``grants`` is ``{record type key or "*": {"verbs": [...],
    "scope": "own"|"team"|"all"}}``."""

    __tablename__ = "role"
    key = mapped_column(String(64), primary_key=True, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    description = mapped_column(Text, nullable=False, default="", info={"pii": False})
    grants = mapped_column(JsonType, nullable=False, info={"pii": False})
    sensitive = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    user_id = mapped_column(IdType, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, info={"pii": False})
    name = mapped_column(String(120), nullable=False, info={"pii": False})
    token_hash = mapped_column(String(64), nullable=False, unique=True, info={"pii": False})
    scopes = mapped_column(JsonType, nullable=False, default=list, info={"pii": False})
    record_types = mapped_column(JsonType, nullable=True, info={"pii": False})  # keys of the types it may reach; NULL: every type
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    expires_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    revoked_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})


class IdempotencyRecord(db.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed on a retry."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    user_id = mapped_column(IdType, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, info={"pii": False})
    key = mapped_column(String(255), nullable=False, info={"pii": False})
    request_hash = mapped_column(String(64), nullable=False, info={"pii": False})
    status_code = mapped_column(Integer, nullable=False, info={"pii": False})
    response_body = mapped_column(Text, nullable=False, info={"pii": True})
    response_headers = mapped_column(JsonType, nullable=False, default=dict, info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, index=True, info={"pii": False})


class SchemaGeneration(db.Model):
    """A counter bumped in the same transaction as any change to types, fields or pipelines,
    so every worker process notices and reloads its descriptors."""

    __tablename__ = "schema_generation"
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    value = mapped_column(Integer, nullable=False, default=0, info={"pii": False})


class PluginState(db.Model):
    """A discovered plugin as this instance has it: switched on or off, the version whose
    migrations ran, its settings. Kept here, not in a process, so every worker agrees."""

    __tablename__ = "plugin_state"
    name = mapped_column(String(40), primary_key=True, info={"pii": False})
    enabled = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    installed_version = mapped_column(String(40), nullable=True, info={"pii": False})
    settings = mapped_column(JsonType, nullable=False, default=dict, info={"pii": False})
    changed_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    changed_by = mapped_column(String(120), nullable=True, info={"pii": True})


class PluginObject(db.Model):
    """Something a plugin created (a table, column, record type, field, pipeline, stage,
    permission or file), so uninstalling removes exactly that, and nothing another plugin
    also claims."""

    __tablename__ = "plugin_object"
    __table_args__ = (UniqueConstraint("plugin", "kind", "name"),)
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    plugin = mapped_column(String(40), nullable=False, index=True, info={"pii": False})
    kind = mapped_column(String(20), nullable=False, info={"pii": False})
    name = mapped_column(String(200), nullable=False, info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class InstanceSetting(db.Model):
    """A setting of this instance that every worker must agree on (the active theme)."""

    __tablename__ = "instance_setting"
    key = mapped_column(String(64), primary_key=True, info={"pii": False})
    value = mapped_column(JsonType, nullable=True, info={"pii": False})
    changed_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class SavedView(db.Model):
    """A named list page (filters, sort, columns) a user keeps for a record type; without a
    user it is shared with everyone, added by a vertical pack or an admin (``origin``)."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "record_type", "name"),)
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    user_id = mapped_column(IdType, ForeignKey("user.id", ondelete="CASCADE"), nullable=True, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    name = mapped_column(String(120), nullable=False, info={"pii": False})
    query = mapped_column(Text, nullable=False, info={"pii": True})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    origin = mapped_column(String(64), nullable=True, info={"pii": False})  # a shared view (user_id NULL): the pack or "local"


class SearchEntry(db.Model):
    """One row per live searchable record; the full-text index is built over it."""

    __tablename__ = "search_entry"
    __table_args__ = (UniqueConstraint("record_type", "record_id"), Index("ix_search_entry_owner", "owner_id", "record_type"))
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    record_id = mapped_column(IdType, nullable=False, info={"pii": False})
    owner_id = mapped_column(IdType, nullable=True, info={"pii": False})
    title = mapped_column(Text, nullable=False, info={"pii": True})
    body = mapped_column(Text, nullable=False, default="", info={"pii": True})


class PipelineTotal(db.Model):
    """How many live records of a pipelined type, and how much of their amount, sit in
    one stage, currency, expected close month and closing month; kept by the service
    layer in each write's transaction (see :mod:`accord.core.pipeline_totals`).

    Amounts are split into whole units and millionths, both integers, so the running
    sums stay exact on SQLite too."""

    __tablename__ = "pipeline_total"
    record_type = mapped_column(String(64), primary_key=True, info={"pii": False})
    pipeline = mapped_column(String(64), primary_key=True, info={"pii": False})
    stage = mapped_column(String(64), primary_key=True, info={"pii": False})
    currency = mapped_column(String(16), primary_key=True, default="", info={"pii": False})
    close_month = mapped_column(String(7), primary_key=True, default="", info={"pii": False})
    closed_month = mapped_column(String(7), primary_key=True, default="", info={"pii": False})
    records = mapped_column(BigInteger, nullable=False, default=0, info={"pii": False})
    amount_units = mapped_column(BigInteger, nullable=False, default=0, info={"pii": False})
    amount_micros = mapped_column(BigInteger, nullable=False, default=0, info={"pii": False})


JOB_STATES = ("queued", "running", "succeeded", "failed")


class Job(db.Model):
    """One background job: what to run, with which arguments, and how it went.

    The row is the job's truth on both backends: enqueueing writes it in the caller's
    transaction (so a rollback enqueues nothing), a runner claims it by moving it to
    ``running`` with a lease, and a lease that runs out (a killed worker) frees it again.
    ``dispatched_at`` is when the last broker message for it is due (Celery backend only),
    so the scheduler resends only jobs whose message went missing."""

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("name", "key"),
        Index("ix_job_due", "state", "run_at"),
    )
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    name = mapped_column(String(120), nullable=False, info={"pii": False})
    key = mapped_column(String(200), nullable=True, info={"pii": False})
    arguments = mapped_column(JsonType, nullable=False, default=dict, info={"pii": True})
    state = mapped_column(String(16), nullable=False, default="queued", info={"pii": False})
    attempts = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    max_attempts = mapped_column(Integer, nullable=False, default=5, info={"pii": False})
    run_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    lease_until = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    last_error = mapped_column(Text, nullable=True, info={"pii": True})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    started_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    finished_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    dispatched_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})


WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored", "stage_changed", "erased")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


class WebhookSubscription(db.Model):
    """A URL that receives record events (see :mod:`accord.core.webhooks`).

    The secret is stored as given: signing with HMAC needs it in the clear, so it is
    answered once, on creation, and never again; whoever reads the database reads it."""

    __tablename__ = "webhook_subscription"
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    url = mapped_column(String(2000), nullable=False, info={"pii": False})
    events = mapped_column(JsonType, nullable=False, info={"pii": False})
    record_types = mapped_column(JsonType, nullable=True, info={"pii": False})
    secret = mapped_column(String(200), nullable=False, info={"pii": False})
    active = mapped_column(Boolean, nullable=False, default=True, info={"pii": False})
    description = mapped_column(Text, nullable=False, default="", info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    updated_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    created_by = mapped_column(IdType, ForeignKey("user.id", ondelete="SET NULL"), nullable=True, info={"pii": False})


class WebhookDelivery(db.Model):
    """One event for one subscription: the exact body to send, written in the same
    transaction as the change it reports (the outbox), and how sending it went.

    ``replays`` counts the replays; each queues a job of its own. A deleted
    subscription's deliveries stay, without it, for the record."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
        Index("ix_webhook_delivery_subscription_status", "subscription_id", "status", "id"),
        Index("ix_webhook_delivery_event", "event_id"),
    )
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    subscription_id = mapped_column(Integer, ForeignKey("webhook_subscription.id", ondelete="SET NULL"),
                                    nullable=True, info={"pii": False})
    event_id = mapped_column(String(36), nullable=False, info={"pii": False})
    event = mapped_column(String(32), nullable=False, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    record_id = mapped_column(IdType, nullable=False, info={"pii": False})
    body = mapped_column(Text, nullable=False, info={"pii": True})
    status = mapped_column(String(16), nullable=False, default="pending", info={"pii": False})
    attempts = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    replays = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    last_attempt_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    last_error = mapped_column(Text, nullable=True, info={"pii": False})
    delivered_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})


class WebhookAttempt(db.Model):
    """One try at sending a delivery: the answer's status code, how long it took, the error."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (Index("ix_webhook_attempt_delivery", "delivery_id", "id"),)
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    delivery_id = mapped_column(IdType, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), nullable=False, info={"pii": False})
    replay = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    attempted_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    status_code = mapped_column(Integer, nullable=True, info={"pii": False})
    duration_ms = mapped_column(Integer, nullable=False, info={"pii": False})
    error = mapped_column(Text, nullable=True, info={"pii": False})


class SignInFailure(db.Model):
    """A wrong password at sign-in, by account (the email as typed, lower-cased) and by
    network address; recent ones slow down guessing (:mod:`accord.core.throttle`)."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        Index("ix_sign_in_failure_email", "email", "at"),
        Index("ix_sign_in_failure_address", "address", "at"),
    )
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    email = mapped_column(String(254), nullable=False, info={"pii": True})
    address = mapped_column(String(64), nullable=False, info={"pii": True})
    at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class WebSession(db.Model):
    """A signed-in browser: the web UI's session cookie carries only a random id, stored
    here as its SHA-256, so signing out, deactivation and timeouts take effect on the next
    request in every process (:mod:`accord.core.sessions`). A session ends when revoked,
    ``SESSION_IDLE_MINUTES`` after ``last_seen_at`` (refreshed at most once a minute) or
    ``SESSION_MAX_HOURS`` after ``created_at``, whichever comes first."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_user", "user_id", "revoked_at"),
                      Index("ix_web_session_created", "created_at"))
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    token_hash = mapped_column(String(64), nullable=False, unique=True, info={"pii": False})
    user_id = mapped_column(IdType, ForeignKey("user.id", ondelete="CASCADE"), nullable=False, info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    last_seen_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    revoked_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    address = mapped_column(String(64), nullable=True, info={"pii": True})
    user_agent = mapped_column(String(255), nullable=True, info={"pii": True})


class PasswordResetRequest(db.Model):
    """A request for a password-reset email, by the email as typed (lower-cased, whether or
    not an account uses it) and by network address; recent ones limit how many emails one
    person can have sent (:mod:`accord.core.throttle`)."""

    __tablename__ = "password_reset_request"
    __table_args__ = (
        Index("ix_password_reset_request_email", "email", "at"),
        Index("ix_password_reset_request_address", "address", "at"),
    )
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    email = mapped_column(String(254), nullable=False, info={"pii": True})
    address = mapped_column(String(64), nullable=False, info={"pii": True})
    at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


AUDIT_ACTIONS = ("created", "updated", "deleted", "restored", "exported", "erased", "viewed")


class AuditEntry(db.Model):
    """Who did what to which record, and when (:mod:`accord.core.audit`): written in the
    same transaction as the write it tells of, never deleted, and never updated except
    when a person's data is erased: then the personal values in ``changes`` are replaced
    by a marker (see :class:`AuditRedaction`).

    No foreign keys: an entry outlives its record, its record type and its actor's
    account. ``actor_name`` and ``source`` keep who acted and through which door (``api``,
    ``web``, ``import``, ``cli``, ``system``...) as they were; ``actor_id`` is ``None`` for
    the system and jobs. ``changes`` is ``{field: [before, after]}``; ``details`` holds
    what an action other than a field change needs (an export's format and count, the
    fields an erasure emptied)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_record", "record_type", "record_id", "id"),
        Index("ix_audit_entry_actor", "actor_id", "id"),
        Index("ix_audit_entry_at", "at"),
    )
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    actor_id = mapped_column(IdType, nullable=True, info={"pii": False})
    actor_name = mapped_column(String(120), nullable=False, default="", info={"pii": True})
    source = mapped_column(String(32), nullable=False, info={"pii": False})
    action = mapped_column(String(16), nullable=False, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    record_id = mapped_column(IdType, nullable=True, info={"pii": False})
    changes = mapped_column(JsonType, nullable=True, info={"pii": True})
    details = mapped_column(JsonType, nullable=True, info={"pii": False})
    request_id = mapped_column(String(64), nullable=True, info={"pii": False})


class AuditRedaction(db.Model):
    """A permit to redact the values of one audit entry, valid only inside the transaction
    that writes it (:func:`accord.core.privacy.erase_contact`).

    The triggers on ``audit_entry`` refuse every ``UPDATE`` except one of an entry named
    here that changes nothing but its ``changes``. An erasure writes its permits, redacts
    and removes them before it commits, so outside an erasure this table is empty and the
    trail is as append-only as before."""

    __tablename__ = "audit_redaction"
    entry_id = mapped_column(IdType, primary_key=True, autoincrement=False, info={"pii": False})


class RecordTypeDefinition(db.Model):
    """A record type declared without code (by a vertical pack or an admin): its rows live
    in ``table_name``, which has the standard record columns and keeps every field in
    ``custom``; its fields are ``custom_field`` rows."""

    __tablename__ = "record_type_definition"
    key = mapped_column(String(64), primary_key=True, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    plural_label = mapped_column(String(120), nullable=False, info={"pii": False})
    plural = mapped_column(String(64), nullable=False, unique=True, info={"pii": False})
    table_name = mapped_column(String(63), nullable=False, unique=True, info={"pii": False})
    title_fields = mapped_column(JsonType, nullable=False, default=list, info={"pii": False})
    description = mapped_column(Text, nullable=False, default="", info={"pii": False})
    pipeline = mapped_column(String(64), nullable=True, info={"pii": False})
    timeline = mapped_column(Boolean, nullable=False, default=False, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class Term(db.Model):
    """A renamed term shown in the UI and API labels, never in keys: ``target`` is
    ``type:<key>``, ``field:<type>.<name>`` or ``stage:<pipeline>.<stage>``."""

    __tablename__ = "term"
    target = mapped_column(String(200), primary_key=True, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    plural_label = mapped_column(String(120), nullable=True, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})


class PicklistValue(db.Model):
    """A choice added to a choice field (built-in or custom) by a vertical pack or an admin,
    listed after the field's own choices in ``position`` order."""

    __tablename__ = "picklist_value"
    __table_args__ = (UniqueConstraint("record_type", "field", "key"),)
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    field = mapped_column(String(63), nullable=False, info={"pii": False})
    key = mapped_column(String(64), nullable=False, info={"pii": False})
    label = mapped_column(String(120), nullable=False, info={"pii": False})
    position = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})


class DashboardWidgetDefinition(db.Model):
    """A dashboard widget declared as data: a count or a sum over one record type, grouped
    by a choice field or its pipeline stage."""

    __tablename__ = "dashboard_widget_definition"
    key = mapped_column(String(64), primary_key=True, info={"pii": False})
    title = mapped_column(String(120), nullable=False, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    measure = mapped_column(String(16), nullable=False, default="count", info={"pii": False})
    field = mapped_column(String(63), nullable=True, info={"pii": False})
    group_by = mapped_column(String(63), nullable=True, info={"pii": False})
    position = mapped_column(Integer, nullable=False, default=0, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})


class HelpTopicDefinition(db.Model):
    """A help topic declared as data, shown beside the code-declared ones."""

    __tablename__ = "help_topic_definition"
    key = mapped_column(String(64), primary_key=True, info={"pii": False})
    title = mapped_column(String(200), nullable=False, info={"pii": False})
    body = mapped_column(Text, nullable=False, info={"pii": False})
    pages = mapped_column(JsonType, nullable=False, default=list, info={"pii": False})
    group = mapped_column(String(120), nullable=True, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})


class AutomationRule(db.Model):
    """When a record of ``record_type`` is created, enters a stage or has a field changed,
    and ``conditions`` hold, run ``actions`` (:mod:`accord.core.automation`)."""

    __tablename__ = "automation_rule"
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    key = mapped_column(String(64), nullable=False, unique=True, info={"pii": False})
    label = mapped_column(String(200), nullable=False, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, index=True, info={"pii": False})
    trigger = mapped_column(String(20), nullable=False, info={"pii": False})
    trigger_value = mapped_column(String(64), nullable=True, info={"pii": False})
    conditions = mapped_column(JsonType, nullable=False, default=list, info={"pii": False})
    actions = mapped_column(JsonType, nullable=False, default=list, info={"pii": False})
    enabled = mapped_column(Boolean, nullable=False, default=True, info={"pii": False})
    origin = mapped_column(String(64), nullable=False, default="local", info={"pii": False})
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    updated_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class AutomationRun(db.Model):
    """One run of a rule on one record: what it did, or the error that stopped it (the
    triggering write stands either way)."""

    __tablename__ = "automation_run"
    __table_args__ = (Index("ix_automation_run_rule", "rule_key", "id"),)
    id = mapped_column(IdType, primary_key=True, autoincrement=True, info={"pii": False})
    rule_key = mapped_column(String(64), nullable=False, info={"pii": False})
    record_type = mapped_column(String(64), nullable=False, info={"pii": False})
    record_id = mapped_column(IdType, nullable=True, info={"pii": False})
    status = mapped_column(String(16), nullable=False, info={"pii": False})
    detail = mapped_column(Text, nullable=False, default="", info={"pii": False})
    at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})


class VerticalChangeset(db.Model):
    """One application of a vertical pack (or an upgrade to a newer version of it):
    ``operations`` lists what it changed with what each replaced, so a revert undoes
    exactly it. Packs stack by ``id``; a reverted changeset keeps its row."""

    __tablename__ = "vertical_changeset"
    id = mapped_column(Integer, primary_key=True, info={"pii": False})
    pack = mapped_column(String(64), nullable=False, index=True, info={"pii": False})
    version = mapped_column(String(40), nullable=False, info={"pii": False})
    operations = mapped_column(JsonType, nullable=False, default=list, info={"pii": False})
    applied_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow, info={"pii": False})
    applied_by = mapped_column(String(120), nullable=True, info={"pii": True})
    reverted_at = mapped_column(UTCDateTime(), nullable=True, info={"pii": False})
    reverted_by = mapped_column(String(120), nullable=True, info={"pii": True})
    export_path = mapped_column(Text, nullable=True, info={"pii": False})
