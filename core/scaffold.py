"""``accord plugins new NAME``: write a plugin distribution that builds, installs and passes
its own tests, so a plugin author starts from working code rather than a blank page.

The files come from ``scaffold_template/`` beside this module: real files with ``.tmpl``
appended, filled in with :class:`string.Template` (``$name``, ``$package``, ...). The
upper-case words in their paths are placeholders too (``PACKAGE``, ``NAME``, ``TESTS``),
so that Accord's own wheel does not look as if it shipped a ``tests/`` folder.
"""

from pathlib import Path
from string import Template

from .. import __version__
from .hookspecs import HOOK_CONTRACT_VERSION
from .manifest import PLUGIN_NAME

TEMPLATE = Path(__file__).parent / "scaffold_template"
SUFFIX = ".tmpl"


class ScaffoldError(ValueError):
    """The plugin cannot be created as asked; the message says why in one line."""


def scaffold_plugin(name, path="."):
    """Create ``<path>/accord-plugin-<name>/`` (underscores as dashes) and return it.

    :param name: the plugin's name, as in its manifest and entry point.
    :param path: the folder to create the distribution in (made if missing).
    :raises ScaffoldError: for a name the manifest would refuse, or a target folder that
        already exists with something in it.
    """
    if not isinstance(name, str) or not PLUGIN_NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a plugin name: use lower-case letters, digits and underscores, "
                            f"starting with a letter, at most 40 characters (e.g. 'service_desk')")
    values = placeholders(name)
    folder = Path(path) / values["distribution"]
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ScaffoldError(f"{folder} already exists and is not empty; remove it or choose another --path")
    files = {target_path(source, values): Template(source.read_text(encoding="utf-8")).substitute(values)
             for source in sorted(TEMPLATE.rglob(f"*{SUFFIX}"))}
    for relative, text in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


def placeholders(name):
    """What the templates' ``$placeholders`` stand for, for plugin ``name``."""
    words = name.split("_")
    major, minor = __version__.split(".")[:2]
    return {
        "name": name,
        "package": f"accord_plugin_{name}",
        "distribution": f"accord-plugin-{name.replace('_', '-')}",
        "title": " ".join(words).capitalize(),
        "model": "".join(word.capitalize() for word in words) + "Item",
        "url_prefix": "/" + name.replace("_", "-"),
        "accord": f">={major}.{minor}",
        "hook_contract": str(HOOK_CONTRACT_VERSION),
        # Alembic keeps revision ids in a 32-character column; unique within the plugin is enough.
        "revision": f"{name[:27]}_0001",
    }


def target_path(source, values):
    """Where the template file ``source`` goes inside the distribution."""
    words = {"PACKAGE": values["package"], "NAME": values["name"], "TESTS": "tests"}
    parts = list(source.relative_to(TEMPLATE).parts)
    parts[-1] = parts[-1].removesuffix(SUFFIX)
    for placeholder, value in words.items():
        parts = [part.replace(placeholder, value) for part in parts]
    return Path(*parts)
