"""Password reset by email.

Someone who forgot their password gives their email address; if an active account uses
it, a background job (:data:`JOB`) emails a link holding a token. The answer is the same
whether or not an account exists, and both cases do the same work in the request (one
lookup, one write: the request is counted for the rate limit, :mod:`accord.core.throttle`),
so neither the page nor its timing tells who has an account.

The token is signed with the app's secret key (itsdangerous, with a salt of its own so
no other signed value passes for it), expires after ``PASSWORD_RESET_MINUTES``, and
carries a keyed fingerprint of the password hash it may replace: once the password
changes, by this link or otherwise, the link is spent. Setting the new password ends
every session of the account.
"""

import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from . import jobs, mail, sessions, throttle
from .accounts import password_problem
from .db import db
from .models import User
from .passwords import hash_password
from .records import write_unit

JOB = "accord.password_reset_email"
SALT = "accord.password-reset"
PATH = "/password-reset"
"""Where the reset pages live; a link is ``<base>/password-reset/<token>``."""


class ResetLinkInvalid(Exception):
    """The link is malformed, tampered with, expired or already used."""


def request_reset(email, address, link_base):
    """Have a reset link emailed to ``email`` if an active account uses it. Returns why the
    request is refused (too many of them), else ``None``, whether or not an email goes out.

    :param link_base: the site's address, such as ``https://crm.example.org``, that the
        link starts with.
    """
    refused = throttle.reset_refusal(email, address)
    if refused:
        return refused
    user_id = db.session.execute(select(User.id).where(func.lower(User.email) == email, User.is_active.is_(True),
                                                       User.deleted_at.is_(None))).scalar_one_or_none()
    with write_unit():
        throttle.record_reset_request(email, address)
        if user_id is not None:
            jobs.enqueue(JOB, user_id=user_id, link_base=link_base)
    return None


def send_reset_email(app, user_id, link_base):
    """The :data:`JOB`: email the account a fresh link (valid from now), unless it has
    been deactivated or deleted since it was asked for."""
    user = db.session.execute(select(User).where(User.id == user_id, User.is_active.is_(True),
                                                 User.deleted_at.is_(None))).scalar_one_or_none()
    if user is None:
        return
    minutes = app.config["ACCORD"]["PASSWORD_RESET_MINUTES"]
    link = f"{link_base.rstrip('/')}{PATH}/{make_token(user)}"
    mail.send(user.email, "Reset your Accord password", f"""\
Hello {user.name},

Someone, hopefully you, asked to reset the password of your Accord account ({user.email}).
Open this link to choose a new password:

{link}

The link works once, within {minutes} minutes. If you did not ask for it, ignore this
email: your password stays as it is.
""")


def jobs_declared():
    """The job that sends reset emails (registered by the core's ``accord_jobs``)."""
    return [{"name": JOB, "run": send_reset_email, "max_attempts": 5, "backoff_seconds": 30}]


def make_token(user):
    """A reset token for ``user``, bound to their current password."""
    return _serializer().dumps({"user": user.id, "password": _fingerprint(user.password_hash)})


def token_user(token):
    """The active user whose password ``token`` may reset now, or ``None`` when it is
    malformed, tampered with, expired or spent."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["ACCORD"]["PASSWORD_RESET_MINUTES"] * 60)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    user = db.session.execute(select(User).where(User.id == data["user"], User.is_active.is_(True),
                                                 User.deleted_at.is_(None))).scalar_one_or_none()
    if user is None or not hmac.compare_digest(str(data.get("password")), _fingerprint(user.password_hash)):
        return None
    return user


def reset_password(token, password, confirmation):
    """Set a new password through ``token``: ``(user, {})`` once it is stored, or
    ``(None, {field: [reason]})`` with nothing written when the new password is refused.
    Every session of the account ends, and its failed sign-ins are forgotten.

    :raises ResetLinkInvalid: when the token does not (or no longer) work.
    """
    user = token_user(token)
    if user is None:
        raise ResetLinkInvalid()
    problem = password_problem(password)
    if problem:
        return None, {"password": [f"The password {problem}."]}
    if password != confirmation:
        return None, {"confirmation": ["The two passwords differ; type the same one twice."]}
    new_hash = hash_password(password)
    with write_unit() as session:
        changed = session.execute(
            update(User).where(User.id == user.id, User.password_hash.is_not_distinct_from(user.password_hash))
            .values(password_hash=new_hash)
        ).rowcount
        if changed != 1:  # the same link used twice at once: the first one wins
            raise ResetLinkInvalid()
        sessions.end_all(user.id)
        throttle.forget(user.email.lower())
    return user, {}


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _fingerprint(password_hash):
    """A digest of the stored hash keyed with the secret key: it changes with the password
    and tells nothing about the hash to whoever reads the token."""
    return hmac.new(current_app.secret_key.encode(), (password_hash or "").encode(), hashlib.sha256).hexdigest()[:32]
