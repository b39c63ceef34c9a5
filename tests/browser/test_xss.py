"""Stored XSS in a real browser: a record of every type, whose every text-like field
(built-in and custom, with payload labels and help too) holds script payloads, is shown
inert on its page, in its list, in its edit form, in the search results and suggestions,
on the board and on the dashboard: no dialog opens, no payload runs (``window.__xss``
stays undefined) and no element or attribute of a payload reaches the DOM."""

from urllib.parse import quote

import pytest
from browser_helpers import requires_chromium
from playwright.sync_api import expect
from process_helpers import http_json

pytestmark = requires_chromium

WORD = "xssprobe"
"""In every payload, so that search and list filters find the records."""
EXPECTED_TYPES = {"contact", "organization", "deal", "activity", "team", "territory", "user", "ticket"}
TEXT_KINDS = ("text", "long_text", "email", "url", "phone")
PAYLOADS = (
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "'><svg onload=window.__xss=1>",
    "javascript:window.__xss=1",
    '<a href="javascript:window.__xss=1">link</a>',
    "[click](javascript:window.__xss=1)",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
)
URL_PAYLOADS = ('https://example.org/"><svg/onload=window.__xss=1>',
                "https://example.org/?q=<script>window.__xss=1</script>")
INJECTED = """() => {
  const found = [];
  const where = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = attr.value.trim().toLowerCase();
      if (name.startsWith("on") || name === "srcdoc"
          || (["href", "src", "action", "formaction", "xlink:href"].includes(name) && value.startsWith("javascript:"))) {
        found.push(where(el) + " [" + name + "=" + attr.value.slice(0, 60) + "]");
      }
    }
  }
  for (const el of document.querySelectorAll("script:not([src]), img[src='x'], iframe, object, embed")) {
    found.push(where(el) + " " + el.outerHTML.slice(0, 80));
  }
  return found;
}"""


def _payload(field, n, key):
    """A payload fitting ``field``'s kind; the validator may still refuse it."""
    kind = field["kind"]
    if kind == "email":
        return f'"<svg/onload=window.__xss=1>{key}{n}"@example.com'
    if kind == "url":
        return URL_PAYLOADS[n % len(URL_PAYLOADS)]
    if kind == "phone":
        return f"+1 <svg onload=window.__xss=1> {WORD}"
    if kind == "long_text":
        return "\n\n".join(f"{WORD} {payload}" for payload in PAYLOADS)
    return f"{WORD} {PAYLOADS[n % len(PAYLOADS)]}"


def _plain(field, made):
    """An ordinary valid value for a required field that takes no payload."""
    kind = field["kind"]
    if kind in ("choice", "multi_choice"):
        key = field["choices"][0]["key"]
        return key if kind == "choice" else [key]
    if kind == "reference":
        return made[field["reference"]]["id"]
    return {"email": f"{WORD}-{field['name']}@example.com", "url": "https://example.org", "phone": "+1 555 0100",
            "integer": 1, "decimal": "1", "money": {"amount": "1.00", "currency": "EUR"}, "date": "2026-01-15",
            "datetime": "2026-01-15T10:00:00Z", "boolean": False}.get(kind, f"{WORD} plain")


def _values(rt, made):
    """Payloads in every text-like field, plain values in other required fields, and links
    to the records made so far (so titles show up on related pages)."""
    values = {}
    for n, field in enumerate(f for f in rt["fields"] if not f["read_only"]):
        if field["kind"] in TEXT_KINDS:
            values[field["name"]] = _payload(field, n, rt["key"])
        elif field["required"] or (field["kind"] == "reference" and field["reference"] in made):
            values[field["name"]] = _plain(field, made)
    if rt["key"] == "activity" and "contact" in made:
        values.update(related_type="contact", related_id=made["contact"]["id"])
    return values


