"""The ticket: a customer request moving through the support pipeline.

Its table is created by ``migrations/0001_servicedesk_ticket.py``, never from this model;
a test compares the two, so a change here without a migration fails. A ticket refers to
its contact, so the core's privacy export and erasure (:mod:`accord.core.privacy`) cover
it through its ``pii`` fields; the plugin keeps nothing personal outside the ticket.
"""

from sqlalchemy import Index, text

from accord.core import RecordColumns, RecordTypeOptions, db, live_indexes, record_field

TABLE = "servicedesk_ticket"
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "phone", "web", "chat")

LIVE = text("deleted_at IS NULL")
AWAITING_RESPONSE = text("deleted_at IS NULL AND first_responded_at IS NULL")


class Ticket(RecordColumns, db.Model):
    __tablename__ = TABLE
    __accord__ = RecordTypeOptions(
        key="ticket", label="Ticket", plural_label="Tickets", plural="tickets", title_fields=("subject",),
        pipeline="support", timeline=True,
        description="A customer request: a question, a problem or a complaint, from first contact to closed.",
    )
    __table_args__ = (
        *live_indexes(TABLE, "updated_at"),
        # The work queue: tickets by pipeline and stage; covers the open-by-priority count.
        Index(f"ix_{TABLE}_live_stage", "pipeline", "stage", "priority", "id",
              postgresql_where=LIVE, sqlite_where=LIVE),
        # Tickets still waiting for their first response, soonest due first: the SLA queue
        # and the overdue count read only this small index.
        Index(f"ix_{TABLE}_awaiting_response", "first_response_due_at", "id",
              postgresql_where=AWAITING_RESPONSE, sqlite_where=AWAITING_RESPONSE),
    )

    # The customer's own words, often with their name, address or account details: both are
    # personal, so a privacy erasure of the ticket's contact empties them.
    subject = record_field("text", required=True, pii=True, searchable=True, max_length=200)
    description = record_field("long_text", pii=True, searchable=True)
    priority = record_field("choice", choices=PRIORITIES, default="normal",
                            help="Urgent tickets get the shorter first-response target.")
    channel = record_field("choice", choices=CHANNELS, help="How the customer reached you.")
    contact_id = record_field("reference", label="Contact", reference="contact", foreign_key="contact.id",
                              index=True)
    organization_id = record_field("reference", label="Organization", reference="organization",
                                   foreign_key="organization.id", index=True)
    pipeline = record_field("text", max_length=64, help="Pipeline key; the type's default when omitted.")
    stage = record_field("text", max_length=64, help="Stage key within the pipeline; new tickets start in 'new'.")
    first_response_due_at = record_field(
        "datetime", label="First response due", read_only=True,
        help="When an agent should first respond, from the service desk settings; kept by Accord.")
    first_responded_at = record_field(
        "datetime", label="First responded", read_only=True,
        help="When the ticket first left 'new'; kept by Accord.")
    closed_at = record_field(
        "datetime", label="Resolved at", read_only=True,
        help="When the ticket was solved or closed, whichever came first; cleared when it is reopened.")
    close_reason = record_field("text", max_length=200, help="Why the ticket was closed, e.g. duplicate or spam.")
