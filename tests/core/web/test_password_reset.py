"""Password reset by email, through real HTTP and a real SMTP server on loopback: the
link arrives, works once, expires, cannot be forged; an unknown address gets the same
answer and no email; without SMTP the message lands in the instance's outbox; bad input
changes nothing; requests are rate-limited."""

import re
import socket
import stat
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from accord.core import jobs
from accord.core.accounts import MIN_PASSWORD_LENGTH
from accord.core.password_reset import JOB, SALT
from accord.core.records import SYSTEM
from accord.core.registry import current_accord
from accord.core.throttle import RESETS_PER_ACCOUNT, RESETS_PER_ADDRESS
from accord.testing import make_user
from api_helpers import count, scalar
from web_helpers import CSRF, PASSWORD, Browser

EMAIL = "ada@example.com"
NEW_PASSWORD = "a-brand-new-passphrase"
LINK = re.compile(r"(https?://\S+/password-reset/\S+)")
SMTP_USER, SMTP_PASSWORD = "accord", "mail-secret"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts, and the logins it saw."""

    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=(auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode()))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox():
    """A real SMTP server on 127.0.0.1 (plain, with AUTH allowed without TLS): ``(inbox, port)``."""
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=handler.authenticate,
                            auth_require_tls=False)
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def smtp_app(accord_app_factory, inbox):
    """An app that sends through the loopback server, with Ada as a user."""
    handler, port = inbox
    app = accord_app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, SMTP_USER=SMTP_USER,
                             SMTP_PASSWORD=SMTP_PASSWORD, MAIL_FROM="Accord <crm@example.org>")
    make_user(app, EMAIL, "Ada Lovelace", password=PASSWORD)
    return app


class Visitor:
    """A signed-out browser on the reset pages, with its CSRF token."""

    def __init__(self, app, address=None):
        self.app = app
        self.client = app.test_client()
        if address:
            self.client.environ_base["REMOTE_ADDR"] = address
        self.csrf = CSRF.search(self.client.get("/password-reset").get_data(as_text=True)).group(1)

    def ask(self, email):
        return self.client.post("/password-reset", data={"email": email, "csrf_token": self.csrf})

    def choose(self, link, password, confirmation=None):
        return self.client.post(path(link), data={"password": password, "csrf_token": self.csrf,
                                                  "confirmation": password if confirmation is None else confirmation})


def path(link):
    return "/" + link.split("/", 3)[3]


def deliver(app):
    """Run the queued jobs, as a serving process's job threads would."""
    jobs.run_due(app)


def link_in(message):
    return LINK.search(message.get_content()).group(1)


def can_sign_in(app, password):
    client = app.test_client()
    csrf = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"email": EMAIL, "password": password, "csrf_token": csrf}).status_code == 302


def stored_hash(app):
    return scalar(app, 'SELECT password_hash FROM "user" WHERE email = :email', email=EMAIL)


def test_the_sign_in_page_links_to_the_reset_form(app):
    page = app.test_client().get("/login").get_data(as_text=True)
    assert '<a href="/password-reset">Forgot your password?</a>' in page


def test_the_email_arrives_by_smtp_and_its_link_works_once(smtp_app, inbox):
    handler, _ = inbox
    open_session = Browser(smtp_app, EMAIL)
    answer = Visitor(smtp_app).ask("  Ada@Example.com ")
    assert answer.status_code == 200 and "a link to choose a new password is on its way" in answer.get_data(as_text=True)
    assert handler.messages == [], "the email goes out from a background job, not during the request"
    deliver(smtp_app)
    assert handler.logins == [(SMTP_USER, SMTP_PASSWORD)]
    [(sender, recipients, message)] = handler.messages
    assert sender == "crm@example.org" and recipients == [EMAIL]
    assert message["To"] == EMAIL and message["Subject"] == "Reset your Accord password"
    link = link_in(message)
    assert link.startswith("http://localhost/password-reset/") and "within 60 minutes" in message.get_content()

    visitor = Visitor(smtp_app)
    form = visitor.client.get(path(link))
    assert form.status_code == 200 and 'autocomplete="new-password"' in form.get_data(as_text=True)
    done = visitor.choose(link, NEW_PASSWORD)
    assert done.status_code == 302 and done.location.endswith("/login")
    assert "Your password is changed" in visitor.client.get("/login").get_data(as_text=True)
    assert stored_hash(smtp_app).startswith("$argon2id$")
    assert can_sign_in(smtp_app, NEW_PASSWORD) and not can_sign_in(smtp_app, PASSWORD)
    assert open_session.get("/").status_code == 302, "a reset ends every session of the account"

    again = visitor.client.get(path(link))
    assert again.status_code == 410 and "This link does not work" in again.get_data(as_text=True)
    before = stored_hash(smtp_app)
    assert visitor.choose(link, "yet-another-passphrase").status_code == 410
    assert stored_hash(smtp_app) == before and can_sign_in(smtp_app, NEW_PASSWORD)


