"""Security headers on every response: pages, the API, static files and error pages.

The content security policy allows scripts, styles, fonts and frames from this site only
and no inline script or style, so injected markup cannot run; themes and plugins serve
their scripts and styles as files (see docs/themes.md). HSTS is sent only on requests that
arrived over TLS (behind a proxy, as its ``X-Forwarded-Proto`` says when ``TRUSTED_PROXIES``
trusts it), so a plain-HTTP development server never pins itself to HTTPS.
"""

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def init_security_headers(app):
    app.after_request(_add_headers)


def _add_headers(response):
    from flask import request

    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
