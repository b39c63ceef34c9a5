"""Finding installed plugins and loading them.

Plugins are entry points in the group ``accord.plugins``. Their manifests are read first,
without running any of their code; stevedore then loads the compatible ones in one named,
ordered pass, and every failure is kept against the plugin (shown by ``accord plugins
list`` and the admin API) instead of stopping the app.
"""

import logging
import warnings
from dataclasses import dataclass, field as dc_field
from importlib.metadata import entry_points

from marshmallow import ValidationError
from packaging.version import Version
from stevedore import NamedExtensionManager

from .. import __version__
from . import hookspecs
from .manifest import ManifestError, plugin_folder, read_manifest
from .plugin_settings import check_setting

ENTRY_POINT_GROUP = "accord.plugins"
log = logging.getLogger("accord")


@dataclass
class InstalledPlugin:
    """One plugin found in this Python environment."""

    name: str
    target: str
    distribution: str | None
    manifest: object = None
    problem: str | None = None
    plugin: object = None
    warnings: list = dc_field(default_factory=list)

    @property
    def broken(self):
        return self.problem is not None

    def mark_broken(self, problem):
        if self.problem is None:
            self.problem = problem
            log.error("plugin %r is quarantined: %s", self.name, problem)


def discover():
    """Every plugin installed here, by name, with its manifest read and checked (no plugin
    code runs). Problems are recorded on the plugin, never raised."""
    found = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else None
        if entry_point.name in found:
            first = found[entry_point.name]
            if first.target != entry_point.value:
                first.mark_broken(f"the plugin name {entry_point.name!r} is claimed by both "
                                  f"{first.distribution} ({first.target}) and {distribution} ({entry_point.value})")
            continue
        installed = InstalledPlugin(entry_point.name, entry_point.value, distribution)
        found[entry_point.name] = installed
        try:
            installed.manifest = read_manifest(plugin_folder(entry_point.module), expected_name=entry_point.name)
        except (ManifestError, ImportError, ValueError) as exc:
            installed.mark_broken(str(exc))
            continue
        dist_version = entry_point.dist.version if entry_point.dist else None
        if dist_version and _differs(dist_version, installed.manifest.version):
            installed.warnings.append(f"plugin.toml says version {installed.manifest.version} but the "
                                      f"{distribution} distribution is {dist_version}; keep them equal")
        problem = compatibility_problem(installed.manifest) or default_problem(installed.manifest)
        if problem:
            installed.mark_broken(problem)
    return found


def _differs(dist_version, manifest_version):
    try:
        return Version(dist_version) != manifest_version
    except ValueError:
        return True


def compatibility_problem(manifest, core_version=__version__, contract=None):
    """Why this core cannot run the plugin, or ``None``."""
    contract = hookspecs.HOOK_CONTRACT_VERSION if contract is None else contract
    if manifest.accord and not manifest.accord.contains(Version(core_version), prereleases=True):
        return (f"needs accord {manifest.accord}, but this is accord {core_version}; "
                f"install a matching version of accord or of the plugin")
    if manifest.hook_contract > contract:
        return (f"was written for hook contract {manifest.hook_contract}, but this accord {core_version} offers "
                f"contract {contract}; upgrade accord")
    if manifest.hook_contract < hookspecs.OLDEST_SUPPORTED_CONTRACT:
        return (f"was written for hook contract {manifest.hook_contract}, which this accord no longer supports "
                f"(oldest supported: {hookspecs.OLDEST_SUPPORTED_CONTRACT}); upgrade the plugin")
    return None


def default_problem(manifest):
    """Why a setting's declared default does not fit its own kind, or ``None``."""
    for setting in manifest.settings.values():
        if setting.default is None:
            continue
        try:
            check_setting(setting, setting.default)
        except ValidationError as exc:
            return f"plugin.toml: settings.{setting.name}.default: {' '.join(map(str, exc.messages))}"
    return None


def load(installed):
    """Import every healthy plugin in ``installed`` (name order) through stevedore; a plugin
    whose import raises is quarantined with its error."""
    wanted = sorted(name for name, plugin in installed.items() if not plugin.broken)
    if not wanted:
        return

    # stevedore keeps the entry points it saw per group for the life of the process; an app
    # made after a "pip install" must see the plugins installed now.
    NamedExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)

    def failed(manager, entry_point, exc):
        installed[entry_point.name].mark_broken(f"failed to import {entry_point.value}: {type(exc).__name__}: {exc}")

    manager = NamedExtensionManager(
        ENTRY_POINT_GROUP, names=wanted, name_order=True, invoke_on_load=False,
        on_load_failure_callback=failed, on_missing_entrypoints_callback=lambda names: None,
    )
    for extension in manager:
        plugin = installed[extension.name]
        if plugin.broken:
            continue
        plugin.plugin = extension.plugin
        warn_deprecated_hooks(plugin)


def warn_deprecated_hooks(installed):
    """A plugin written for an older hook contract keeps working through the deprecation
    window; each deprecated hook it implements is named in a warning."""
    for hook_name, (since, advice) in hookspecs.DEPRECATED_HOOKS.items():
        if installed.manifest.hook_contract < since and hasattr(installed.plugin, hook_name):
            message = (f"plugin {installed.name!r} implements {hook_name}, deprecated since hook contract "
                       f"{since}: {advice}")
            installed.warnings.append(message)
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            log.warning(message)
