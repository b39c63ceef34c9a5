"""Server-side web sessions: the cookie holds an opaque id whose row decides, so signing
out, a new sign-in, deactivation and a role change take effect on the very next request;
idle and absolute timeouts; the cookie's flags; one query per page for the sign-in check."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from accord.core.config import ConfigError, load_config
from accord.core.db import db, utcnow
from accord.core.records import SYSTEM
from accord.core.registry import current_accord
from accord.core.sessions import hash_session_id, lookup
from api_helpers import count, scalar, sql
from web_helpers import Browser, sign_in

COOKIE = "accord_session"


def cookie(browser):
    return browser.client.get_cookie(COOKIE).value


def with_cookie(app, value):
    """A fresh client that carries a copy of someone's session cookie."""
    client = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


def signed_in(client):
    """Whether ``client`` is let into the dashboard (not sent to the sign-in page)."""
    answer = client.get("/")
    assert answer.status_code in (200, 302), answer.status_code
    return answer.status_code == 200


def cookie_contents(app, value):
    return app.session_interface.get_signing_serializer(app).loads(value)


def test_the_cookie_holds_only_an_opaque_id_whose_hash_is_the_stored_row(app):
    _, browser = sign_in(app)
    contents = cookie_contents(app, cookie(browser))
    assert set(contents) - {"_permanent"} == {"sid", "csrf_token"}
    assert count(app, "web_session", "token_hash = :hash", hash=hash_session_id(contents["sid"])) == 1
    assert count(app, "web_session", "token_hash = :sid", sid=contents["sid"]) == 0, "the id itself is never stored"


def test_after_signing_out_the_old_cookie_is_refused(app):
    _, browser = sign_in(app)
    copied = cookie(browser)
    assert signed_in(with_cookie(app, copied))
    answer = browser.post("/logout")
    assert answer.status_code == 302 and answer.location.endswith("/login")
    assert not signed_in(browser.client)
    assert not signed_in(with_cookie(app, copied)), "the copied cookie died with the session"
    assert count(app, "web_session", "revoked_at IS NOT NULL") == 1


def test_signing_in_opens_a_new_session_and_renews_the_csrf_token(app):
    make = sign_in(app)[0]
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie(COOKIE).value
    token_before = cookie_contents(app, before)["csrf_token"]
    assert client.post("/login", data={"email": make.email, "password": "correct-horse-battery",
                                       "csrf_token": token_before}).status_code == 302
    first = client.get_cookie(COOKIE).value
    assert not signed_in(with_cookie(app, before)), "the cookie from before signing in stays signed out"
    assert cookie_contents(app, first)["csrf_token"] != token_before
    assert signed_in(with_cookie(app, first))

    second_token = cookie_contents(app, first)["csrf_token"]
    assert client.post("/login", data={"email": make.email, "password": "correct-horse-battery",
                                       "csrf_token": second_token}).status_code == 302
    second = client.get_cookie(COOKIE).value
    assert cookie_contents(app, second)["sid"] != cookie_contents(app, first)["sid"]
    assert not signed_in(with_cookie(app, first)), "signing in again ends the session it replaces"
    assert signed_in(with_cookie(app, second))


def test_deactivating_a_user_ends_their_open_session_at_the_next_request(app, seller):
    user, browser = seller
    assert signed_in(browser.client)
    with app.app_context():
        current_accord(app).records.update("user", user.id, {"is_active": False}, SYSTEM)
    assert not signed_in(browser.client)
    assert count(app, "web_session", "user_id = :id AND revoked_at IS NULL", id=user.id) == 0
    with app.app_context():
        current_accord(app).records.update("user", user.id, {"is_active": True}, SYSTEM)
    assert not signed_in(browser.client), "switching the user on again revives no session"
    assert signed_in(Browser(app, user.email).client)


def test_a_user_switched_off_in_the_database_directly_is_refused_too(app, seller):
    user, browser = seller
    sql(app, 'UPDATE "user" SET is_active = :off WHERE id = :id', off=False, id=user.id)
    assert not signed_in(browser.client)


def test_trashing_a_user_ends_their_sessions(app, seller):
    user, browser = seller
    with app.app_context():
        current_accord(app).records.delete("user", user.id, SYSTEM)
    assert not signed_in(browser.client)
    assert count(app, "web_session", "user_id = :id AND revoked_at IS NULL", id=user.id) == 0


def test_a_role_change_takes_effect_at_the_next_request(app, seller):
    user, browser = seller
    assert browser.get("/admin").status_code == 403
    sql(app, 'UPDATE "user" SET is_admin = :on WHERE id = :id', on=True, id=user.id)
    assert browser.get("/admin").status_code == 200
    sql(app, 'UPDATE "user" SET is_admin = :off WHERE id = :id', off=False, id=user.id)
    assert browser.get("/admin").status_code == 403


