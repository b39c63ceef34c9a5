"""``accord demo --vertical NAME``: the pack applied and its own sample data loaded instead
of the generic sales team; a second run keeps everything as it is; an unknown name is
refused in one line that lists the packs there are."""

from sqlalchemy import func, select


def _count(app, table_name):
    from accord.core.db import db

    with app.app_context():
        table = db.metadata.tables.get(table_name)
        if table is None:
            from accord.core.declared_types import table_for

            table = table_for(table_name)
        try:
            return db.session.execute(select(func.count()).select_from(table)).scalar_one()
        finally:
            db.session.remove()


def test_demo_applies_the_pack_and_loads_its_sample_data_once(accord, open_app):
    first = accord("demo", "--vertical", "real_estate", "--no-serve")
    assert first.exit_code == 0, first.stderr
    assert "Applied the vertical pack real_estate 1.0.0" in first.stderr
    for line in ("  29 properties", "  39 showings", "  37 transactions", "  50 contacts"):
        assert line in first.stderr.splitlines(), first.stderr
    assert " " not in first.stdout.splitlines()[-1], "the token comes last, alone"

    app = open_app()
    counts = {name: _count(app, name) for name in ("contact", "deal", "rt_property", "rt_showing", "activity")}
    assert counts["contact"] == 50 and counts["rt_property"] == 29 and counts["rt_showing"] == 39
    assert counts["deal"] == 37, "no generic sample deals beside the pack's"

    again = accord("demo", "--vertical", "real_estate", "--no-serve")
    assert again.exit_code == 0, again.stderr
    assert "real_estate is already applied" in again.stderr and "properties" not in again.stderr
    assert {name: _count(app, name) for name in counts} == counts, "nothing was written twice"

    kept = accord("verticals", "revert", "real_estate")
    assert kept.exit_code == 1 and "--force" in kept.stderr
    reverted = accord("verticals", "revert", "real_estate", "--force")
    assert reverted.exit_code == 0, reverted.stderr
    assert _count(app, "contact") == 50, "the sample records stay; only the pack's fields and types went"

    reapplied = accord("demo", "--vertical", "real_estate", "--no-serve")
    assert reapplied.exit_code == 0, reapplied.stderr
    assert "applied here before" in reapplied.stderr
    assert _count(app, "contact") == 50 and _count(app, "rt_property") == 0


def test_an_unknown_vertical_is_refused_in_one_line(accord):
    run = accord("demo", "--vertical", "dentistry", "--no-serve")
    assert run.exit_code == 1 and run.stdout == ""
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("Error: no vertical pack named dentistry; available: ")
    assert {"b2b_saas", "higher_education", "real_estate"} <= set(line.split(": ")[-1].split(", "))
