"""Sign-in throttling: after a few wrong passwords for one account, or many from one
network address, within :data:`WINDOW`, further attempts are refused without checking
the password until the oldest failure leaves the window. At most :data:`PER_ACCOUNT`
passwords are checked per account per window (20 an hour), so guessing is slow. The
failures live in the database, so every worker counts the same ones."""

from datetime import timedelta
from math import ceil

from sqlalchemy import delete, func, insert, select

from .db import db, utcnow
from .models import SignInFailure
from .records import write_unit

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20


def refusal(email, address):
    """Why a sign-in for ``email`` from ``address`` is refused unchecked now, or ``None``."""
    since = utcnow() - WINDOW
    table = SignInFailure.__table__
    for column, value, limit, whose in ((table.c.email, email, PER_ACCOUNT, "this account"),
                                        (table.c.address, address, PER_ADDRESS, "your network address")):
        failures, oldest = db.session.execute(
            select(func.count(), func.min(table.c.at)).where(column == value, table.c.at > since)).one()
        if failures >= limit:
            minutes = max(ceil((oldest + WINDOW - utcnow()).total_seconds() / 60), 1)
            return (f"Too many wrong passwords for {whose}; try again in {minutes} "
                    f"minute{'s' if minutes != 1 else ''}.")
    return None


def record_failure(email, address):
    with write_unit() as session:
        session.execute(insert(SignInFailure.__table__).values(email=email[:254], address=address[:64], at=utcnow()))
        session.execute(delete(SignInFailure.__table__).where(SignInFailure.at < utcnow() - WINDOW))


def forget(email):
    """A successful sign-in clears the account's failures."""
    with write_unit() as session:
        session.execute(delete(SignInFailure.__table__).where(SignInFailure.email == email))
