"""``plugin.toml``: read before any plugin code runs, every mistake named by file, key and
reason; and the compatibility rules for core versions and the hook contract."""

import pytest
from accord.core import discovery, hookspecs
from accord.core.discovery import InstalledPlugin, compatibility_problem, warn_deprecated_hooks
from accord.core.manifest import ManifestError, parse_manifest, read_manifest
from installed_helpers import INSTALLED

GOOD = {"name": "helpdesk", "version": "1.2.0"}


def parse(**changes):
    return parse_manifest({**GOOD, **changes}, "helpdesk/plugin.toml")


def test_a_full_manifest_is_read_without_importing_the_plugin():
    manifest = read_manifest(INSTALLED / "fixture_tickets", expected_name="fixture_tickets")
    assert str(manifest.version) == "1.0.0"
    assert manifest.settings["first_response_hours"].default == 4
    assert manifest.permissions == {"fixture_tickets.ticket.assign": "Assign tickets to agents"}
    assert manifest.migrations == INSTALLED / "fixture_tickets" / "migrations"
    assert manifest.templates == INSTALLED / "fixture_tickets" / "templates"
    assert manifest.fields[0]["name"] == "support_tier"


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, "colour: unknown key"),
    ({"name": "Help Desk"}, "name: lower-case letters"),
    ({"name": "api"}, "name: 'api' is reserved by Accord"),
    ({"version": "one"}, "version: 'one' is not a version number"),
    ({"accord": "bigger than 1"}, "accord: 'bigger than 1' is not a version specifier"),
    ({"requires": {"helpdesk": ""}}, "requires.helpdesk: a plugin cannot require itself"),
    ({"requires": {"other": "~~1"}}, "requires.other: '~~1' is not a version specifier"),
    ({"permissions": {"tickets.assign": "x"}}, "permissions.tickets.assign: must start with 'helpdesk.'"),
    ({"settings": {"hours": {"kind": "clock"}}}, "settings.hours.kind: must be one of"),
    ({"settings": {"hours": {"kind": "integer", "step": 1}}}, "settings.hours.step: unknown key"),
    ({"settings": {"tier": {"kind": "choice"}}}, "settings.tier.choices: a choice setting needs"),
    ({"fields": [{"record_type": "contact", "name": "x"}]}, "fields[0].kind: required"),
    ({"hook_contract": 0}, "hook_contract: must be a whole number from 1"),
    ({"migrations": "../elsewhere"}, "migrations: must be a folder inside the plugin's package"),
])
def test_mistakes_are_named_by_file_key_and_reason(changes, message):
    with pytest.raises(ManifestError) as caught:
        parse(**changes)
    assert str(caught.value).startswith("helpdesk/plugin.toml: ")
    assert message in str(caught.value)


def test_the_name_must_match_the_entry_point(tmp_path):
    (tmp_path / "plugin.toml").write_text('name = "helpdesk"\nversion = "1.0"\n')
    with pytest.raises(ManifestError, match="is 'helpdesk' but the entry point is named 'desk'"):
        read_manifest(tmp_path, expected_name="desk")
    (tmp_path / "plugin.toml").write_text('name = "helpdesk"\nversion = ')
    with pytest.raises(ManifestError, match="not valid TOML"):
        read_manifest(tmp_path)
    with pytest.raises(ManifestError, match="missing; every plugin needs a plugin.toml"):
        read_manifest(tmp_path / "nowhere")


def test_a_default_that_does_not_fit_its_setting_is_a_problem():
    assert discovery.default_problem(parse(settings={"hours": {"kind": "integer", "default": 4}})) is None
    problem = discovery.default_problem(parse(settings={"hours": {"kind": "integer", "default": "soon"}}))
    assert problem.startswith("plugin.toml: settings.hours.default: ") and "integer" in problem


def test_core_version_and_hook_contract_compatibility():
    assert compatibility_problem(parse(accord=">=0.1,<1"), core_version="0.1.0") is None
    assert "needs accord >=2.0, but this is accord 0.1.0" in compatibility_problem(parse(accord=">=2.0"), "0.1.0")
    assert "written for hook contract 3" in compatibility_problem(parse(hook_contract=3), "0.1.0", contract=2)


def test_an_older_contract_keeps_working_with_a_warning_naming_each_deprecated_hook(monkeypatch):
    monkeypatch.setattr(hookspecs, "HOOK_CONTRACT_VERSION", 2)
    monkeypatch.setattr(hookspecs, "DEPRECATED_HOOKS", {
        "accord_navigation": (2, "return navigation from accord_menu instead"),
        "accord_help_topics": (2, "unused here"),
    })

    class OldPlugin:
        def accord_navigation(self, app):
            return []

    installed = InstalledPlugin("helpdesk", "helpdesk", None, manifest=parse(hook_contract=1), plugin=OldPlugin())
    assert compatibility_problem(installed.manifest, "0.1.0") is None
    with pytest.warns(DeprecationWarning, match="plugin 'helpdesk' implements accord_navigation, deprecated since "
                                                "hook contract 2: return navigation from accord_menu instead"):
        warn_deprecated_hooks(installed)
    assert len(installed.warnings) == 1
    monkeypatch.setattr(hookspecs, "OLDEST_SUPPORTED_CONTRACT", 2)
    assert "no longer supports" in discovery.compatibility_problem(installed.manifest, "0.1.0")
