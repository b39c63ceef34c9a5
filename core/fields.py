"""Field kinds: how each kind of value is validated, stored, filtered, sorted and described.

A kind serves both code-defined columns and run-time custom fields kept in the ``custom``
JSON column, so the API, validation, filters and the OpenAPI document treat them alike.
"""

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from marshmallow import ValidationError, fields as ma, validate
from sqlalchemy import JSON, BigInteger, Boolean, Date, Numeric, String, Text, exists, func, literal_column, select

from .db import IdType, UTCDateTime

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_ID = 2**63 - 1
MAX_DIGITS = 15
MAX_PLACES = 6
MAX_WHOLE_DIGITS = 14
PHONE = re.compile(r"^\+?[0-9 ().\-/]{4,30}(\s*(x|ext\.?)\s*[0-9]{1,6})?$")


class StrictInteger(ma.Integer):
    """A whole JSON number; ``true`` and ``"5"`` are refused."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictBoolean(ma.Boolean):
    """Only JSON ``true`` and ``false``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictString(ma.String):
    """A JSON string; numbers and objects are refused rather than coerced."""


class PhoneField(ma.String):
    default_error_messages = {"invalid_phone": "Not a valid phone number."}

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs).strip()
        if not PHONE.match(value) or sum(ch.isdigit() for ch in value) < 4:
            raise self.make_error("invalid_phone")
        return value


class DecimalField(ma.Decimal):
    """A decimal given as a JSON number or a numeric string; kept exact."""

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, as_string=True, **kwargs)

    default_error_messages = {
        "precision": "Use at most 15 significant digits and 6 decimal places, below 100000000000000.",
    }

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._validated(value)
        if number is not None and number != 0:
            shape = number.normalize().as_tuple()
            if len(shape.digits) > MAX_DIGITS or -shape.exponent > MAX_PLACES or number.adjusted() >= MAX_WHOLE_DIGITS:
                raise self.make_error("precision")
        return number


