"""Fixtures of the tests of the ``accord`` command (``tests/test_cli*.py``)."""

import pytest
from accord.testing import close_app
from cli_helpers import run_accord


@pytest.fixture
def instance(tmp_path):
    return tmp_path / "instance"


@pytest.fixture
def accord(instance):
    """``accord(*args, plugins=(), input=None)`` → the run of ``accord --instance <tmp> ARGS``."""

    def run(*args, **kwargs):
        return run_accord(instance, *args, **kwargs)

    return run


@pytest.fixture
def open_app(instance):
    """``open_app()`` → an app on the instance the command wrote (closed after the test)."""
    from accord.core import create_app

    made = []

    def make():
        app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'accord.db'}",
                          "PLUGINS": ()})
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)
