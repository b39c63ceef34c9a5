"""Sending email: through the SMTP server of ``SMTP_HOST`` when it is set, else into
``<instance>/outbox/`` as one ``.eml`` file per message (the embedded default), so an
instance on one machine needs no mail server and its admin can still read what would
have gone out. Senders run in background jobs, so a slow or absent server never holds
up a request and a failed send is retried."""

import os
import smtplib
import ssl
import tempfile
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app

from .db import utcnow

SMTP_TIMEOUT_SECONDS = 30
OUTBOX = "outbox"


def send(to, subject, body):
    """Send a plain-text message to ``to`` from ``MAIL_FROM``; returns the outbox file's
    path when the message was written there rather than sent, else ``None``."""
    settings = current_app.config["ACCORD"]
    message = EmailMessage()
    message["From"] = settings["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=settings["MAIL_FROM"].rpartition("@")[2].strip("> ") or None)
    message.set_content(body)
    if settings["SMTP_HOST"]:
        _send_smtp(settings, message)
        return None
    return _write_outbox(Path(current_app.instance_path) / OUTBOX, message)


def _send_smtp(settings, message):
    with smtplib.SMTP(settings["SMTP_HOST"], settings["SMTP_PORT"], timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if settings["SMTP_USER"]:
            smtp.login(settings["SMTP_USER"], settings["SMTP_PASSWORD"] or "")
        smtp.send_message(message)


def _write_outbox(folder, message):
    """Write ``message`` whole or not at all (a temporary file renamed into place), readable
    by the instance's owner only: messages may carry sign-in links."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(message.as_bytes())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return folder / name
