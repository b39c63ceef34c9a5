"""Sign-in security: argon2id hashes (renewed at sign-in when older or weaker), and
password guessing slowed to a handful of checked attempts per account and address."""

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from werkzeug.security import generate_password_hash

from accord.core.db import utcnow
from accord.core.throttle import PER_ACCOUNT, PER_ADDRESS, WINDOW
from accord.testing import make_user
from api_helpers import count, scalar, sql
from web_helpers import CSRF, PASSWORD


class Door:
    """The sign-in form, as someone guessing would use it."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf = CSRF.search(self.client.get("/login").get_data(as_text=True)).group(1)

    def try_password(self, email, password):
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": self.csrf})


def stored_hash(app, email):
    return scalar(app, 'SELECT password_hash FROM "user" WHERE email = :email', email=email)


def test_passwords_are_stored_as_argon2id_with_at_least_19_mib_2_passes_1_lane(app):
    make_user(app, "ada@example.com", "Ada", password=PASSWORD)
    stored = stored_hash(app, "ada@example.com")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and PASSWORD not in stored


@pytest.mark.parametrize("old_hash", [
    lambda: generate_password_hash(PASSWORD),
    lambda: PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD),
], ids=["werkzeug", "weaker-argon2"])
def test_an_older_or_weaker_hash_is_renewed_at_sign_in(app, old_hash):
    make_user(app, "ada@example.com", "Ada")
    sql(app, 'UPDATE "user" SET password_hash = :hash WHERE email = :email', hash=old_hash(), email="ada@example.com")
    assert Door(app).try_password("ada@example.com", PASSWORD).status_code == 302
    assert stored_hash(app, "ada@example.com").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert Door(app).try_password("ada@example.com", PASSWORD).status_code == 302


def test_guessing_one_accounts_password_is_cut_off_and_the_right_one_waits_too(app):
    make_user(app, "ada@example.com", "Ada", password=PASSWORD)
    door = Door(app)
    answers = [door.try_password("ada@example.com", f"guess-{n}").status_code for n in range(40)]
    assert answers == [401] * PER_ACCOUNT + [429] * (40 - PER_ACCOUNT), "only the first few are checked"
    assert count(app, "sign_in_failure", "email = 'ada@example.com'") == PER_ACCOUNT
    refused = door.try_password("ada@example.com", PASSWORD)
    assert refused.status_code == 429 and "Too many wrong passwords for this account" in refused.get_data(as_text=True)
    sql(app, "UPDATE sign_in_failure SET at = :then", then=utcnow() - WINDOW - timedelta(seconds=1))
    assert door.try_password("ada@example.com", PASSWORD).status_code == 302, "the window is over"
    assert count(app, "sign_in_failure", "email = 'ada@example.com'") == 0, "a success clears the account's failures"


def test_one_address_guessing_many_accounts_is_cut_off_too(app):
    make_user(app, "bea@example.com", "Bea", password=PASSWORD)
    door = Door(app)
    for n in range(PER_ADDRESS):
        assert door.try_password(f"someone-{n}@example.com", "guess").status_code == 401
    answer = door.try_password("bea@example.com", PASSWORD)
    assert answer.status_code == 429 and "your network address" in answer.get_data(as_text=True)


def test_an_unknown_email_costs_the_same_argon2_check_as_a_wrong_password(app, monkeypatch):
    from accord.core import passwords

    checked = []

    class CountingHasher(PasswordHasher):
        def verify(self, stored, password):
            checked.append(stored)
            return super().verify(stored, password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher(
        time_cost=passwords.PASSES, memory_cost=passwords.MEMORY_KIB, parallelism=passwords.LANES))
    make_user(app, "ada@example.com", "Ada", password=PASSWORD)
    door = Door(app)
    for email in ("ada@example.com", "nobody@example.com"):
        response = door.try_password(email, "wrong-password")
        assert response.status_code == 401 and "do not match an active account" in response.get_data(as_text=True)
    assert len(checked) == 2 and all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in checked)
