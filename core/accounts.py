"""User accounts: creating them, their role, switching them off and on.

A user's role is a key of the built-in or custom roles (:mod:`accord.core.permissions`),
stored in ``User.role``; ``User.is_admin`` says whether it is ``admin``.
"""

import re

from marshmallow import ValidationError, fields as ma, validate
from sqlalchemy import func, select, update

from . import audit
from .db import db, utcnow
from .errors import Conflict, NotFound, RecordInvalid
from .models import User
from .passwords import hash_password
from .models import Role as RoleRow
from .permissions import BUILT_IN_ROLES, parse_grants, role_from_row
from .records import SYSTEM, Record, write_unit
from .registry import bump_generation, current_accord
from .tokens import revoke_user_tokens

MIN_PASSWORD_LENGTH = 8



def find_user(email):
    user = db.session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"There is no user with email {email!r}.")
    return user


def password_problem(password):
    """What is wrong with ``password`` as a new password (``"needs at least 8 characters"``),
    or ``None``: the one password rule of ``accord init``, ``accord users create`` and the web."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"needs at least {MIN_PASSWORD_LENGTH} characters"
    return None


def email_problem(email):
    """What is wrong with ``email`` as a user's email address, or ``None``."""
    try:
        ma.Email(validate=validate.Length(max=254)).deserialize(email)
    except ValidationError:
        return f"{email!r} is not a valid email address"
    return None


def roles():
    """Every role a user can have, built-in first: ``{key: Role}``."""
    return {**BUILT_IN_ROLES, **current_accord().catalog().roles}


def role_of(user):
    """The key of ``user``'s role."""
    return user.role or ("admin" if user.is_admin else "user")


def _role_columns(role):
    """The column values that give a user ``role``; an unknown role is refused."""
    known = roles()
    if role not in known:
        raise RecordInvalid({"role": [f"{role!r} is not a role; the roles are {', '.join(known)}"]},
                            message="Unknown role.")
    return {"role": role, "is_admin": role == "admin"}


ROLE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def define_role(key, label, grants, description="", sensitive=False, origin="local"):
    """Add the custom role ``key`` or change it: ``(role, created)``. Users who have it act
    with the new grants from their next request. Built-in roles cannot be redefined."""
    errors = {}
    if not isinstance(key, str) or not ROLE_KEY.match(key):
        errors["key"] = ["Use 1-64 lower-case letters, digits or underscores, starting with a letter."]
    elif key in BUILT_IN_ROLES:
        errors["key"] = [f"{key!r} is a built-in role; choose another key."]
    if not isinstance(label, str) or not label.strip() or len(label) > 120:
        errors["label"] = ["Give a label of 1-120 characters."]
    if not isinstance(description, str):
        errors["description"] = ["Must be text."]
    if not isinstance(sensitive, bool):
        errors["sensitive"] = ["Must be true or false."]
    if errors:
        raise RecordInvalid(errors, message="The role is not valid.")
    parse_grants(grants, current_accord().catalog())
    with write_unit() as session:
        row = session.get(RoleRow, key)
        created = row is None
        if created:
            row = RoleRow(key=key)
            session.add(row)
        row.label, row.description, row.grants, row.sensitive, row.origin = (
            label.strip(), description, grants, sensitive, origin)
        session.flush()
        bump_generation(session)
    return role_from_row(row), created


def remove_role(key):
    """Remove the custom role ``key``; refused while a user has it."""
    with write_unit() as session:
        row = session.get(RoleRow, key)
        if row is None:
            raise NotFound(f"There is no custom role {key!r}.")
        holders = session.execute(select(User.email).where(User.role == key, User.deleted_at.is_(None))
                                  .order_by(User.id).limit(3)).scalars().all()
        if holders:
            raise Conflict(f"The role {key!r} is held by {', '.join(holders)}; give them another role first.")
        session.delete(row)
        bump_generation(session)


def list_users():
    """Every user that is not deleted, oldest first."""
    return db.session.execute(select(User).where(User.deleted_at.is_(None)).order_by(User.id)).scalars().all()


