"""Optimistic locking with ETag / If-Match, and concurrent writers on one record: a stale
version answers 412 and writes nothing; concurrent PATCHes never lose an update."""

import threading

from accord.testing import ApiClient
from api_helpers import add_field, assert_error, create, sql


def _row(app, record_id, *columns):
    return tuple(sql(app, f"SELECT {', '.join(columns)} FROM contact WHERE id = :id", id=record_id)[0])


def test_reads_and_writes_return_the_etag_of_the_version(api):
    contact = create(api, "contacts", last_name="Doe")
    etag = f'"contact-{contact["id"]}-1"'
    assert api.get(f"/contacts/{contact['id']}").headers["ETag"] == etag
    changed = api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"}, headers={"If-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] == f'"contact-{contact["id"]}-2"'
    assert changed.json["version"] == 2


def test_stale_if_match_on_patch_is_412_and_nothing_written(api, app):
    contact = create(api, "contacts", last_name="Doe")
    first_etag = api.get(f"/contacts/{contact['id']}").headers["ETag"]
    assert api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"}).status_code == 200
    stale = api.patch(f"/contacts/{contact['id']}", json={"city": "Rome", "job_title": "Boss"},
                      headers={"If-Match": first_etag})
    assert_error(stale, 412, "precondition_failed")
    assert _row(app, contact["id"], "city", "job_title", "version") == ("Oslo", None, 2)


def test_stale_if_match_on_delete_is_412_and_record_stays(api, app):
    contact = create(api, "contacts", last_name="Doe")
    etag = api.get(f"/contacts/{contact['id']}").headers["ETag"]
    api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"})
    assert_error(api.delete(f"/contacts/{contact['id']}", headers={"If-Match": etag}), 412, "precondition_failed")
    assert _row(app, contact["id"], "deleted_at", "version") == (None, 2)
    assert api.get(f"/contacts/{contact['id']}").status_code == 200


def test_current_if_match_on_delete_trashes(api):
    contact = create(api, "contacts", last_name="Doe")
    etag = api.get(f"/contacts/{contact['id']}").headers["ETag"]
    assert api.delete(f"/contacts/{contact['id']}", headers={"If-Match": etag}).status_code == 204
    assert api.get(f"/contacts/{contact['id']}").status_code == 404


def test_stale_if_match_on_restore_is_412(api, app):
    contact = create(api, "contacts", last_name="Doe")
    api.delete(f"/contacts/{contact['id']}")
    stale = f'"contact-{contact["id"]}-1"'
    assert_error(api.post(f"/contacts/{contact['id']}/restore", headers={"If-Match": stale}), 412)
    assert _row(app, contact["id"], "version")[0] == 2
    current = f'"contact-{contact["id"]}-2"'
    assert api.post(f"/contacts/{contact['id']}/restore", headers={"If-Match": current}).status_code == 200


def test_if_match_naming_another_record_is_412(api, app):
    a = create(api, "contacts", last_name="A")
    b = create(api, "contacts", last_name="B")
    other = api.get(f"/contacts/{b['id']}").headers["ETag"]
    assert_error(api.patch(f"/contacts/{a['id']}", json={"city": "Oslo"}, headers={"If-Match": other}), 412)
    assert_error(api.patch(f"/contacts/{a['id']}", json={"city": "Oslo"}, headers={"If-Match": '"garbage"'}), 412)
    org = create(api, "organizations", name="Org")
    wrong_type = f'"organization-{a["id"]}-1"'
    assert org
    assert_error(api.patch(f"/contacts/{a['id']}", json={"city": "Oslo"}, headers={"If-Match": wrong_type}), 412)
    assert _row(app, a["id"], "city", "version") == (None, 1)