def test_an_unknown_address_gets_the_same_answer_and_no_email(smtp_app, inbox):
    handler, _ = inbox
    visitor = Visitor(smtp_app)
    known = visitor.ask(EMAIL)
    unknown = visitor.ask("nobody@example.com")
    assert (known.status_code, known.get_data(as_text=True)) == (unknown.status_code, unknown.get_data(as_text=True))
    assert count(smtp_app, "job", "name = :name", name=JOB) == 1
    deliver(smtp_app)
    assert [recipients for _, recipients, _ in handler.messages] == [[EMAIL]]


def test_a_deactivated_account_gets_no_email_and_its_links_stop_working(smtp_app, inbox):
    handler, _ = inbox
    visitor = Visitor(smtp_app)
    visitor.ask(EMAIL)
    deliver(smtp_app)
    link = link_in(handler.messages[0][2])
    with smtp_app.app_context():
        user_id = scalar(smtp_app, 'SELECT id FROM "user" WHERE email = :email', email=EMAIL)
        current_accord(smtp_app).records.update("user", user_id, {"is_active": False}, SYSTEM)
    assert visitor.client.get(path(link)).status_code == 410
    visitor.ask(EMAIL)
    deliver(smtp_app)
    assert len(handler.messages) == 1


def test_an_expired_link_is_refused(smtp_app, inbox, monkeypatch):
    handler, _ = inbox
    visitor = Visitor(smtp_app)
    visitor.ask(EMAIL)
    deliver(smtp_app)
    link = link_in(handler.messages[0][2])
    now = TimestampSigner.get_timestamp(None)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 59 * 60)
    assert visitor.client.get(path(link)).status_code == 200, "59 minutes later it still works"
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 61 * 60)
    assert visitor.client.get(path(link)).status_code == 410
    before = stored_hash(smtp_app)
    assert visitor.choose(link, NEW_PASSWORD).status_code == 410
    assert stored_hash(smtp_app) == before


