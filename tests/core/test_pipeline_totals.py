"""The pipeline totals: every write through the service layer keeps them equal to a fresh
count of the records, whatever door it came in by, concurrently too; a rolled-back write
leaves them alone; ``accord db upgrade`` counts a database that has none yet."""

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from accord.core import pipeline_totals
from accord.core.db import db
from accord.core.errors import RecordInvalid
from accord.core.migrate import upgrade
from accord.core.records import SYSTEM, write_unit
from accord.core.registry import current_accord
from accord.testing import ApiClient
from api_helpers import create, in_app, recount, sql


def snapshot(app):
    """The stored totals that hold records, as comparable tuples."""
    rows = sql(app, "SELECT record_type, pipeline, stage, currency, close_month, closed_month, records, "
                    "amount_units, amount_micros FROM pipeline_total WHERE records <> 0")
    return sorted(tuple(row) for row in rows)


def assert_counted_afresh(app):
    """The totals as kept equal the totals counted afresh from the records."""
    kept = snapshot(app)
    for type_key in ("deal", "ticket"):
        if in_app(app, lambda key=type_key: current_accord().catalog().type(key)) is not None:
            recount(app, type_key)
    assert kept == snapshot(app)
    return kept


def month(offset):
    today = datetime.now(timezone.utc).date().replace(day=15)
    return (today + timedelta(days=31 * offset)).isoformat()


def test_creates_moves_edits_trash_and_restore_keep_the_totals_exact(api, app):
    lead = create(api, "deals", name="Lead", amount="0.1", currency="EUR", expected_close_date=month(0))
    create(api, "deals", name="Lead 2", amount="0.2", currency="EUR", expected_close_date=month(0))
    create(api, "deals", name="Lead 3", amount="12345678.987654", currency="USD", expected_close_date=month(1))
    create(api, "deals", name="No date", amount="-3.5", currency="EUR")
    won = create(api, "deals", name="Won", amount="500", currency="EUR", expected_close_date=month(2))
    for stage in ("qualified", "proposal", "won"):
        assert api.patch(f"/deals/{won['id']}", json={"stage": stage, "close_reason": "price"}).status_code == 200
    lost = create(api, "deals", name="Lost", amount="70", currency="GBP")
    assert api.patch(f"/deals/{lost['id']}", json={"stage": "lost", "close_reason": "competitor"}).status_code == 200
    assert api.patch(f"/deals/{lead['id']}", json={"amount": "0.4", "currency": "USD",
                                                   "expected_close_date": month(3)}).status_code == 200
    assert api.patch(f"/deals/{lead['id']}", json={"name": "Renamed only"}).status_code == 200
    trashed = create(api, "deals", name="Trashed", amount="99", currency="EUR")
    assert api.delete(f"/deals/{trashed['id']}").status_code == 204
    restored = create(api, "deals", name="Restored", amount="5", currency="EUR")
    assert api.delete(f"/deals/{restored['id']}").status_code == 204
    assert api.post(f"/deals/{restored['id']}/restore").status_code == 200

    kept = assert_counted_afresh(app)
    lead_eur = [row for row in kept if row[2] == "lead" and row[3] == "EUR" and row[4] == month(0)[:7]]
    assert lead_eur == [("deal", "sales", "lead", "EUR", month(0)[:7], "", 1, 0, 200000)]
    closed = {row[2]: row for row in kept if row[5]}
    assert closed["won"][5] == closed["lost"][5] == datetime.now(timezone.utc).strftime("%Y-%m")
    assert [row for row in kept if row[3] == "EUR" and row[4] == ""] == [
        ("deal", "sales", "lead", "EUR", "", "", 2, 5 - 3, -500000)]


def test_totals_read_back_as_exact_amounts(api, app):
    for amount in ("0.1", "0.2", "0.3"):
        create(api, "deals", name=f"Deal {amount}", amount=amount, currency="EUR")

    def read():
        return pipeline_totals.totals(db.session, current_accord().catalog().type("deal"), "sales",
                                      ("stage", "currency"))

    assert in_app(app, read) == [("lead", "EUR", 3, Decimal("0.600000"))]


def test_a_write_that_rolls_back_leaves_the_totals_alone(api, app):
    create(api, "deals", name="Kept", amount="10", currency="EUR")
    before = snapshot(app)

    def import_with_a_bad_row():
        records = current_accord().records
        with pytest.raises(RecordInvalid):
            records.create_many("deal", [{"name": "Fine", "amount": "1"}, {"name": "Fine too", "amount": "2"},
                                         {"amount": "3"}], SYSTEM)

    in_app(app, import_with_a_bad_row)
    assert snapshot(app) == before
    assert create(api, "deals", name="Next", amount="1", currency="EUR")["id"]
    assert snapshot(app) != before
    assert_counted_afresh(app)


def test_concurrent_writers_in_one_bucket_lose_nothing(api, app):
    workers, each = 4, 8
    barrier = threading.Barrier(workers)
    failures = []

    def writer(number):
        client = ApiClient(app, api.token)
        barrier.wait()
        for i in range(each):
            response = client.post("/deals", json={"name": f"W{number}-{i}", "amount": "1.5", "currency": "EUR"})
            if response.status_code != 201:
                failures.append(response.get_data(as_text=True))
                continue
            if i % 2:
                moved = client.patch(f"/deals/{response.json['id']}", json={"stage": "qualified"})
                if moved.status_code != 200:
                    failures.append(moved.get_data(as_text=True))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    kept = assert_counted_afresh(app)
    assert {row[2]: row[6:] for row in kept} == {"lead": (16, 16, 8_000_000), "qualified": (16, 16, 8_000_000)}


def test_upgrade_counts_a_database_that_has_no_totals_yet(api, app):
    create(api, "deals", name="Before the totals", amount="42", currency="EUR")
    counted = snapshot(app)
    sql(app, "DELETE FROM pipeline_total")
    assert snapshot(app) == []
    upgrade(app)
    assert snapshot(app) == counted
    sql(app, "UPDATE deal SET amount = 43")
    upgrade(app)
    assert snapshot(app) == counted, "types that have totals are not counted again on every upgrade"


def test_rows_written_around_the_service_layer_are_counted_by_rebuild(api, app):
    deal = create(api, "deals", name="Backdated", amount="8", currency="EUR")
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "lost", "close_reason": "competitor"}).status_code == 200
    sql(app, "UPDATE deal SET closed_at = :at WHERE id = :id",
        at=datetime(2020, 2, 10, 23, 30, tzinfo=timezone.utc), id=deal["id"])

    def rebuild():
        with write_unit() as session:
            pipeline_totals.rebuild(session, current_accord().catalog().type("deal"))

    in_app(app, rebuild)
    assert [row[5] for row in snapshot(app)] == ["2020-02"]


def test_plugin_types_with_a_pipeline_are_kept_and_purged_with_the_plugin(with_enabled_plugins):
    app = with_enabled_plugins("servicedesk")
    from accord.testing import api_client, make_user

    admin = make_user(app, "desk@example.com", "Desk", is_admin=True)
    api = api_client(app, admin)
    ticket = create(api, "tickets", subject="Printer on fire")
    assert api.patch(f"/tickets/{ticket['id']}", json={"stage": "open"}).status_code == 200
    kept = assert_counted_afresh(app)
    assert [(row[0], row[2], row[6]) for row in kept] == [("ticket", "open", 1)]

    def purge():
        from accord.core.lifecycle import disable, uninstall

        disable("servicedesk")
        uninstall("servicedesk", "purge")

    in_app(app, purge)
    assert snapshot(app) == []
