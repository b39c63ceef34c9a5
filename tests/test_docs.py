"""The examples in docs/ run as written."""

import importlib.util
import re
from pathlib import Path

DOCS = Path(__file__).parents[1] / "docs"


def _python_blocks(name):
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.S)


def _module_from(source, tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rules_plugin_in_the_extending_guide_works(with_plugins, tmp_path, caplog):
    from accord.testing import api_client, make_user

    rules = _module_from(_python_blocks("extending.md")[0], tmp_path, "my_crm_rules")
    app = with_plugins(rules)
    api = api_client(app, make_user(app, "admin@example.com", "Admin", is_admin=True))

    refused = api.post("/organizations", json={"name": "Acme"})
    assert refused.status_code == 422 and "country" in refused.json["error"]["fields"]
    organization = api.post("/organizations", json={"name": "Acme", "country": "Norway"})
    assert organization.status_code == 201

    deal = api.post("/deals", json={"name": "Pilot"}).json
    api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"})
    vetoed = api.patch(f"/deals/{deal['id']}", json={"stage": "proposal", "amount": None})
    assert vetoed.status_code == 422
    assert vetoed.json["error"]["fields"]["stage"] == ["Set an amount before sending a proposal."]
    moved = api.patch(f"/deals/{deal['id']}", json={"stage": "proposal", "amount": "1200"})
    assert moved.status_code == 200 and moved.json["stage"] == "proposal"
