"""Just enough of user accounts to own records and sign in; roles and sessions arrive
with the security work."""

from sqlalchemy import func, select, update

from .db import db
from .errors import NotFound
from .models import User
from .passwords import hash_password


def find_user(email):
    user = db.session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower(), User.deleted_at.is_(None))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"There is no user with email {email!r}.")
    return user


def ensure_admin(email, password, name="Administrator"):
    """The administrator with this email, created when missing: ``(user, created)``.

    The user is created through the service layer (validation, hooks, search); being an
    administrator and the password are then set, as no API write may set them.
    """
    try:
        return find_user(email), False
    except NotFound:
        pass
    from .records import SYSTEM
    from .registry import current_accord

    record = current_accord().records.create("user", {"email": email.strip(), "name": name}, SYSTEM)
    db.session.execute(
        update(User).where(User.id == record.id).values(is_admin=True, password_hash=hash_password(password))
    )
    db.session.commit()
    return db.session.get(User, record.id), True
