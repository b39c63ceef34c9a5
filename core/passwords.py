"""Password hashes: argon2id with at least 19 MiB of memory, 2 passes and 1 lane (the
OWASP baseline), and a rehash at sign-in when a stored hash is older or weaker (the
werkzeug hashes of earlier releases, or argon2 with smaller parameters)."""

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

MEMORY_KIB = 19 * 1024
PASSES = 2
LANES = 1

_hasher = PasswordHasher(time_cost=PASSES, memory_cost=MEMORY_KIB, parallelism=LANES)


def hash_password(password):
    """A new argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(stored, password):
    """``(matches, new hash or None)``: whether ``password`` matches the ``stored`` hash,
    and, when it does but the hash should be renewed, the hash to store instead.

    Without a stored hash (no such account, or one without a password) a hash of the same
    parameters is checked anyway, so the answer takes as long and does not tell which
    accounts exist."""
    if not stored:
        try:
            _hasher.verify(_stand_in_hash(), password)
        except (VerificationError, InvalidHashError):
            pass
        return False, None
    if not stored.startswith("$argon2"):
        matches = check_password_hash(stored, password)
        return matches, hash_password(password) if matches else None
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, hash_password(password) if _hasher.check_needs_rehash(stored) else None


@cache
def _stand_in_hash():
    """The hash checked when there is none to check (see :func:`check_password`)."""
    return hash_password("no account has this password")