def test_a_tampered_or_foreign_token_is_refused(smtp_app, inbox):
    handler, _ = inbox
    visitor = Visitor(smtp_app)
    visitor.ask(EMAIL)
    deliver(smtp_app)
    token = link_in(handler.messages[0][2]).rsplit("/", 1)[1]
    payload, stamp, signature = token.split(".")
    with smtp_app.app_context():
        user_id = scalar(smtp_app, 'SELECT id FROM "user" WHERE email = :email', email=EMAIL)
    forged = [
        f"{payload}.{stamp}.{signature[:-2]}{'AA' if not signature.endswith('AA') else 'BB'}",
        f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{stamp}.{signature}",
        URLSafeTimedSerializer(smtp_app.secret_key, salt="another.purpose").dumps({"user": user_id, "password": "x"}),
        URLSafeTimedSerializer("not-the-secret-key", salt=SALT).dumps({"user": user_id, "password": "x"}),
        "not-a-token",
    ]
    before = stored_hash(smtp_app)
    for token in forged:
        assert visitor.client.get(f"/password-reset/{token}").status_code == 410, token
        assert visitor.client.post(f"/password-reset/{token}", data={
            "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "csrf_token": visitor.csrf}).status_code == 410
    assert stored_hash(smtp_app) == before


def test_without_smtp_the_message_lands_in_the_instance_outbox(app):
    make_user(app, EMAIL, "Ada Lovelace", password=PASSWORD)
    visitor = Visitor(app)
    assert visitor.ask(EMAIL).status_code == 200
    deliver(app)
    [eml] = sorted((Path(app.instance_path) / "outbox").glob("*.eml"))
    assert stat.S_IMODE(eml.stat().st_mode) == 0o600, "reset links are for the instance's owner only"
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == EMAIL and message["From"] == "accord@localhost" and message["Message-ID"]
    assert visitor.choose(link_in(message), NEW_PASSWORD).status_code == 302
    assert can_sign_in(app, NEW_PASSWORD)


def test_the_link_starts_with_base_url_whatever_host_the_request_named(accord_app_factory):
    app = accord_app_factory(BASE_URL="https://crm.example.org/")
    make_user(app, EMAIL, "Ada Lovelace", password=PASSWORD)
    client, elsewhere = app.test_client(), "http://attacker.example.net"
    csrf = CSRF.search(client.get("/password-reset", base_url=elsewhere).get_data(as_text=True)).group(1)
    assert client.post("/password-reset", data={"email": EMAIL, "csrf_token": csrf}, base_url=elsewhere).status_code == 200
    deliver(app)
    [eml] = (Path(app.instance_path) / "outbox").glob("*.eml")
    link = link_in(message_from_bytes(eml.read_bytes(), policy=policy.default))
    assert link.startswith("https://crm.example.org/password-reset/")


def test_bad_passwords_show_field_errors_and_change_nothing(smtp_app, inbox):
    handler, _ = inbox
    open_session = Browser(smtp_app, EMAIL)
    visitor = Visitor(smtp_app)
    visitor.ask(EMAIL)
    deliver(smtp_app)
    link = link_in(handler.messages[0][2])
    before = stored_hash(smtp_app)

    short = visitor.choose(link, "short")
    text = short.get_data(as_text=True)
    assert short.status_code == 422 and "Nothing was changed" in text
    assert ('<p class="field-error" id="password-error">'
            f'The password needs at least {MIN_PASSWORD_LENGTH} characters.</p>') in text
    assert 'id="password"' in text and 'aria-invalid="true"' in text

    mismatch = visitor.choose(link, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert mismatch.status_code == 422
    assert 'id="confirmation-error">The two passwords differ' in mismatch.get_data(as_text=True)
    assert NEW_PASSWORD not in mismatch.get_data(as_text=True), "typed passwords are never sent back"

    assert stored_hash(smtp_app) == before and can_sign_in(smtp_app, PASSWORD)
    assert open_session.get("/").status_code == 200, "a refused password ends no session"
    assert visitor.choose(link, NEW_PASSWORD).status_code == 302, "the link still works after a refusal"


def test_a_malformed_address_is_a_field_error_and_is_not_counted(smtp_app):
    answer = Visitor(smtp_app).ask("not an email")
    assert answer.status_code == 422 and 'id="email-error">Enter an email address' in answer.get_data(as_text=True)
    assert count(smtp_app, "password_reset_request") == 0 and count(smtp_app, "job") == 0


def test_every_form_needs_the_csrf_token(smtp_app):
    client = smtp_app.test_client()
    assert client.post("/password-reset", data={"email": EMAIL}).status_code == 400
    assert count(smtp_app, "password_reset_request") == 0


def test_requests_are_limited_per_address_and_per_email(smtp_app, inbox):
    handler, _ = inbox
    visitor = Visitor(smtp_app)
    answers = [visitor.ask(EMAIL).status_code for _ in range(RESETS_PER_ACCOUNT + 2)]
    assert answers == [200] * RESETS_PER_ACCOUNT + [429] * 2
    refused = visitor.ask(EMAIL)
    assert "Too many password reset requests for this email address" in refused.get_data(as_text=True)
    deliver(smtp_app)
    assert len(handler.messages) == RESETS_PER_ACCOUNT

    for n in range(RESETS_PER_ADDRESS - RESETS_PER_ACCOUNT):
        assert visitor.ask(f"someone-{n}@example.com").status_code == 200
    crowded = visitor.ask("bea@example.com")
    assert crowded.status_code == 429 and "your network address" in crowded.get_data(as_text=True)
    elsewhere = Visitor(smtp_app, address="192.0.2.7")
    assert elsewhere.ask("bea@example.com").status_code == 200, "another address is not held up"
