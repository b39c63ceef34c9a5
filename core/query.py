"""List queries: filters, sort and keyset pagination, built from descriptors into one
SQL statement per page whatever the number of custom fields and relations."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, and_, false, func, literal, literal_column, or_, select, tuple_

from . import permissions
from .db import db
from .errors import BadRequest
from .fields import KINDS, format_datetime, multi_choice_contains

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
RESERVED = {"limit", "cursor", "sort", "q", "trashed"}
OPERATORS = {"gte", "lte", "gt", "lt", "in", "isnull", "ne"}
STANDARD_KINDS = {
    "id": "integer", "created_at": "datetime", "updated_at": "datetime", "created_by": "reference",
    "version": "integer", "deleted_at": "datetime",
}


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool
    expr: object
    kind: str
    nullable: bool
    custom: bool = False


def record_columns(rt):
    """The columns selected for a record: its table's, minus secrets, plus relation ids."""
    table = rt.table
    columns = [c for c in table.c if c.name in rt.fields or c.name in _TABLE_STANDARD]
    dialect = db.session.get_bind().dialect.name
    for relation in rt.relations:
        link = relation.table
        remote = link.c[relation.remote_column]
        if dialect == "postgresql":
            aggregate = func.coalesce(func.json_agg(remote), literal_column("'[]'::json"))
        else:
            aggregate = func.json_group_array(remote, type_=JSON)
        columns.append(
            select(aggregate).where(link.c[relation.local_column] == table.c.id)
            .scalar_subquery().label(relation.name)
        )
    return columns


_TABLE_STANDARD = {"id", "created_at", "updated_at", "created_by", "owner_id", "version", "deleted_at", "custom"}


def field_expression(rt, name, dialect):
    """The SQL expression and kind of a filterable or sortable field name, or ``None``."""
    if name in STANDARD_KINDS:
        return rt.table.c[name], STANDARD_KINDS[name], name not in {"id", "created_at", "updated_at", "version"}
    f = rt.fields.get(name)
    if f is None:
        return None
    if f.custom:
        expr = literal_column(f.kind_impl.custom_expr(rt.table.name, name, dialect))
        return expr, f.kind, True
    column = rt.table.c[name]
    return column, f.kind, column.nullable


def build_list_query(rt, args, search_ids=None, extra=(), *, actor):
    """Parse list arguments (a multidict) into ``(statement, sort keys, limit)`` over the
    records ``actor`` may read.

    Unknown fields, operators and malformed values raise :class:`BadRequest` naming the
    parameter; a filter or sort on a field hidden from the actor, :class:`RecordInvalid`.
    """
    permissions.require(actor, rt, "read")
    hidden = permissions.hidden_fields(actor, rt)
    if hidden:
        named = [param.partition("__")[0] for param in args if param not in RESERVED]
        named += [part.strip().lstrip("-+") for part in (args.get("sort") or "").split(",")]
        permissions.refuse_hidden(actor, rt, named)
    dialect = db.session.get_bind().dialect.name
    table = rt.table
    limit = _parse_limit(args.get("limit"))
    trashed = _parse_bool("trashed", args.get("trashed", "false"))
    conditions = [table.c.deleted_at.isnot(None) if trashed else table.c.deleted_at.is_(None)]
    errors = {}
    for param in args:
        if param in RESERVED:
            continue
        try:
            conditions.extend(_filter(rt, param, args.getlist(param), dialect))
        except ValueError as exc:
            errors[param] = [str(exc)]
    sort_text = args.get("sort") or ("-deleted_at" if trashed else rt.default_sort)
    try:
        sort_keys = parse_sort(rt, sort_text, dialect)
    except ValueError as exc:
        errors["sort"] = [str(exc)]
    if errors:
        raise BadRequest("Some list parameters are not valid.", errors)
    if search_ids is not None:
        conditions.append(table.c.id.in_(search_ids))
    conditions.extend(extra)
    scope = permissions.visible(actor, rt)
    if scope is not None:
        conditions.append(scope)
    cursor = args.get("cursor")
    if cursor:
        conditions.append(_after_cursor(sort_keys, decode_cursor(cursor, sort_text, sort_keys)))
    columns = record_columns(rt)
    columns += [key.expr.label(f"_k{i}") for i, key in enumerate(sort_keys) if key.custom]
    order = []
    for key in sort_keys:
        expr = key.expr.desc() if key.descending else key.expr.asc()
        if key.nullable:
            expr = expr.nulls_first() if key.descending else expr.nulls_last()
        order.append(expr)
    stmt = select(*columns).where(*conditions).order_by(*order).limit(limit + 1)
    return stmt, sort_keys, limit, sort_text


def run_list(rt, args, search_ids=None, extra=(), *, actor):
    """Execute a list: ``(rows, next_cursor)`` where rows are mappings."""
    stmt, sort_keys, limit, sort_text = build_list_query(rt, args, search_ids, extra, actor=actor)
    rows = db.session.execute(stmt).mappings().all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(sort_text, sort_keys, rows[-1], rt)
    return rows, next_cursor