class MoneyField(ma.Field):
    """An amount with its ISO 4217 currency: ``{"amount": "12.50", "currency": "EUR"}``."""

    default_error_messages = {
        "invalid": "Expected an object with 'amount' and 'currency'.",
        "currency": "Currency must be a three-letter ISO 4217 code.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict) or set(value) - {"amount", "currency"} or "amount" not in value:
            raise self.make_error("invalid")
        amount = DecimalField()._deserialize(value["amount"], attr, data)
        currency = value.get("currency") or self.metadata.get("default_currency", "EUR")
        if not isinstance(currency, str) or not CURRENCY.match(currency):
            raise self.make_error("currency")
        return {"amount": amount, "currency": currency}


class Kind:
    """One kind of field value."""

    name = ""
    sortable = True
    column_type = String(255)
    openapi = {"type": "string"}

    def marshmallow_field(self, field, **kwargs):
        return StrictString(validate=validate.Length(max=field.max_length or 255), **kwargs)

    def to_json(self, value):
        """A Python value (as validated or as loaded from a column) to its JSON form."""
        return value

    def to_storage(self, value):
        """A validated value to the JSON primitive kept in the ``custom`` column: its JSON
        form, which list pages and exports copy as they find it."""
        return self.to_json(value)

    def from_storage(self, raw):
        """A stored custom value back to the Python value hooks see."""
        return raw

    def parse_filter(self, raw):
        """A query-string value to the Python value compared in SQL."""
        return raw

    def custom_expr(self, table_name, name, dialect):
        """SQL for the custom value of ``name``; the same text serves queries and indexes
        (where ``table_name`` is ``None``: an index expression names the bare column)."""
        col = _custom_column(table_name)
        if dialect == "postgresql":
            return f"({col} ->> '{name}')"
        return f"json_extract({col}, '$.{name}')"

    def describe(self, field):
        schema = dict(self.openapi)
        if field.max_length and schema.get("type") == "string" and "format" not in schema:
            schema["maxLength"] = field.max_length
        return schema


class TextKind(Kind):
    name = "text"


class LongTextKind(Kind):
    name = "long_text"
    column_type = Text()

    def marshmallow_field(self, field, **kwargs):
        return StrictString(validate=validate.Length(max=field.max_length or 20000), **kwargs)


class EmailKind(Kind):
    name = "email"
    openapi = {"type": "string", "format": "email"}

    def marshmallow_field(self, field, **kwargs):
        return ma.Email(validate=validate.Length(max=254), **kwargs)


class PhoneKind(Kind):
    name = "phone"
    column_type = String(40)

    def marshmallow_field(self, field, **kwargs):
        return PhoneField(validate=validate.Length(max=40), **kwargs)


class UrlKind(Kind):
    name = "url"
    column_type = String(2048)
    openapi = {"type": "string", "format": "uri"}

    def marshmallow_field(self, field, **kwargs):
        return ma.URL(schemes={"http", "https"}, validate=validate.Length(max=2048), **kwargs)


class ChoiceKind(Kind):
    name = "choice"
    column_type = String(64)

    def marshmallow_field(self, field, **kwargs):
        return StrictString(validate=validate.OneOf(field.choice_keys), **kwargs)

    def describe(self, field):
        return {"type": "string", "enum": list(field.choice_keys)}


class MultiChoiceKind(Kind):
    name = "multi_choice"
    sortable = False
    column_type = JSON()

    def marshmallow_field(self, field, **kwargs):
        return ma.List(
            StrictString(validate=validate.OneOf(field.choice_keys)),
            validate=_unique_items,
            **kwargs,
        )

    def to_json(self, value):
        return list(value) if value is not None else None

    def describe(self, field):
        return {"type": "array", "items": {"type": "string", "enum": list(field.choice_keys)}, "uniqueItems": True}


def _unique_items(values):
    if len(set(values)) != len(values):
        raise ValidationError("Each choice may appear once.")


class IntegerKind(Kind):
    name = "integer"
    column_type = BigInteger()
    openapi = {"type": "integer"}

    def marshmallow_field(self, field, **kwargs):
        return StrictInteger(validate=validate.Range(min=-(2**63), max=2**63 - 1), **kwargs)

    def parse_filter(self, raw):
        value = int(raw)
        if not -MAX_ID - 1 <= value <= MAX_ID:
            raise ValueError("out of range")
        return value

    def custom_expr(self, table_name, name, dialect):
        if dialect == "postgresql":
            return f"(({_custom_column(table_name)} ->> '{name}')::bigint)"
        return super().custom_expr(table_name, name, dialect)


class ReferenceKind(IntegerKind):
    name = "reference"
    column_type = IdType

    def marshmallow_field(self, field, **kwargs):
        return StrictInteger(validate=validate.Range(min=1, max=MAX_ID), **kwargs)

    def describe(self, field):
        return {"type": "integer", "description": f"id of a {field.reference}"}


class DecimalKind(Kind):
    name = "decimal"
    column_type = Numeric(20, 6)
    openapi = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}

    def marshmallow_field(self, field, **kwargs):
        return DecimalField(**kwargs)

    def to_json(self, value):
        return None if value is None else _decimal_text(value)

    def from_storage(self, raw):
        return None if raw is None else Decimal(raw)

    def parse_filter(self, raw):
        return _parse_decimal(raw)

    def custom_expr(self, table_name, name, dialect):
        if dialect == "postgresql":
            return f"(({_custom_column(table_name)} ->> '{name}')::numeric)"
        return f"CAST(json_extract({_custom_column(table_name)}, '$.{name}') AS REAL)"

    def describe(self, field):
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}


