"""CSV and JSON-lines import and export, through the same service layer as the API."""

import csv
import json
import os
import re
from datetime import date, datetime
from decimal import Decimal

from werkzeug.datastructures import MultiDict

from . import audit, permissions
from .accounts import find_user
from .errors import BadRequest, NotFound, RecordInvalid
from .query import MAX_LIMIT, run_list
from .records import Actor
from .registry import current_accord


IMPORT_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson")
MAX_IMPORT_BYTES = 512 * 1024 * 1024
"""The largest file an import reads: well above a million contacts as CSV."""


def read_rows(rt, path):
    """The rows of a CSV (header row of field names) or JSON-lines file, as dicts. Other
    kinds of file, files over :data:`MAX_IMPORT_BYTES` and text that is not UTF-8 are
    refused before a row is read."""
    if not path.lower().endswith(IMPORT_SUFFIXES):
        raise BadRequest(f"{os.path.basename(path)}: an import reads {', '.join(IMPORT_SUFFIXES)} files only.")
    if os.path.getsize(path) > MAX_IMPORT_BYTES:
        raise BadRequest(f"{os.path.basename(path)} is larger than {MAX_IMPORT_BYTES // 1024 ** 2} MB; split it.")
    try:
        return _read_rows(rt, path)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{os.path.basename(path)} is not UTF-8 text (byte {exc.start}); "
                         "save it as UTF-8 CSV or JSON lines.") from None


def _read_rows(rt, path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        if path.lower().endswith((".jsonl", ".json", ".ndjson")):
            rows = []
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except ValueError as exc:
                    raise RecordInvalid({f"line {number}": [f"not valid JSON: {exc}"]}) from None
                if isinstance(document, dict):
                    document = {k: v for k, v in document.items() if k not in SYSTEM_COLUMNS}
                rows.append((number, document))
            return rows
        return [(number, _typed(rt, row)) for number, row in enumerate(csv.DictReader(handle), start=2)]


CLI_ACTOR = Actor(user_id=None, source="cli", is_admin=True, name="cli")
SYSTEM_COLUMNS = {"id", "created_at", "updated_at", "created_by", "version", "deleted_at"}


def _typed(rt, row):
    """CSV gives text; turn it into the JSON types the schema expects. Empty cells are left
    out, and so are the standard columns an export writes (imported records get new ones),
    so that an export imports again elsewhere."""
    values = {}
    for name, raw in row.items():
        if name is None or raw is None or raw == "" or name in SYSTEM_COLUMNS:
            continue
        raw = spreadsheet_text(raw)
        f = rt.fields.get(name)
        relation = next((r for r in rt.relations if r.name == name), None)
        if relation is not None:
            values[name] = [_int_or_text(v) for v in raw.split(";") if v.strip()]
        elif f is None:
            values[name] = raw
        elif f.kind in ("integer", "reference"):
            values[name] = _int_or_text(raw)
        elif f.kind == "boolean":
            values[name] = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}.get(raw.lower(), raw)
        elif f.kind == "multi_choice":
            values[name] = [v.strip() for v in raw.split(";") if v.strip()]
        elif f.kind == "money":
            amount, _, currency = raw.strip().partition(" ")
            values[name] = {"amount": amount, "currency": currency} if currency else {"amount": amount}
        else:
            values[name] = raw
    return values


def _int_or_text(raw):
    try:
        return int(raw)
    except ValueError:
        return raw


def import_file(type_key, path, email=None):
    """Check every row (so all bad lines are reported at once), then create them all in
    one transaction; one refused row and nothing is written."""
    accord = current_accord()
    rt = accord.catalog().type(type_key)
    if rt is None:
        raise NotFound(f"There is no record type {type_key!r}.")
    actor = user_actor(email, "import") if email else Actor(user_id=None, source="import", is_admin=True, name="import")
    return len(import_rows(type_key, read_rows(rt, path), actor))


