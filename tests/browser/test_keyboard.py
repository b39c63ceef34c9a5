"""Every main page can be used from the keyboard: tabbing from the skip link reaches the
page's main actions in reading order (header first: search box, Help; then the page's
own), and each element that takes focus shows a visible outline."""

import pytest
from browser_helpers import contact, requires_chromium

pytestmark = requires_chromium

HEADER = [r"^Skip to content$", r"^Search everything$", r"^Help$"]

# path (with {contact} for a contact's id) → what must take focus after the header, in order
PAGES = {
    "dashboard": ("/", [r"^Deals board$", r"^New deal$"]),
    "contacts list": ("/contacts", [r"^New contact$", r"^Search contacts$", r"^Select "]),
    "contact detail": ("/contacts/{contact}", [r"^Edit\b"]),
    "new contact form": ("/contacts/new", [r"^First name", r"^Last name", r"^(Save|Create)"]),
    "deals board": ("/deals/board", [r"^New deal$", r"^Move .+ to$", r"^Move$"]),
    "search results": ("/search?q=Keyboard", [r"^Search all records$", r"^Search$", r"^Kim Keyboard$"]),
    "trash": ("/contacts/trash", [r"^Back to contacts$"]),
    "admin": ("/admin", [r"^Plugins$", r"^Fields$", r"^Themes$", r"^Background jobs$"]),
    "admin plugins": ("/admin/plugins", [r"^Disable"]),
    "admin fields": ("/admin/fields", [r"^Record type$", r"^Show$", r"^Label", r"^Add field$"]),
    "admin themes": ("/admin/themes", [r"^Use "]),
    "admin jobs": ("/admin/jobs", [r"^All$", r"^Queued", r"^Failed", r"^Succeeded$", r"^Failed$", r"^Finished more",
                                   r"^Remove$"]),
    "help": ("/help", []),
}


@pytest.fixture(scope="module")
def someone(live_server):
    return contact(live_server, "Kim", "Keyboard")


@pytest.mark.parametrize("name", list(PAGES))
def test_the_main_actions_take_visible_focus_in_order(ui, someone, name):
    path, actions = PAGES[name]
    ui.sign_in()
    ui.goto(path.format(contact=someone["id"]))
    ui.tab_through(HEADER + actions)
    ui.assert_clean()