def test_an_idle_session_ends_after_the_idle_timeout(app):
    _, browser = sign_in(app)
    sql(app, "UPDATE web_session SET last_seen_at = :then", then=utcnow() - timedelta(minutes=29))
    assert signed_in(browser.client), "29 minutes idle: still open"
    sql(app, "UPDATE web_session SET last_seen_at = :then", then=utcnow() - timedelta(minutes=30, seconds=1))
    assert not signed_in(browser.client)


def test_the_idle_timeout_is_a_setting(accord_app_factory):
    app = accord_app_factory(SESSION_IDLE_MINUTES=5)
    _, browser = sign_in(app)
    sql(app, "UPDATE web_session SET last_seen_at = :then", then=utcnow() - timedelta(minutes=6))
    assert not signed_in(browser.client)


def test_a_session_ends_after_the_absolute_timeout_however_busy(app):
    _, browser = sign_in(app)
    sql(app, "UPDATE web_session SET created_at = :then", then=utcnow() - timedelta(hours=11, minutes=59))
    assert signed_in(browser.client)
    sql(app, "UPDATE web_session SET created_at = :then, last_seen_at = :now",
        then=utcnow() - timedelta(hours=12, seconds=1), now=utcnow())
    assert not signed_in(browser.client), "recent activity does not extend the absolute timeout"


def test_last_seen_is_written_at_most_once_a_minute(app):
    _, browser = sign_in(app)
    sql(app, "UPDATE web_session SET last_seen_at = :then", then=utcnow() - timedelta(minutes=5))
    stale = scalar(app, "SELECT last_seen_at FROM web_session")
    assert signed_in(browser.client)
    touched = scalar(app, "SELECT last_seen_at FROM web_session")
    assert touched != stale, "a stale last_seen_at is refreshed"
    for _ in range(3):
        assert signed_in(browser.client)
    assert scalar(app, "SELECT last_seen_at FROM web_session") == touched, "not rewritten within the minute"


def test_the_sign_in_check_is_one_query_with_the_schema_generation(app):
    _, browser = sign_in(app)
    session_id = cookie_contents(app, cookie(browser))["sid"]
    statements = []

    def note(conn, cursor, statement, *rest):
        if not statement.startswith("BEGIN"):  # SQLite's explicit transaction start, not a query
            statements.append(statement)

    with app.test_request_context("/"):
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            row = lookup(session_id)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
    assert row is not None and row.is_admin and row.schema_generation is not None
    assert len(statements) == 1 and "web_session" in statements[0] and "schema_generation" in statements[0]


def test_the_cookie_is_httponly_samesite_lax_and_secure_over_https(app, accord_app_factory):
    make = sign_in(app)[0]
    plain = app.test_client()
    plain.get("/login")
    answer = plain.post("/login", data={"email": make.email, "password": "correct-horse-battery",
                                        "csrf_token": cookie_contents(app, plain.get_cookie(COOKIE).value)["csrf_token"]})
    flags = answer.headers["Set-Cookie"]
    assert flags.startswith(f"{COOKIE}=") and "HttpOnly" in flags and "SameSite=Lax" in flags and "Path=/" in flags
    assert "Secure" not in flags, "a plain-HTTP development server must still work"
    assert "Expires=" in flags, "the browser forgets the cookie with the absolute timeout"
    secure = app.test_client().get("/login", base_url="https://crm.example.org").headers["Set-Cookie"]
    assert "Secure" in secure and "HttpOnly" in secure and "SameSite=Lax" in secure

    always = accord_app_factory(SESSION_COOKIE_SECURE=True)
    assert "Secure" in always.test_client().get("/login").headers["Set-Cookie"]


def test_session_settings_come_from_the_environment_and_are_checked(tmp_path):
    settings = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={
        "ACCORD_SESSION_IDLE_MINUTES": "15", "ACCORD_SESSION_MAX_HOURS": "8", "ACCORD_SESSION_COOKIE_SECURE": "true"})
    assert (settings["SESSION_IDLE_MINUTES"], settings["SESSION_MAX_HOURS"], settings["SESSION_COOKIE_SECURE"]) == (
        15, 8, True)
    defaults = load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})
    assert (defaults["SESSION_IDLE_MINUTES"], defaults["SESSION_MAX_HOURS"], defaults["SESSION_COOKIE_SECURE"]) == (
        30, 12, False)
    with pytest.raises(ConfigError, match="ACCORD_SESSION_IDLE_MINUTES must be at least 1"):
        load_config({"INSTANCE_PATH": str(tmp_path)}, environ={"ACCORD_SESSION_IDLE_MINUTES": "0"})


def test_expired_sessions_are_deleted_when_someone_signs_in(app):
    _, browser = sign_in(app)
    sql(app, "UPDATE web_session SET created_at = :then", then=utcnow() - timedelta(hours=13))
    sign_in(app, "other@example.com", "Otto Other")
    assert count(app, "web_session") == 1
    assert not signed_in(browser.client)


def test_the_migration_creates_what_the_models_declare(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata)
                       if "web_session" in repr(d) or "password_reset_request" in repr(d)]
    assert differences == []
