"""Server-side web sessions.

The web UI's session cookie carries only a random session id; the ``web_session`` row,
which stores the id's SHA-256 (as API tokens are stored), is the truth. So signing out,
deactivating a user, a role change and the timeouts take effect on the very next
request, in every process, and a copied cookie is worth nothing once its row is revoked.

A session ends when it is revoked, after ``SESSION_IDLE_MINUTES`` without a request
(default 30) or ``SESSION_MAX_HOURS`` after signing in (default 12), whichever comes
first. The deadlines are computed from ``last_seen_at`` and ``created_at`` with the
current settings, so shortening them applies to open sessions too. ``last_seen_at`` is
written at most once a minute (:data:`TOUCH_EVERY`), not on every request.
"""

import hashlib
import secrets
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select, update

from .db import db, utcnow
from .models import User, WebSession
from .records import write_unit

TOUCH_EVERY = timedelta(minutes=1)
"""How stale ``last_seen_at`` may get before a request refreshes it: the idle timeout is
exact to this much, and a busy user costs one write a minute rather than one a request."""


def hash_session_id(session_id):
    return hashlib.sha256(session_id.encode()).hexdigest()


def idle_timeout():
    return timedelta(minutes=current_app.config["ACCORD"]["SESSION_IDLE_MINUTES"])


def max_age():
    return timedelta(hours=current_app.config["ACCORD"]["SESSION_MAX_HOURS"])


def start(user_id, address=None, user_agent=None):
    """Open a new session for ``user_id`` and return its id for the cookie (only its hash
    is stored). Sessions past the absolute timeout, anyone's, are deleted on the way."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    table = WebSession.__table__
    with write_unit() as session:
        session.execute(insert(table).values(
            token_hash=hash_session_id(session_id), user_id=user_id, created_at=now, last_seen_at=now,
            address=(address or "")[:64] or None, user_agent=(user_agent or "")[:255] or None,
        ))
        session.execute(delete(table).where(table.c.created_at < now - max_age()))
    return session_id


@lru_cache(maxsize=1)
def _lookup():
    """The lookup statement, built once: every page request runs it. It joins the session
    to its user and carries the schema generation, so a page's sign-in check and catalog
    check cost one round trip together."""
    from .registry import current_generation

    return (
        select(User.id, User.name, User.email, User.is_admin, User.role, User.team_id, WebSession.id.label("session_row"),
               WebSession.created_at.label("signed_in_at"), WebSession.last_seen_at.label("last_seen_at"),
               current_generation().label("schema_generation"))
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == bindparam("token_hash"), WebSession.revoked_at.is_(None),
               User.is_active.is_(True), User.deleted_at.is_(None))
    )


def lookup(session_id):
    """The signed-in user of the session ``session_id`` (``id``, ``name``, ``email``,
    ``is_admin``, and the current ``schema_generation``), or ``None`` when there is no such
    session or it was revoked, has been idle too long or is too old, or its user is no
    longer active."""
    if not isinstance(session_id, str) or not session_id:
        return None
    row = db.session.connection().execute(_lookup(), {"token_hash": hash_session_id(session_id)}).first()
    if row is None:
        return None
    now = utcnow()
    if now - row.last_seen_at >= idle_timeout() or now - row.signed_in_at >= max_age():
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with write_unit() as session:
            session.execute(update(WebSession).where(WebSession.id == row.session_row, WebSession.revoked_at.is_(None))
                            .values(last_seen_at=now))
    return row


def end(session_id):
    """Revoke the session ``session_id`` (signing out); an unknown or ended one is left as it is."""
    if not isinstance(session_id, str) or not session_id:
        return
    with write_unit() as session:
        session.execute(update(WebSession).where(WebSession.token_hash == hash_session_id(session_id),
                                                 WebSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def end_all(user_id):
    """Revoke every open session of ``user_id``, in the caller's write unit if there is one
    (a deactivated or deleted user, a password reset)."""
    with write_unit() as session:
        session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
                        .values(revoked_at=utcnow()))
