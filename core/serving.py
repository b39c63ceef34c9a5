"""Production serving through gunicorn, configured in code so ``accord serve`` needs no
config file. Each worker builds its own app; nothing is shared but the database."""

from gunicorn.app.base import BaseApplication


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


def serve(settings, host="127.0.0.1", port=5000, workers=2, threads=4):
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "graceful_timeout": 30,
        "timeout": 60,
        "accesslog": "-",
    }
    AccordServer(settings, options).run()
