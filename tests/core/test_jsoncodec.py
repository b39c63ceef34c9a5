"""The API's JSON encoder writes what ``json.dumps(..., default=str)`` wrote before it, and
the database's JSON decoder reads everything the standard library once stored."""

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from api_helpers import add_field, create
from accord.core import jsoncodec


@dataclass
class Point:
    x: int


def _as_before(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def test_answers_are_the_json_the_standard_library_wrote():
    value = {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "day": date(2026, 1, 2),
             "amount": Decimal("12.50"), 7: "seven", "name": "Zoë 😀", "nested": [None, True, 1.5, {"a": []}],
             "point": Point(3)}
    assert json.loads(jsoncodec.dumps(value)) == json.loads(_as_before(value))
    assert jsoncodec.dumps({"t": date(2026, 1, 2)}) == b'{"t":"2026-01-02"}'
    assert jsoncodec.dumps({"name": "Zoë"}) == _as_before({"name": "Zoë"})


def test_an_integer_beyond_64_bits_is_still_written():
    assert jsoncodec.dumps({"n": 2**70}) == b'{"n":1180591620717411303424}'


def test_stored_text_only_the_standard_library_reads_stays_readable():
    assert jsoncodec.loads('{"a": 1, "b": [true, null]}') == {"a": 1, "b": [True, None]}
    assert jsoncodec.loads('{"x": NaN}')["x"] != jsoncodec.loads('{"x": NaN}')["x"]
    assert jsoncodec.loads('"\\ud800"') == "\ud800"


def test_a_list_reads_custom_values_orjson_would_refuse(app, api):
    """SQLite keeps JSON as text, so a value the standard library wrote (``NaN``) can sit in
    ``custom``; the list still answers, with ``null`` where JSON has no number."""
    from accord.core.db import db

    add_field(api, "contact", name="score", kind="text")
    made = create(api, "contacts", last_name="Nan", score="high")
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL's jsonb stores no NaN")
        db.session.execute(text("UPDATE contact SET custom = :raw WHERE id = :id"),
                           {"raw": '{"score": NaN}', "id": made["id"]})
        db.session.commit()
    response = api.get("/contacts")
    assert response.status_code == 200
    assert response.json["data"][0]["score"] is None
