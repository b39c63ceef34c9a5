"""Record-type descriptors: the one metadata path that API, validation, search and the
OpenAPI document are written against.

A code-defined type is a SQLAlchemy model whose descriptor is derived from its columns
(declared with :func:`record_field`) plus :class:`RecordTypeOptions`; fields added at run
time are merged in from the ``custom_field`` table.
"""

from dataclasses import dataclass, replace
from functools import cached_property

from sqlalchemy import ForeignKey
from sqlalchemy.orm import mapped_column

from .fields import KINDS, Kind

STANDARD_FIELDS = ("id", "created_at", "updated_at", "created_by", "owner_id", "version")


@dataclass(frozen=True)
class Choice:
    key: str
    label: str


@dataclass(frozen=True)
class Field:
    """One field of a record type.

    :param name: the JSON key and, for code-defined fields, the column name.
    :param kind: a key of :data:`accord.core.fields.KINDS`.
    :param custom: ``True`` for fields stored in the ``custom`` JSON column.
    :param reference: the record type key a ``reference`` field points at.
    :param pii: the value identifies a person (privacy export and erasure use it).
    :param sensitive: only roles with the right to sensitive fields see or change it; it is
        never in the search index.
    :param read_only: shown but never written through the API.
    """

    name: str
    kind: str
    label: str = ""
    required: bool = False
    choices: tuple = ()
    default: object = None
    pii: bool = False
    sensitive: bool = False
    indexed: bool = False
    searchable: bool = False
    help: str = ""
    reference: str | None = None
    read_only: bool = False
    custom: bool = False
    max_length: int | None = None
    origin: str = "core"

    @property
    def kind_impl(self):
        return KINDS[self.kind]

    @property
    def choice_keys(self):
        return tuple(choice.key for choice in self.choices)

    @property
    def sortable(self):
        return self.kind_impl.sortable


@dataclass(frozen=True)
class Relation:
    """A many-to-many link kept in its own table, exposed as a list of ids (``contact_ids``)."""

    name: str
    target: str
    table: object
    local_column: str
    remote_column: str
    label: str = ""


@dataclass(frozen=True)
class RecordTypeOptions:
    """What a model adds to its columns to become a record type."""

    key: str
    label: str
    plural_label: str
    plural: str
    title_fields: tuple = ()
    description: str = ""
    pipeline: str | None = None
    relations: tuple = ()
    default_sort: str = "-created_at"
    timeline: bool = False


@dataclass(frozen=True)
class RecordType:
    """Everything the generic machinery needs to know about one record type."""

    key: str
    label: str
    plural_label: str
    plural: str
    table: object
    fields: dict
    title_fields: tuple = ()
    description: str = ""
    pipeline: str | None = None
    relations: tuple = ()
    default_sort: str = "-created_at"
    timeline: bool = False
    origin: str = "core"
    model: object = None

    @cached_property
    def json_plan(self):
        """``(name, to_json)`` of each field after the standard ones, for fast serialising."""
        return tuple((name, f.kind_impl.to_json) for name, f in self.fields.items() if name not in STANDARD_FIELDS)

    @cached_property
    def load_plan(self):
        """Column fields to copy from a row, and ``(name, from_storage)`` of custom fields."""
        columns = tuple(name for name, f in self.fields.items() if not f.custom and name not in STANDARD_FIELDS)
        custom = tuple((name, f.kind_impl.from_storage) for name, f in self.fields.items() if f.custom)
        return columns, custom

    @cached_property
    def row_json_plan(self):
        """``(name, custom, convert)`` of each field after the standard ones, in order: how
        a selected row becomes the record's JSON without a :class:`Record` in between.
        ``convert`` is ``None`` where the value already is its JSON: a column of a kind
        whose JSON is its Python value, and every custom value (stored as its JSON)."""
        plan = []
        for name, f in self.fields.items():
            if name in STANDARD_FIELDS:
                continue
            plain = f.custom or type(f.kind_impl).to_json is Kind.to_json
            plan.append((name, f.custom, None if plain else f.kind_impl.to_json))
        return tuple(plan)

    @property
    def writable_fields(self):
        return {name: f for name, f in self.fields.items() if not f.read_only}

    @property
    def custom_fields(self):
        return {name: f for name, f in self.fields.items() if f.custom}

    @property
    def searchable_fields(self):
        return [f for f in self.fields.values() if f.searchable]

    def with_custom_fields(self, custom):
        merged = {name: f for name, f in self.fields.items() if not f.custom}
        merged.update({f.name: f for f in custom})
        return replace(self, fields=merged)

    def title_of(self, values):
        parts = [str(values.get(name) or "") for name in self.title_fields]
        return " ".join(part for part in parts if part) or f"{self.label} {values.get('id', '')}".strip()


def record_field(kind, *, label="", required=False, choices=(), default=None, pii=False, sensitive=False,
                 indexed=False, searchable=False, help="", reference=None, read_only=False,
                 max_length=None, foreign_key=None, index=False):
    """Declare a model column together with its descriptor metadata.

    The SQL type follows the kind; a ``reference`` gets a foreign key to its target table.
    ``pii`` is also the column's personal-data tag (``info["pii"]``), which every column
    of every table carries.
    """
    kind_impl = KINDS[kind]
    column_type = kind_impl.column_type
    if max_length and kind in {"text", "choice", "email", "phone", "url"}:
        from sqlalchemy import String

        column_type = String(max_length)
    args = [column_type]
    if foreign_key:
        args.append(ForeignKey(foreign_key))
    meta = {
        "kind": kind,
        "label": label,
        "required": required,
        "choices": tuple(Choice(*c) if isinstance(c, tuple) else Choice(c, c.replace("_", " ").title()) for c in choices),
        "default": default,
        "pii": pii,
        "sensitive": sensitive,
        "indexed": indexed or index,
        "searchable": searchable,
        "help": help,
        "reference": reference,
        "read_only": read_only,
        "max_length": max_length,
    }
    return mapped_column(*args, nullable=not required, index=index, info={"accord": meta, "pii": pii})


def describe_model(model, origin="core"):
    """Build the :class:`RecordType` of a model from its columns and ``__accord__`` options."""
    options = model.__accord__
    table = model.__table__
    fields = {}
    for col in table.columns:
        meta = col.info.get("accord")
        if meta is None:
            continue
        label = meta["label"] or col.name.replace("_", " ").capitalize()
        fields[col.name] = Field(name=col.name, origin=origin, **{**meta, "label": label})
    return RecordType(
        key=options.key,
        label=options.label,
        plural_label=options.plural_label,
        plural=options.plural,
        table=table,
        fields=fields,
        title_fields=options.title_fields,
        description=options.description,
        pipeline=options.pipeline,
        relations=options.relations,
        default_sort=options.default_sort,
        timeline=options.timeline,
        origin=origin,
        model=model,
    )
