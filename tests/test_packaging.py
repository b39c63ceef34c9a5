"""The wheel of ``accord-crm``: what it ships, what it must not ship, and that it works
installed on its own (not through the editable install of this checkout).

The wheel is built from a copy of the repository (without VCS and build leftovers) so a
stale ``build/`` folder cannot leak files into it and the checkout is left untouched; the
copy keeps ``tests/``, ``bench/`` and ``instance/`` so their exclusion is really checked.
The whole test has a 60-second budget.
"""

import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from venv_helpers import fresh_venv, pip_install

REPO = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60

REQUIRED = (
    "accord/__init__.py",
    "accord/cli.py",
    "accord/testing.py",
    "accord/core/__init__.py",
    "accord/core/hookspecs.py",
    "accord/core/migrations/env.py",
    "accord/core/migrations/script.py.mako",
    "accord/core/migrations/versions/0001_core_tables.py",
    "accord/core/migrations/versions/0002_plugin_state.py",
    "accord/plugins/__init__.py",
    "accord/core/web/templates/base.html",
    "accord/core/web/static/accord.js",
    "accord/themes/default/theme.toml",
    "accord/themes/default/static/theme.css",
    "accord/themes/midnight/theme.toml",
    "accord/themes/midnight/templates/base.html",
    "accord/themes/midnight/static/theme.css",
    "accord/plugins/servicedesk/__init__.py",
    "accord/plugins/servicedesk/plugin.toml",
    "accord/plugins/servicedesk/migrations/0001_servicedesk_ticket.py",
    "accord/plugins/servicedesk/templates/servicedesk/ticket_sla.html",
)
LEFTOVERS = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".ruff_cache",
                                   ".pytest_cache", ".benchmarks", ".venv")


def run(*command, timeout, cwd=None):
    done = subprocess.run([str(c) for c in command], check=False, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``(wheel path, names in it, seconds spent)``."""
    started = time.monotonic()
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(REPO, source, ignore=LEFTOVERS)
    (source / "instance").mkdir(exist_ok=True)
    (source / "instance" / "accord.db").write_bytes(b"SQLite format 3\x00")
    (source / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (source / "bench" / "results" / "run.json").write_text("{}")
    assert (source / "tests").is_dir()
    wheels = work / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
        "-w", wheels, source, timeout=BUDGET_SECONDS)
    found = sorted(wheels.glob("accord_crm-*.whl"))
    assert len(found) == 1, found
    with zipfile.ZipFile(found[0]) as wheel:
        names = wheel.namelist()
        entry_points = next(
            wheel.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")
        )
    return {"wheel": found[0], "names": names, "entry_points": entry_points, "work": work,
            "seconds": time.monotonic() - started}


def test_wheel_contains_the_package(built):
    names = set(built["names"])
    missing = [name for name in REQUIRED if name not in names]
    assert not missing, missing


def test_wheel_ships_no_tests_instance_databases_or_benchmarks(built):
    for name in built["names"]:
        assert "tests/" not in name and "/tests" not in name, name
        assert "instance" not in name, name
        assert not name.endswith(".db"), name
        assert "bench/" not in name, name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
    assert all(name.startswith(("accord/", "accord_crm-")) for name in built["names"]), built["names"]


def test_wheel_declares_the_command_and_the_pytest_plugin(built):
    sections = {}
    current = None
    for line in built["entry_points"].splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line and current is not None:
            name, _, target = line.partition("=")
            current[name.strip()] = target.strip()
    assert sections.get("console_scripts", {}).get("accord") == "accord.cli:main", sections
    assert sections.get("pytest11", {}).get("accord") == "accord.testing", sections
    assert sections.get("accord.plugins", {}).get("servicedesk") == "accord.plugins.servicedesk", sections


def test_installed_wheel_imports_from_its_own_site_packages(built):
    started = time.monotonic()
    target = built["work"] / "venv"
    python = fresh_venv(target)
    pip_install(python, "--force-reinstall", built["wheel"], timeout=BUDGET_SECONDS)
    outside = built["work"]  # not the checkout, so the checkout cannot shadow the installed package
    done = run(python, "-c", "import accord.core, accord.cli; print(accord.core.__file__)",
               timeout=BUDGET_SECONDS, cwd=outside)
    location = Path(done.stdout.strip().splitlines()[-1]).resolve()
    assert location.is_relative_to(target.resolve()), location
    assert not location.is_relative_to(REPO), location
    assert location == (target / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
                        / "site-packages" / "accord" / "core" / "__init__.py").resolve()
    helped = run(target / "bin" / "accord", "--help", timeout=BUDGET_SECONDS, cwd=outside)
    assert "import" in helped.stdout and "tokens" in helped.stdout
    migrations = run(python, "-c", "from accord.core.migrate import MIGRATIONS; print(MIGRATIONS)",
                     timeout=BUDGET_SECONDS, cwd=outside)
    assert Path(migrations.stdout.strip()).resolve().is_relative_to(target.resolve())
    assert built["seconds"] + time.monotonic() - started < BUDGET_SECONDS
