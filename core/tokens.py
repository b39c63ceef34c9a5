"""API bearer tokens: shown once, stored as SHA-256, scoped to read and/or write and
optionally to some record types, expiring and revocable."""

import hashlib
from functools import lru_cache
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, or_, select, update

from .db import db, utcnow
from .errors import Conflict, NotFound, RecordInvalid
from .models import ApiToken, User
from .records import write_unit
from .registry import current_accord, current_generation

SCOPES = ("read", "write")
PREFIX = "acc_"
MAX_NAME_LENGTH = 120


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, name="api", scopes=SCOPES, days=None, record_types=None):
    """Store a new token for ``user`` and return its clear text (never stored).

    :param record_types: keys of the record types the token may reach; ``None`` or empty
        for every type. A type-limited token reaches only those types' record endpoints.
    """
    problems = {}
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        problems["scopes"] = [f"use {' and/or '.join(SCOPES)}" + (f", not {unknown[0]!r}" if unknown else "")]
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        problems["name"] = [f"needs 1 to {MAX_NAME_LENGTH} characters"]
    types = sorted(set(record_types or ()))
    catalog = current_accord().catalog()
    strangers = [key for key in types if catalog.type(key) is None]
    if strangers:
        problems["record_types"] = [f"there is no record type {strangers[0]!r}; the types are "
                                    f"{', '.join(sorted(catalog.types))}"]
    if problems:
        raise RecordInvalid(problems, message="The token cannot be created.")
    if not user.is_active:
        raise Conflict(f"{user.email} is deactivated; activate the account before giving it a token.")
    token = PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=days) if days else None
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), scopes=list(scopes),
                            record_types=types or None, expires_at=expires_at))
    db.session.commit()
    return token


def token_state(token, now=None):
    """``"revoked"``, ``"expired"`` or ``"active"``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def list_tokens(user=None, include_inactive=False):
    """``(token, user email)`` pairs, oldest first: the usable tokens, of ``user`` only when
    given, revoked and expired ones too with ``include_inactive``. Never the secret (only its
    hash is stored)."""
    query = select(ApiToken, User.email).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    if not include_inactive:
        query = query.where(ApiToken.revoked_at.is_(None),
                            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))
    return db.session.execute(query).all()


def revoke_tokens(token_ids):
    """Revoke the tokens ``token_ids`` (all or none: an unknown id is :class:`NotFound`);
    the API refuses each from its next request. Returns ``{id: newly revoked}``."""
    wanted = sorted(set(token_ids))
    with write_unit() as session:
        found = session.execute(select(ApiToken).where(ApiToken.id.in_(wanted))).scalars().all()
        missing = sorted(set(wanted) - {token.id for token in found})
        if missing:
            raise NotFound(f"There is no API token with id {', '.join(map(str, missing))}.")
        now = utcnow()
        newly = {token.id: token.revoked_at is None for token in found}
        session.execute(update(ApiToken).where(ApiToken.id.in_(wanted), ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    return newly


def revoke_user_tokens(session, user_id):
    """Revoke every token of a user inside the caller's transaction; returns how many."""
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
    return result.rowcount


@lru_cache(maxsize=1)
def _token_lookup():
    """The lookup statement, built once: every API request runs it."""
    return (
        select(User.id, User.name, User.is_admin, User.role, User.team_id, ApiToken.scopes, ApiToken.record_types, ApiToken.expires_at,
               current_generation().label("schema_generation"))
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
               User.is_active.is_(True), User.deleted_at.is_(None))
    )


def authenticate(token):
    """The acting user's ``id``, ``name``, ``is_admin``, the token's ``scopes`` and
    ``record_types`` (``None``: every type) and the current ``schema_generation`` for a
    valid token, else ``None``."""
    row = db.session.connection().execute(_token_lookup(), {"token_hash": hash_token(token)}).first()
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        return None
    return row
