"""API bearer tokens: shown once, stored as SHA-256, scoped to read and/or write."""

import hashlib
from functools import lru_cache
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, select

from .db import db, utcnow
from .models import ApiToken, User

SCOPES = ("read", "write")
PREFIX = "acc_"


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, name="api", scopes=SCOPES, days=None):
    """Store a new token for ``user`` and return its clear text (never stored)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope {sorted(unknown)[0]!r}; use {', '.join(SCOPES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=days) if days else None
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token),
                            scopes=list(scopes), expires_at=expires_at))
    db.session.commit()
    return token


@lru_cache(maxsize=1)
def _token_lookup():
    """The lookup statement, built once: every API request runs it."""
    from .registry import current_generation

    return (
        select(User.id, User.name, User.is_admin, ApiToken.scopes, ApiToken.expires_at,
               current_generation().label("schema_generation"))
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None),
               User.is_active.is_(True), User.deleted_at.is_(None))
    )


def authenticate(token):
    """The acting user's ``id``, ``name``, ``is_admin``, the token's ``scopes`` and the
    current ``schema_generation`` for a valid token, else ``None``."""
    row = db.session.connection().execute(_token_lookup(), {"token_hash": hash_token(token)}).first()
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        return None
    return row