def test_weak_and_star_if_match_are_accepted(api):
    contact = create(api, "contacts", last_name="Doe")
    weak = f'W/"contact-{contact["id"]}-1"'
    assert api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"}, headers={"If-Match": weak}).status_code == 200
    assert api.patch(f"/contacts/{contact['id']}", json={"city": "Rome"}, headers={"If-Match": "*"}).status_code == 200
    assert api.get(f"/contacts/{contact['id']}").json["version"] == 3


def test_patch_without_changes_keeps_the_version(api):
    contact = create(api, "contacts", last_name="Doe", city="Oslo")
    same = api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"})
    assert same.status_code == 200
    assert same.json["version"] == 1


def _run(threads):
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)


def test_concurrent_patches_of_different_fields_lose_no_update(api, app):
    contact = create(api, "contacts", last_name="Doe")
    rounds = 15
    outcomes = {"job_title": [], "city": []}
    barrier = threading.Barrier(2)

    def writer(field):
        client = ApiClient(app, api.token)
        barrier.wait()
        for i in range(rounds):
            response = client.patch(f"/contacts/{contact['id']}", json={field: f"{field}-{i}"})
            outcomes[field].append(response.status_code)

    _run([threading.Thread(target=writer, args=(f,)) for f in outcomes])
    successes = sum(code == 200 for codes in outcomes.values() for code in codes)
    assert outcomes == {"job_title": [200] * rounds, "city": [200] * rounds}, outcomes
    final = api.get(f"/contacts/{contact['id']}").json
    assert final["job_title"] == f"job_title-{rounds - 1}"
    assert final["city"] == f"city-{rounds - 1}"
    assert final["last_name"] == "Doe"
    assert final["version"] == successes + 1
    assert _row(app, contact["id"], "version")[0] == successes + 1


def test_concurrent_read_modify_write_with_if_match_loses_no_increment(api, app):
    add_field(api, "contact", name="visits", kind="integer")
    contact = create(api, "contacts", last_name="Doe", visits=0)
    workers, increments = 3, 5
    refused = []
    barrier = threading.Barrier(workers)

    def incrementer():
        client = ApiClient(app, api.token)
        barrier.wait()
        done = 0
        while done < increments:
            current = client.get(f"/contacts/{contact['id']}")
            response = client.patch(f"/contacts/{contact['id']}", json={"visits": current.json["visits"] + 1},
                                    headers={"If-Match": current.headers["ETag"]})
            if response.status_code == 412:
                refused.append(1)
                continue
            assert response.status_code == 200, response.get_json()
            done += 1

    _run([threading.Thread(target=incrementer) for _ in range(workers)])
    final = api.get(f"/contacts/{contact['id']}").json
    assert final["visits"] == workers * increments
    assert final["version"] == workers * increments + 1


def test_racing_if_match_writers_one_wins_one_gets_412(api, app):
    contact = create(api, "contacts", last_name="Doe")
    etag = api.get(f"/contacts/{contact['id']}").headers["ETag"]
    barrier = threading.Barrier(2)
    results = {}

    def writer(city):
        client = ApiClient(app, api.token)
        barrier.wait()
        results[city] = client.patch(f"/contacts/{contact['id']}", json={"city": city}, headers={"If-Match": etag})

    _run([threading.Thread(target=writer, args=(c,)) for c in ("Oslo", "Rome")])
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 412], codes
    winner = next(city for city, r in results.items() if r.status_code == 200)
    assert _row(app, contact["id"], "city", "version") == (winner, 2)


def test_concurrent_creates_all_land(api, app):
    workers, each = 4, 5
    barrier = threading.Barrier(workers)
    codes = []

    def creator(n):
        client = ApiClient(app, api.token)
        barrier.wait()
        for i in range(each):
            codes.append(client.post("/contacts", json={"last_name": f"W{n}-{i}"}).status_code)

    _run([threading.Thread(target=creator, args=(n,)) for n in range(workers)])
    assert codes == [201] * (workers * each)
    assert api.get("/contacts?limit=500").json["data"].__len__() == workers * each
