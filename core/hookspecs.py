"""The extension contract of Accord: every hook a plugin may implement.

Hook names carry the ``accord_`` prefix. An implementation may accept any subset of a
hook's arguments, so arguments can be added later without breaking anyone; a hook is
never renamed, only added and deprecated. Registration hooks run when a process builds the
set of plugins active for it; event hooks run on every write, through the one service layer
(:mod:`accord.core.records`), whichever path the write came by (API, UI, import, CLI).
"""

import pluggy

PROJECT = "accord"
HOOK_CONTRACT_VERSION = 1
"""The contract this core offers. A plugin's manifest names the contract it was written for
(``hook_contract``); plugins written for a contract from :data:`OLDEST_SUPPORTED_CONTRACT`
up to this one load, and each deprecated hook they still implement is named in a warning."""
OLDEST_SUPPORTED_CONTRACT = 1
DEPRECATED_HOOKS = {}
"""``{hook name: (contract that deprecated it, what to use instead)}``; a deprecated hook
keeps its spec until :data:`OLDEST_SUPPORTED_CONTRACT` passes the contract that deprecated it."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# Registration hooks: results of all implementations are collected each time a process builds
# the set of plugins active for it (at start, and again after a plugin is switched on or off
# anywhere), so they must be quick and have no side effects.


@hookspec
def accord_record_types(app):
    """Declare record types.

    Called when a process builds its set of active plugins. Return a list of SQLAlchemy models that carry
    ``__accord__`` options, or of :class:`accord.core.descriptors.RecordType` objects.
    A key or plural already declared by another plugin is an error naming both.

    :param app: the Flask application.
    """


@hookspec
def accord_pipelines(app):
    """Declare pipelines and their stages.

    Called when a process builds its set of active plugins. Return a list of dicts::

        {"key": "sales", "record_type": "deal", "label": "Sales", "default": True,
         "stages": [{"key": "lead", "label": "Lead", "probability": 10,
                     "outcome": "open", "allowed_next": ["qualified", "lost"]}, ...]}

    ``outcome`` is ``open``, ``won`` or ``lost``; ``allowed_next`` omitted means any stage.
    Stages are written to the database when missing; stages an admin or a vertical pack
    changed are kept as they are.

    :param app: the Flask application.
    """


@hookspec
def accord_permissions(app):
    """Declare permissions as a list of ``(name, description)`` pairs, e.g.
    ``("servicedesk.ticket.assign", "Assign tickets to agents")``.

    :param app: the Flask application.
    """


@hookspec
def accord_blueprints(app):
    """Return Flask blueprints to register on the app (API extras, UI pages).

    Called once per process at start, for every installed plugin whether enabled or not
    (routes of a plugin that is switched off answer 404); blueprint names must be unique
    across plugins.

    :param app: the Flask application.
    """


@hookspec
def accord_cli_commands():
    """Return click commands to add to the ``accord`` command.

    Called when the command line is built, before any app exists, so it must not touch
    the database.
    """


@hookspec
def accord_navigation(app):
    """Return navigation items: dicts with ``label``, ``endpoint`` or ``url``, ``order``.

    :param app: the Flask application.
    """


@hookspec
def accord_dashboard_widgets(app):
    """Return dashboard widgets: dicts with ``key``, ``title`` and ``data`` (a callable
    taking the app and the acting user, returning JSON-serialisable data).

    :param app: the Flask application.
    """


@hookspec
def accord_help_topics(app):
    """Return help topics: dicts with ``key``, ``title``, ``body`` (Markdown), ``pages``
    (endpoint names or URL path prefixes the topic is specific to) and optionally ``group``
    (the heading it is listed under on ``/help``; default: the plugin's title). The help
    panel shows topics whose path prefix matches first (longest first), then those naming
    the page's endpoint.

    :param app: the Flask application.
    """


@hookspec
def accord_jobs(app):
    """Return background jobs: dicts with ``name``, ``run`` (a callable taking the app
    and the job's keyword arguments), and optionally ``max_attempts`` (default 5),
    ``backoff_seconds`` (the first retry's delay, doubled for each further one; default
    10) and ``lease_seconds`` (how long one run may take before the job counts as lost
    and runs again; default 300). Queue one with :func:`accord.core.jobs.enqueue`.

    With a broker (``ACCORD_BROKER_URL``), ``queue`` (default ``"accord"``) names the
    broker queue its messages go to, so ``accord worker --queues`` can give slow jobs
    workers of their own.

    ``schedule``, a cron expression in UTC (``"30 2 * * *"`` is 02:30 every day; a sixth
    field gives seconds), also queues the job, with no arguments, at each time it names:
    ``accord scheduler`` does (or, without a broker, the job threads of ``accord serve``,
    which start with a process's first request). Each time is queued once, however many
    schedulers run, with the key ``schedule:<time>``; a time missed by more than an hour
    (no scheduler ran) is skipped. A job may run more than once (a lost lease runs it
    again), so write it to be safe to repeat.

    :param app: the Flask application.
    """


@hookspec
def accord_search_providers(app):
    """Return extra global-search providers: callables ``provider(app, query, limit)``
    returning a list of ``{"type", "id", "title", "score"}`` dicts merged into the
    results of ``GET /api/v1/search``; the web UI shows only results whose ``type`` is an
    active record type and whose ``id`` is a whole number.

    :param app: the Flask application.
    """


@hookspec
def accord_privacy_handlers(app):
    """Return privacy handlers for what a plugin keeps about a person outside records:
    dicts with ``name`` (unique, e.g. ``"newsletter.subscriptions"``), ``export`` and
    ``erase``. Records of any type that refer to the contact (a ``reference`` field, a
    relation, ``related_type``/``related_id``) are exported and erased by the core already,
    through their descriptors and ``pii`` fields (:mod:`accord.core.privacy`).

    Called when a process builds its set of active plugins. ``export(app, contact)`` is
    called by a privacy export, outside any write; it returns JSON-serialisable data,
    answered under ``plugins[name]``. ``erase(app, contact)`` is called inside the
    erasure's transaction (an explicit erasure or retention), before the core empties the
    contact's fields, so ``contact`` still holds the values to look for; it removes or
    anonymises the plugin's data with ``db.session`` and returns nothing, and raising aborts
    the whole erasure, nothing erased. ``contact`` is the contact's
    :class:`~accord.core.records.Record`, possibly in the trash.

    :param app: the Flask application.
    """


# Event hooks: called on every write through the service layer.


@hookspec
def accord_record_validate(app, record_type, values, record, actor):
    """Check a write before anything is saved.

    Called inside the transaction after field validation, on create (``record`` is
    ``None``) and update. Raise :class:`accord.core.errors.RecordInvalid` with per-field
    messages to refuse the write: the caller answers 422 and nothing is written.

    :param app: the Flask application.
    :param record_type: the :class:`~accord.core.descriptors.RecordType`.
    :param values: the validated incoming values (a dict; do not mutate).
    :param record: the stored :class:`~accord.core.records.Record` before the change, or ``None``.
    :param actor: the acting user's :class:`~accord.core.records.Actor`.
    """


@hookspec
def accord_record_before_save(app, record, changes, event, actor):
    """Adjust or veto a record just before it is written.

    Called inside the transaction for ``event`` in ``create``, ``update``, ``delete``,
    ``restore``. An implementation may set values on ``record`` (they are written);
    raising aborts the whole write, nothing is stored and the caller gets the error
    (:class:`accord.core.errors.RecordInvalid` answers 422, any other error 500 naming
    the plugin).

    :param app: the Flask application.
    :param record: the :class:`~accord.core.records.Record` about to be saved.
    :param changes: ``{field: (old, new)}`` for the fields this write changes.
    :param event: ``create``, ``update``, ``delete`` or ``restore``.
    :param actor: the acting user's :class:`~accord.core.records.Actor`.
    """


@hookspec
def accord_record_after_commit(app, record, changes, event, actor):
    """React to a committed write (send email, call a webhook, update another system).

    Called outside the transaction, after the commit. Each implementation is isolated:
    one that raises is logged with the plugin's name, the others still run, the committed
    record is never lost, and the failed call is retried as a background job (with
    backoff, until it succeeds or its attempts run out, then it shows as a failed job). A
    retry gets the record as stored then, and ``changes`` with each value in its JSON form.

    :param app: the Flask application.
    :param record: the committed :class:`~accord.core.records.Record`.
    :param changes: ``{field: (old, new)}`` for the fields the write changed.
    :param event: ``create``, ``update``, ``delete`` or ``restore``.
    :param actor: the acting user's :class:`~accord.core.records.Actor`.
    """


@hookspec
def accord_stage_transition_guard(app, record, pipeline, from_stage, to_stage, actor):
    """Veto a stage change.

    Called inside the transaction before a record moves from ``from_stage`` to
    ``to_stage`` (stage keys; ``from_stage`` is ``None`` on create). Return a reason
    (a string) to refuse the move with 422 on the ``stage`` field; return ``None`` to
    allow it. Every guard runs; all reasons are reported.

    :param app: the Flask application.
    :param record: the :class:`~accord.core.records.Record` with its new values.
    :param pipeline: the :class:`~accord.core.pipelines.PipelineDef`.
    :param from_stage: the stage key before the move (``None`` on create).
    :param to_stage: the stage key after the move.
    :param actor: the acting user's :class:`~accord.core.records.Actor`.
    """


@hookspec
def accord_stage_changed(app, record, pipeline, from_stage, to_stage, actor):
    """React to a committed stage change (after commit, isolated and retried like
    :func:`accord_record_after_commit`).

    :param app: the Flask application.
    :param record: the committed :class:`~accord.core.records.Record`.
    :param pipeline: the :class:`~accord.core.pipelines.PipelineDef`.
    :param from_stage: the stage key before the move (``None`` on create).
    :param to_stage: the stage key after the move.
    :param actor: the acting user's :class:`~accord.core.records.Actor`.
    """


REGISTRATION_HOOKS = (
    "accord_record_types", "accord_pipelines", "accord_permissions", "accord_blueprints",
    "accord_cli_commands", "accord_navigation", "accord_dashboard_widgets",
    "accord_help_topics", "accord_jobs", "accord_search_providers", "accord_privacy_handlers",
)
EVENT_HOOKS = (
    "accord_record_validate", "accord_record_before_save", "accord_record_after_commit",
    "accord_stage_transition_guard", "accord_stage_changed",
)
