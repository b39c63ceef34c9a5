"""The "Forgot your password?" pages: asking for a reset link by email, then choosing a
new password through it (:mod:`accord.core.password_reset` does the work). Open to
signed-out people; every form carries the CSRF token."""

from flask import Blueprint, current_app, flash, redirect, request, url_for
from marshmallow import ValidationError
from marshmallow.validate import Email

from .. import password_reset
from ..accounts import MIN_PASSWORD_LENGTH
from .auth import check_csrf
from .rendering import render

bp = Blueprint("password_reset", __name__)
TRAIL = [("Sign in", "/login"), ("Reset your password", None)]


@bp.route(password_reset.PATH, methods=["GET", "POST"], endpoint="request")
def ask():
    """The email form, and the same answer to every well-formed address it is given."""
    email, errors, status = "", {}, 200
    if request.method == "POST":
        check_csrf()
        email = request.form.get("email", "").strip().lower()
        try:
            Email()(email)
        except ValidationError:
            errors["email"] = ["Enter an email address, such as ada@example.com."]
        if not errors:
            refused = password_reset.request_reset(email, request.remote_addr or "unknown", _link_base())
            if refused is None:
                return _page("password_reset/request.html", sent=True, email="", errors={},
                             minutes=current_app.config["ACCORD"]["PASSWORD_RESET_MINUTES"])
            errors["email"], status = [refused], 429
        else:
            status = 422
    return _page("password_reset/request.html", sent=False, email=email, errors=errors), status


@bp.route(f"{password_reset.PATH}/<token>", methods=["GET", "POST"], endpoint="choose")
def choose(token):
    """The new-password form of a reset link; a link that does not work says so (410)."""
    if password_reset.token_user(token) is None:
        return _page("password_reset/choose.html", invalid=True, errors={}), 410
    errors = {}
    if request.method == "POST":
        check_csrf()
        try:
            user, errors = password_reset.reset_password(token, request.form.get("password", ""),
                                                         request.form.get("confirmation", ""))
        except password_reset.ResetLinkInvalid:
            return _page("password_reset/choose.html", invalid=True, errors={}), 410
        if user is not None:
            flash("Your password is changed and every session of your account has ended; sign in with the new password.")
            return redirect(url_for("auth.login"))
    return _page("password_reset/choose.html", invalid=False, errors=errors), 422 if errors else 200


def _page(template, **context):
    return render(template, title="Reset your password", breadcrumbs=TRAIL, min_length=MIN_PASSWORD_LENGTH, **context)


def _link_base():
    """The address the emailed link starts with: ``BASE_URL`` when set, else the one this
    request came to (see docs/deploy.md: set it, so a forged Host header cannot redirect
    the link)."""
    return current_app.config["ACCORD"]["BASE_URL"] or request.url_root.rstrip("/")
