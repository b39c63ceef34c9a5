"""The core's help topics, as data: what each page is for and how to do its main tasks.

Registered through ``accord_help_topics`` (:mod:`accord.core.defaults`) like a plugin's.
Each topic names the pages it explains in ``pages``: endpoint names (``records.list``)
or URL path prefixes (``/admin/plugins``); the help panel shows those topics first.
``group`` is the heading the topic is listed under on ``/help``. Bodies are Markdown
(:mod:`accord.core.web.markdown`); say only what the product does.
"""

GETTING_AROUND = "Getting around"
RECORDS = "Working with records"
PIPELINE = "Deals and pipelines"
ADMINISTRATION = "Administration"

TOPICS = [
    {
        "key": "core.basics",
        "title": "Finding your way around",
        "group": GETTING_AROUND,
        "pages": ["dashboard.index", "error"],
        "body": """\
Accord keeps your **records**: contacts, organizations, deals and activities, plus the
types that plugins add (such as tickets). Every type works the same way:

- **The menu** at the top opens the list of each type. *Admin* appears for administrators.
- **The breadcrumb trail** under the menu shows where you are; each step is a link back.
- **Search** (press `/`) finds any record by the start of a word.
- **Help** (press `?`) opens help for the page you are on, beside it. The page stays as
  it was; close help with *Escape* or the × button.

Each record has its own page at an address such as `/contacts/42`, which you can
bookmark or send to a colleague.
""",
    },
    {
        "key": "core.dashboard",
        "title": "The dashboard",
        "group": GETTING_AROUND,
        "pages": ["dashboard.index"],
        "body": """\
The dashboard is the first page after signing in: where sales stand and what is yours
to do next. It shows:

- **Pipeline**: open deals in each stage of the default sales pipeline, with their number
  and amount.
- **Forecast**: what is expected to close in the next six months: deals already won plus
  open deals weighted by their stage's probability (a 50% stage counts half its amount).
  Only deals with an *expected close date* appear here.
- **Won and lost**: deals closed in each of the last twelve months.
- **My open tasks**: tasks you own that are not done, soonest due first (overdue ones
  are marked), with a link to all of them as a list.
- Panels that active plugins add, such as open tickets.

Amounts are never added across currencies. The charts use one currency and say which;
when deals use several, choose another under *Show amounts in*.
""",
    },
    {
        "key": "core.shortcuts",
        "title": "Keyboard shortcuts",
        "group": GETTING_AROUND,
        "pages": [],
        "body": """\
Accord can be used from the keyboard alone. The shortcuts `/` and `?` work whenever you
are not typing in a field.

| Key | What it does |
| --- | --- |
| `/` | Jump to the search box. |
| `?` | Open or close help for this page. |
| Down and Up arrows | Move through the search suggestions. |
| Enter | Open the highlighted suggestion (or search for what you typed). |
| Escape | Close the suggestions or the help panel. |
| Tab | Move to the next link, field or button; Shift+Tab goes back. |

The first Tab on a page reaches *Skip to content*, which jumps past the menu. On the
pipeline board, every card has a *Move to* control, so cards move without a mouse.
""",
    },
    {
        "key": "core.search",
        "title": "Searching",
        "group": GETTING_AROUND,
        "pages": ["search.results"],
        "body": """\
Search looks through every record type at once: names and titles, and the fields marked
searchable (such as email addresses, phone numbers, websites and the text of
activities).

- **Start of words.** `lov` finds *Ada Lovelace* and *Lovelace Analytical*. Type at
  least two letters.
- **Several words** must all match: `ada lov` finds Ada Lovelace, not every Ada.
- **Capitals and accents do not matter**: `muller` finds *Müller*.
- **Grouped by type.** Results come in groups (Contacts, Deals, ...), the group with
  the best match first. Each group shows its best few; *See every ... matching* opens
  that type's list searched for the same words, page by page.
- **Suggestions** appear under the search box as you type. Use the arrow keys and
  Enter, or keep typing to narrow them.
- Records in the **trash** are not found until they are restored.

To search within one type together with filters, use the search box above that type's
list.
""",
    },
    {
        "key": "core.help",
        "title": "Using help",
        "group": GETTING_AROUND,
        "pages": ["help.index", "help.topic"],
        "body": """\
Press **Help** in the header (or `?`) on any page: the topics about that page open
beside it, followed by related topics. Search help from the box at the top of the
panel, or from this page, by any word in a topic's title or text.

Every topic also has its own page, listed here by subject. Plugins add topics about
the pages they bring, and those appear on their pages like the core's.
""",
    },
    {
        "key": "core.lists",
        "title": "Lists: search, filter, sort and page through",
        "group": RECORDS,
        "pages": ["records.list", "records.bulk", "records.save_view"],
        "body": """\
Each record type has a list, such as *Contacts*: search it, narrow it with filters,
sort it and page through it.

- **Search** the list with the box above it: it matches the start of words, like the
  global search.
- **Filters** narrow the list by field: choices such as the stage or the owner, *From*
  and *To* for dates and amounts, or whether a reference is set. Press **Apply**. Each
  filter in use is listed above the table; remove one with its ×, or all with *Clear
  filters*.
- **Sort** by clicking a column header; click it again to reverse the order. Columns
  whose header is not a link cannot be sorted (sorting them would be slow on a large
  list).
- **Pages**: *Next page* shows the following rows and *First page* goes back to the
  start. Pages stay fast however deep you go; the list does not count every row.

Click a record's name to open its page. **New** adds a record; **Board** (for types
with a pipeline) shows the same records by stage; **Trash** lists removed records.
""",
    },
    {
        "key": "core.saved_views",
        "title": "Saved views",
        "group": RECORDS,
        "pages": ["records.list", "records.save_view"],
        "body": """\
A saved view remembers a list's search, filters and sort under a name, so you can come
back to it in one click, for example "My open deals closing this quarter".

1. Search, filter and sort the list the way you want it.
2. Type a name under **Save this view as** and press **Save this view**.

Your views are listed under *Saved views* above the list; the one you are looking at is
marked. Views are yours alone: colleagues do not see them. Delete one with the ×
beside its name; the records are not affected.
""",
    },
    {
        "key": "core.bulk_actions",
        "title": "Changing many records at once",
        "group": RECORDS,
        "pages": ["records.list", "records.trash", "records.bulk"],
        "body": """\
Select records in a list and assign them an owner, move them to the trash or restore
them, all in one go.

Tick the box at the start of each row you want (or the box in the header to select the
whole page), then:

- **Assign owner**: choose the new owner under *New owner* first.
- **Move to trash**: the records can be restored from the trash.
- **Restore selected** (in the trash): brings them back.

Up to 500 records at a time. A bulk action is all or nothing: if one record is refused
(say, someone else just trashed it), nothing is changed and the page says which record
and why.
""",
    },
    {
        "key": "core.trash",
        "title": "The trash and restoring records",
        "group": RECORDS,
        "pages": ["records.trash", "record_pages.delete"],
        "body": """\
Moving a record to the trash hides it from lists, search, the board and the dashboard,
but erases nothing: it can be restored exactly as it was.

- From a record's page, **Move to trash** asks you to confirm first. The message that
  follows has a **Restore** link, in case it was a mistake.
- Each type's trash (the **Trash** button on its list) shows what was removed, most
  recently removed first.
- **Restore** on a row brings that record back, with its fields, links and history.
  Tick several rows and press **Restore selected** to bring them back together.

Records stay in the trash until someone restores them. Links to a trashed record from
other records show its name without a link.
""",
    },
    {
        "key": "core.record_page",
        "title": "A record's page",
        "group": RECORDS,
        "pages": ["record_pages.detail", "record_pages.log_activity"],
        "body": """\
A record's page shows everything about one record: its details, its place in a pipeline,
the records linked to it and its activity.

- **Details** lists the filled-in fields, custom fields included; references (such as
  the organization) are links. Empty fields are counted under the list; open it to see
  which.
- **Pipeline** (for deals and other pipeline records): the current stage and its
  probability, and the **stage history**: every move, when, by whom, how long the record
  spent in the stage before, and the reason given for winning or losing.
- **Related records** at the side, such as an organization's contacts and deals.
- **Activity**: the timeline (see *The timeline and activities*).

**Edit** changes the record; **Move to trash** removes it (restorable from the trash).
The page's address (such as `/contacts/42`) can be bookmarked or shared.
""",
    },
    {
        "key": "core.timeline",
        "title": "The timeline and activities",
        "group": RECORDS,
        "pages": ["record_pages.detail", "record_pages.log_activity"],
        "body": """\
The **Activity** section of a record's page is its timeline: the calls, emails,
meetings, tasks and notes about it, newest first. An organization's timeline also shows
the activities of its contacts and deals.

**Log an activity** opens a short form:

- **Kind**: call, email, meeting, note or task.
- **Subject**: a few words; the **body** takes the details.
- For a **task**, a **due** time; tick **done** if it is already finished.

Press **Log it**: the activity is dated now (a task with a due time sits at its due
time) and appears on the timeline. An open task has a **Mark done** button; tasks you
own also wait on your dashboard. *Older activities* pages back through a long timeline.
Activities are found by global search, subject and body alike.
""",
    },
    {
        "key": "core.new_record",
        "title": "Adding a record",
        "group": RECORDS,
        "pages": ["record_pages.new"],
        "body": """\
Fill in the form and press **Create** (such as *Create contact*): the new record's page
opens.

- Required fields are marked; the hint under a field says what it expects.
- You are the owner unless you choose someone else. A deal starts in the first stage
  of its pipeline and, without a currency, gets the instance's default one.
- References (such as the organization) offer a list to choose from; where there are
  too many records for a list, type the record's id, which its page address shows (the
  `42` in `/organizations/42`).

If something cannot be saved, nothing is saved: each problem is shown next to its field
(and listed at the top), and what you typed stays in the form, so you only correct what
is marked.
""",
    },
    {
        "key": "core.editing",
        "title": "Editing, and when someone else saved first",
        "group": RECORDS,
        "pages": ["record_pages.edit"],
        "body": """\
Change what you need and press **Save**. Only the fields you changed are saved; the
others keep what is stored. Problems are shown next to their fields, and nothing is
saved until all of them are corrected.

**When someone else saved first.** If a colleague saved the same record after you
opened the form, Accord does not overwrite their work. It shows the fields where their
version and yours differ, side by side, and lets you choose:

- **Keep theirs**: drop your changes and go back to the record as they saved it.
- **Save mine over theirs**: replace their values in those fields with yours.

Nothing of yours is saved until you choose. Changing a deal's stage here follows the
same rules as the board: only the stages allowed next, and a close reason for *Won* or
*Lost*.
""",
    },
    {
        "key": "core.board",
        "title": "The pipeline board",
        "group": PIPELINE,
        "pages": ["board.board", "board.move_form", "board.move"],
        "body": """\
The board shows the records of a pipeline (such as deals) as cards, one column per
stage, with each column's count and total amount, so you see where business stands and
move it along.

A column shows its 50 most recently changed cards; its link opens the list of every
record in that stage. **Moving a card** to another stage:

- drag it onto the column, or
- choose the stage under **Move to** on the card and press **Move** (this works with the
  keyboard and without JavaScript).

Only the stages allowed next are offered: a deal in *Lead* can go to *Qualified* or
*Lost*, not straight to *Won*. Moving to **Won** or **Lost** asks **why**: choose a
reason from the list (such as price or competitor). The reason is kept in the stage
history and feeds win and loss analysis. Every move is recorded in the record's stage
history.

If someone else changed the card meanwhile, the move is not made and the board shows
the card as it is now; move it again if it still needs to go.
""",
    },
    {
        "key": "core.pipeline",
        "title": "Stages, probabilities and won or lost",
        "group": PIPELINE,
        "pages": ["board.board", "record_pages.detail"],
        "body": """\
A pipeline is the path a deal takes from first contact to won or lost. Each stage has a
probability, which weighs the deal's amount in the forecast, and a list of the stages it
may move to next. The built-in **Sales** pipeline:

| Stage | Probability | Can move to |
| --- | --- | --- |
| Lead | 10% | Qualified, Lost |
| Qualified | 25% | Lead, Proposal, Lost |
| Proposal | 50% | Qualified, Negotiation, Won, Lost |
| Negotiation | 75% | Proposal, Won, Lost |
| Won | 100% | Negotiation |
| Lost | 0% | Lead, Qualified |

Closing as **Won** or **Lost** needs a close reason and records when the deal closed;
moving it back to an open stage reopens it. The **stage history** on a deal's page lists
every move and how long the deal spent in the stage before.

Stages are stored with the instance, so yours may have been renamed or extended.
Plugins bring pipelines of their own, such as the service desk's for tickets.
""",
    },
    {
        "key": "core.admin",
        "title": "Administration",
        "group": ADMINISTRATION,
        "pages": ["admin.index"],
        "body": """\
The *Admin* pages are for administrators. What changes here changes Accord for
everyone, from their next page on, without a restart:

- **Plugins**: switch business areas on and off and set their settings.
- **Fields**: add custom fields to any record type, edit or remove them.
- **Themes**: choose how Accord looks.

The overview says how many plugins are enabled, and points out any that need attention
because they cannot run.
""",
    },
    {
        "key": "core.plugins",
        "title": "Plugins",
        "group": ADMINISTRATION,
        "pages": ["admin.plugins", "/admin/plugins"],
        "body": """\
Plugins add business areas to Accord: record types, pages, pipelines, dashboard panels
and help (the service desk adds tickets). An installed plugin does nothing until it is
enabled. Open a plugin to see what it requires, what it owns and its settings.

- **Enable** switches a plugin on, with the plugins it requires, and creates what it
  needs in the database. If it clashes with a plugin already on, Accord says why and
  changes nothing.
- **Disable** switches it off. **Its data is kept**: its records are hidden while it is
  off and come back when it is enabled again. When other enabled plugins require it,
  Accord first shows which ones would be switched off with it and asks.
- **Settings** (such as the service desk's response targets) are checked before they
  are saved; each says what it is for. Press **Save settings**.
- A plugin that **cannot run** (it failed to load or start) is shown with its error and
  left out; the rest of Accord keeps working and its data is kept. Installing a version
  that fits this Accord usually fixes it.

Installing, upgrading and uninstalling plugins are done on the server with the
`accord plugins` commands.
""",
    },
    {
        "key": "core.custom_fields",
        "title": "Custom fields",
        "group": ADMINISTRATION,
        "pages": ["admin.fields", "/admin/fields"],
        "body": """\
Add the fields your organization needs to any record type, without programming. A new
field appears at once on that type's pages and forms, in its filters, imports, exports
and the API.

Choose the **record type**, then fill in **Add a field**:

- **Label**: what people see. The **name** (used by the API and imports) is made from
  it unless you give one: lower-case letters, digits and underscores.
- **Kind**: text, long text, whole or decimal number, money, date, date and time, yes or
  no, choice (one of a list), choices (several of a list), email address, phone number,
  web address, or a link to another record. The kind cannot change later.
- **Choices**, for choice kinds: one per line; write `key = Label` to store a key that
  differs from what people see.
- **Required**; **Indexed** keeps filtering and sorting on the field fast with many
  records (and makes its column sortable; fields of several choices cannot be indexed);
  **Searchable** adds it to search; **Personal data** marks what identifies a person.
- **Help**: a hint shown next to the field on forms.

**Edit** changes the label, help, whether it is required and the choices. **Remove**
hides the field but **keeps its values**: add a field with the same name and kind to
bring them back. **Erase values** (a *purge*) removes them for good. Built-in fields and fields
that a plugin adds cannot be changed here.
""",
    },
    {
        "key": "core.themes",
        "title": "Themes",
        "group": ADMINISTRATION,
        "pages": ["admin.themes", "/admin/themes"],
        "body": """\
A theme sets how Accord looks: colours, type and layout. The **active** theme applies to
everyone, from their next page on.

Press **Use this theme** on the one you want. *Default* (light) and *Midnight* (dark) are
built into Accord and made to be accessible. Other themes are installed on the server as Python packages and listed
here once the server has restarted; a theme that cannot be used is listed with the
reason.
""",
    },
    {
        "key": "core.jobs",
        "title": "Background jobs",
        "group": ADMINISTRATION,
        "pages": ["admin.job_queue", "/admin/jobs"],
        "body": """\
Some work runs after a page or an API call has answered: sending an email, calling a
webhook, a plugin's follow-up when a deal moves. Each is a **job**.

- **Queued** jobs wait for their turn, or for the pause after a failed attempt; the pause
  doubles with each attempt.
- **Running** jobs are being worked on. One whose worker stopped half way is taken up
  again after a few minutes.
- **Succeeded** jobs are done. **Remove finished jobs** tidies them away.
- **Failed** jobs used up their attempts. Open the error to see why, fix the cause (a
  wrong address, a server that was down), then press **Retry**: the job starts over
  with a fresh set of attempts. **Retry all failed** does that for every failed job.

The same is at hand on the command line (`accord jobs list|retry|purge`) and in the
admin API (`/api/v1/admin/jobs`).
""",
    },
    {
        "key": "core.automation",
        "title": "Automation rules",
        "group": ADMINISTRATION,
        "pages": ["admin.automation_rules", "/admin/automation"],
        "body": """\
An **automation rule** does routine work when a record changes, the same way whether
the change came from a page, the API or an import.

- **When**: a record of the rule's type is *created*, *enters a stage* of its pipeline,
  or has *a field changed* (to a different value).
- **If**: every condition holds on the record as saved, such as *amount is at least
  1000* or *stage is one of proposal, negotiation*.
- **Then**: its actions run in order: create a task (due some days or hours later, for
  the record's owner or a named user), log an activity, set a field, assign the owner,
  or email the owner or an address (sent just after the change is saved).

A rule that cannot finish (a user it names was deactivated, a value it sets is refused)
undoes what it did so far and is listed under **Recent runs** as *failed* with the
reason; the change that triggered it is saved all the same. Rules do not fire on the
changes other rules make, so no rule can set off an endless chain.

**New rule** opens the rule form: a label (the key is made from it unless you give one),
the record type, the trigger with its stage or field, then the conditions and the actions
as rows. A condition is a field, a test (*is*, *is at least*, *is one of*...) and a value;
separate several values with commas. An action asks only for what it needs: a subject and
a delay for a task, a field and its new value, a user's email, an email's text. Leave a
row empty to skip it; **Add a condition** and **Add an action** give more rows. If
something does not fit, the form says so next to it, keeps what you typed and saves
nothing.

Open a rule to read it in words, with its runs; **Failed** lists the runs that failed
and why. **Edit** and **Delete** are offered for the rules made here. **Switch off**
stops a rule without deleting it.

Rules from a vertical pack are changed in the pack: here you can switch them off and on,
or **Copy as a local rule** and change the copy (switch the original off if the copy
replaces it). The API (`/api/v1/automation/rules`) does all of this too.
""",
    },
    {
        "key": "core.sign_in",
        "title": "Signing in",
        "group": GETTING_AROUND,
        "pages": ["auth.login", "password_reset.request", "password_reset.choose"],
        "body": """\
Sign in with your **email address** and **password**; Accord then opens the page you
asked for, or the dashboard.

- If Accord says the email and password do not match, check both (the password is case
  sensitive) and try again.
- Accounts are made by an administrator; the first one is made when Accord is set up
  (`accord init`). Ask an administrator if you cannot sign in.
- **Sign out** (top right) ends your session; do it on a shared computer. A session also
  ends after a while without use, and some hours after signing in: then sign in again.

**Forgot your password?** Follow that link under the sign-in form and give your email
address. If an active account uses it, an email with a link arrives; the link works
once, for an hour unless your administrator chose otherwise. Choose a new password (the
form says how long it must be) and type it twice; every session of your account then
ends, and you sign in with the new password.
""",
    },
]