def parse_sort(rt, text, dialect):
    keys = []
    seen = set()
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        descending = part.startswith("-")
        name = part.lstrip("-+")
        found = field_expression(rt, name, dialect)
        if found is None:
            raise ValueError(f"Unknown field {name!r}.")
        expr, kind, nullable = found
        if not KINDS[kind].sortable:
            raise ValueError(f"Field {name!r} cannot be sorted.")
        if name in seen:
            raise ValueError(f"Field {name!r} appears twice.")
        seen.add(name)
        keys.append(SortKey(name, descending, expr, kind, nullable, custom=name in rt.custom_fields))
    if not keys:
        raise ValueError("Give at least one field.")
    if keys[-1].name != "id":
        keys.append(SortKey("id", keys[-1].descending, rt.table.c.id, "integer", False))
    return keys


def _filter(rt, param, raw_values, dialect):
    name, _, op = param.partition("__")
    op = op or "eq"
    if op not in OPERATORS | {"eq"}:
        raise ValueError(f"Unknown operator {op!r}; use one of eq, {', '.join(sorted(OPERATORS))}.")
    relation = next((r for r in rt.relations if r.name == name), None)
    if relation is not None:
        if op not in {"eq", "in"}:
            raise ValueError("Relations filter by id with = or __in.")
        ids = [int(v) for raw in raw_values for v in raw.split(",") if v.strip()]
        link = relation.table
        return [rt.table.c.id.in_(
            select(link.c[relation.local_column]).where(link.c[relation.remote_column].in_(ids))
        )]
    found = field_expression(rt, name, dialect)
    if found is None:
        raise ValueError("Unknown field.")
    expr, kind, _ = found
    impl = KINDS[kind]
    conditions = []
    for raw in raw_values:
        if op == "isnull":
            conditions.append(expr.is_(None) if _parse_bool(param, raw) else expr.isnot(None))
            continue
        values = [v for v in raw.split(",")] if op == "in" else [raw]
        try:
            parsed = [_as_sql_value(impl.parse_filter(v), dialect, rt, name) for v in values]
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"Not a valid {kind.replace('_', ' ')} value: {exc}") from None
        if kind == "multi_choice":
            tests = [multi_choice_contains(rt.table.name, name, dialect, v) for v in parsed]
            conditions.append(or_(*tests) if op == "in" else tests[0])
            continue
        if op == "eq":
            conditions.append(expr == parsed[0])
        elif op == "ne":
            conditions.append(or_(expr != parsed[0], expr.is_(None)))
        elif op == "in":
            conditions.append(expr.in_(parsed))
        else:
            conditions.append({"gte": expr >= parsed[0], "lte": expr <= parsed[0],
                               "gt": expr > parsed[0], "lt": expr < parsed[0]}[op])
    return conditions


def _as_sql_value(value, dialect, rt, name):
    """Custom values are compared in their stored form (ISO text for dates) on every engine."""
    f = rt.fields.get(name)
    if f is not None and f.custom:
        if isinstance(value, datetime):
            return format_datetime(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal) and dialect == "sqlite":
            return float(value)
    return value


def _after_cursor(keys, values):
    """Rows strictly after the cursor in the sort order (nulls last ascending)."""
    if all(not k.nullable for k in keys) and len({k.descending for k in keys}) == 1:
        left = tuple_(*[k.expr for k in keys])
        right = tuple_(*[_bound(v) for v in values])
        return left < right if keys[0].descending else left > right
    alternatives = []
    for i, key in enumerate(keys):
        equal = [_null_safe_equal(k.expr, v) for k, v in zip(keys[:i], values[:i])]
        alternatives.append(and_(*equal, _after(key, values[i])))
    return or_(*alternatives)


def _null_safe_equal(expr, value):
    return expr.is_(None) if value is None else expr == _bound(value)


def _bound(value):
    """Booleans as bound values, so ``>`` and ``<`` work on them as on any other value."""
    return literal(value) if isinstance(value, bool) else value


def _after(key, value):
    value = _bound(value)
    if key.descending:
        if value is None:
            return key.expr.isnot(None) if key.nullable else false()
        return key.expr < value
    if value is None:
        return false()
    return or_(key.expr > value, key.expr.is_(None)) if key.nullable else key.expr > value


def encode_cursor(sort_text, keys, row, rt):
    values = []
    for i, key in enumerate(keys):
        label = f"_k{i}"
        value = row[label] if label in row else row[key.name]
        values.append(_cursor_value(value))
    payload = json.dumps({"s": sort_text, "v": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor, sort_text, keys):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["s"] != sort_text:
            raise BadRequest("The cursor belongs to another sort order.", {"cursor": ["Sort changed; start again without a cursor."]})
        raw = payload["v"]
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return [_cursor_parse(key, value) for key, value in zip(keys, raw)]
    except BadRequest:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid.", {"cursor": ["Not a cursor this API gave out."]}) from None


def _cursor_value(value):
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _cursor_parse(key, value):
    if value is None or isinstance(value, bool):
        return value
    if key.kind in {"datetime", "date"} and not key.custom:
        return KINDS[key.kind].parse_filter(value)
    if key.kind in {"decimal", "money"} and isinstance(value, str):
        return Decimal(value)
    return value


def _parse_limit(raw):
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest("limit must be a whole number.", {"limit": ["Not a whole number."]}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}.", {"limit": [f"Must be between 1 and {MAX_LIMIT}."]})
    return limit


def _parse_bool(name, raw):
    lowered = str(raw).lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise BadRequest(f"{name} must be true or false.", {name: ["Must be true or false."]})
