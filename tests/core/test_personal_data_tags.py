"""Every column of every table, core and built-in plugins alike, says whether it may hold
personal data (``Column.info["pii"]``): a new column without the tag fails here, naming it."""

import accord.plugins.servicedesk.models  # noqa: F401  (its table joins db.metadata)
import pytest
from accord.core.db import db
from accord.core.registry import current_accord


def test_every_column_carries_a_personal_data_tag():
    untagged = [f"{table.name}.{column.name}" for table in db.metadata.sorted_tables for column in table.columns
                if not isinstance(column.info.get("pii"), bool)]
    assert untagged == [], f"tag these columns with info={{'pii': True or False}}: {', '.join(untagged)}"


@pytest.mark.parametrize("column, personal", [
    ("contact.email", True), ("contact.last_name", True), ("contact.custom", True), ("contact.city", False),
    ("deal.amount", False), ("activity.subject", True), ("consent.evidence", True), ("consent.purpose", False),
    ("servicedesk_ticket.subject", True), ("servicedesk_ticket.priority", False),
    ("audit_entry.changes", True), ("audit_entry.action", False), ("webhook_delivery.body", True),
    ("job.arguments", True), ("search_entry.title", True), ("sign_in_failure.address", True),
    ("api_token.token_hash", False), ("idempotency_record.response_body", True),
])
def test_personal_columns_are_tagged_personal(column, personal):
    table, name = column.split(".")
    assert db.metadata.tables[table].c[name].info["pii"] is personal


def test_a_record_fields_tag_is_its_descriptors_pii(with_enabled_plugins):
    app = with_enabled_plugins("servicedesk")
    with app.app_context():
        types = current_accord().catalog().types.values()
        assert "ticket" in {rt.key for rt in types}
        differing = [f"{rt.table.name}.{f.name}" for rt in types for f in rt.fields.values()
                     if not f.custom and rt.table.c[f.name].info["pii"] is not f.pii]
    assert differing == []
