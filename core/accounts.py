"""User accounts: creating them, their role, switching them off and on.

Roles are ``admin`` and ``user`` for now, stored as ``User.is_admin``; the authorization
work adds roles to :data:`ROLES` and their storage to :func:`role_of` and :func:`_role_columns`,
and every caller (the CLI, the admin API) picks them up from there.
"""

from marshmallow import ValidationError, fields as ma, validate
from sqlalchemy import func, select, update

from . import audit
from .db import db, utcnow
from .errors import Conflict, NotFound, RecordInvalid
from .models import User
from .passwords import hash_password
from .records import SYSTEM, Record, write_unit
from .registry import current_accord
from .tokens import revoke_user_tokens

MIN_PASSWORD_LENGTH = 8

ROLES = {
    "admin": "everything: records, fields, plugins, users and settings",
    "user": "works with records; no administration",
}


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


def role_of(user):
    """The role of ``user``: a key of :data:`ROLES`."""
    return "admin" if user.is_admin else "user"


def _role_columns(role):
    """The column values that give a user ``role``; an unknown role is refused."""
    if role not in ROLES:
        raise RecordInvalid({"role": [f"{role!r} is not a role; the roles are {', '.join(ROLES)}"]},
                            message="Unknown role.")
    return {"is_admin": role == "admin"}


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
        if columns["is_admin"]:
            _audit_role(db.session, record.id, False, actor, record["updated_at"])

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
        _audit_role(session, user.id, old == "admin", actor, now)
    db.session.refresh(user)
    return user, True


def _audit_role(session, user_id, was_admin, actor, at):
    """Note a role change, which no record write makes, in the audit trail as an update of the user."""
    record = Record(current_accord().catalog().type("user"), {"id": user_id, "updated_at": at})
    audit.record_write(session, record, "update", {"is_admin": (was_admin, not was_admin)}, actor)


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
