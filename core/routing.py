"""Routing that follows the plugins switched on for this request.

Every loaded plugin's blueprints are registered once, at start, so that switching a
plugin on in another process needs no restart here. A request that matched a plugin's
route (or matched nothing) is matched again against the routes of the core and of the
plugins active now, before any ``before_request`` function runs: a switched-off plugin's
pages answer 404, and when two installed plugins claim the same route the active one
serves it. Requests to core routes skip all of this.
"""

from flask import Flask, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map

from .registry import current_accord


class AccordFlask(Flask):
    """The Flask application class of Accord."""

    def preprocess_request(self):
        _route_for_active_plugins(self)
        return super().preprocess_request()


def _route_for_active_plugins(app):
    accord = current_accord(app)
    if not accord.blueprint_owners:
        return
    rule = request.url_rule
    if rule is None and isinstance(request.routing_exception, NotFound):
        return  # the active plugins' routes are a subset of all routes: nothing can match
    if rule is not None and _owner(accord, rule) is None:
        return
    url_map = _active_map(app, accord.catalog().registrations)
    adapter = url_map.bind_to_environ(request.environ, server_name=app.config["SERVER_NAME"],
                                      subdomain=url_map.default_subdomain or "")
    try:
        request.url_rule, request.view_args = adapter.match(return_rule=True)
        request.routing_exception = None
    except HTTPException as exc:
        request.url_rule, request.view_args = None, None
        request.routing_exception = exc


def _owner(accord, rule):
    """The installed plugin whose blueprint serves ``rule``, or ``None`` for the core's."""
    blueprint = rule.endpoint.rpartition(".")[0].split(".")[0]
    owner = accord.blueprint_owners.get(blueprint)
    return owner if owner in accord.installed else None


def _active_map(app, registrations):
    """The core's routes and those of the plugins in ``registrations``, built once per set
    (two threads building it at once build the same map; either may be kept)."""
    if registrations.url_map is None:
        accord = current_accord(app)
        full = app.url_map
        rules = [r.empty() for r in full.iter_rules() if _owner(accord, r) in (None, *registrations.active)]
        registrations.url_map = Map(rules, default_subdomain=full.default_subdomain,
                                    strict_slashes=full.strict_slashes, merge_slashes=full.merge_slashes,
                                    converters=full.converters, host_matching=full.host_matching)
    return registrations.url_map
