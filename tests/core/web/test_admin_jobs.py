"""The background jobs page (``/admin/jobs``): counts per state, the newest jobs with their
errors, retry one or every failed job, remove finished ones; administrators only."""

import re

import pytest

import jobs_plugin
from accord.core import jobs
from api_helpers import in_app
from web_helpers import Browser, sign_in


@pytest.fixture
def app(with_plugins):
    return with_plugins(jobs_plugin)


@pytest.fixture
def failed_and_done(app):
    failed = in_app(app, jobs.enqueue, "test.always_fails", reason="mailbox <full> & gone")
    done = in_app(app, jobs.enqueue, "test.create_contact", last_name="Done")
    jobs.run_due(app)
    return failed, done


def text_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_data(as_text=True)


def count_link(html, state):
    return re.search(rf'id="job-count-{state}"[^>]*>\s*\w+ <span class="count">(\d+)</span>', html).group(1)


def test_admins_see_counts_rows_and_escaped_errors(app, failed_and_done):
    failed, done = failed_and_done
    browser = sign_in(app)[1]
    html = text_of(browser.get("/admin/jobs"))
    assert (count_link(html, "failed"), count_link(html, "succeeded"), count_link(html, "queued")) == ("1", "1", "0")
    assert f'id="job-{failed}" data-state="failed"' in html and f'id="job-{done}" data-state="succeeded"' in html
    assert "ValueError: mailbox &lt;full&gt; &amp; gone" in html and "<full>" not in html
    only_failed = text_of(browser.get("/admin/jobs?state=failed"))
    assert f'id="job-{failed}"' in only_failed and f'id="job-{done}"' not in only_failed
    assert "failed job needs a look" in text_of(browser.get("/admin"))


def test_retry_one_then_all_failed_and_purge(app, failed_and_done):
    failed, done = failed_and_done
    browser = sign_in(app)[1]
    answer = browser.post("/admin/jobs/retry", data={"job_id": str(failed)})
    assert answer.status_code == 302
    page = text_of(browser.get(answer.headers["Location"]))
    assert "Queued 1 failed job again" in page and f'id="job-{failed}" data-state="queued"' in page
    jobs.run_due(app)
    assert text_of(browser.get("/admin/jobs")).count('data-state="failed"') == 1
    browser.post("/admin/jobs/retry", data={})
    assert in_app(app, jobs.counts)["queued"] == 1
    refused = browser.post("/admin/jobs/purge", data={"older_than_days": "soon"})
    assert "whole days" in text_of(browser.get(refused.headers["Location"]))
    browser.post("/admin/jobs/purge", data={"older_than_days": "0", "state": ["succeeded"]})
    assert in_app(app, jobs.counts) == {"queued": 1, "running": 0, "succeeded": 0, "failed": 0}


def test_the_page_is_for_administrators_and_its_forms_need_the_csrf_token(app, failed_and_done):
    sign_in(app, "sam@example.com", "Sam", is_admin=False)
    seller = Browser(app, "sam@example.com")
    assert seller.get("/admin/jobs").status_code == 403
    assert seller.post("/admin/jobs/retry", data={}).status_code == 403
    admin = sign_in(app)[1]
    forged = admin.client.post("/admin/jobs/retry", data={"job_id": str(failed_and_done[0])})
    assert forged.status_code in (400, 403)
    assert in_app(app, jobs.counts)["failed"] == 1
