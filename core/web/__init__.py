"""The web UI: server-rendered pages built from the record descriptors, themed, with a
breadcrumb trail, a search box and contextual help on every page.

Each page module holds one blueprint; :func:`init_web` registers them, the theme
machinery (:mod:`accord.core.web.rendering`) and the sign-in and CSRF checks
(:mod:`accord.core.web.auth`) that every page goes through.
"""

from flask import Blueprint, send_from_directory

from ..registry import current_accord
from . import auth, errors, rendering

assets = Blueprint("assets", __name__, static_folder="static", static_url_path="/static/core")


@assets.get("/static/themes/<name>/<path:filename>")
def theme_static(name, filename):
    """A file from a theme's ``static/`` folder."""
    from werkzeug.exceptions import NotFound

    theme = current_accord().themes.get(name)
    if theme is None or theme.static is None:
        raise NotFound()
    return send_from_directory(theme.static, filename, max_age=3600)


def init_web(app):
    """Register the pages, the theme environments and the sign-in checks on ``app``."""
    from . import admin, board, dashboard, help, password_reset, record_pages, records, search

    rendering.init_rendering(app)
    errors.init_errors(app)
    auth.init_sessions(app)
    app.register_blueprint(assets)
    app.register_blueprint(auth.bp)
    app.register_blueprint(password_reset.bp)
    pages = (dashboard, search, help, admin, board, records, record_pages)
    for module in pages:
        app.register_blueprint(module.bp)
    auth.protect(app, [module.bp.name for module in pages])
