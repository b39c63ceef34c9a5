"""Signing in to the web UI, the server-side session behind it, and the CSRF check on
every form.

The session cookie (Flask's signed cookie, HttpOnly, SameSite=Lax, Secure over HTTPS)
holds the CSRF token and, once signed in, an opaque session id; the ``web_session`` row
is the truth (:mod:`accord.core.sessions`). Each page request loads the session and its
user with one query that also carries the schema generation (as the API's token lookup
does), so the sign-in and catalog checks cost one round trip. Signing in opens a new
session (the old id dies and the CSRF token is renewed); signing out revokes it.
"""

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select, update

from .. import sessions, throttle
from ..db import db
from ..models import User
from ..passwords import check_password
from ..records import Actor, write_unit
from .rendering import render

bp = Blueprint("auth", __name__)
CSRF_FIELD = "csrf_token"
SESSION_KEY = "sid"
"""Where the cookie keeps the session id."""
PUBLIC_ENDPOINTS = {"help.panel"}
"""Pages of protected blueprints that also answer signed-out people (the sign-in page's
help); they read ``g.get("accord_user")`` and show only what anyone may see."""
CSRF_HEADER = "X-CSRF-Token"


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` on every request that came over HTTPS (as
    gunicorn reports it behind a trusted proxy), or always with ``SESSION_COOKIE_SECURE``."""

    def get_cookie_secure(self, app):
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def init_sessions(app):
    app.session_interface = SessionCookie()


def csrf_token():
    """This session's CSRF token (made on first use)."""
    token = session.get(CSRF_FIELD)
    if token is None:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf():
    """Refuse a state-changing request whose form field or header lacks the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
    expected = session.get(CSRF_FIELD)
    if not expected or not hmac.compare_digest(str(sent), expected):
        abort(400, description="The form has expired or did not come from this site; reload the page and try again.")


def load_user():
    """Before every protected page: the signed-in user, or a redirect to the sign-in page."""
    check_csrf()
    row = sessions.lookup(session.get(SESSION_KEY))
    if row is None:
        session.pop(SESSION_KEY, None)
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.method == "GET" and not wants_json():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401, description="Sign in first.")
    g.accord_user = row
    g.accord_actor = Actor(user_id=row.id, source="web", is_admin=row.is_admin, name=row.name, role=row.role,
                           team_id=row.team_id)
    g.accord_generation = row.schema_generation or 0
    return None


def wants_json():
    """Whether the caller (accord.js fetching) asked for JSON rather than a page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def protect(app, blueprint_names):
    """Make every page of the named blueprints require a signed-in user and a CSRF token
    on writes (an app-level check: blueprints are module-level and shared by apps)."""
    protected = frozenset(blueprint_names)

    def check():
        if request.blueprints and request.blueprints[-1] in protected:
            return load_user()
        return None

    app.before_request(check)


def current_actor():
    return g.accord_actor


def _safe_next(target):
    """Only a path on this site, so the sign-in page cannot send anyone elsewhere."""
    if not target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    email = ""
    if request.method == "POST":
        check_csrf()
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        address = request.remote_addr or "unknown"
        refused = throttle.refusal(email, address)
        if refused:
            return render("login.html", title="Sign in", breadcrumbs=[], help_page="auth.login", error=refused,
                          email=email, next=request.values.get("next", "")), 429
        user = db.session.execute(select(User).where(db.func.lower(User.email) == email,
                                                     User.is_active.is_(True), User.deleted_at.is_(None))).scalar_one_or_none()
        matches, renewed = check_password(user.password_hash if user else None, password)
        if not matches:
            throttle.record_failure(email, address)
            error = "That email and password do not match an active account."
        else:
            with write_unit() as write:
                throttle.forget(email)
                if renewed:
                    write.execute(update(User).where(User.id == user.id).values(password_hash=renewed))
                sessions.end(session.get(SESSION_KEY))
                session_id = sessions.start(user.id, address, request.user_agent.string)
            session.clear()
            session[CSRF_FIELD] = secrets.token_urlsafe(32)
            session[SESSION_KEY] = session_id
            session.permanent = True
            return redirect(_safe_next(request.form.get("next")))
    status = 401 if error else 200
    return render("login.html", title="Sign in", breadcrumbs=[], help_page="auth.login", error=error, email=email,
                  next=request.values.get("next", "")), status


@bp.post("/logout")
def logout():
    check_csrf()
    sessions.end(session.get(SESSION_KEY))
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
