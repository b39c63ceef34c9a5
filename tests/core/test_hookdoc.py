"""The hook reference in docs/plugins.md is generated from the hookspecs and kept current."""

import inspect
import re
from pathlib import Path

import pytest

from accord.core import hookspecs
from accord.core.hookdoc import END, START, hook_reference, reference_in, render_hook, split_docstring, update_reference

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
REGENERATE = "run `python -m accord.core.hookdoc docs/plugins.md` and commit the result"


def _sections(markdown):
    """``{hook name: its section}`` from the ``### accord_x(...)`` headings of ``markdown``."""
    parts = re.split(r"^### ", markdown, flags=re.MULTILINE)[1:]
    return {part.split("(", 1)[0]: "### " + part for part in parts}


def _undocumented(function):
    """Parameters of ``function`` without a ``:param:`` line, and ``:param:`` lines naming no parameter."""
    documented = split_docstring(function)[1]
    arguments = inspect.signature(function).parameters
    return ([name for name in arguments if not documented.get(name)],
            [name for name in documented if name not in arguments])


def test_the_guide_carries_the_current_hook_reference():
    assert reference_in(GUIDE.read_text()) == hook_reference(), f"docs/plugins.md is stale: {REGENERATE}"


def test_every_hook_has_a_section_in_order_with_each_parameter():
    names = hookspecs.REGISTRATION_HOOKS + hookspecs.EVENT_HOOKS
    sections = _sections(reference_in(GUIDE.read_text()))
    assert tuple(sections) == names, f"hook sections differ from the hookspecs: {REGENERATE}"
    for name in names:
        spec = getattr(hookspecs, name)
        missing, unknown = _undocumented(spec)
        assert not missing, f"{name}: parameters without a :param line: {missing}"
        assert not unknown, f"{name}: :param lines for no parameter: {unknown}"
        arguments = list(inspect.signature(spec).parameters)
        assert sections[name].startswith(f"### {name}({', '.join(arguments)})\n"), sections[name]
        for argument in arguments:
            assert re.search(rf"^- `{argument}`: \S", sections[name], flags=re.MULTILINE), (name, argument)


def test_an_undocumented_parameter_is_caught():
    def accord_sample(app, record):
        """Fires.

        :param app: the Flask application.
        :param actor: nobody.
        """

    assert _undocumented(accord_sample) == (["record"], ["actor"])


def accord_sample_hook(app, record):
    """Return stages for :class:`~accord.core.records.Record` objects; see :func:`accord_pipelines`.

    Return a list of dicts::

        {"key": "lead",
         "allowed_next": ["won"]}

    ``outcome`` is ``open`` or ``won``, as in :mod:`accord.core.pipelines`.

    :param app: the Flask application.
    :param record: the :class:`~accord.core.records.Record`,
        never ``None``.
    """


def test_a_docstring_renders_as_markdown():
    assert render_hook(accord_sample_hook) == """\
### accord_sample_hook(app, record)

Return stages for `Record` objects; see `accord_pipelines`.

Return a list of dicts:

```python
{"key": "lead",
 "allowed_next": ["won"]}
```

`outcome` is `open` or `won`, as in `accord.core.pipelines`.

- `app`: the Flask application.
- `record`: the `Record`, never `None`."""


def test_a_spaced_or_lone_literal_marker_leaves_no_colon():
    def accord_sample():
        """Example ::

            a = 1

        ::

            b = 2
        """

    assert render_hook(accord_sample) == "### accord_sample()\n\nExample\n\n```python\na = 1\n```\n\n```python\nb = 2\n```"


def test_update_reference_replaces_only_the_marked_text(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text(f"# Guide\n\nBefore.\n\n{START}\nold text\n{END}\n\nAfter.\n")
    assert update_reference(guide) is True
    text = guide.read_text()
    assert text.startswith(f"# Guide\n\nBefore.\n\n{START}\n") and text.endswith(f"{END}\n\nAfter.\n")
    assert reference_in(text) == hook_reference()
    assert update_reference(guide) is False


def test_update_reference_refuses_a_file_without_markers(tmp_path):
    guide = tmp_path / "guide.md"
    guide.write_text(f"# Guide\n\n{END}\n{START}\n")
    with pytest.raises(ValueError, match="hook-reference:start"):
        update_reference(guide)
