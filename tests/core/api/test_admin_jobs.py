"""``/api/v1/admin/jobs``: administrators see the queue and its failures, retry and purge."""

import pytest

import jobs_plugin
from accord.core import jobs
from accord.testing import api_client, make_user
from api_helpers import assert_error, in_app


@pytest.fixture
def app(with_plugins):
    return with_plugins(jobs_plugin)


@pytest.fixture
def admin_api(app):
    return api_client(app, make_user(app, "admin@example.com", "Ada", is_admin=True))


def test_admins_list_inspect_retry_and_purge_jobs(app, admin_api):
    failed = in_app(app, jobs.enqueue, "test.always_fails", reason="no route to host")
    done = in_app(app, jobs.enqueue, "test.create_contact", last_name="Fine")
    jobs.run_due(app)
    listed = admin_api.get("/admin/jobs")
    assert listed.status_code == 200
    assert listed.json["counts"] == {"queued": 0, "running": 0, "succeeded": 1, "failed": 1}
    assert [j["id"] for j in listed.json["data"]] == [done, failed]
    only_failed = admin_api.get("/admin/jobs?state=failed").json["data"]
    assert [j["id"] for j in only_failed] == [failed] and "no route to host" in only_failed[0]["last_error"]
    assert admin_api.get(f"/admin/jobs/{failed}").json["attempts"] == 2
    retried = admin_api.post(f"/admin/jobs/{failed}/retry")
    assert retried.status_code == 200 and retried.json["state"] == "queued" and retried.json["attempts"] == 0
    assert_error(admin_api.post(f"/admin/jobs/{done}/retry"), 409, "conflict")
    assert admin_api.post("/admin/jobs/purge", json={"older_than_days": 0}).json == {"purged": 1}
    assert [j["id"] for j in admin_api.get("/admin/jobs").json["data"]] == [failed]


def test_bad_requests_and_non_admins_are_refused(app, admin_api):
    assert_error(admin_api.get("/admin/jobs?state=lost"), 400, fields=["state"])
    assert_error(admin_api.get("/admin/jobs?limit=0"), 400, fields=["limit"])
    assert_error(admin_api.get("/admin/jobs/999"), 404, "not_found")
    assert_error(admin_api.post("/admin/jobs/purge", json={"states": ["queued"]}), 400, fields=["state"])
    assert_error(admin_api.post("/admin/jobs/purge", json={"older_than_days": -1}), 400, fields=["older_than_days"])
    seller = api_client(app, make_user(app, "sam@example.com", "Sam"))
    assert_error(seller.get("/admin/jobs"), 403, "forbidden")
