"""A static plugin for ``bench/scale.py --section jobs``: one job that does nothing, so
the measurement is the job machinery alone (claim, run, finish, the broker's message).
Active through ``ACCORD_PLUGINS=noop_jobs`` with ``bench/`` on ``PYTHONPATH``."""

from accord.core import hookimpl

NOOP_JOB = "bench.noop"


def noop(app, **arguments):
    """Do nothing."""


@hookimpl
def accord_jobs(app):
    return [{"name": NOOP_JOB, "run": noop}]
