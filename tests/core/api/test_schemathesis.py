"""Schemathesis against ``/api/v1/openapi.json``: at least 1,000 generated requests, valid
and invalid, across every documented operation; no answer is a 5xx and every answer keeps
to the documented status codes, content types and body schemas."""

import time

import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accord.testing import enable_plugins
from api_helpers import add_field, create

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428", "429"]
"""Answers that count as refusing an invalid request: schemathesis's list, plus 412 (a stale
``If-Match`` is refused before the body is read, nothing written) and 413 (too large)."""
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}})
EXAMPLES_PER_MODE = 12
MINIMUM_CASES = 1000
SHOWN_FAILURES = 20
SCHEMA_CHANGING = {"add_field", "remove_field", "declare_type", "remove_type", "set_term", "delete_term",
                   "create_pipeline", "add_stage", "change_stage", "remove_stage", "add_choice", "remove_choice"}


def _seed(api):
    """Records of every type with custom fields of every kind; their ids are the ones the
    generated requests on single records use."""
    for kind in ("text", "long_text", "integer", "decimal", "money", "date", "datetime", "boolean", "email",
                 "phone", "url"):
        add_field(api, "contact", name=f"extra_{kind}", kind=kind)
    add_field(api, "contact", name="extra_tier", kind="multi_choice", choices=["gold", "silver"])
    add_field(api, "contact", name="extra_buddy", kind="reference", reference="contact")
    ids = {}
    for n in range(3):
        records = {}
        records["users"] = create(api, "users", name=f"User {n}", email=f"user{n}@example.com")
        records["teams"] = create(api, "teams", name=f"Team {n}")
        records["territories"] = create(api, "territories", name=f"Territory {n}")
        records["organizations"] = create(api, "organizations", name=f"Org {n}", website="https://example.org")
        records["contacts"] = create(api, "contacts", last_name=f"Doe {n}", organization_id=records["organizations"]["id"],
                                     extra_money={"amount": "1.50", "currency": "EUR"}, extra_tier=["gold"])
        records["deals"] = create(api, "deals", name=f"Deal {n}", amount="100", contact_ids=[records["contacts"]["id"]])
        records["activities"] = create(api, "activities", kind="call", subject=f"Call {n}", related_type="contact",
                                       related_id=records["contacts"]["id"])
        records["tickets"] = create(api, "tickets", subject=f"Ticket {n}")
        for plural, record in records.items():
            ids.setdefault(plural, []).append(record["id"])
    return ids


def _operations(schema):
    """Every documented operation; those that change the schema itself come last, so that
    the document loaded at the start stays the one the other answers are checked against."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: op.definition.raw.get("operationId") in SCHEMA_CHANGING)


def _strategy(operation, mode, headers, ids):
    """Cases for ``operation``; on a single record, one of the seeded ones (a made-up id
    would only ever meet a 404)."""
    if not any(p.name == "record_id" for p in operation.path_parameters):
        return operation.as_strategy(generation_mode=mode, headers=headers)
    plural = operation.path.split("/")[3]
    return st.sampled_from(ids.get(plural, [1])).flatmap(lambda record_id: operation.as_strategy(
        generation_mode=mode, headers=headers, path_parameters={"record_id": record_id}))


def test_generated_requests_get_documented_answers(app, api):
    enable_plugins(app, "servicedesk")
    ids = _seed(api)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)
    headers = {"Authorization": f"Bearer {api.token}"}
    cases = []
    failures = []
    started = time.monotonic()
    operations = _operations(schema)
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES_PER_MODE, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
            @given(case=_strategy(operation, mode, headers, ids))
            def run(case):
                cases.append(case.operation.label)
                response = case.call()
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Failure, FailureGroup) as exc:
                    failures.append(f"{case.operation.label} ({mode.value}) answered {response.status_code}:\n{exc}")

            try:
                run()
            except Unsatisfiable:
                continue
    elapsed = time.monotonic() - started
    print(f"{len(cases)} generated cases over {len(set(cases))} operations in {elapsed:.1f}s")
    assert not failures, (f"{len(failures)} of {len(cases)} answers broke the documented contract; the first:\n\n"
                          + "\n\n".join(failures[:SHOWN_FAILURES]))
    assert len(cases) >= MINIMUM_CASES
    assert {operation.label for operation in operations} == set(cases)
