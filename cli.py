"""The ``accord`` command.

Kept light at import time: ``accord --help`` loads click only; each command imports the
application when it runs. Errors print one line on stderr and exit 1.
"""

import os
import sys
from contextlib import contextmanager

import click

DEFAULT_INSTANCE = "./instance"


class Context:
    """What every command shares: the instance folder and the app made from it."""

    def __init__(self, instance, database_url):
        self.instance = instance
        self.database_url = database_url
        self._app = None

    def settings(self):
        settings = {"INSTANCE_PATH": self.instance}
        if self.database_url:
            settings["DATABASE_URL"] = self.database_url
        return settings

    @property
    def app(self):
        if self._app is None:
            from accord.core import create_app

            self._app = create_app(self.settings())
        return self._app


pass_context = click.make_pass_decorator(Context)


class AccordGroup(click.Group):
    """The ``accord`` command: built-in commands plus those plugins add through
    ``accord_cli_commands``; known failures become one line on stderr and exit status 1."""

    _plugin_commands = None

    def plugin_commands(self):
        """Commands of the plugins named in ``ACCORD_PLUGINS`` and of the installed ones,
        loaded once per process; an installed plugin's commands run only where it is enabled,
        inside an app context of the instance."""
        if self._plugin_commands is None:
            from accord.core import discovery

            commands = {}
            modules = [m.strip() for m in os.environ.get("ACCORD_PLUGINS", "").split(",") if m.strip()]
            sources = []
            if modules:
                from accord.core.app import plugin_manager_for

                sources.append((None, plugin_manager_for(modules).hook.accord_cli_commands()))
            installed = discovery.discover()
            discovery.load(installed)
            for name, plugin in sorted(installed.items()):
                implementation = getattr(plugin.plugin, "accord_cli_commands", None)
                if implementation is not None and not plugin.broken:
                    sources.append((name, [implementation()]))
            for owner, results in sources:
                for result in results:
                    for command in result or ():
                        if command.name in commands or command.name in self.commands:
                            raise click.ClickException(f"two commands are named {command.name!r}")
                        commands[command.name] = _when_enabled(command, owner) if owner else command
            self._plugin_commands = commands
        return self._plugin_commands

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.plugin_commands()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or self.plugin_commands().get(name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI
            click.echo(f"Error: {describe_error(exc)}", err=True)
            if os.environ.get("ACCORD_DEBUG"):
                raise
            ctx.exit(1)


def _when_enabled(command, plugin_name):
    """Run an installed plugin's command only where the plugin is enabled, inside an app
    context of the instance (so it can use ``accord.core`` as its hooks do)."""
    import functools

    callback = command.callback

    @functools.wraps(callback)
    def guarded(*args, **kwargs):
        from accord.core.lifecycle import enabled_names

        obj = click.get_current_context().find_object(Context)
        with obj.app.app_context():
            if plugin_name not in enabled_names():
                raise click.ClickException(f"plugin {plugin_name} is not enabled here; "
                                           f"run 'accord plugins enable {plugin_name}' first")
            return callback(*args, **kwargs)

    command.callback = guarded
    return command


def describe_error(exc):
    from accord.core.errors import AccordError

    if isinstance(exc, AccordError):
        details = "; ".join(f"{name}: {' '.join(map(str, reasons))}" for name, reasons in exc.fields.items())
        return f"{exc.message} {details}".strip()
    name = type(exc).__name__
    if name in ("OperationalError", "ProgrammingError"):
        reason = " ".join(str(getattr(exc, "orig", exc)).split())
        if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
            return f"the database is not set up ({reason}); run 'accord init' or 'accord db upgrade' first"
        return f"cannot use the database: {reason}"
    return " ".join(str(exc).split()) or name


@contextmanager
def refused_input():
    """Report the service layer's :class:`RecordInvalid` (a value refused as given) as one
    line, like every other error."""
    from accord.core.errors import RecordInvalid

    try:
        yield
    except RecordInvalid as exc:
        raise click.ClickException(describe_error(exc)) from None


def cli_actor():
    """Who acts for a command (audit trail, ``created_by``)."""
    from accord.core.records import Actor

    return Actor(user_id=None, source="cli", is_admin=True, name="cli")


def echo_table(headers, rows):
    """Rows under a header line, each column as wide as its widest cell."""
    cells = [list(headers)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def utc_minute(value, empty="-"):
    """A timestamp to the minute, UTC (``2025-01-31 09:30Z``), or ``empty``."""
    return f"{value:%Y-%m-%d %H:%M}Z" if value is not None else empty


@click.group(cls=AccordGroup)
@click.option("--instance", envvar="ACCORD_INSTANCE_PATH", default=DEFAULT_INSTANCE, show_default=True,
              type=click.Path(file_okay=False), help="Instance folder: SQLite file, uploads, outbox, logs.")
@click.option("--database-url", envvar="ACCORD_DATABASE_URL", default=None,
              help="Database URL; default is a SQLite file in the instance folder.")
@click.version_option(package_name="accord-crm", prog_name="accord")
@click.pass_context
def main(ctx, instance, database_url):
    """Accord: a plugin-based, extensible CRM."""
    ctx.obj = Context(instance, database_url)


@main.command()
@click.option("--admin-email", prompt="Administrator email")
@click.option("--admin-password", prompt="Administrator password", hide_input=True, confirmation_prompt=True)
@click.option("--admin-name", default="Administrator", show_default=True)
@pass_context
def init(obj, admin_email, admin_password, admin_name):
    """Create the database (or bring it up to date) and the first administrator."""
    from accord.core.accounts import email_problem, ensure_admin, password_problem
    from accord.core.migrate import upgrade

    if problem := password_problem(admin_password):
        raise click.ClickException(f"the administrator password {problem}")
    if problem := email_problem(admin_email.strip()):
        raise click.ClickException(problem)
    upgrade(obj.app)
    with obj.app.app_context():
        user, created = ensure_admin(admin_email, admin_password, admin_name)
    state = "created" if created else "already exists"
    click.echo(f"Instance ready at {obj.app.instance_path}; administrator {user.email} {state}.")


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj):
    """Apply pending migrations of the core and of every enabled plugin."""
    from accord.core.migrate import current_revision, upgrade

    skipped = upgrade(obj.app)
    click.echo(f"Database at revision {current_revision(obj.app)}.")
    for name, problem in skipped.items():
        click.echo(f"Skipped enabled plugin {name}: {problem}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(obj, host, port, workers, threads):
    """Serve the instance with gunicorn: JSON log lines on stderr (ACCORD_LOG_FORMAT=text for
    plain lines); SIGTERM finishes the requests in flight, then exits."""
    from accord.core.serving import serve as run

    run(obj.settings(), host=host, port=port, workers=workers, threads=threads)


@main.command()
@click.option("--vertical", default=None,
              help="Vertical pack to apply, with its sample data instead of the generic one ('accord verticals list').")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Prepare the demo instance and exit.")
@pass_context
def demo(obj, vertical, host, port, no_serve):
    """Create a demo instance with sample data and serve it on this machine."""
    from accord.core.demo import prepare_demo
    from accord.core.serving import serve as run
    from accord.core.verticals import PackInvalid

    try:
        login = prepare_demo(obj.app, progress=lambda text: click.echo(text, err=True), vertical=vertical)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except PackInvalid as exc:
        raise click.ClickException(f"vertical pack {vertical} is not valid: "
                                   + "; ".join(map(str, exc.problems))) from None
    url = f"http://{host}:{port}"
    click.echo(f"Accord demo at {url}")
    click.echo(f"  administrator: {login['email']}, password {login['password']}")
    click.echo(f"  try: curl -H 'Authorization: Bearer {login['token']}' '{url}/api/v1/contacts?limit=5'")
    click.echo(f"  API description: {url}/api/v1/openapi.json")
    click.echo(login["token"])
    if not no_serve:
        run(obj.settings(), host=host, port=port, workers=1, threads=8, log_format="text")


@main.group()
def users():
    """User accounts: create, list, change the role, switch off and on."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", default="user", show_default=True, help="See 'accord users roles'.")
@click.option("--password", default=None, help="Asked for (twice, hidden) when omitted.")
@pass_context
def users_create(obj, email, name, role, password):
    """Create a user who can sign in with the password."""
    from accord.core.accounts import check_new_user, create_user, role_of

    with obj.app.app_context(), refused_input():
        check_new_user(email, password, role)
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        user = create_user(email, name, password, role=role, actor=cli_actor())
    click.echo(f"Created user {user.id}: {user.email} ({role_of(user)}).")


@users.command("list")
@pass_context
def users_list(obj):
    """Every user: id, email, name, role, whether active, when created."""
    from accord.core.accounts import list_users, role_of

    with obj.app.app_context():
        rows = [(u.id, u.email, u.name, role_of(u), "yes" if u.is_active else "no", utc_minute(u.created_at))
                for u in list_users()]
    echo_table(("id", "email", "name", "role", "active", "created"), rows)


@users.command("roles")
@pass_context
def users_roles(obj):
    """The roles a user can have: what each may do to which records, and in which scope."""
    from accord.core.accounts import roles

    with obj.app.app_context():
        for role in roles().values():
            grants = "; ".join(f"{key} {','.join(g['verbs']) or 'nothing'} ({g['scope']})"
                               for key, g in role.to_json()["grants"].items())
            sensitive = ", sensitive fields" if role.sensitive else ""
            click.echo(f"{role.key:10} {role.description} [{grants}{sensitive}]")


@users.command("define-role")
@click.argument("key")
@click.option("--label", required=True)
@click.option("--description", default="")
@click.option("--grant", "grants", multiple=True, required=True, metavar="TYPE=VERBS[:SCOPE]",
              help="e.g. contact=read,update:team or '*=read:all' (repeat); verbs read, create, update, "
                   "delete, export; scope own, team or all (default all).")
@click.option("--sensitive", is_flag=True, help="Holders see and change sensitive fields.")
@pass_context
def users_define_role(obj, key, label, description, grants, sensitive):
    """Add the custom role KEY, or change it."""
    from accord.core.accounts import define_role

    parsed = {}
    for text in grants:
        type_key, equals, rest = text.partition("=")
        if not equals or not type_key:
            raise click.ClickException(f"--grant {text!r}: write TYPE=VERBS[:SCOPE], e.g. contact=read,update:team")
        verbs, _, scope = rest.partition(":")
        parsed[type_key] = {"verbs": [v for v in verbs.split(",") if v], "scope": scope or "all"}
    with obj.app.app_context(), refused_input():
        role, created = define_role(key, label, parsed, description, sensitive)
    click.echo(f"{'Added' if created else 'Changed'} the role {role.key}.")


@users.command("remove-role")
@click.argument("key")
@pass_context
def users_remove_role(obj, key):
    """Remove the custom role KEY (refused while a user has it)."""
    from accord.core.accounts import remove_role

    with obj.app.app_context():
        remove_role(key)
    click.echo(f"Removed the role {key}.")


@users.command("set-role")
@click.argument("email")
@click.argument("role")
@pass_context
def users_set_role(obj, email, role):
    """Give user EMAIL the ROLE (see 'accord users roles')."""
    from accord.core.accounts import set_role

    with obj.app.app_context(), refused_input():
        user, changed = set_role(email, role, actor=cli_actor())
    click.echo(f"{user.email} now has the role {role}." if changed else f"{user.email} already has the role {role}.")


@users.command("deactivate")
@click.argument("email")
@pass_context
def users_deactivate(obj, email):
    """Switch user EMAIL off (no sign-in, no API) and revoke its API tokens; the data stays."""
    from accord.core.accounts import deactivate_user

    with obj.app.app_context():
        user, revoked = deactivate_user(email, actor=cli_actor())
    click.echo(f"{user.email} is deactivated; {revoked} API token(s) revoked.")


@users.command("activate")
@click.argument("email")
@pass_context
def users_activate(obj, email):
    """Switch user EMAIL on again (its revoked tokens stay revoked)."""
    from accord.core.accounts import activate_user

    with obj.app.app_context():
        user, changed = activate_user(email, actor=cli_actor())
    click.echo(f"{user.email} is active again." if changed else f"{user.email} is already active.")


@main.group()
def tokens():
    """API tokens: create, list, revoke."""


@tokens.command("create")
@click.option("--user", "email", required=True, help="Email of the user the token acts as.")
@click.option("--name", default="cli", show_default=True)
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["read", "write"]),
              help="Repeat for several; default read and write.")
@click.option("--type", "record_types", multiple=True,
              help="Only this record type, e.g. contact (repeat for several; default every type).")
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days.")
@pass_context
def tokens_create(obj, email, name, scopes, record_types, days):
    """Create a token; it is printed once, alone on the last line."""
    from accord.core.accounts import find_user
    from accord.core.tokens import create_token

    with obj.app.app_context(), refused_input():
        user = find_user(email)
        token = create_token(user, name=name, scopes=scopes or ("read", "write"), days=days,
                             record_types=record_types)
    click.echo(f"Token {name!r} for {user.email}:", err=True)
    click.echo(token)


@tokens.command("list")
@click.option("--user", "email", default=None, help="Only the tokens of this user.")
@click.option("--all", "include_inactive", is_flag=True, help="Also revoked and expired tokens.")
@pass_context
def tokens_list(obj, email, include_inactive):
    """Tokens with their user, scopes, record types and dates; never the token itself."""
    from accord.core.accounts import find_user
    from accord.core.db import utcnow
    from accord.core.tokens import list_tokens, token_state

    with obj.app.app_context():
        user = find_user(email) if email else None
        now = utcnow()
        rows = [(token.id, owner, token.name, ",".join(token.scopes),
                 ",".join(token.record_types) if token.record_types else "all", utc_minute(token.created_at),
                 utc_minute(token.expires_at, "never"), utc_minute(token.revoked_at), token_state(token, now))
                for token, owner in list_tokens(user, include_inactive)]
    echo_table(("id", "user", "name", "scopes", "types", "created", "expires", "revoked", "state"), rows)


@tokens.command("revoke")
@click.argument("token_ids", nargs=-1, required=True, type=int)
@pass_context
def tokens_revoke(obj, token_ids):
    """Revoke tokens by id (see 'accord tokens list'); the API refuses them from the next request."""
    from accord.core.tokens import revoke_tokens

    with obj.app.app_context():
        revoked = revoke_tokens(token_ids)
    for token_id, newly in revoked.items():
        click.echo(f"Revoked token {token_id}." if newly else f"Token {token_id} was already revoked.")


@main.group()
def privacy():
    """A person's data: export it, erase it, and retention of inactive contacts."""


def contact_id_of(raw):
    """A contact id given on the command line, or one error line naming it."""
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise click.ClickException(f"{raw!r} is not a contact id (a whole number from 1)")
    return int(raw)


@privacy.command("export")
@click.argument("contact_id")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the JSON to this file instead of standard output.")
@pass_context
def privacy_export(obj, contact_id, output):
    """Everything held about contact CONTACT_ID, across core and plugins, as JSON."""
    import json

    from accord.core.privacy import export_contact

    contact_id = contact_id_of(contact_id)
    with obj.app.app_context():
        text = json.dumps(export_contact(contact_id, cli_actor()), indent=2, ensure_ascii=False, default=str)
    if output is None:
        click.echo(text)
        return
    with open(output, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    click.echo(f"Wrote the data held about contact {contact_id} to {output}.", err=True)


@privacy.command("erase")
@click.argument("contact_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def privacy_erase(obj, contact_id, yes):
    """Erase the personal data of contact CONTACT_ID and of every record referring to it;
    amounts, stages and dates stay. It cannot be undone."""
    from accord.core.privacy import contact_record, erase_contact

    contact_id = contact_id_of(contact_id)
    with obj.app.app_context():
        contact_record(contact_id)
        if not yes:
            click.confirm(f"Erase the personal data of contact {contact_id}? This cannot be undone",
                          abort=True, err=True)
        erased = erase_contact(contact_id, cli_actor())
    fields = sum(len(entry["fields"]) for entry in erased)
    click.echo(f"Erased contact {contact_id}: {fields} field(s) emptied in {len(erased)} record(s).")


@privacy.command("retention")
@click.option("--dry-run", is_flag=True, help="Only list the contacts that would be erased.")
@pass_context
def privacy_retention(obj, dry_run):
    """Erase contacts inactive for ACCORD_RETENTION_INACTIVE_DAYS days (0: off)."""
    from accord.core.privacy import run_retention

    with obj.app.app_context():
        days = obj.app.config["ACCORD"]["RETENTION_INACTIVE_DAYS"]
        if days <= 0:
            raise click.ClickException("retention is off; set ACCORD_RETENTION_INACTIVE_DAYS to a number of days")
        found = run_retention(actor=cli_actor(), dry_run=dry_run)
    verb = "Would erase" if dry_run else "Erased"
    click.echo(f"{verb} {len(found)} contact(s) inactive for {days} days" + (f": {', '.join(map(str, found))}." if found else "."))


@main.group()
def jobs():
    """Background jobs: what is queued, running and failed; retry and purge."""


@jobs.command("list")
@click.option("--state", type=click.Choice(["queued", "running", "succeeded", "failed"]), default=None)
@click.option("--name", default=None, help="Only jobs of this name.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_context
def jobs_list(obj, state, name, limit):
    """The newest jobs, with their state, attempts and last error."""
    from accord.core import jobs as job_queue

    with obj.app.app_context():
        counts = job_queue.counts()
        rows = job_queue.listing(state, name, limit)
        click.echo("  ".join(f"{key} {value}" for key, value in counts.items()))
        for job in rows:
            error = (job.last_error or "").strip().splitlines()
            line = f"{job.id:>8}  {job.state:<9}  {job.attempts}/{job.max_attempts}  {job.name}"
            click.echo(line + (f"  next {job.run_at:%Y-%m-%d %H:%M:%S}Z" if job.state == "queued" else "")
                       + (f"  error: {error[-1]}" if error and job.state != "succeeded" else ""))


@jobs.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed job.")
@pass_context
def jobs_retry(obj, job_ids, all_failed):
    """Queue failed jobs again with a fresh set of attempts."""
    from accord.core import jobs as job_queue

    with obj.app.app_context():
        ids = list(job_ids) + ([job.id for job in job_queue.listing("failed", limit=1000)] if all_failed else [])
        if not ids:
            raise click.ClickException("name the jobs to retry, or give --all-failed")
        for job_id in ids:
            job_queue.retry(obj.app, job_id)
    click.echo(f"Queued {len(ids)} job(s) again.")


@jobs.command("purge")
@click.option("--state", "states", multiple=True, type=click.Choice(["succeeded", "failed"]),
              help="Repeat for both; default succeeded.")
@click.option("--older-than-days", type=click.IntRange(0, 36500), default=7, show_default=True)
@pass_context
def jobs_purge(obj, states, older_than_days):
    """Delete finished jobs; queued and running ones are never touched."""
    from accord.core import jobs as job_queue

    with obj.app.app_context():
        removed = job_queue.purge(states or ("succeeded",), older_than_days)
    click.echo(f"Purged {removed} job(s).")


@jobs.command("run")
@pass_context
def jobs_run(obj):
    """Run every due job now, in this process, then exit."""
    from accord.core import jobs as job_queue

    ran = job_queue.run_due(obj.app)
    click.echo(f"Ran {ran} job attempt(s).")


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Jobs run at once, each in a process of its own; default one per CPU.")
@click.option("--queues", default=None, help="Comma-separated queues to take jobs from; default every queue "
              "the active jobs use.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve this worker's job metrics at http://HOST:PORT/metrics for Prometheus.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@pass_context
def worker(obj, concurrency, queues, metrics_port, metrics_host):
    """Run background jobs sent through the broker (ACCORD_BROKER_URL) with Celery; SIGTERM
    lets the running jobs finish, then exits."""
    from accord.core.job_broker import require_broker, run_worker

    require_broker(obj.settings())
    names = [name.strip() for name in (queues or "").split(",") if name.strip()]
    address = (metrics_host, metrics_port) if metrics_port else None
    sys.exit(run_worker(obj.settings(), concurrency=concurrency, queues=names, metrics_address=address))


@main.command()
@pass_context
def scheduler(obj):
    """Every second, queue scheduled jobs and resend due jobs whose broker message went
    missing, until SIGTERM or Ctrl-C. Run one or two per deployment (ACCORD_BROKER_URL)."""
    from accord.core.job_broker import require_broker, run_scheduler

    require_broker(obj.settings())
    run_scheduler(obj.settings())


@main.group()
def webhooks():
    """Outgoing webhooks: URLs that receive record events, their deliveries, replays."""


@webhooks.command("list")
@pass_context
def webhooks_list(obj):
    """Every webhook: id, on or off, URL, events and record types."""
    from accord.core import webhooks as hooks

    with obj.app.app_context():
        rows = hooks.subscriptions()
    for row in rows:
        types = ",".join(row.record_types) if row.record_types else "all types"
        click.echo(f"{row.id:>6}  {'on' if row.active else 'off':<3}  {row.url}  {','.join(row.events)}  {types}"
                   + (f"  ({row.description})" if row.description else ""))


@webhooks.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True,
              help="created, updated, deleted, restored, stage_changed or erased (repeat; default all).")
@click.option("--type", "record_types", multiple=True, help="Only records of this type (repeat; default all).")
@click.option("--description", default="")
@click.option("--secret", default=None, help="The signing secret; default a generated one.")
@pass_context
def webhooks_add(obj, url, events, record_types, description, secret):
    """Send record events to URL; the signing secret is printed once, alone on the last line."""
    from accord.core import webhooks as hooks

    spec = {"url": url, "description": description}
    spec.update({name: list(values) for name, values in (("events", events), ("record_types", record_types)) if values})
    if secret is not None:
        spec["secret"] = secret
    with obj.app.app_context():
        row, secret = hooks.subscribe(spec)
    types = ", ".join(row.record_types) if row.record_types else "every record type"
    click.echo(f"Webhook {row.id} sends {', '.join(row.events)} of {types} to {row.url}; "
               "its signing secret (shown only now):", err=True)
    click.echo(secret)


@webhooks.command("remove")
@click.argument("subscription_id", type=int)
@pass_context
def webhooks_remove(obj, subscription_id):
    """Delete a webhook; its pending deliveries are cancelled, its delivery log kept."""
    from accord.core import webhooks as hooks

    with obj.app.app_context():
        hooks.unsubscribe(subscription_id)
    click.echo(f"Removed webhook {subscription_id}.")


@webhooks.command("deliveries")
@click.argument("subscription_id", type=int)
@click.option("--status", default=None, help="pending, delivered, failed or cancelled.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@pass_context
def webhooks_deliveries(obj, subscription_id, status, limit):
    """A webhook's newest deliveries: status, attempts, event and the last error."""
    from accord.core import webhooks as hooks

    with obj.app.app_context():
        rows = hooks.deliveries(subscription_id, status, limit=limit)
    for row in rows:
        click.echo(f"{row.id:>8}  {row.status:<9}  {row.attempts} attempt(s)  {row.event} {row.record_type} "
                   f"{row.record_id}  event {row.event_id}" + (f"  error: {row.last_error}" if row.last_error else ""))


@webhooks.command("replay")
@click.argument("delivery_id", type=int)
@pass_context
def webhooks_replay(obj, delivery_id):
    """Send a delivery again: the same body and event id, on a new job."""
    from accord.core import webhooks as hooks

    with obj.app.app_context():
        row = hooks.replay(delivery_id)
    click.echo(f"Delivery {row.id} (event {row.event_id}) is queued again.")


@main.group()
def fields():
    """Custom fields on any record type."""


@fields.command("list")
@click.argument("record_type")
@pass_context
def fields_list(obj, record_type):
    """List the fields of RECORD_TYPE (custom ones marked)."""
    from accord.core.errors import NotFound
    from accord.core.registry import current_accord

    with obj.app.app_context():
        rt = current_accord().catalog().type(record_type)
        if rt is None:
            raise NotFound(f"There is no record type {record_type!r}.")
        for f in rt.fields.values():
            flags = [flag for flag in ("required", "indexed", "searchable", "pii", "sensitive") if getattr(f, flag)]
            origin = "custom" if f.custom else "built-in"
            click.echo(f"{f.name:24} {f.kind:13} {origin:9} {' '.join(flags)}")


@fields.command("add")
@click.argument("record_type")
@click.argument("name")
@click.option("--kind", required=True, help="text, long_text, integer, decimal, money, date, datetime, "
                                             "boolean, choice, multi_choice, email, phone, url, reference")
@click.option("--label", default=None)
@click.option("--required", is_flag=True)
@click.option("--choice", "choices", multiple=True, help="A choice key (repeat); for choice and multi_choice.")
@click.option("--reference", default=None, help="Record type a reference field points at.")
@click.option("--indexed", is_flag=True, help="Create an index so filters and sorts on it stay fast.")
@click.option("--searchable", is_flag=True, help="Include in global search.")
@click.option("--pii", is_flag=True, help="The value identifies a person.")
@click.option("--sensitive", is_flag=True, help="Only roles with the right to sensitive fields see or change it.")
@click.option("--help-text", "help_text", default="", help="Help shown next to the field.")
@pass_context
def fields_add(obj, record_type, name, kind, label, required, choices, reference, indexed, searchable, pii, sensitive,
               help_text):
    """Add custom field NAME to RECORD_TYPE."""
    from accord.core.customfields import add_field
    from accord.core.records import Actor

    spec = {"name": name, "kind": kind, "required": required, "indexed": indexed,
            "searchable": searchable, "pii": pii, "sensitive": sensitive, "help": help_text}
    if label:
        spec["label"] = label
    if choices:
        spec["choices"] = list(choices)
    if reference:
        spec["reference"] = reference
    with obj.app.app_context():
        f = add_field(record_type, spec, Actor(user_id=None, source="cli", is_admin=True, name="cli"))
    click.echo(f"Added {record_type}.{f.name} ({f.kind}).")


@fields.command("remove")
@click.argument("record_type")
@click.argument("name")
@click.option("--purge", is_flag=True, help="Also erase the stored values (otherwise kept, hidden).")
@pass_context
def fields_remove(obj, record_type, name, purge):
    """Remove custom field NAME from RECORD_TYPE."""
    from accord.core.customfields import remove_field

    with obj.app.app_context():
        remove_field(record_type, name, purge=purge)
    kept = "and its values erased" if purge else "(values kept; add it again to bring them back)"
    click.echo(f"Removed {record_type}.{name} {kept}.")


@main.group()
def plugins():
    """Installed plugins: list, switch on and off, settings, upgrade, remove, scaffold."""


@plugins.command("list")
@pass_context
def plugins_list(obj):
    """Every installed plugin with its state; broken ones with their error."""
    from accord.core.lifecycle import plugin_report

    with obj.app.app_context():
        report = plugin_report()
    if not report:
        click.echo("No plugins installed (plugins are Python distributions with an 'accord.plugins' entry point).")
    for entry in report:
        version = entry.get("version") or entry["installed_version"] or "?"
        click.echo(f"{entry['name']:24} {version:10} {entry['status']:10} {entry.get('title', '')}")
        if entry["error"]:
            click.echo(f"  error: {entry['error']}")
        for warning in entry["warnings"]:
            click.echo(f"  warning: {warning}")


@plugins.command("info")
@click.argument("name")
@pass_context
def plugins_info(obj, name):
    """Everything known about plugin NAME: manifest, state, settings, what it owns."""
    from accord.core.lifecycle import plugin_report

    with obj.app.app_context():
        entry = plugin_report(name)[0]
    click.echo(f"{entry['name']} {entry.get('version', '')}: {entry.get('title', '')}".rstrip())
    if entry.get("summary"):
        click.echo(f"  {entry['summary']}")
    click.echo(f"status: {entry['status']}")
    if entry["error"]:
        click.echo(f"error: {entry['error']}")
    for warning in entry["warnings"]:
        click.echo(f"warning: {warning}")
    for key, label in (("distribution", "distribution"), ("accord", "needs accord"),
                       ("installed_version", "installed version")):
        if entry.get(key):
            click.echo(f"{label}: {entry[key]}")
    if entry.get("requires"):
        click.echo("requires: " + ", ".join(f"{n} {spec}" for n, spec in entry["requires"].items()))
    if entry["required_by"]:
        click.echo("required by: " + ", ".join(entry["required_by"]))
    for name_, description in entry.get("permissions", {}).items():
        click.echo(f"permission: {name_}: {description}")
    for key, spec in entry.get("settings", {}).items():
        click.echo(f"setting: {key} = {spec['value']!r} ({spec['kind']}, default {spec['default']!r})")
    for owned in entry["owns"]:
        click.echo(f"owns: {owned}")


@plugins.command("enable")
@click.argument("name")
@pass_context
def plugins_enable(obj, name):
    """Switch plugin NAME on, with the plugins it requires (their migrations run first)."""
    from accord.core.lifecycle import enable

    with obj.app.app_context():
        enabled = enable(name)
    click.echo(f"Enabled {', '.join(enabled)}." if enabled else f"{name} is already enabled.")


@plugins.command("disable")
@click.argument("name")
@click.option("--cascade", is_flag=True, help="Also disable the enabled plugins that require NAME.")
@click.option("--yes", is_flag=True, help="Do not ask before a cascade.")
@pass_context
def plugins_disable(obj, name, cascade, yes):
    """Switch plugin NAME off; its data is kept and comes back when it is enabled again."""
    from accord.core.lifecycle import disable, disable_plan

    with obj.app.app_context():
        if cascade:
            going = disable_plan(name)
            if len(going) > 1:
                click.echo(f"This disables {', '.join(going)}.")
                if not yes:
                    click.confirm("Go on?", abort=True)
        disabled = disable(name, cascade=cascade)
    click.echo(f"Disabled {', '.join(disabled)} (data kept)." if disabled else f"{name} is not enabled.")


@plugins.command("settings")
@click.argument("name")
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@pass_context
def plugins_settings(obj, name, assignments):
    """Show the settings of plugin NAME, or change them with KEY=VALUE (JSON values, or text)."""
    import json

    from accord.core.lifecycle import plugin_report, update_settings

    changes = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise click.ClickException(f"{assignment!r}: write settings as KEY=VALUE")
        try:
            changes[key] = json.loads(raw)
        except ValueError:
            changes[key] = raw
    with obj.app.app_context():
        if changes:
            values = update_settings(name, changes)
        else:
            values = {k: spec["value"] for k, spec in plugin_report(name)[0].get("settings", {}).items()}
    for key, value in values.items():
        click.echo(f"{key} = {json.dumps(value)}")


@plugins.command("upgrade")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Show the migrations and SQL, change nothing.")
@pass_context
def plugins_upgrade(obj, name, dry_run):
    """Run the pending migrations of plugin NAME (one transaction)."""
    from accord.core.lifecycle import upgrade, upgrade_preview

    with obj.app.app_context():
        if dry_run:
            preview = upgrade_preview(name)
            click.echo(f"{name}: installed {preview['from_version'] or 'never'}, available {preview['to_version']}; "
                       f"at revision {preview['current_revision'] or 'none'}.")
            if not preview["migrations"]:
                click.echo("No pending migrations.")
            for migration in preview["migrations"]:
                click.echo(f"migration {migration['revision']}: {migration['message']}")
            if preview["sql"]:
                click.echo(preview["sql"].rstrip())
            return
        applied = upgrade(name)
    click.echo(f"Upgraded {name}: applied {', '.join(applied)}." if applied else f"{name} is up to date.")


@plugins.command("uninstall")
@click.argument("name")
@click.option("--keep", "mode", flag_value="keep", help="Keep its data for a later return.")
@click.option("--export", "export_to", type=click.Path(file_okay=False), default=None,
              help="Write its data to a new folder inside this one (kept in the database unless --purge).")
@click.option("--purge", "mode", flag_value="purge", help="Export, then drop its tables, fields and files.")
@pass_context
def plugins_uninstall(obj, name, mode, export_to):
    """Remove plugin NAME from this instance: choose --keep, --export DIR or --purge."""
    from accord.core.lifecycle import uninstall

    if mode is None:
        if export_to is None:
            raise click.ClickException("choose --keep (data stays), --export DIR (data written out and kept) "
                                       "or --purge (exported, then dropped)")
        mode = "export"
    with obj.app.app_context():
        report = uninstall(name, mode, export_to)
    if report["export"]:
        click.echo(f"Exported its data to {report['export']}.")
    for dropped in report["dropped"]:
        click.echo(f"dropped: {dropped}")
    for kept in report["kept"]:
        click.echo(f"kept: {kept}")
    click.echo(f"Uninstalled {name} ({mode}).")


@plugins.command("new")
@click.argument("name")
@click.option("--path", "path", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder to create the distribution in.")
def plugins_new(name, path):
    """Scaffold a plugin distribution NAME ready to test, build and publish."""
    from accord.core.scaffold import scaffold_plugin

    folder = scaffold_plugin(name, path)
    click.echo(f"Created {folder}. Next: cd {folder} && pip install -e '.[test]' && pytest")


@main.group()
def verticals():
    """Vertical packs: industry templates (fields, types, stages, terms, rules) as data."""


@verticals.command("list")
@pass_context
def verticals_list(obj):
    """Every vertical pack found here with its state: applied (and at which version),
    available, or invalid with its first problem."""
    from pathlib import Path

    from accord.core.db import db
    from accord.core.verticals import PackInvalid, applied_versions, available_packs

    packs = available_packs()
    with obj.app.app_context():
        applied = applied_versions(db.session)
    if not packs and not applied:
        click.echo("No vertical packs found (built-in ones live in verticals/; distributions add "
                   "'accord.verticals' entry points).")
        return
    rows = []
    for name in sorted(set(packs) | set(applied)):
        pack = packs.get(name)
        state = [f"applied v{applied[name]}"] if name in applied else []
        if pack is None:
            rows.append((name, applied[name], "-", f"applied v{applied[name]} (the pack is no longer installed)"))
        elif isinstance(pack, PackInvalid):
            first = pack.problems[0]
            more = f" (+{len(pack.problems) - 1} more)" if len(pack.problems) > 1 else ""
            state.append(f"invalid: {Path(first.file).name}: {first.key}: {first.reason}{more}")
            rows.append((name, "-", "-", ", ".join(state)))
        else:
            rows.append((name, pack.version, pack.title, state[0] if state else "available"))
    echo_table(("NAME", "VERSION", "TITLE", "STATUS"), rows)


@verticals.command("show")
@click.argument("name")
@pass_context
def verticals_show(obj, name):
    """Everything vertical pack NAME declares: types, fields, terms, stages, picklists,
    views, widgets, roles, help, rules and sample data."""
    from accord.core.db import db
    from accord.core.verticals import PackInvalid, applied_versions, describe, load_pack

    try:
        pack = load_pack(name)
    except PackInvalid as exc:
        raise click.ClickException(f"vertical pack {name} is not valid: " + "; ".join(map(str, exc.problems))) from None
    with obj.app.app_context():
        applied = applied_versions(db.session).get(name)
    lines = describe(pack)
    lines.insert(1 + bool(pack.summary), f"status: applied v{applied}" if applied else "status: available")
    for line in lines:
        click.echo(line)


@verticals.command("export")
@click.argument("name")
@click.option("--to", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder to write the pack folder NAME into.")
@click.option("--version", "version", default="1.0.0", show_default=True, help="The pack's version.")
@click.option("--title", default=None, help="The pack's title.")
@pass_context
def verticals_export(obj, name, directory, version, title):
    """Write this instance's own layer (fields, types, terms, picklists, shared views,
    widgets, help, roles, rules and stages its admins added) as vertical pack NAME."""
    from accord.core.pack_export import export_local_layer

    with obj.app.app_context():
        folder = export_local_layer(name, directory, version=version, title=title)
    click.echo(f"Exported the local layer as vertical pack {name}: {folder / 'vertical.toml'}")


def _pack_or_exit(ctx, name):
    """Vertical pack NAME (a pack's name, or the path of a folder holding a vertical.toml);
    a broken one prints one line per problem on stderr and exits 1."""
    from pathlib import Path

    from accord.core.verticals import PackInvalid, load_pack, load_pack_from

    try:
        path = Path(name)
        if "/" in name or (path / "vertical.toml").is_file():
            return load_pack_from(path)
        return load_pack(name)
    except PackInvalid as exc:
        _problems_and_exit(ctx, [str(problem) for problem in exc.problems])
    except LookupError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None


def _problems_and_exit(ctx, lines, hint=None):
    for line in lines:
        click.echo(line, err=True)
    if hint:
        click.echo(hint, err=True)
    ctx.exit(1)


@verticals.command("diff")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON: changes with before and after, problems.")
@click.pass_context
def verticals_diff(ctx, name, as_json):
    """Show what applying vertical pack NAME (a name or a folder) would change, one line
    per change (+ add, ~ change, - remove, = shared); problems go to stderr, exit 1."""
    import json

    from accord.core.pack_plan import plan, problem_line

    pack = _pack_or_exit(ctx, name)
    with ctx.find_object(Context).app.app_context():
        planned = plan(pack)
    if as_json:
        click.echo(json.dumps(planned.to_json(), indent=2, default=str))
    else:
        for line in planned.lines:
            click.echo(line)
        if planned.status == "applied":
            click.echo(f"{pack.name} {pack.version} is applied; nothing to change.", err=True)
    if not planned.ok:
        _problems_and_exit(ctx, [] if as_json else [problem_line(p) for p in planned.problems + planned.conflicts])


@verticals.command("apply")
@click.argument("name")
@click.option("--force", is_flag=True, help="An upgrade that drops pack fields or types holding data: export the "
                                            "data, then drop them.")
@click.option("--export-to", "export_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for that export (default: INSTANCE/exports/verticals).")
@click.pass_context
def verticals_apply(ctx, name, force, export_dir):
    """Apply vertical pack NAME (a name or a folder), or upgrade it to this version, in one
    transaction; refused with every problem, changing nothing, when it does not fit."""
    from accord.core.changesets import PackRefused, apply, refusal_lines

    pack = _pack_or_exit(ctx, name)
    with ctx.find_object(Context).app.app_context():
        try:
            outcome = apply(pack, cli_actor(), force=force, export_dir=export_dir)
        except PackRefused as exc:
            _problems_and_exit(ctx, refusal_lines(exc), _force_hint(exc, "apply"))
    for line in outcome.lines:
        click.echo(line)
    if outcome.status == "already applied":
        click.echo(f"{pack.name} {pack.version} is already applied; nothing changed.")
        return
    if outcome.export_path:
        click.echo(f"Exported the data it dropped to {outcome.export_path}")
    click.echo(f"{outcome.status.capitalize()} {pack.name} {pack.version} (changeset {outcome.changesets[0]}).")


@verticals.command("revert")
@click.argument("name")
@click.option("--force", is_flag=True, help="Its fields or types hold data: export the data, then revert.")
@click.option("--export-to", "export_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for that export (default: INSTANCE/exports/verticals).")
@click.option("--dry-run", is_flag=True, help="Only show what the revert would undo and what holds data.")
@click.pass_context
def verticals_revert(ctx, name, force, export_dir, dry_run):
    """Undo exactly what vertical pack NAME changed (every version of it applied here),
    restoring relabelled stages and terms; refused while a pack applied later builds on it."""
    from accord.core.changesets import PackRefused, refusal_lines, revert, revert_plan
    from accord.core.pack_data import held_text

    with ctx.find_object(Context).app.app_context():
        if dry_run:
            planned = revert_plan(name)
            for line in planned.lines:
                click.echo(line)
            if planned.blockers:
                click.echo(f"blocked: revert {' then '.join(reversed(planned.blockers))} first", err=True)
            if planned.held:
                click.echo(f"holds data: {held_text(planned.held)} (needs --force)", err=True)
            return
        try:
            outcome = revert(name, cli_actor(), force=force, export_dir=export_dir)
        except PackRefused as exc:
            _problems_and_exit(ctx, refusal_lines(exc), _force_hint(exc, "revert"))
    for line in outcome.lines:
        click.echo(line)
    if outcome.export_path:
        click.echo(f"Exported the data it held to {outcome.export_path}")
    click.echo(f"Reverted {name} {outcome.version} (changeset{'s' if len(outcome.changesets) > 1 else ''} "
               f"{', '.join(map(str, outcome.changesets))}).")


def _force_hint(exc, verb):
    if any("holds data" in problem.reason for problem in exc.problems):
        return f"Nothing was changed. Run 'accord verticals {verb}' again with --force to export that data and {verb}."
    return None


@main.group()
def themes():
    """Themes: list them, choose the active one, find the file that serves a template."""


@themes.command("list")
@pass_context
def themes_list(obj):
    """Installed themes with their source, the active one marked; broken ones with their problem."""
    from accord.core.registry import current_accord
    from accord.core.themes import active_theme_name
    from accord.core.web.rendering import current_theme

    with obj.app.app_context():
        accord = current_accord()
        active = current_theme()
        chosen = active_theme_name(accord.catalog().instance_settings)
    for theme in accord.themes.values():
        click.echo(f"{theme.name:16} {theme.source:24} {theme.title:24} {'active' if theme.name == active else ''}".rstrip())
    for name, problem in sorted(accord.theme_problems.items()):
        click.echo(f"{name:16} broken: {problem}")
    if chosen != active:
        click.echo(f"warning: the chosen theme {chosen!r} is not installed, so {active} is used", err=True)


@themes.command("use")
@click.argument("name")
@pass_context
def themes_use(obj, name):
    """Make theme NAME the active one; every worker uses it from its next request."""
    from accord.core.records import write_unit
    from accord.core.registry import current_accord
    from accord.core.themes import use_theme

    with obj.app.app_context():
        accord = current_accord()
        if name in accord.theme_problems and name not in accord.themes:
            raise click.ClickException(f"theme {name!r} cannot be used: {accord.theme_problems[name]}")
        with write_unit() as session:
            use_theme(session, accord.themes, name)
    click.echo(f"Theme {name} is active.")


@themes.command("which")
@click.argument("template")
@click.option("--theme", "theme_name", default=None, help="Ask about this theme instead of the active one.")
@pass_context
def themes_which(obj, template, theme_name):
    """Print the file that serves TEMPLATE (e.g. base.html) under the active theme."""
    from accord.core.registry import current_accord
    from accord.core.web.rendering import current_theme, which_template

    with obj.app.app_context():
        installed = current_accord().themes
        theme_name = theme_name or current_theme()
        if theme_name not in installed:
            raise click.ClickException(f"there is no theme {theme_name!r}; installed: {', '.join(sorted(installed))}")
        path = which_template(theme_name, template)
    if path is None:
        raise click.ClickException(f"{template}: not found in theme {theme_name}, the applied vertical packs, "
                                   "the plugins or the core")
    click.echo(path)


@main.command("import")
@click.argument("record_type")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as-user", "email", default=None, help="Email of the user the records are created by.")
@pass_context
def import_records(obj, record_type, file, email):
    """Create RECORD_TYPE records from a CSV or JSON-lines FILE. Every row is checked
    before any is written; one bad row means nothing is imported."""
    from accord.core.transfer import import_file

    with obj.app.app_context():
        count = import_file(record_type, file, email)
    click.echo(f"Imported {count} {record_type} record(s).")


@main.command("export")
@click.argument("record_type")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--trashed", is_flag=True, help="Export the trash instead of live records.")
@click.option("--as-user", "email", default=None,
              help="Export as this user: only what their role may export, sensitive fields masked.")
@pass_context
def export_records(obj, record_type, fmt, trashed, email):
    """Write every RECORD_TYPE record to standard output."""
    from accord.core.transfer import export_records as run, user_actor

    with obj.app.app_context():
        run(record_type, fmt, sys.stdout, trashed=trashed, actor=user_actor(email, "cli") if email else None)


if __name__ == "__main__":
    main()
