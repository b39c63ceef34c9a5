"""Production serving through gunicorn, configured in code so ``accord serve`` needs no
config file. Each worker builds its own app; nothing is shared but the database and the
folder where this server's workers add up their metrics.

On SIGTERM gunicorn stops accepting, lets the workers finish the requests they hold for
up to ``GRACEFUL_TIMEOUT`` seconds, and exits 0.
"""

import logging
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from .config import load_config
from .jobs import start_runner, stop_runner
from .logs import logging_config
from .metrics import empty_multiprocess_folder, forget_worker, prepare_multiprocess_folder


class AppAccessLogger(Logger):
    """Gunicorn's logger without gunicorn's access line: the app writes its own, which
    knows the endpoint and the request id (see :func:`accord.core.logs.logging_config`).
    Gunicorn's own would gather every header of each request only for its level to drop it."""

    def access(self, resp, req, environ, request_time):
        return None


class AccordServer(BaseApplication):
    def __init__(self, settings, options):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from accord.core import create_app

        return create_app(self.settings)


def serve(settings, host="127.0.0.1", port=5000, workers=2, threads=4, log_format="json"):
    """Serve with gunicorn until SIGTERM.

    :param log_format: the log format when the ``LOG_FORMAT`` setting leaves it open.
    """
    config = load_config(settings)
    metrics_folder = Path(config["INSTANCE_PATH"]) / "metrics" / str(port)  # one per server on this instance
    prepare_multiprocess_folder(metrics_folder)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "graceful_timeout": config["GRACEFUL_TIMEOUT"],
        "timeout": 60,
        "logconfig_dict": logging_config(config["LOG_FORMAT"] or log_format),
        "logger_class": AppAccessLogger,
        "on_starting": lambda arbiter: empty_multiprocess_folder(metrics_folder),
        "child_exit": lambda arbiter, worker: forget_worker(worker.pid),
        "post_worker_init": lambda worker: start_runner(worker.wsgi),
        "worker_exit": lambda arbiter, worker: _stop_jobs(worker, config["GRACEFUL_TIMEOUT"]),
    }
    logging.captureWarnings(True)  # Python's warnings become log records too, in the same format
    AccordServer(settings, options).run()


def _stop_jobs(worker, timeout):
    """Let a stopping worker's embedded job runner finish the jobs it holds."""
    if getattr(worker, "wsgi", None) is not None:
        stop_runner(worker.wsgi, timeout)
