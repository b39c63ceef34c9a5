"""How field values look on a page and which form control edits them, by field kind: one
place for every page, so a custom field shows and edits like a built-in one."""

from datetime import date, datetime
from decimal import Decimal


MENU_TYPES = {"contact": 10, "organization": 20, "deal": 30, "activity": 40}
"""Core record types that get a menu entry, and their order; plugin types always get one."""

INPUT_TYPES = {
    "integer": "number", "decimal": "text", "money": "text", "date": "date", "datetime": "datetime-local",
    "email": "email", "phone": "tel", "url": "url", "reference": "number",
}


def show(field, value):
    """A value as text for a person: choices by label, dates short, empty as an em dash."""
    if value is None or value == "" or value == []:
        return "—"
    if field.kind == "boolean":
        return "Yes" if value else "No"
    if field.kind == "choice":
        return _choice_label(field, value)
    if field.kind == "multi_choice":
        return ", ".join(_choice_label(field, v) for v in value)
    if field.kind == "money":
        return f"{value['amount']:,.2f} {value['currency']}"
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if field.kind == "money" else format(value.normalize(), "f")
    return str(value)


def _choice_label(field, key):
    for choice in field.choices:
        if choice.key == key:
            return choice.label
    return str(key)


def form_value(field, value):
    """A value as a form control's ``value`` attribute expects it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def input_type(field):
    return INPUT_TYPES.get(field.kind, "text")


def record_url(record_type, record_id):
    return f"/{record_type.plural}/{record_id}"


def refusal_text(record_type, exc):
    """Why the service layer refused a write, as one sentence for a person: each field's
    reasons after its label (none for the stage itself or the record as a whole)."""
    parts = []
    for name, reasons in exc.fields.items():
        text = " ".join(map(str, reasons))
        if name in ("stage", "_schema"):
            parts.append(text)
        else:
            parts.append(f"{record_type.fields[name].label if name in record_type.fields else name}: {text}")
    return "; ".join(parts) or exc.message


def moment(value):
    """A point in time as a person reads it, in UTC; empty as an em dash."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


FILTERS = {"show_value": lambda value, field: show(field, value), "moment": moment}
