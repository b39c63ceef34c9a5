"""Form controls drawn from field descriptors, and posted text turned back into the values
the descriptor-built schema accepts.

Any page that edits descriptor fields uses this module: the record forms, and the admin's
pages for custom fields and plugin settings. :func:`controls` picks each field's control by
its kind and shows either the stored value or, after a refused post, exactly what was
typed; :func:`parse` converts the browser's text by kind (an empty box is ``None``, a
checkbox a boolean, a multi-select a list) so the schema's own messages apply, and
:func:`reasons` words those messages for a person. Templates draw a :class:`Control` with
the ``control`` macro of ``record_pages/partials/field.html``.
"""

import re
from dataclasses import dataclass

from sqlalchemy import select

from .. import permissions
from ..db import db
from . import present

MAX_OPTIONS = 200
"""Records a reference control offers in a list; beyond this it asks for an id."""
MAX_CHECKBOXES = 12
"""Choices shown as a group of checkboxes; longer lists become a multi-select."""

WIDGETS = {"long_text": "textarea", "boolean": "checkbox", "choice": "select", "multi_choice": "multiselect",
           "money": "money"}
PLAIN_WORDS = {
    "Missing data for required field.": "Fill this in.",
    "Field may not be null.": "Fill this in.",
    "Not a valid email address.": "Enter an email address such as name@example.com.",
    "Not a valid URL.": "Enter a web address that starts with http:// or https://.",
    "Not a valid date.": "Enter a date.",
    "Not a valid datetime.": "Enter a date and a time.",
    "Not a valid aware datetime.": "Enter a date and a time.",
    "Not a valid number.": "Enter a number such as 1250.50.",
    "Not a valid integer.": "Enter a whole number.",
    "Not a valid phone number.": "Enter a phone number such as +44 20 7946 0000.",
}
TIME_HINT = "Time in UTC."
LONGER_THAN = re.compile(r"^Longer than maximum length (\d+)\.$")


@dataclass(frozen=True)
class Control:
    """One form control and everything its label, hint and error need.

    :param widget: ``input``, ``textarea``, ``checkbox``, ``select``, ``multiselect``
        (drawn as checkboxes when short), ``money`` (an amount and a currency box).
    :param value: the text shown; a list of texts for ``multiselect``; ``(amount,
        currency)`` for ``money``; a boolean for ``checkbox``.
    :param options: ``((value, label), ...)`` of a select.
    """

    name: str
    label: str
    widget: str = "input"
    input_type: str = "text"
    value: object = ""
    options: tuple = ()
    required: bool = False
    hint: str = ""
    errors: tuple = ()
    max_length: int | None = None
    inputmode: str | None = None
    id_prefix: str = "field-"

    @property
    def id(self):
        return f"{self.id_prefix}{self.name}"

    @property
    def hint_id(self):
        return f"{self.id}-hint" if self.hint else None

    @property
    def error_id(self):
        return f"{self.id}-error" if self.errors else None

    @property
    def described_by(self):
        return " ".join(i for i in (self.hint_id, self.error_id) if i) or None

    @property
    def as_checkboxes(self):
        return self.widget == "multiselect" and len(self.options) <= MAX_CHECKBOXES

    def selected(self, option):
        return option in self.value if isinstance(self.value, (list, tuple)) else option == self.value


def controls(fields, values=None, form=None, errors=None, options=None, hints=None, id_prefix="field-"):
    """One :class:`Control` per field, in the order of ``fields``.

    :param fields: ``{name: Field}``.
    :param values: stored, Python-typed values to show (a record's values, defaults).
    :param form: the posted form (a ``MultiDict``); when given, its text is shown as typed.
    :param errors: ``{name: [reason, ...]}`` to show beside each control.
    :param options: ``{name: ((value, label), ...)}``: these fields become selects (references,
        stages), whatever their kind; ``None`` for a name keeps its kind's control.
    :param hints: ``{name: text}`` shown after the field's own help.
    """
    values, errors, options, hints = values or {}, errors or {}, options or {}, hints or {}
    made = []
    for name, f in fields.items():
        choices = options.get(name)
        if choices is None and f.kind in ("choice", "multi_choice"):
            choices = tuple((c.key, c.label) for c in f.choices)
        widget = _widget(f)
        if options.get(name) is not None and widget != "multiselect":
            widget = "select"
        value = _typed(f, widget, form) if form is not None else _stored(f, widget, values.get(name))
        made.append(Control(
            name=name, label=f.label or name, widget=widget, input_type=present.input_type(f),
            value=value, options=_with_current(choices, value) if widget in ("select", "multiselect") else (),
            required=f.required,
            hint=" ".join(h for h in (f.help, TIME_HINT if f.kind == "datetime" else "", hints.get(name, "")) if h),
            errors=tuple(reasons(errors.get(name))),
            max_length=f.max_length if widget == "input" else None,
            inputmode="decimal" if f.kind in ("decimal", "money") else None, id_prefix=id_prefix,
        ))
    return made


