"""``/healthz`` and ``/readyz``: public probes against the real database and real brokers
(Redis and RabbitMQ on this machine; a closed port for the unreachable ones)."""

import pytest
from accord.core import create_app
from accord.testing import close_app
from process_helpers import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
PASSWORD = "s3cret-pw"


@pytest.fixture
def unreachable_database_app(tmp_path):
    """An app whose PostgreSQL server does not exist (nothing listens on the port)."""
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": f"postgresql+psycopg://accord:{PASSWORD}@127.0.0.1:{free_port()}/accord"})
    yield app
    close_app(app)


def test_healthz_answers_without_touching_the_database(app, count_statements):
    with count_statements() as seen:
        response = app.test_client().get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})
    assert seen == []


def test_healthz_answers_while_the_database_is_down(unreachable_database_app):
    response = unreachable_database_app.test_client().get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_readyz_is_ready_with_the_database_and_no_broker_configured(app):
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "broker": "not configured"}}


def test_readyz_is_503_naming_the_database_when_it_does_not_answer(unreachable_database_app):
    response = unreachable_database_app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "not ready"
    assert body["checks"] == {"database": "failed", "broker": "not configured"}
    assert "Connection refused" in body["reasons"]["database"]
    assert PASSWORD not in response.get_data(as_text=True)


@pytest.mark.parametrize("url", [REDIS_URL, RABBITMQ_URL], ids=["redis", "rabbitmq"])
def test_readyz_checks_a_reachable_broker(accord_app_factory, url):
    response = accord_app_factory(BROKER_URL=url).test_client().get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_readyz_is_503_naming_an_unreachable_broker_without_its_password(accord_app_factory, scheme):
    url = f"{scheme}://guest:{PASSWORD}@127.0.0.1:{free_port()}/"
    response = accord_app_factory(BROKER_URL=url).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "broker": "failed"}
    assert "refused" in response.json["reasons"]["broker"].lower()
    assert PASSWORD not in response.get_data(as_text=True)


def test_probes_need_no_sign_in_and_no_token(app):
    client = app.test_client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        assert response.mimetype == "application/json"
