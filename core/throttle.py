"""Sign-in throttling: after a few wrong passwords for one account, or many from one
network address, within :data:`WINDOW`, further attempts are refused without checking
the password until the oldest failure leaves the window. At most :data:`PER_ACCOUNT`
passwords are checked per account per window (20 an hour), so guessing is slow.

Password-reset emails are limited the same way (:data:`RESETS_PER_ACCOUNT` per email
address and :data:`RESETS_PER_ADDRESS` per network address within :data:`RESET_WINDOW`),
counted whether or not an account uses the email, so the limit tells nothing about
accounts. Both counts live in the database, so every worker counts the same ones."""

from datetime import timedelta
from math import ceil

from sqlalchemy import delete, func, insert, select

from .db import db, utcnow
from .models import PasswordResetRequest, SignInFailure
from .records import write_unit

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20

RESET_WINDOW = timedelta(hours=1)
RESETS_PER_ACCOUNT = 3
RESETS_PER_ADDRESS = 10


def refusal(email, address):
    """Why a sign-in for ``email`` from ``address`` is refused unchecked now, or ``None``."""
    return _refusal(SignInFailure.__table__, WINDOW, email, address, PER_ACCOUNT, PER_ADDRESS,
                    "Too many wrong passwords for {whose}", "this account")


def record_failure(email, address):
    _record(SignInFailure.__table__, WINDOW, email, address)


def forget(email):
    """A successful sign-in (or a password reset) clears the account's failures."""
    with write_unit() as session:
        session.execute(delete(SignInFailure.__table__).where(SignInFailure.email == email))


def reset_refusal(email, address):
    """Why a password-reset email for ``email`` asked from ``address`` is refused now, or ``None``."""
    return _refusal(PasswordResetRequest.__table__, RESET_WINDOW, email, address, RESETS_PER_ACCOUNT,
                    RESETS_PER_ADDRESS, "Too many password reset requests for {whose}", "this email address")


def record_reset_request(email, address):
    """Count a reset request (in the caller's write unit, if any)."""
    _record(PasswordResetRequest.__table__, RESET_WINDOW, email, address)


def _refusal(table, window, email, address, per_account, per_address, reason, account):
    since = utcnow() - window
    for column, value, limit, whose in ((table.c.email, email, per_account, account),
                                        (table.c.address, address, per_address, "your network address")):
        count, oldest = db.session.execute(
            select(func.count(), func.min(table.c.at)).where(column == value, table.c.at > since)).one()
        if count >= limit:
            minutes = max(ceil((oldest + window - utcnow()).total_seconds() / 60), 1)
            return f"{reason.format(whose=whose)}; try again in {minutes} minute{'s' if minutes != 1 else ''}."
    return None


def _record(table, window, email, address):
    """Count one event and drop those that have left the window, so the table stays small."""
    with write_unit() as session:
        session.execute(insert(table).values(email=email[:254], address=address[:64], at=utcnow()))
        session.execute(delete(table).where(table.c.at < utcnow() - window))