def id_list_control(name, label, ids=(), form=None, errors=None, options=None, hint="", id_prefix="field-"):
    """A control for a list of record ids (a relation such as a deal's contacts): a
    multi-select of ``options`` when given, else a box for ids separated by commas."""
    if form is not None:
        chosen = [v.strip() for raw in form.getlist(name) for v in raw.split(",") if v.strip()]
    else:
        chosen = [str(i) for i in ids or ()]
    errors = tuple(reasons((errors or {}).get(name)))
    if options is None:
        return Control(name=name, label=label, value=", ".join(chosen), errors=errors, id_prefix=id_prefix,
                       hint=hint or "Ids separated by commas.")
    return Control(name=name, label=label, widget="multiselect", value=chosen, errors=errors, hint=hint,
                   options=_with_current(options, chosen), id_prefix=id_prefix)


def _stored(f, widget, value):
    if widget == "checkbox":
        return bool(value)
    if widget == "multiselect":
        return [str(v) for v in value or ()]
    if widget == "money":
        return ("", "") if not value else (present.form_value(f, value["amount"]), value.get("currency") or "")
    return present.form_value(f, value)


def _typed(f, widget, form):
    if widget == "checkbox":
        return form.get(f.name) is not None
    if widget == "multiselect":
        return form.getlist(f.name)
    if widget == "money":
        return form.get(f.name, ""), form.get(f"{f.name}.currency", "")
    return form.get(f.name, "")


def _with_current(choices, value):
    """The options, plus the current value when it is not among them (a stage of another
    pipeline, a record now in the trash), so what is stored or typed is never lost."""
    choices = choices or ()
    known = {str(key) for key, _label in choices}
    current = value if isinstance(value, list) else [value]
    missing = tuple((v, f"{v} (not in the list)") for v in current if v not in ("", None) and v not in known)
    return tuple((str(key), label) for key, label in choices) + missing


# Posted text to values -------------------------------------------------------------------


def parse(fields, form, omit_empty=False):
    """``(data, errors)``: the posted values of ``fields`` as the schema takes them.

    Text the schema could not judge (``12x`` for a whole number) is refused here with a
    message in ``errors``; everything else is left to the schema, so the rules live in one
    place. ``omit_empty`` leaves empty fields out (a new record then gets its defaults).
    """
    data, errors = {}, {}
    for name, f in fields.items():
        try:
            value = _parse_one(f, form)
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if value is None and omit_empty:
            continue
        data[name] = value
    return data, errors


def parse_ids(form, name):
    """The record ids posted under ``name`` (a multi-select, or ids separated by commas)."""
    ids = []
    for raw in form.getlist(name):
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not part.isascii():
                raise ValueError(f"“{part}” is not a record id; use whole numbers separated by commas.")
            if int(part) not in ids:
                ids.append(int(part))
    return ids


def _parse_one(f, form):
    name = f.name
    if f.kind == "boolean":
        return form.get(name) is not None
    if f.kind == "multi_choice":
        chosen = [_storable(v) for v in form.getlist(name) if v]
        return chosen or None
    if f.kind == "money":
        amount = _storable(form.get(name, "")).strip().replace(" ", "")
        currency = _storable(form.get(f"{name}.currency", "")).strip().upper()
        if not amount:
            return None
        return {"amount": amount, "currency": currency} if currency else {"amount": amount}
    raw = _storable(form.get(name, ""))
    if not raw.strip():
        return None
    if f.kind == "long_text":
        return raw.replace("\r\n", "\n")
    text = raw.strip()
    if f.kind in ("integer", "reference"):
        if not re.fullmatch(r"-?[0-9]+", text):
            raise ValueError("Enter a whole number." if f.kind == "integer" else "Enter the id of a record (a whole number).")
        return int(text)
    if f.kind == "decimal":
        return text.replace(" ", "")
    return text


