"""Error answers outside a view: JSON under ``/api/v1`` (the API's error body), a themed
page everywhere else, so a person who follows a dead link still has the search box,
the breadcrumbs home and help."""

import logging

from flask import g, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ..errors import AccordError

log = logging.getLogger("accord")

TITLES = {400: "This request could not be used", 401: "Sign in first", 403: "Not allowed",
          404: "Not found", 405: "Not allowed here", 409: "Changed meanwhile", 413: "Too large",
          422: "Please check your input", 500: "Something went wrong"}


def init_errors(app):
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(AccordError, service_error)
    app.register_error_handler(Exception, unexpected_error)


def service_error(exc):
    """A refusal from the service layer that a page did not handle itself."""
    from ..api import is_api_request, json_response

    if is_api_request():
        return json_response(exc.to_json(), exc.status)
    return error_page(exc.status if exc.status in TITLES else 500, exc.message)


def http_error(exc):
    from ..api import _http_error, is_api_request
    from .auth import wants_json

    if is_api_request() or wants_json():
        return _http_error(exc)
    return error_page(exc.code, exc.description)


def unexpected_error(exc):
    if isinstance(exc, HTTPException):
        return http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return http_error(InternalServerError())


def error_page(status, description):
    """A themed error page; plain text if even that cannot be drawn (a database outage)."""
    from .rendering import render

    title = TITLES.get(status, "Error")
    try:
        body = render("error.html", title=title, breadcrumbs=[(title, None)], help_page="error",
                      status=status, description=description, signed_in=g.get("accord_user") is not None)
    except Exception:  # noqa: BLE001 - the error page must not fail in turn
        log.exception("could not render the error page")
        return f"{status} {title}: {description}", status, {"Content-Type": "text/plain; charset=utf-8"}
    return body, status