class MoneyKind(DecimalKind):
    name = "money"
    column_type = JSON()

    def marshmallow_field(self, field, **kwargs):
        return MoneyField(**kwargs)

    def to_json(self, value):
        if value is None:
            return None
        return {"amount": _decimal_text(value["amount"]), "currency": value["currency"]}

    def from_storage(self, raw):
        return None if raw is None else {"amount": Decimal(raw["amount"]), "currency": raw["currency"]}

    def custom_expr(self, table_name, name, dialect):
        if dialect == "postgresql":
            return f"(({_custom_column(table_name)} -> '{name}' ->> 'amount')::numeric)"
        return f"CAST(json_extract({_custom_column(table_name)}, '$.{name}.amount') AS REAL)"

    def describe(self, field):
        return {
            "type": "object",
            "required": ["amount"],
            "additionalProperties": False,
            "properties": {
                "amount": super().describe(field),
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            },
        }


class DateKind(Kind):
    name = "date"
    column_type = Date()
    openapi = {"type": "string", "format": "date"}

    def marshmallow_field(self, field, **kwargs):
        return ma.Date(**kwargs)

    def to_json(self, value):
        return None if value is None else value.isoformat()

    def from_storage(self, raw):
        return None if raw is None else date.fromisoformat(raw)

    def parse_filter(self, raw):
        return date.fromisoformat(raw)


class DateTimeKind(Kind):
    name = "datetime"
    column_type = UTCDateTime()
    openapi = {"type": "string", "format": "date-time"}

    def marshmallow_field(self, field, **kwargs):
        return ma.AwareDateTime(default_timezone=timezone.utc, **kwargs)

    def to_json(self, value):
        return None if value is None else format_datetime(value)

    def from_storage(self, raw):
        return None if raw is None else parse_datetime(raw)

    def parse_filter(self, raw):
        return parse_datetime(raw)


class BooleanKind(Kind):
    name = "boolean"
    column_type = Boolean()
    openapi = {"type": "boolean"}

    def marshmallow_field(self, field, **kwargs):
        return StrictBoolean(**kwargs)

    def parse_filter(self, raw):
        lowered = raw.lower()
        if lowered not in {"true", "false", "1", "0"}:
            raise ValueError("expected true or false")
        return lowered in {"true", "1"}

    def custom_expr(self, table_name, name, dialect):
        if dialect == "postgresql":
            return f"(({_custom_column(table_name)} ->> '{name}')::boolean)"
        return super().custom_expr(table_name, name, dialect)


KINDS = {
    kind.name: kind
    for kind in (
        TextKind(), LongTextKind(), IntegerKind(), DecimalKind(), MoneyKind(), DateKind(),
        DateTimeKind(), BooleanKind(), ChoiceKind(), MultiChoiceKind(), EmailKind(), PhoneKind(),
        UrlKind(), ReferenceKind(),
    )
}


def _custom_column(table_name):
    """The ``custom`` column, named through its table when given (quoted: ``user`` is a
    reserved word on PostgreSQL)."""
    return f'"{table_name}".custom' if table_name else "custom"


def format_datetime(value):
    """UTC, microseconds, ``Z``: one fixed width so stored values also sort as text."""
    if value.tzinfo is not timezone.utc:
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" becomes "Z"


def parse_datetime(raw):
    value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _decimal_text(value):
    """Canonical text: no trailing zeros past the second decimal (``1000.500000`` → ``1000.50``)."""
    value = Decimal(value).normalize()
    if value.as_tuple().exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


def _parse_decimal(raw):
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError("expected a number") from None
    if not value.is_finite():
        raise ValueError("expected a number")
    return value


def multi_choice_contains(table_name, name, dialect, value):
    """SQL that holds when the multi-choice custom field ``name`` includes ``value``."""
    if dialect == "postgresql":
        return literal_column(f"({_custom_column(table_name)} -> '{name}')").op("@>")(func.jsonb_build_array(value))
    items = func.json_each(literal_column(f"{_custom_column(table_name)}"), literal_column(f"'$.{name}'"))
    each = items.table_valued("value").alias("choice")
    return exists(select(1).select_from(each).where(each.c.value == value))


__all__ = ["KINDS", "FIELD_NAME", "Kind", "format_datetime", "parse_datetime", "multi_choice_contains"]
