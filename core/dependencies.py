"""Plugin dependencies from the manifests' ``requires``: what enabling a plugin switches on
and in which order, what disabling one takes with it, and the one order (dependencies
first, then by name) used for hooks, templates and migrations alike."""

from .errors import Conflict


class DependencyError(Conflict):
    """A plugin cannot be switched on or off as asked; the message names who and why."""


def plan_enable(name, installed, enabled):
    """The plugins to switch on, dependencies first, so that ``name`` runs; raises
    :class:`DependencyError` naming a missing, broken or incompatible plugin or a cycle."""
    plan = []

    def visit(current, path):
        if current in path:
            cycle = " -> ".join(path[path.index(current):] + [current])
            raise DependencyError(f"dependency cycle: {cycle}")
        plugin = installed.get(current)
        if plugin is None:
            wanted_by = f" (required by {path[-1]})" if path else ""
            raise DependencyError(f"plugin {current!r}{wanted_by} is not installed")
        if plugin.broken:
            wanted_by = f", required by {path[-1]}," if path else ""
            raise DependencyError(f"plugin {current!r}{wanted_by} is broken: {plugin.problem}")
        for required, spec in sorted(plugin.manifest.requires.items()):
            other = installed.get(required)
            if other is not None and other.manifest is not None and not spec.contains(other.manifest.version, prereleases=True):
                raise DependencyError(f"plugin {current!r} requires {required} {spec}, "
                                      f"but {required} {other.manifest.version} is installed")
            visit(required, path + [current])
        if current not in enabled and current not in plan:
            plan.append(current)

    visit(name, [])
    return plan


def plan_disable(name, installed, enabled):
    """The enabled plugins that go when ``name`` goes: those requiring it (directly or not),
    dependents first, then ``name`` itself."""
    going = [name]
    changed = True
    while changed:
        changed = False
        for other in sorted(enabled):
            if other in going:
                continue
            manifest = installed[other].manifest if other in installed else None
            if manifest and any(required in going for required in manifest.requires):
                going.append(other)
                changed = True
    return list(reversed(ordered(going, installed)))


def ordered(names, installed):
    """``names`` with every plugin after what it requires, ties broken by name."""
    names = set(names)
    result = []
    placed = set()

    def place(name, path):
        if name in placed or name in path:
            return
        manifest = installed[name].manifest if name in installed else None
        for required in sorted(manifest.requires if manifest else ()):
            if required in names:
                place(required, path | {name})
        placed.add(name)
        result.append(name)

    for name in sorted(names):
        place(name, frozenset())
    return result
