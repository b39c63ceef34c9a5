"""CSV export neutralises formula injection (OWASP: a single quote in front of text that a
spreadsheet would run) and an import of the exported file gives back the original values."""

import csv
import io

import pytest
from accord.core.transfer import export_records, import_file, spreadsheet_safe, spreadsheet_text
from api_helpers import add_field

COLUMNS = ("last_name", "first_name", "job_title", "city", "country", "street", "description", "balance", "credit",
           "score")


@pytest.mark.parametrize("text, cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1 555 0100", "'+1 555 0100"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("'=1+1", "''=1+1"),
    ("''", "'''"),
    ("-12.50", "-12.50"),
    ("-7", "-7"),
    ("'tis", "'tis"),
    ("'", "'"),
    ("", ""),
    ("Lovelace", "Lovelace"),
    ("a=b", "a=b"),
])
def test_cells_are_neutralised_and_read_back(text, cell):
    assert spreadsheet_safe(text) == cell
    assert spreadsheet_text(cell) == text


def test_a_quote_a_person_typed_before_other_text_is_kept_on_import():
    assert spreadsheet_text("'tis") == "'tis"
    assert spreadsheet_text("'=x") == "=x", "a quote before a formula character is read as the export's escape"


@pytest.fixture
def tricky(api, make_record):
    add_field(api, "contact", name="balance", kind="decimal")
    add_field(api, "contact", name="credit", kind="money")
    add_field(api, "contact", name="score", kind="integer")
    record = make_record(
        "contact", last_name="=HYPERLINK(\"http://evil.example\",\"Click\")", first_name="'=quoted",
        job_title="-sales lead", city="@home", country="'tis", street="+1 Main Street", description="=1+1\n=2+2",
        balance="-12.50", credit={"amount": "-3.00", "currency": "EUR"}, score=-7,
    )
    return record.id


def exported_csv(app):
    stream = io.StringIO()
    with app.test_request_context():
        export_records("contact", "csv", stream)
    return stream.getvalue()


def test_export_quotes_formula_cells_and_leaves_numbers_alone(app, tricky):
    row = next(csv.DictReader(io.StringIO(exported_csv(app))))
    assert row["last_name"] == "'=HYPERLINK(\"http://evil.example\",\"Click\")"
    assert row["first_name"] == "''=quoted"
    assert row["job_title"] == "'-sales lead"
    assert row["city"] == "'@home"
    assert row["country"] == "'tis"
    assert row["street"] == "'+1 Main Street"
    assert row["description"] == "'=1+1\n=2+2"
    assert row["balance"] == "-12.50"
    assert row["credit"] == "'-3.00 EUR"
    assert row["score"] == "-7"
    assert row["id"] == str(tricky)


def test_an_exported_file_imports_back_to_the_same_values(app, api, tricky, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(exported_csv(app), encoding="utf-8")
    with app.test_request_context():
        assert import_file("contact", str(path)) == 1
    original, imported = api.get("/contacts?sort=id").json["data"]
    assert imported["id"] != original["id"]
    assert {name: imported[name] for name in COLUMNS} == {name: original[name] for name in COLUMNS}
    assert imported["last_name"] == "=HYPERLINK(\"http://evil.example\",\"Click\")"
    assert imported["first_name"] == "'=quoted"
    assert imported["balance"] == "-12.50"
    assert imported["credit"] == {"amount": "-3.00", "currency": "EUR"}
    assert imported["score"] == -7
