"""The hook reference in the plugin guide, generated from :mod:`accord.core.hookspecs`.

The hookspec docstrings are the one place a hook is documented; this module renders them
as Markdown and writes them between two marker lines of a Markdown file, so the guide
cannot drift from the contract (a test compares the two). Run it after changing a hook::

    python -m accord.core.hookdoc docs/plugins.md

Only the reST a hookspec needs is understood: paragraphs, ``::`` literal blocks, inline
literals, roles such as :class:`~accord.core.records.Record`, and a closing list of
``:param name:`` fields.
"""

import argparse
import inspect
import re
import textwrap
from pathlib import Path

from . import hookspecs

START = "<!-- hook-reference:start -->"
END = "<!-- hook-reference:end -->"

PARAM = re.compile(r":param\s+(?:\S+\s+)?(\w+):\s*(.*)")
OTHER_FIELD = re.compile(r":\w+(?:\s+\S+)*:(?:\s|$)")
# A role (:class:`~a.b.C`, :func:`x`, :mod:`Title <a.b>`) or an inline literal (``x``).
INLINE = re.compile(r":[\w-]+(?::[\w-]+)?:`(?P<short>~?)(?P<target>[^`]+)`|``(?P<literal>.+?)``")


def hook_functions():
    """The hookspecs in reference order: registration hooks, then event hooks."""
    return [getattr(hookspecs, name) for name in hookspecs.REGISTRATION_HOOKS + hookspecs.EVENT_HOOKS]


def split_docstring(function):
    """``(prose, {param: description})`` from a function's docstring.

    The ``:param:`` fields close the docstring (as in every hookspec): lines after the
    first one belong to a field, continuation lines joined to it. Any other field raises,
    so a new kind of field is noticed here rather than rendered as a parameter.
    """
    lines = (inspect.getdoc(function) or "").splitlines()
    first = next((i for i, line in enumerate(lines) if PARAM.match(line)), len(lines))
    params, current = {}, None
    for line in lines[first:]:
        if match := PARAM.match(line):
            current = match[1]
            params[current] = match[2].strip()
        elif OTHER_FIELD.match(line):
            raise ValueError(f"{function.__name__}: only :param: fields are supported, not {line.strip()!r}")
        elif line.strip():
            params[current] = f"{params[current]} {line.strip()}".strip()
    return "\n".join(lines[:first]).strip(), params


def _inline(text):
    """Roles and ``double backticks`` as Markdown code spans."""
    def code(match):
        if match["literal"] is not None:
            content = match["literal"]
        else:
            target = match["target"].strip()
            titled = re.fullmatch(r"(.+?)\s*<(.+)>", target)
            content = titled[1] if titled else target.rsplit(".", 1)[-1] if match["short"] else target
        return f"`` {content} ``" if "`" in content else f"`{content}`"
    return INLINE.sub(code, text)


def _without_literal_marker(line):
    """A paragraph's last line without its ``::`` (reST: ``x::`` shows ``x:``, ``x ::`` shows ``x``)."""
    line = line.rstrip()
    return line[:-2].rstrip() if line == "::" or line.endswith(" ::") else line[:-1]


def to_markdown(prose):
    """reST prose as Markdown: paragraphs kept, ``::`` blocks fenced as Python."""
    lines, blocks, i = prose.splitlines(), [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].strip():
            i += 1
        paragraph = lines[start:i]
        literal = paragraph[-1].rstrip().endswith("::")
        if literal:
            paragraph[-1] = _without_literal_marker(paragraph[-1])
        text = "\n".join(_inline(line) for line in paragraph).strip()
        if text:
            blocks.append(text)
        if literal:
            start = i
            while i < len(lines) and (not lines[i].strip() or lines[i][:1].isspace()):
                i += 1
            code = textwrap.dedent("\n".join(lines[start:i])).strip("\n")
            if code:
                blocks.append(f"```python\n{code}\n```")
    return "\n\n".join(blocks)


def render_hook(function):
    """One hook's Markdown section: heading with its arguments, prose, parameter list."""
    prose, params = split_docstring(function)
    arguments = ", ".join(inspect.signature(function).parameters)
    parts = [f"### {function.__name__}({arguments})", to_markdown(prose)]
    if params:
        parts.append("\n".join(f"- `{name}`: {_inline(text)}" for name, text in params.items()))
    return "\n\n".join(part for part in parts if part)


def hook_reference():
    """The whole hook reference as Markdown, one section per hook."""
    return "\n\n".join(render_hook(function) for function in hook_functions())


def _around_markers(text):
    """``(head, between, tail)`` of a Markdown text split at the marker lines."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or starts[0] > ends[0]:
        raise ValueError(f"expected one {START} line and, after it, one {END} line")
    return "".join(lines[:starts[0] + 1]), "".join(lines[starts[0] + 1:ends[0]]), "".join(lines[ends[0]:])


def reference_in(text):
    """The hook reference currently written between the markers of ``text``."""
    return _around_markers(text)[1].strip("\n")


def update_reference(path):
    """Write :func:`hook_reference` between the markers of the Markdown file at ``path``.

    :param path: the Markdown file; everything outside the markers is kept as it is.
    :returns: ``True`` if the file changed.
    """
    path = Path(path)
    old = path.read_text()
    head, _, tail = _around_markers(old)
    new = f"{head}\n{hook_reference()}\n\n{tail}"
    if new != old:
        path.write_text(new)
    return new != old


def main(argv=None):
    """``python -m accord.core.hookdoc FILE``: refresh the hook reference in FILE."""
    parser = argparse.ArgumentParser(prog="python -m accord.core.hookdoc", description=main.__doc__)
    parser.add_argument("file", type=Path, help="a Markdown file with the hook-reference markers")
    path = parser.parse_args(argv).file
    try:
        changed = update_reference(path)
    except (OSError, ValueError) as error:
        parser.exit(1, f"{path}: {error}\n")
    count = len(hook_functions())
    print(f"{path}: hook reference {'updated' if changed else 'already up to date'} ({count} hooks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