def import_rows(type_key, rows, actor):
    """Check every ``(line number, values)`` row, then create them all in one transaction
    as ``actor``; returns the created records in row order. One refused row and nothing
    is written (:class:`RecordInvalid` naming every bad line)."""
    accord = current_accord()
    problems = {}
    for number, values in rows:
        try:
            accord.records.check(type_key, values, actor)
        except RecordInvalid as exc:
            problems[f"line {number}"] = [f"{name}: {' '.join(map(str, reasons))}" for name, reasons in exc.fields.items()]
    if problems:
        first = next(iter(problems.items()))
        raise RecordInvalid(problems, message=f"{len(problems)} row(s) are not valid, nothing was imported; "
                                              f"first: {first[0]}: {first[1][0]}.")
    return accord.records.create_many(
        type_key, [values for _, values in rows], actor, labels=[f"line {number}" for number, _ in rows]
    )


def user_actor(email, source):
    """The user ``email`` acting through ``source``, with their role and team."""
    user = find_user(email)
    return Actor(user_id=user.id, source=source, is_admin=user.is_admin, name=user.name, role=user.role,
                 team_id=user.team_id)


def export_records(type_key, fmt, stream, trashed=False, actor=None):
    """Write every record of a type that ``actor`` (default: the command line) may export,
    page by page (keyset), as CSV or JSON lines; the audit trail notes the export."""
    actor = actor or CLI_ACTOR
    rt = current_accord().catalog().type(type_key)
    if rt is None:
        raise NotFound(f"There is no record type {type_key!r}.")
    permissions.require(actor, rt, "export")
    writer = None
    args = {"limit": str(MAX_LIMIT), "sort": "id"}
    if trashed:
        args["trashed"] = "true"
    written = 0
    present = permissions.presenter(actor, rt)
    while True:
        rows, cursor = run_list(rt, MultiDict(args), actor=actor)
        written += len(rows)
        for row in rows:
            document = present(row)
            if fmt == "jsonl":
                stream.write(json.dumps(document, ensure_ascii=False) + "\n")
                continue
            if writer is None:
                writer = csv.DictWriter(stream, fieldnames=list(document))
                writer.writeheader()
            writer.writerow({k: _cell(v) for k, v in document.items()})
        if cursor is None:
            audit.record_export(rt, fmt, written, actor, trashed)
            return
        args["cursor"] = cursor


def _cell(value):
    """A record's JSON value as a CSV cell that a spreadsheet shows and never runs."""
    if isinstance(value, list):
        value = ";".join(map(str, value))
    elif isinstance(value, dict) and "amount" in value:
        value = f"{value['amount']} {value.get('currency', '')}".strip()
    return spreadsheet_safe(value) if isinstance(value, str) else value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_STARTS = (*FORMULA_STARTS, "'")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def spreadsheet_safe(text):
    """``text`` neutralised against formula injection (OWASP): a single quote goes in front
    of text starting with =, +, -, @, tab or carriage return, and of text starting with a
    quote followed by one of those or another quote, so that :func:`spreadsheet_text` gives
    back exactly ``text``. A number (``-12.50``) stays a number."""
    if text[:1] in FORMULA_STARTS and not NUMBER.fullmatch(text) or text[:1] == "'" and text[1:2] in ESCAPED_STARTS:
        return "'" + text
    return text


def spreadsheet_text(cell):
    """The text :func:`spreadsheet_safe` neutralised: the quote it added is taken off."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ESCAPED_STARTS else cell


def write_json_lines(path, rows):
    """Write ``rows`` (dicts) to ``path`` as JSON lines: the exports made of data about to
    be dropped (a plugin purged, a vertical pack reverted). Times are ISO 8601, decimals
    text and bytes hex; any other value that JSON cannot hold is refused."""
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, default=_exported_value, ensure_ascii=False) + "\n")


def _exported_value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot export {type(value).__name__}")


def custom_values(raw):
    """A row's ``custom`` column as a dict, whether the driver decoded it or gave its text."""
    return json.loads(raw) if isinstance(raw, str) else (raw or {})
