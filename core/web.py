"""The web root: a plain page that says what runs here and where the API is."""

from flask import Blueprint, render_template_string

from .registry import current_accord

web = Blueprint("web", __name__)

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Accord</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 42rem; margin: 3rem auto; line-height: 1.5">
<h1>Accord {{ version }}</h1>
<p>The REST API is at <code>/api/v1</code>; send <code>Authorization: Bearer &lt;token&gt;</code>
(make one with <code>accord tokens create --user EMAIL</code>).
Its description is <a href="{{ url_for('api.openapi') }}">/api/v1/openapi.json</a>.</p>
<h2>Record types</h2>
<ul>{% for rt in types %}<li><code>/api/v1/{{ rt.plural }}</code>: {{ rt.description }}</li>{% endfor %}</ul>
</body></html>"""


@web.get("/")
def index():
    from .. import __version__

    types = sorted(current_accord().catalog().types.values(), key=lambda rt: rt.key)
    return render_template_string(INDEX, version=__version__, types=types)