def _create(server, rt, made):
    """POST the record, leaving out the payloads the validator refuses (a required field
    falls back to a plain value); returns its JSON."""
    values = _values(rt, made)
    fields = {f["name"]: f for f in rt["fields"]}
    for _ in range(len(values) + 1):
        status, body = http_json("POST", server.url(f"/api/v1/{rt['plural']}"), server.token, values)
        if status == 201:
            return body
        refused = body.get("error", {}).get("fields", {}) if status == 422 else {}
        assert refused, f"POST /{rt['plural']} answered {status}: {body}"
        for name in refused:
            if name in fields and fields[name]["required"] and fields[name]["kind"] in TEXT_KINDS:
                values[name] = _plain(fields[name], made)
            else:
                values.pop(name, None)
    raise AssertionError(f"POST /{rt['plural']} kept refusing {values}")


def _add_custom_fields(server, rt):
    for kind in TEXT_KINDS:
        server.api("POST", f"/types/{rt['key']}/fields", {
            "name": f"xss_{kind}", "kind": kind, "searchable": kind in ("text", "long_text"),
            "label": f"<img src=x onerror=window.__xss=1> {kind}", "help": f"<script>window.__xss=1</script> {WORD}"})
    server.api("POST", f"/types/{rt['key']}/fields", {
        "name": "xss_choice", "kind": "choice",
        "choices": [{"key": "bad", "label": "<svg onload=window.__xss=1>"}, {"key": "good", "label": "Good"}]})


@pytest.fixture(scope="module")
def seeded(live_server):
    """``{type key: (type, record)}``: one payload record of every type in the catalog (the
    demo enables every built-in plugin, so tickets too), with custom text-like fields."""
    types = live_server.api("GET", "/types")["data"]
    ordered = sorted(types, key=lambda rt: (rt["key"] != "organization", rt["key"] != "contact"))
    made = {}
    pending = list(ordered)
    while pending:
        ready = [rt for rt in pending if all(f["reference"] in made for f in rt["fields"]
                                              if f["kind"] == "reference" and f["required"])]
        assert ready, f"no order satisfies the required references of {[rt['key'] for rt in pending]}"
        for rt in ready:
            _add_custom_fields(live_server, rt)
            fresh = next(t for t in live_server.api("GET", "/types")["data"] if t["key"] == rt["key"])
            made[rt["key"]] = _create(live_server, fresh, made)
            pending.remove(rt)
    assert EXPECTED_TYPES <= set(made), EXPECTED_TYPES - set(made)
    for rt in ordered:
        titles = [str(made[rt["key"]].get(name)) for name in rt["title_fields"]]
        assert any("<" in title for title in titles), f"the {rt['key']}'s title kept no payload: {titles}"
    return {rt["key"]: (rt, made[rt["key"]]) for rt in ordered}


def _pages(seeded):
    """Every page to look at: per type its record, its list filtered to the payload, its
    edit form and its board; then search and the dashboard."""
    for rt, record in seeded.values():
        yield f"/{rt['plural']}/{record['id']}"
        yield f"/{rt['plural']}?q={WORD}"
        yield f"/{rt['plural']}/{record['id']}/edit"
        if rt.get("pipeline"):
            yield f"/{rt['plural']}/board"
    yield f"/search?q={quote(WORD)}"
    yield "/"


def _harm(page, dialogs):
    """What a payload did on the page now: dialogs, ``window.__xss``, injected DOM."""
    harm = [f"dialog: {message}" for message in dialogs]
    if page.evaluate("() => typeof window.__xss !== 'undefined' || typeof parent.__xss !== 'undefined'"):
        harm.append("window.__xss was set")
    return harm + page.evaluate(INJECTED)


def test_payloads_in_every_text_field_stay_inert_on_every_page(ui, seeded):
    page = ui.page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ui.sign_in()
    found = {}
    for path in _pages(seeded):
        ui.goto(path)
        if path != "/":
            expect(page.locator("main")).to_contain_text(WORD)
        harm = _harm(page, dialogs)
        if harm:
            found[path] = harm
        dialogs.clear()
    page.locator("#global-search-input").fill(WORD)
    expect(page.locator(".search-option:not(.search-all)").first).to_contain_text(WORD)
    harm = _harm(page, dialogs)
    if harm:
        found["search suggestions"] = harm
    assert not found, "payloads were not inert:\n" + "\n".join(f"  {path}: {harm}" for path, harm in found.items())
    ui.assert_clean()
