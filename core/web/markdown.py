"""A small, safe Markdown subset for help topics written by the core and by plugins.

The source is HTML-escaped before anything else, so no tag or entity in it ever reaches
the page as markup; only what this module writes is HTML. Supported: paragraphs,
``#`` headings, ``-``/``*``/``1.`` lists, ``**strong**``, ``*em*``/``_em_``,
`` `code` ``, fenced code blocks, ``[links](url)`` (http, https and relative addresses
only; any other scheme leaves the text unlinked) and ``|`` tables.
"""

import html
import re

from markupsafe import Markup, escape

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
TABLE_ROW = re.compile(r"^\s{0,3}\|")
TABLE_RULE = re.compile(r"^\s{0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
CONTINUATION = re.compile(r"^\s{2,}\S")

CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"\[([^\]]+)\]\(\s*((?:[^()\s]|\([^()\s]*\))+)\s*\)")
STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)
EMPHASIS = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])|(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)", re.DOTALL)
STASHED = re.compile("\x00(\\d+)\x00")
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
SAFE_SCHEMES = {"http", "https"}
INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def render(source, heading_offset=0):
    """``source`` as safe HTML (a :class:`~markupsafe.Markup`).

    :param heading_offset: added to every heading level, so a topic's ``#`` fits under
        the page's own headings (``1`` on a page whose title is the ``h1``).
    """
    lines = str(escape(source or "").replace("\x00", "")).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("\n".join(_blocks(lines, heading_offset)))


def plain(source):
    """The text of ``source`` without Markdown marks, for summaries and search snippets
    (plain text: escape it like any other)."""
    kept = [line for line in (source or "").splitlines() if not (TABLE_RULE.match(line) or FENCE.match(line))]
    text = re.sub(r"^\s{0,3}(#{1,6}|[-*+]|\d{1,9}[.)])\s+", "", "\n".join(kept), flags=re.MULTILINE)
    text = LINK.sub(r"\1", text)
    text = re.sub(r"\*+|`+|(?<!\w)_|_(?!\w)", "", text).replace("|", " ")
    return " ".join(text.split())


def first_paragraph(source):
    """The first paragraph of prose in ``source`` (not a heading, list, table or code)."""
    for block in re.split(r"\n\s*\n", source or ""):
        first = block.lstrip("\n").split("\n", 1)[0]
        if block.strip() and not any(p.match(first) for p in (FENCE, HEADING, BULLET, NUMBERED, TABLE_ROW)):
            return block.strip()
    return ""


def _blocks(lines, offset):
    """The block-level HTML of escaped ``lines``, one string per block."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif FENCE.match(line):
            i = _code_block(lines, i, out)
        elif HEADING.match(line):
            level, text = HEADING.match(line).groups()
            tag = f"h{min(len(level) + offset, 6)}"
            out.append(f"<{tag}>{_inline(text)}</{tag}>")
            i += 1
        elif BULLET.match(line) or NUMBERED.match(line):
            i = _list(lines, i, out)
        elif TABLE_ROW.match(line) and i + 1 < len(lines) and TABLE_RULE.match(lines[i + 1]):
            i = _table(lines, i, out)
        else:
            i = _paragraph(lines, i, out)
    return out


def _code_block(lines, i, out):
    fence = FENCE.match(lines[i]).group(1)
    body = []
    i += 1
    while i < len(lines) and not lines[i].strip().startswith(fence):
        body.append(lines[i])
        i += 1
    out.append("<pre><code>" + "\n".join(body) + "</code></pre>")
    return i + 1


def _list(lines, i, out):
    pattern = BULLET if BULLET.match(lines[i]) else NUMBERED
    tag = "ul" if pattern is BULLET else "ol"
    items = []
    while i < len(lines):
        match = pattern.match(lines[i])
        if match:
            items.append([match.group(1)])
        elif CONTINUATION.match(lines[i]) and items:
            items[-1].append(lines[i].strip())
        else:
            break
        i += 1
    out.append(f"<{tag}>" + "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items) + f"</{tag}>")
    return i


def _table(lines, i, out):
    head = _cells(lines[i])
    i += 2
    rows = []
    while i < len(lines) and TABLE_ROW.match(lines[i]):
        rows.append(_cells(lines[i]))
        i += 1
    html_rows = ["<thead><tr>" + "".join(f'<th scope="col">{_inline(c)}</th>' for c in head) + "</tr></thead>", "<tbody>"]
    for row in rows:
        row = (row + [""] * len(head))[:len(head)]
        html_rows.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
    html_rows.append("</tbody>")
    out.append('<div class="table-wrap"><table>' + "".join(html_rows) + "</table></div>")
    return i


def _cells(line):
    line = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in line.split("|")]


def _paragraph(lines, i, out):
    text = []
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        if text and (FENCE.match(line) or HEADING.match(line) or BULLET.match(line) or NUMBERED.match(line)):
            break
        text.append(line.strip())
        i += 1
    out.append(f"<p>{_inline(chr(10).join(text))}</p>")
    return i


def _inline(text):
    """Inline marks of escaped ``text``: code spans first (their content stays literal),
    then links, then emphasis."""
    stash = []

    def keep(fragment):
        stash.append(fragment)
        return f"\x00{len(stash) - 1}\x00"

    text = CODE_SPAN.sub(lambda m: keep(f"<code>{m.group(2).strip()}</code>"), text)
    text = LINK.sub(lambda m: keep(_link(m.group(1), m.group(2))), text)
    text = _emphasis(text)
    while "\x00" in text:
        text = STASHED.sub(lambda m: stash[int(m.group(1))], text)
    return text


def _emphasis(text):
    text = STRONG.sub(r"<strong>\1</strong>", text)
    return EMPHASIS.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)


def _link(label, url):
    """A link when ``url`` is http, https or relative; otherwise just the label."""
    if not is_safe_url(url):
        return _emphasis(label)
    return f'<a href="{url}">{_emphasis(label)}</a>'


def is_safe_url(url):
    """Whether a link target is http, https or relative. Entities are decoded and the
    spaces and control characters browsers ignore are dropped before looking; a colon
    before the first ``/``, ``?`` or ``#`` makes it a scheme, which must then be http(s)."""
    target = url
    for _ in range(3):
        target = html.unescape(target)
    target = INVISIBLE.sub("", target).lower()
    if ":" not in re.split(r"[/?#]", target, maxsplit=1)[0]:
        return True
    scheme = SCHEME.match(target)
    return scheme is not None and scheme.group(1) in SAFE_SCHEMES
