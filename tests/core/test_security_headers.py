"""Every response carries the security headers, whatever answered it: a page, the API, a
static file, an error page or a probe; HSTS only over TLS."""

import pytest

from accord.core.config import ConfigError, load_config
from accord.core.headers import CONTENT_SECURITY_POLICY
from web_helpers import sign_in

HSTS = "max-age=31536000; includeSubDomains"
EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def test_the_policy_forbids_inline_script_and_framing():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


@pytest.mark.parametrize("path, status", [
    ("/login", 200), ("/healthz", 200), ("/api/v1/types", 401), ("/static/core/accord.js", 200),
    ("/no-such-page", 302),
])
def test_anonymous_answers_carry_the_headers(app, path, status):
    response = app.test_client().get(path)
    assert response.status_code == status
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (path, name)
    assert "Strict-Transport-Security" not in response.headers


def test_signed_in_pages_and_api_answers_carry_them_too(app, api):
    browser = sign_in(app, "web@example.com", "Wes Web")[1]
    answers = [(browser.get("/"), 200), (browser.get("/contacts"), 200), (api.get("/contacts"), 200),
               (browser.get("/no-such-page"), 404), (api.get("/contacts/999999"), 404)]
    for response, status in answers:
        assert response.status_code == status
        assert {name: response.headers.get(name) for name in EXPECTED} == EXPECTED


def test_hsts_is_sent_over_tls_only(app):
    secure = app.test_client().get("/login", base_url="https://crm.example.org")
    assert secure.headers["Strict-Transport-Security"] == HSTS
    plain = app.test_client().get("/login", base_url="http://crm.example.org")
    assert "Strict-Transport-Security" not in plain.headers


def test_a_trusted_proxy_says_the_request_came_over_tls(accord_app_factory):
    """With ``TRUSTED_PROXIES`` the balancer's ``X-Forwarded-Proto`` counts: HSTS when TLS
    reached the balancer, none when plain HTTP did."""
    client = accord_app_factory(TRUSTED_PROXIES=1).test_client()
    behind_tls = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert behind_tls.headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in client.get("/login", headers={"X-Forwarded-Proto": "http"}).headers
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_without_trusted_proxies_a_forwarded_scheme_is_ignored(app):
    """By default anyone could send ``X-Forwarded-Proto``, so it is not believed."""
    forged = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


@pytest.mark.parametrize("raw", ["-1", "two"])
def test_a_malformed_trusted_proxies_setting_is_refused(tmp_path, raw):
    with pytest.raises(ConfigError, match="ACCORD_TRUSTED_PROXIES"):
        load_config({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}, environ={"ACCORD_TRUSTED_PROXIES": raw})