def _storable(text):
    if "\x00" in text:
        raise ValueError("This contains a character that cannot be stored; remove it.")
    return text


def reasons(messages):
    """Reasons from the schema or the service worded for a person, flattened to text
    (a list field reports ``{index: [reason]}``)."""
    if not messages:
        return []
    if isinstance(messages, str):
        messages = [messages]
    worded = []
    for message in messages:
        if isinstance(message, dict):
            worded += [f"Item {int(k) + 1 if str(k).isdigit() else k}: {r}"
                       for k, v in message.items() for r in reasons(v)]
        elif isinstance(message, (list, tuple)):
            worded += reasons(message)
        else:
            text = str(message)
            longer = LONGER_THAN.match(text)
            worded.append(f"Use at most {longer.group(1)} characters." if longer else PLAIN_WORDS.get(text, text))
    return worded


# Choices backed by records ----------------------------------------------------------------


def record_options(rt, actor):
    """The live records of ``rt`` ``actor`` may read as ``((id, title), ...)`` ordered by title, or ``None``
    when there are more than :data:`MAX_OPTIONS` (the form then asks for an id). One query
    of at most ``MAX_OPTIONS + 1`` rows, served by the live-rows index. Records switched
    off (an ``is_active`` column that is false, such as a user who left) are not offered."""
    active = rt.fields.get("is_active")
    conditions = [rt.table.c.is_active.is_(True)] if active is not None and active.kind == "boolean" \
        and not active.custom else []
    found = titled_records(rt, *conditions, limit=MAX_OPTIONS + 1, actor=actor)
    if len(found) > MAX_OPTIONS:
        return None
    return tuple(sorted(found, key=lambda pair: (pair[1].casefold(), pair[0])))


def titled_records(rt, *conditions, limit, actor, newest_first=False):
    """``[(id, title), ...]`` of at most ``limit`` live records of ``rt`` that match
    ``conditions`` and ``actor`` may read, reading only the id and the title fields."""
    if not permissions.allows(actor, rt, "read"):
        return []
    scope = permissions.visible(actor, rt)
    if scope is not None:
        conditions = (*conditions, scope)
    table = rt.table
    names = [n for n in rt.title_fields if n in rt.fields]
    custom = [n for n in names if rt.fields[n].custom]
    selected = [table.c.id] + [table.c[n] for n in names if n not in custom]
    if custom:
        selected.append(table.c.custom)
    stmt = select(*selected).where(table.c.deleted_at.is_(None), *conditions).limit(limit)
    if newest_first:
        stmt = stmt.order_by(table.c.id.desc())
    titled = []
    for row in db.session.execute(stmt).mappings():
        stored = (row["custom"] or {}) if custom else {}
        values = {n: stored.get(n) if n in custom else row[n] for n in names}
        titled.append((row["id"], rt.title_of({**values, "id": row["id"]})))
    return titled


def shown(fields, values):
    """What each control shows for the stored ``values``: the baseline that :func:`changed`
    compares a post with. JSON-able, so a form can carry it in a hidden input."""
    return {name: _plain(f, _stored(f, _widget(f), values.get(name))) for name, f in fields.items()}


def changed(fields, form, baseline):
    """Names of ``fields`` whose posted text differs from ``baseline`` (see :func:`shown`):
    what the person actually changed. A field missing from the baseline counts as changed."""
    return [name for name, f in fields.items()
            if name not in baseline or _plain(f, _typed(f, _widget(f), form)) != baseline[name]]


def _widget(f):
    return WIDGETS.get(f.kind, "input")


def _plain(f, value):
    widget = _widget(f)
    if widget == "multiselect":
        return sorted(str(v) for v in value)
    if widget == "money":
        return [str(v) for v in value]
    return value