def check_new_user(email, password=None, role="user"):
    """Refuse a malformed or taken email, a short password or an unknown role with
    :class:`RecordInvalid` naming every problem (lets a caller check before asking for a
    password)."""
    email = email.strip()
    problems = {}
    try:
        _role_columns(role)
    except RecordInvalid as exc:
        problems.update(exc.fields)
    email_wrong = email_problem(email)
    if email_wrong:
        problems["email"] = [email_wrong]
    else:
        taken = db.session.execute(select(User.id).where(func.lower(User.email) == email.lower())).scalar()
        if taken is not None:
            problems["email"] = [f"{email} already belongs to user {taken}"]
    password_wrong = password_problem(password) if password is not None else None
    if password_wrong:
        problems["password"] = [password_wrong]
    if problems:
        raise RecordInvalid(problems, message="The user cannot be created.")


def create_user(email, name, password=None, role="user", actor=SYSTEM):
    """Create a user through the service layer (validation, hooks, search) and return it.

    Everything :func:`check_new_user` refuses is refused; role and password hash are
    written in the same transaction, as no record write may set them. Without a password
    nobody can sign in as the user until one is set.
    """
    email = email.strip()
    check_new_user(email, password, role)
    columns = {**_role_columns(role), "password_hash": hash_password(password) if password is not None else None}

    def set_secrets(record):
        db.session.execute(update(User).where(User.id == record.id).values(**columns))
        if role != "user":
            _audit_role(db.session, record.id, "user", role, actor, record["updated_at"])

    record = current_accord().records.create("user", {"email": email, "name": name}, actor, before_commit=set_secrets)
    return db.session.get(User, record.id)


def ensure_admin(email, password, name="Administrator"):
    """The administrator with this email, created when missing: ``(user, created)``."""
    try:
        return find_user(email), False
    except NotFound:
        return create_user(email, name, password, role="admin"), True


def set_role(email, role, actor=SYSTEM):
    """Give the user ``email`` the ``role``: ``(user, changed)``, noted in the audit trail.
    Taking the admin role from the last active administrator is refused."""
    columns = _role_columns(role)
    with write_unit() as session:
        user = find_user(email)
        old = role_of(user)
        if old == role:
            return user, False
        if user.is_admin and user.is_active:
            _keep_an_administrator(session, user)
        now = utcnow()
        session.execute(update(User).where(User.id == user.id).values(
            **columns, updated_at=now, version=User.version + 1,
        ))
        _audit_role(session, user.id, old, role, actor, now)
    db.session.refresh(user)
    return user, True


def _audit_role(session, user_id, old, new, actor, at):
    """Note a role change, which no record write makes, in the audit trail as an update of the user."""
    record = Record(current_accord().catalog().type("user"), {"id": user_id, "updated_at": at})
    changes = {"role": (old, new)}
    if (old == "admin") != (new == "admin"):
        changes["is_admin"] = (old == "admin", new == "admin")
    audit.record_write(session, record, "update", changes, actor)


def deactivate_user(email, actor=SYSTEM):
    """Switch the user ``email`` off and revoke its API tokens, in one transaction:
    ``(user, tokens revoked)``. The last active administrator cannot be switched off."""
    with write_unit() as session:
        user = find_user(email)
        if user.is_active:
            if user.is_admin:
                _keep_an_administrator(session, user)
            current_accord().records.update("user", user.id, {"is_active": False}, actor)
        revoked = revoke_user_tokens(session, user.id)
    db.session.refresh(user)
    return user, revoked


def activate_user(email, actor=SYSTEM):
    """Switch the user ``email`` on again: ``(user, changed)``. Its revoked tokens stay revoked."""
    user = find_user(email)
    if user.is_active:
        return user, False
    current_accord().records.update("user", user.id, {"is_active": True}, actor)
    db.session.refresh(user)
    return user, True


def _keep_an_administrator(session, user):
    """Refuse to take away the last active administrator (the rows are locked on
    PostgreSQL, so two such changes at once cannot remove both of the last two)."""
    admins = session.execute(
        select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True), User.deleted_at.is_(None))
        .order_by(User.id).with_for_update()
    ).scalars().all()
    if set(admins) <= {user.id}:
        raise Conflict(f"{user.email} is the last active administrator; make another user an admin first.")
