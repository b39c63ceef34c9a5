"""``accord jobs list|retry|purge|run`` on an instance."""

import pytest
from cli_helpers import run_accord


@pytest.fixture
def accord(tmp_path):
    instance = tmp_path / "instance"

    def run(*args):
        return run_accord(instance, *args, plugins=("jobs_plugin",))

    assert run("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse").exit_code == 0
    return run


def queue(run, name, **arguments):
    from accord.core import jobs

    app = run("jobs", "list").app
    with app.app_context():
        return jobs.enqueue(name, **arguments)


def test_list_run_retry_and_purge(accord):
    failing = queue(accord, "test.always_fails", reason="smtp refused")
    queue(accord, "test.create_contact", last_name="Cli")
    listed = accord("jobs", "list")
    assert listed.exit_code == 0 and "queued 2" in listed.stdout
    ran = accord("jobs", "run")
    assert ran.exit_code == 0 and "Ran 3 job attempt(s)." in ran.stdout
    failed = accord("jobs", "list", "--state", "failed").stdout
    assert f"{failing}  failed" in failed and "error: ValueError: smtp refused" in failed
    assert "Queued 1 job(s) again." in accord("jobs", "retry", "--all-failed").stdout
    assert "queued 1" in accord("jobs", "list").stdout
    assert "Purged 1 job(s)." in accord("jobs", "purge", "--older-than-days", "0").stdout


def test_mistakes_are_one_line_errors(accord):
    missing = accord("jobs", "retry")
    assert missing.exit_code == 1 and missing.stderr.startswith("Error: name the jobs to retry")
    unknown = accord("jobs", "retry", "12345")
    assert unknown.exit_code == 1 and "Job 12345 does not exist." in unknown.stderr
    assert "Traceback" not in unknown.output
