"""Just enough of user accounts to own records and sign in; roles and sessions arrive
with the security work."""

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from .db import db
from .errors import NotFound
from .models import User


def find_user(email):
    user = db.session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"There is no user with email {email!r}.")
    return user


def ensure_admin(email, password, name="Administrator"):
    """The administrator with this email, created when missing: ``(user, created)``."""
    try:
        return find_user(email), False
    except NotFound:
        pass
    from marshmallow import fields as ma, ValidationError

    try:
        ma.Email().deserialize(email)
    except ValidationError:
        raise ValueError(f"{email!r} is not a valid email address") from None
    user = User(email=email.strip(), name=name, is_admin=True, is_active=True,
                password_hash=generate_password_hash(password))
    db.session.add(user)
    db.session.commit()
    return user, True
