"""Who may do what to which records, asked in one place by every door: the API, the web
UI, search, exports, imports and dashboards.

A role grants verbs (``read``, ``create``, ``update``, ``delete``, ``export``) per record
type (or ``"*"`` for every type) with a record scope: ``own`` (records the user owns),
``team`` (records owned by anyone in the user's team) or ``all``. A record outside the
scope does not exist for the user: it answers 404 and no list, count, search or
aggregate includes it. Fields marked ``sensitive`` are masked for roles without the
right to them. Built-in roles are below; custom ones live in the ``role`` table.
"""

from dataclasses import dataclass, field

from sqlalchemy import false, or_, select, true

from .errors import Forbidden, RecordInvalid
from .models import User

VERBS = ("read", "create", "update", "delete", "export")
SCOPES = ("own", "team", "all")
EVERYTHING = frozenset(VERBS)
DIRECTORY_TYPES = ("user", "team", "territory")
"""Who is who and where: every role that reads records reads these whole, and only
administrators change them."""


@dataclass(frozen=True)
class Grant:
    verbs: frozenset
    scope: str = "all"


@dataclass(frozen=True)
class Role:
    key: str
    label: str
    description: str
    grants: dict = field(hash=False, compare=False)
    sensitive: bool = False
    admin: bool = False
    origin: str = "core"

    def grant(self, type_key):
        """The grant for ``type_key``, falling back to the role's ``"*"`` grant."""
        return self.grants.get(type_key) or self.grants.get("*")

    def allows(self, type_key, verb):
        grant = self.grant(type_key)
        return grant is not None and verb in grant.verbs

    def to_json(self):
        return {"key": self.key, "label": self.label, "description": self.description, "admin": self.admin,
                "sensitive": self.sensitive, "origin": self.origin,
                "grants": {key: {"verbs": [v for v in VERBS if v in grant.verbs], "scope": grant.scope}
                           for key, grant in self.grants.items()}}


def _directory(verbs=frozenset({"read"})):
    return {key: Grant(verbs, "all") for key in DIRECTORY_TYPES}


BUILT_IN_ROLES = {role.key: role for role in (
    Role("admin", "Administrator", "Everything: every record, fields, plugins, users and settings.",
         {"*": Grant(EVERYTHING, "all")}, sensitive=True, admin=True),
    Role("manager", "Manager", "Reads, changes, deletes and exports the records of their team; sees sensitive fields.",
         {"*": Grant(EVERYTHING, "team"), **_directory()}, sensitive=True),
    Role("sales", "Sales", "Works with their own records: read, create, change, delete; no export, "
                           "no sensitive fields.",
         {"*": Grant(frozenset({"read", "create", "update", "delete"}), "own"), **_directory()}),
    Role("agent", "Service agent", "Reads, creates and changes the records of their team; no delete, no export, "
                                   "no sensitive fields.",
         {"*": Grant(frozenset({"read", "create", "update"}), "team"), **_directory()}),
    Role("read_only", "Read-only", "Reads every record; changes and exports nothing; no sensitive fields.",
         {"*": Grant(frozenset({"read"}), "all")}),
    Role("user", "User", "Works with every record, exports included, and sees sensitive fields; "
                         "no administration.",
         {"*": Grant(EVERYTHING, "all")}, sensitive=True),
)}


def role_from_row(row):
    """A :class:`Role` from a ``role`` table row."""
    return Role(row.key, row.label, row.description or "", parse_grants(row.grants), sensitive=bool(row.sensitive),
                origin=row.origin)


def parse_grants(raw, catalog=None):
    """``{type or "*": Grant}`` from their JSON form; malformed grants are refused naming
    the type and the reason (an unknown type only when ``catalog`` is given)."""
    if not isinstance(raw, dict) or not raw:
        raise RecordInvalid({"grants": ["Give an object of record type (or \"*\") to {verbs, scope}."]})
    grants, errors = {}, {}
    for key, spec in raw.items():
        where = f"grants.{key}"
        if catalog is not None and key != "*" and catalog.type(key) is None:
            errors[where] = [f"There is no record type {key!r}."]
            continue
        if not isinstance(spec, dict):
            errors[where] = ["Give {\"verbs\": [...], \"scope\": \"own\"|\"team\"|\"all\"}."]
            continue
        verbs, scope = spec.get("verbs", []), spec.get("scope", "all")
        unknown = [v for v in verbs if v not in VERBS] if isinstance(verbs, list) else [verbs]
        if unknown:
            errors[where] = [f"Unknown verb {unknown[0]!r}; the verbs are {', '.join(VERBS)}."]
        elif scope not in SCOPES:
            errors[where] = [f"Unknown scope {scope!r}; the scopes are {', '.join(SCOPES)}."]
        else:
            grants[key] = Grant(frozenset(verbs), scope)
    if errors:
        raise RecordInvalid(errors, message="The role's grants are not valid.")
    return grants


def role_of(actor, catalog=None):
    """The :class:`Role` ``actor`` acts with. An actor built without a role key (the
    system, the CLI, a job) has the administrator's role when ``is_admin`` is set."""
    key = actor.role or ("admin" if actor.is_admin else "user")
    role = BUILT_IN_ROLES.get(key)
    if role is None and catalog is not None:
        role = catalog.roles.get(key)
    return role or BUILT_IN_ROLES["read_only"]


def _catalog():
    from .registry import current_accord

    return current_accord().catalog()


def allows(actor, rt, verb):
    return role_of(actor, _catalog()).allows(rt.key, verb)


