"""Signing in to the web UI and the CSRF check on every form.

The signed session cookie holds the user's id and a CSRF token. Each page request loads
the user with one query that also carries the schema generation (as the API's token
lookup does), so the catalog check costs no extra round trip. Accounts, roles and
server-side sessions come with the security work; until then the administrator made by
``accord init`` signs in here.
"""

import hmac
import secrets
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from sqlalchemy import bindparam, select, update

from .. import throttle
from ..db import db
from ..models import User
from ..passwords import check_password
from ..records import Actor, write_unit
from .rendering import render

bp = Blueprint("auth", __name__)
CSRF_FIELD = "csrf_token"
PUBLIC_ENDPOINTS = {"help.panel"}
"""Pages of protected blueprints that also answer signed-out people (the sign-in page's
help); they read ``g.get("accord_user")`` and show only what anyone may see."""
CSRF_HEADER = "X-CSRF-Token"


@lru_cache(maxsize=1)
def _user_lookup():
    from ..registry import current_generation

    return (select(User.id, User.name, User.email, User.is_admin, current_generation().label("schema_generation"))
            .where(User.id == bindparam("user_id"), User.is_active.is_(True), User.deleted_at.is_(None)))


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
    user_id = session.get("user_id")
    row = None
    if isinstance(user_id, int):
        row = db.session.connection().execute(_user_lookup(), {"user_id": user_id}).first()
    if row is None:
        session.pop("user_id", None)
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.method == "GET" and not wants_json():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401, description="Sign in first.")
    g.accord_user = row
    g.accord_actor = Actor(user_id=row.id, source="web", is_admin=row.is_admin, name=row.name)
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
            throttle.forget(email)
            if renewed:
                with write_unit() as write:
                    write.execute(update(User).where(User.id == user.id).values(password_hash=renewed))
            csrf = session.get(CSRF_FIELD)
            session.clear()
            session[CSRF_FIELD] = csrf or secrets.token_urlsafe(32)
            session["user_id"] = user.id
            session.permanent = True
            return redirect(_safe_next(request.form.get("next")))
    status = 401 if error else 200
    return render("login.html", title="Sign in", breadcrumbs=[], help_page="auth.login", error=error, email=email,
                  next=request.values.get("next", "")), status


@bp.post("/logout")
def logout():
    check_csrf()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