def require(actor, rt, verb):
    """Refuse with 403 when the actor's role lacks ``verb`` on ``rt`` altogether."""
    role = role_of(actor, _catalog())
    if not role.allows(rt.key, verb):
        raise Forbidden(f"The role {role.label} may not {verb} {rt.plural_label.lower()}.")


def scope_of(actor, rt):
    """``"own"``, ``"team"`` or ``"all"``: which records of ``rt`` the actor may read;
    ``None`` when it may read none."""
    grant = role_of(actor, _catalog()).grant(rt.key)
    if grant is None or "read" not in grant.verbs:
        return None
    if grant.scope == "team" and actor.team_id is None:
        return "own"
    return grant.scope


def _owners_condition(column, actor, scope):
    if scope == "team":
        return column.in_(select(User.id).where(User.team_id == actor.team_id))
    return column == actor.user_id


def visible(actor, rt, table=None):
    """The SQL condition on ``rt``'s rows the actor may read, or ``None`` for every row."""
    scope = scope_of(actor, rt)
    if scope is None:
        return false()
    if scope == "all":
        return None
    return _owners_condition((table if table is not None else rt.table).c.owner_id, actor, scope)


def visible_entries(actor, catalog, entries):
    """The condition on search entries (``record_type``, ``owner_id``) the actor may see,
    over the active types: those it reads whole, and its own or its team's of the others."""
    by_scope = {}
    for rt in catalog.types.values():
        by_scope.setdefault(scope_of(actor, rt), []).append(rt.key)
    parts = []
    if by_scope.get("all"):
        parts.append(entries.c.record_type.in_(by_scope["all"]))
    for scope in ("own", "team"):
        if by_scope.get(scope):
            parts.append(entries.c.record_type.in_(by_scope[scope]) & _owners_condition(entries.c.owner_id, actor, scope))
    return or_(*parts) if parts else false()


def may_assign(actor, rt, owner_id):
    """Refuse (422 on ``owner_id``) giving a record to an owner outside the actor's scope:
    a sales user keeps what they create, a manager assigns within the team."""
    if owner_id is None or owner_id == actor.user_id:
        return
    scope = scope_of(actor, rt)
    if scope == "all":
        return
    if scope == "team":
        from .db import db

        team = db.session.execute(select(User.team_id).where(User.id == owner_id)).scalar_one_or_none()
        if team is not None and team == actor.team_id:
            return
        reason = "The owner must be a member of your team."
    else:
        reason = "Your role may only own records itself; it cannot give them to others."
    raise RecordInvalid({"owner_id": [reason]}, message="This owner is outside your role's scope.")


def sees_sensitive(actor):
    return role_of(actor, _catalog()).sensitive


def hidden_fields(actor, rt):
    """The names of ``rt``'s fields the actor may neither see nor change."""
    if sees_sensitive(actor):
        return frozenset()
    return frozenset(name for name, f in rt.fields.items() if f.sensitive)


def refuse_hidden(actor, rt, names):
    """Refuse (422) a write or filter that names fields hidden from the actor."""
    hidden = hidden_fields(actor, rt) & set(names)
    if hidden:
        raise RecordInvalid({name: ["This field is sensitive; your role may not use it."] for name in sorted(hidden)},
                            message="Your role may not use sensitive fields.")


def conceal(actor, record):
    """``record`` with the sensitive values the actor may not see emptied (``None``), as
    every page and answer shows it."""
    return concealer(actor, record.type)(record)


def concealer(actor, rt):
    """:func:`conceal` for the records of one type, the hidden fields worked out once: a
    list page conceals fifty records with one role lookup."""
    hidden = hidden_fields(actor, rt)

    def conceal_one(record):
        for name in hidden:
            record.values[name] = None
        return record

    return conceal_one


def present(actor, record):
    """The record's JSON as the actor may see it."""
    return conceal(actor, record).to_json()


def presenter(actor, rt):
    """:func:`present` for the selected rows of one type (see :func:`concealer`): a row
    to the JSON the actor may see."""
    from .records import row_json_maker

    return row_json_maker(rt, hidden_fields(actor, rt))


def only_readable(actor, catalog, hits):
    """The ``{"type", "id", ...}`` matches of a plugin's search provider without the
    records the actor may not read, in their order; one query per type that needs a
    check. Matches that are no record (a plugin's own pages) are the plugin's to judge."""
    from .db import db

    wanted = {}
    for hit in hits:
        if catalog.type(hit.get("type")) is not None:
            wanted.setdefault(hit["type"], set()).add(hit["id"])
    readable = {}
    for key, ids in wanted.items():
        rt = catalog.type(key)
        condition = visible(actor, rt)
        if condition is None:
            readable[key] = ids
            continue
        table = rt.table
        readable[key] = set(db.session.execute(select(table.c.id).where(table.c.id.in_(ids), condition)).scalars())
    return [hit for hit in hits if hit.get("type") not in wanted or hit["id"] in readable[hit["type"]]]


def readable_rows(rt, who):
    """For plugins' own queries (widgets, pages): the condition on ``rt``'s table that
    keeps the rows ``who`` (an :class:`~accord.core.records.Actor`, or a user as a
    dashboard widget gets it) may read."""
    if not hasattr(who, "user_id"):
        from .records import Actor

        who = Actor(user_id=who.id, source="web", is_admin=bool(who.is_admin), name=who.name, role=who.role,
                    team_id=who.team_id)
    condition = visible(who, rt)
    return true() if condition is None else condition
