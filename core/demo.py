"""The demo instance behind ``accord demo``: an administrator to sign in as, an API token
and a believable sales team's worth of sample data.

Every sample record is written through the service layer, exactly as the API would
write it, so validation, hooks, the search index and the stage history are the real
thing rather than rows inserted behind the core's back. The data comes from word lists
and one seeded random generator, so two demo instances prepared on the same day hold
the same companies, people and deals. Company domains end in ``.example`` (reserved by
RFC 2606) so that no sample address can ever reach a real mailbox.
"""

import csv
import time
import unicodedata
from collections import deque
from datetime import timedelta
from random import Random
from typing import NamedTuple

from sqlalchemy import func, select

from .accounts import ensure_admin
from .db import db, utcnow
from .errors import NotFound, RecordInvalid
from .migrate import upgrade
from .models import Contact
from .records import Actor
from .registry import current_accord
from .tokens import create_token

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "accord-demo"
SEED = 1729

ORGANIZATIONS = 60
CONTACTS = 240
DEALS = 120
ACTIVITIES = 360


class Country(NamedTuple):
    """Where a sample company sits, and how its phone numbers, postcodes and name look."""

    name: str
    calling_code: str
    postal_pattern: str  # "#" a digit, "@" a capital letter
    legal_form: str
    cities: tuple


class Territory(NamedTuple):
    """A sales region of the demo team and the currency its deals are priced in."""

    name: str
    description: str
    weight: float  # share of organizations; keeps most sample deals in EUR
    currency: str
    countries: tuple


TERRITORIES = (
    Territory("DACH", "Germany, Austria and Switzerland", 3, "EUR", (
        Country("Germany", "49", "#####", "GmbH", ("Munich", "Hamburg", "Berlin", "Cologne", "Leipzig")),
        Country("Austria", "43", "####", "GmbH", ("Vienna", "Graz", "Linz")),
        Country("Switzerland", "41", "####", "AG", ("Zurich", "Basel", "Bern")),
    )),
    Territory("Benelux & France", "Belgium, the Netherlands, Luxembourg and France", 3, "EUR", (
        Country("Netherlands", "31", "#### @@", "B.V.", ("Utrecht", "Rotterdam", "Eindhoven")),
        Country("Belgium", "32", "####", "NV", ("Ghent", "Antwerp", "Brussels")),
        Country("France", "33", "#####", "SAS", ("Lyon", "Nantes", "Lille", "Toulouse")),
    )),
    Territory("Nordics", "Sweden, Denmark, Norway and Finland", 2, "EUR", (
        Country("Sweden", "46", "### ##", "AB", ("Gothenburg", "Malmö", "Uppsala")),
        Country("Denmark", "45", "####", "A/S", ("Aarhus", "Odense", "Copenhagen")),
        Country("Norway", "47", "####", "AS", ("Bergen", "Trondheim", "Oslo")),
        Country("Finland", "358", "#####", "Oy", ("Tampere", "Turku", "Espoo")),
    )),
    Territory("UK & Ireland", "The United Kingdom and the Republic of Ireland", 1.5, "GBP", (
        Country("United Kingdom", "44", "@@# #@@", "Ltd", ("Manchester", "Leeds", "Bristol", "Edinburgh")),
        Country("Ireland", "353", "@## @###", "Ltd", ("Dublin", "Cork", "Galway")),
    )),
    Territory("North America", "The United States and Canada", 1.5, "USD", (
        Country("United States", "1", "#####", "Inc.", ("Denver", "Austin", "Columbus", "Portland")),
        Country("Canada", "1", "@#@ #@#", "Inc.", ("Calgary", "Ottawa", "Halifax")),
    )),
)

TEAMS = (
    ("Field Sales", "Account executives who own the named accounts of a territory."),
    ("Inside Sales", "Qualifies inbound leads and closes smaller deals by phone and video."),
)

# (name, team index); the first five each lead one territory, in the order above.
SALES_REPS = (
    ("Tobias Brandt", 0), ("Amélie Laurent", 0), ("Signe Holm", 0),
    ("Ciarán Doyle", 0), ("Dana Whitfield", 1), ("Ravi Menon", 1),
)

NAME_STARTS = (
    "North", "Silver", "Blue", "Granite", "Harbor", "Maple", "Summit", "Copper", "Bright",
    "Iron", "Clear", "Red", "Oak", "Cedar", "Fern", "Hollow", "Lark", "Rowan", "Swift", "Amber",
)
NAME_ENDS = (
    "bridge", "stone", "field", "wave", "point", "line", "crest", "gate", "ridge", "haven",
    "brook", "vale", "mark", "wind", "light",
)

# industry → words a company in it tends to put after its name
INDUSTRIES = (
    ("Logistics", ("Logistics", "Freight", "Cargo")),
    ("Software", ("Software", "Systems", "Digital", "Labs")),
    ("Manufacturing", ("Industries", "Machines", "Components", "Works")),
    ("Healthcare", ("Health", "Medical", "Care")),
    ("Retail", ("Retail", "Stores", "Outfitters")),
    ("Food & Beverage", ("Foods", "Brewing", "Kitchens")),
    ("Financial services", ("Capital", "Finance", "Insurance")),
    ("Energy", ("Energy", "Power", "Solar")),
    ("Construction", ("Construction", "Builders", "Structures")),
    ("Consulting", ("Consulting", "Advisory", "Partners")),
    ("Media", ("Media", "Studios", "Publishing")),
    ("Hospitality", ("Hotels", "Travel", "Resorts")),
)

FIRST_NAMES = (
    "Emma", "Liam", "Sofia", "Lukas", "Amelia", "Noah", "Mia", "Elias", "Chloé", "Mateo",
    "Hannah", "Oscar", "Freya", "Jonas", "Isabel", "Felix", "Nora", "Hugo", "Clara", "Finn",
    "Aisha", "Omar", "Priya", "Arjun", "Mei", "Kenji", "Yuki", "Daniel", "Sara", "Malik",
    "Leila", "Tomás", "Inês", "Luca", "Giulia", "Marco", "Anna", "Jakub", "Zofia", "Eva",
    "Pieter", "Sanne", "Bram", "Lotte", "Søren", "Ingrid", "Astrid", "Mikkel", "Aino", "Eero",
    "Björn", "Elin", "Grace", "James", "Olivia", "Ethan", "Fatima", "Karim", "Nadia", "Diego",
    "Lucía", "Javier", "Siobhán", "Aoife", "Julia", "Max", "Lena", "Paul", "Camille", "Léa",
)
LAST_NAMES = (
    "Andersen", "Bauer", "Becker", "Bergström", "Brennan", "Carvalho", "Chen", "Costa", "Dubois",
    "de Vries", "Eriksson", "Fischer", "Fontaine", "García", "Hansen", "Hoffmann", "Horváth",
    "Jansen", "Johansson", "Kaur", "Kelly", "Kim", "Kowalski", "Laine", "Larsen", "Lefebvre",
    "Lindberg", "Martin", "Meyer", "Moreau", "Müller", "Murphy", "Nakamura", "Nielsen", "Novak",
    "O'Brien", "Okafor", "Patel", "Peeters", "Petrov", "Quinn", "Rossi", "Santos", "Schmidt",
    "Schneider", "Singh", "Smith", "Sørensen", "Tanaka", "Taylor", "van Dijk", "Virtanen",
    "Wagner", "Walsh", "Weber", "Wilson", "Wójcik", "Yılmaz", "Zimmermann", "Haddad", "Mensah",
    "Nguyen", "Rahman", "Ferreira", "Lund",
)

DECISION_MAKERS = (
    "Chief Executive Officer", "Managing Director", "Chief Financial Officer",
    "Chief Technology Officer", "Head of Operations", "Head of Procurement", "VP Sales",
)
JOB_TITLES = (
    "Operations Manager", "IT Manager", "Procurement Specialist", "Finance Manager",
    "Project Manager", "Office Manager", "Marketing Manager", "Business Analyst", "Product Owner",
    "Customer Success Lead", "Logistics Coordinator", "Data Analyst", "HR Business Partner",
    "Facilities Manager", "Sales Director",
)

PRODUCTS = (
    "Platform licence", "Licence renewal", "Onboarding package", "Premium support upgrade",
    "Data migration", "Analytics add-on", "Regional rollout", "Pilot project",
    "Three-year subscription", "Training programme", "Integration services", "Seat expansion",
)

ACTIVITY_KINDS = (("call", 25), ("email", 25), ("meeting", 15), ("task", 20), ("note", 15))
SUBJECTS = {
    "call": ("Intro call with {person}", "Discovery call: {topic}", "Follow-up call with {person}",
             "Check-in with {person} about {topic}"),
    "email": ("Sent pricing overview to {person}", "Re: {topic}", "Shared a customer story with {person}",
              "Meeting notes for {org}"),
    "meeting": ("Kick-off meeting at {org}", "Demo of the {topic} for {org}", "Quarterly review with {org}",
                "Workshop with {person}: {topic}"),
    "task": ("Prepare proposal for {org}", "Send contract draft to {person}", "Follow up with {person}",
             "Update forecast notes for {org}", "Book an on-site visit at {org}"),
    "note": ("{person} prefers email to phone calls", "Budget approval at {org} expected next quarter",
             "{org} is comparing us with two competitors", "Finance joins the decision at {org}"),
}
BODIES = (
    "Agreed on next steps and a date for the follow-up.",
    "They asked for references from their own industry.",
    "Pricing is within range; procurement needs two more weeks.",
    "Main concern is the effort of migrating their current data.",
    "Legal wants to review the data processing agreement first.",
    "Very positive about the reporting; wants a second session for the team.",
    "Timeline slipped because of an internal reorganisation.",
    "Interested in starting small and expanding after the pilot.",
)

_ASCII = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "ł": "l", "ı": "i", "'": "", " ": ""})


def prepare_demo(app, progress=lambda text: None, vertical=None):
    """Bring the instance up to date, switch on the built-in plugins, make sure the demo
    administrator exists, seed sample data on a database without contacts, and return
    ``{"email", "password", "token"}`` with a new API token (an instance that already has
    contacts is never reseeded).

    With ``vertical`` (a pack name) the pack is applied and its own sample data loaded in
    place of the generic sales team's (a realtor's demo shows listings, not software
    deals). A pack already applied here is left as it is, its data included, so running
    the demo again writes nothing twice; sample data is loaded the first time a pack is
    applied to the instance only. An unknown name raises :class:`LookupError` and
    a broken pack :class:`~accord.core.verticals.PackInvalid`, before anything changes.
    """
    from .verticals import load_pack

    pack = load_pack(vertical) if vertical else None
    progress("Preparing the database...")
    upgrade(app)
    with app.app_context():
        for name in _enable_built_in_plugins():
            progress(f"Enabled the built-in plugin {name}.")
        admin, _ = ensure_admin(DEMO_EMAIL, DEMO_PASSWORD, name="Demo Administrator")
        if pack is None or not pack.data_files:
            _seed_sales_team(app, admin, progress)
        if pack is not None:
            _apply_vertical(pack, _demo_actor(admin), progress)
        token = create_token(admin, name="demo")
    return {"email": admin.email, "password": DEMO_PASSWORD, "token": token}


def _seed_sales_team(app, admin, progress):
    """The generic sample data, on a database without contacts only."""
    if _holds_contacts():
        progress("The instance already has contacts; keeping its data.")
        return
    started = time.monotonic()
    _Seeder(app, admin, progress).run()
    progress(f"Sample data ready in {time.monotonic() - started:.1f} s.")


def _demo_actor(admin):
    return Actor(user_id=admin.id, source="demo", is_admin=True, name=admin.name)


def _apply_vertical(pack, actor, progress):
    """Apply ``pack`` and load its sample data, the first time the pack is applied to this
    instance only: after a revert its sample records are still here (only the pack's
    fields and types went), so they are not made twice."""
    from .changesets import apply, history

    applied_before = bool(history(pack.name))
    outcome = apply(pack, actor)
    if outcome.status != "applied":
        progress(f"The vertical pack {pack.name} is {outcome.status} (version {outcome.version}); keeping its data.")
        return
    progress(f"Applied the vertical pack {pack.name} {pack.version}: {len(outcome.lines)} changes.")
    if applied_before:
        progress("It was applied here before; its sample data is not loaded again.")
        return
    started = time.monotonic()
    for rt, count in load_sample_data(pack, actor):
        progress(f"  {count} {(rt.label if count == 1 else rt.plural_label).lower()}")
    progress(f"Sample data of {pack.name} loaded in {time.monotonic() - started:.1f} s.")


def load_sample_data(pack, actor):
    """Create the records of ``pack``'s sample data (``data/NN_<type>.csv``) as ``actor``,
    file by file in name order, each through the import path of ``accord import`` (rows
    typed, every row checked, then created), all files in one transaction: every record
    or none. Returns ``[(record type, records created)]`` in file order.

    A file's ``id`` column names its rows for the files after it: a reference field (or a
    list of ids such as ``contact_ids``) to a type the pack has sample data for holds the
    ``id`` of a row in that type's file, and gets the id of the record made from that row.
    A reference to a type without sample data in the pack is an id on the instance, as in
    ``accord import``.
    """
    from .records import write_unit
    from .transfer import import_rows, read_rows
    from .verticals import data_record_type

    accord = current_accord()
    with_data = {data_record_type(path) for path in pack.data_files}
    made = {}  # (type key, id in its file) -> id of the record created from that row
    loaded = []
    with write_unit():
        for path in pack.data_files:
            where = f"{pack.name}/data/{path.name}"
            type_key = data_record_type(path)
            rt = accord.catalog().type(type_key)
            if rt is None:
                raise NotFound(f"{where}: there is no record type {type_key!r}.")
            rows = read_rows(rt, str(path))
            keys = _row_keys(path)
            problems = {}
            for number, values in rows:
                for name, reason in _resolve(rt, values, made, with_data).items():
                    problems.setdefault(f"line {number}", []).append(f"{name}: {reason}")
            if problems:
                first, reasons = next(iter(problems.items()))
                raise RecordInvalid(problems, message=f"{where}: {first}: {reasons[0]}; no sample data was loaded.")
            try:
                records = import_rows(type_key, rows, actor)
            except RecordInvalid as exc:
                raise RecordInvalid(exc.fields, message=f"{where}: {exc.message}") from None
            made.update(((type_key, key), record.id) for key, record in zip(keys, records) if key)
            loaded.append((accord.catalog().type(type_key), len(records)))
    return loaded


def _row_keys(path):
    """The ``id`` cell of each row of a sample data file, in row order (``""`` if none)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [(row.get("id") or "").strip() for row in csv.DictReader(handle)]


def _resolve(rt, values, made, with_data):
    """Turn the file ids in ``values``'s references into record ids, in place; returns
    ``{field: reason}`` for ids that name no earlier row."""
    targets = {name: f.reference for name, f in rt.fields.items() if f.kind == "reference"}
    targets.update((relation.name, relation.target) for relation in rt.relations)
    problems = {}
    for name, target in targets.items():
        if name not in values or target not in with_data:
            continue
        value = values[name]
        ids = value if isinstance(value, list) else [value]
        missing = [key for key in ids if (target, str(key)) not in made]
        if missing:
            problems[name] = f"no {target} row with id {missing[0]} in the files before this one"
            continue
        resolved = [made[(target, str(key))] for key in ids]
        values[name] = resolved if isinstance(value, list) else resolved[0]
    return problems


def _enable_built_in_plugins():
    """Switch on the healthy plugins shipped with accord-crm itself, so the demo shows them."""
    from .lifecycle import enable

    accord = current_accord()
    enabled = []
    for name, plugin in sorted(accord.loaded.items()):
        if plugin.distribution == "accord-crm":
            enabled += enable(name, by="demo")
    return enabled


def _holds_contacts():
    """Whether any contact exists, trashed ones included: a trashed contact is still data
    someone entered, so its instance is not a fresh one."""
    return db.session.execute(select(func.count()).select_from(Contact)).scalar_one() > 0


class _Seeder:
    """Writes the sample data, one record type after another, as the demo administrator."""

    def __init__(self, app, admin, progress):
        self.records = current_accord(app).records
        self.actor = _demo_actor(admin)
        self.progress = progress
        self.rng = Random(SEED)
        self.now = utcnow().replace(second=0, microsecond=0)
        self.reps = []
        self.territories = []
        self.organizations = []
        self.contacts = []
        self.deals = []

    def run(self):
        self.seed_sales_team()
        self.seed_organizations()
        self.seed_contacts()
        self.seed_deals()
        self.seed_activities()

    def create(self, type_key, data):
        return self.records.create(type_key, data, self.actor)

    def seed_sales_team(self):
        """Two teams of sales reps, and five territories each led by one of them."""
        teams = [self.create("team", {"name": name, "description": text}).id for name, text in TEAMS]
        for name, team in SALES_REPS:
            email = ".".join(_ascii(part) for part in name.split()) + "@example.com"
            self.reps.append(self.create("user", {"name": name, "email": email, "team_id": teams[team]}).id)
        for territory, lead in zip(TERRITORIES, self.reps):
            record = self.create("territory", {"name": territory.name, "description": territory.description})
            self.territories.append({"id": record.id, "spec": territory, "lead": lead})
        self.progress(f"  {len(self.reps)} sales reps in {len(teams)} teams, {len(self.territories)} territories")

    def seed_organizations(self):
        """Companies with distinct invented names; most are owned by their territory's lead."""
        rng = self.rng
        stems = rng.sample([start + end for start in NAME_STARTS for end in NAME_ENDS], ORGANIZATIONS)
        for stem in stems:
            territory = rng.choices(self.territories, weights=[t["spec"].weight for t in self.territories])[0]
            country = rng.choice(territory["spec"].countries)
            industry, words = rng.choice(INDUSTRIES)
            word = rng.choice(words)
            domain = f"{stem}-{word}".lower() + ".example"
            owner = territory["lead"] if rng.random() < 0.75 else rng.choice(self.reps)
            record = self.create("organization", {
                "name": f"{stem} {word} {country.legal_form}",
                "website": f"https://www.{domain}",
                "email": f"{rng.choice(('info', 'hello', 'contact'))}@{domain}",
                "phone": self.phone(country),
                "industry": industry,
                "employees": int(10 ** rng.uniform(1, 4)),
                "city": rng.choice(country.cities),
                "postal_code": self.postal_code(country),
                "country": country.name,
                "territory_id": territory["id"],
                "owner_id": owner,
            })
            self.organizations.append({
                "id": record.id, "short_name": stem, "domain": domain, "country": country, "city": record["city"],
                "territory": territory, "owner": owner, "contacts": [],
            })
        self.progress(f"  {len(self.organizations)} organizations")

    def seed_contacts(self):
        """People at those companies: two at each at least, the first a decision maker."""
        rng = self.rng
        employers = [org for org in self.organizations for _ in range(2)]
        employers += rng.choices(self.organizations, k=CONTACTS - len(employers))
        for org in employers:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = self.email(f"{_ascii(first)}.{_ascii(last)}", org)
            data = {
                "first_name": first, "last_name": last, "email": email,
                "job_title": rng.choice(JOB_TITLES if org["contacts"] else DECISION_MAKERS),
                "phone": self.phone(org["country"]), "organization_id": org["id"],
                "city": org["city"], "country": org["country"].name, "owner_id": org["owner"],
            }
            if rng.random() < 0.5:
                data["mobile"] = self.phone(org["country"])
            record = self.create("contact", data)
            contact = {"id": record.id, "name": f"{first} {last}", "email": email, "org": org, "owner": org["owner"]}
            org["contacts"].append(contact)
            self.contacts.append(contact)
        self.progress(f"  {len(self.contacts)} contacts")

    def seed_deals(self):
        """Deals created at the first stage and moved, one allowed step at a time, to a
        stage drawn so that every stage of the pipeline holds some."""
        rng = self.rng
        catalog = self.records.catalog()
        pipeline = catalog.pipeline_for(catalog.type("deal"))
        open_stages = [s for s in pipeline.stages if s.outcome == "open"]
        weights = [4 if s.outcome == "won" else 3 for s in pipeline.stages]  # a team that wins a little more
        targets = list(pipeline.stages) + rng.choices(pipeline.stages, weights=weights, k=DEALS - len(pipeline.stages))
        rng.shuffle(targets)
        today = self.now.date()
        moves = 0
        for target in targets:
            org = rng.choice(self.organizations)
            closed = target.outcome != "open"
            close_in = rng.randint(-182, -1) if closed else rng.randint(-30, 274)
            product = rng.choice(PRODUCTS)
            contacts = rng.sample(org["contacts"], rng.randint(1, min(3, len(org["contacts"]))))
            record = self.create("deal", {
                "name": f"{org['short_name']} – {product}",
                "organization_id": org["id"],
                "amount": str(round(10 ** rng.uniform(3, 5.2) / 50) * 50),
                "currency": org["territory"]["spec"].currency,
                "expected_close_date": (today + timedelta(days=close_in)).isoformat(),
                "territory_id": org["territory"]["id"],
                "owner_id": org["owner"] if rng.random() < 0.8 else rng.choice(self.reps),
                "contact_ids": [contact["id"] for contact in contacts],
            })
            if closed:
                via = rng.choice(open_stages).key
                path = _route(pipeline, record["stage"], via) + _route(pipeline, via, target.key)[1:]
            else:
                path = _route(pipeline, record["stage"], target.key)
            for stage in path[1:]:
                change = {"stage": stage}
                if pipeline.stage(stage).outcome != "open":
                    change["close_reason"] = rng.choice(pipeline.stage(stage).reasons)
                self.records.update("deal", record.id, change, self.actor)
                moves += 1
            self.deals.append({"id": record.id, "product": product, "org": org, "owner": record["owner_id"],
                               "contacts": record["contact_ids"]})
        self.progress(f"  {len(self.deals)} deals across {len(pipeline.stages)} stages ({moves} stage changes)")

    def seed_activities(self):
        """Calls, emails, meetings, notes and tasks on the timelines of contacts,
        organizations and deals; tasks fall due between three weeks ago and next month."""
        rng = self.rng
        kinds, kind_weights = zip(*ACTIVITY_KINDS)
        for _ in range(ACTIVITIES):
            regarding = rng.choices(("contact", "deal", "organization"), weights=(4, 4, 2))[0]
            topic = rng.choice(PRODUCTS)
            if regarding == "contact":
                target = rng.choice(self.contacts)
                org, person = target["org"], target
            elif regarding == "deal":
                target = rng.choice(self.deals)
                org, topic = target["org"], target["product"]
                person = rng.choice([c for c in org["contacts"] if c["id"] in target["contacts"]])
            else:
                target = rng.choice(self.organizations)
                org, person = target, rng.choice(target["contacts"])
            kind = rng.choices(kinds, weights=kind_weights)[0]
            data = {
                "kind": kind,
                "subject": rng.choice(SUBJECTS[kind]).format(
                    person=person["name"], org=org["short_name"], topic=topic.lower()),
                "body": rng.choice(BODIES),
                "related_type": regarding, "related_id": target["id"],
                "owner_id": target["owner"],
            }
            if kind == "task":
                due = self.now + timedelta(days=rng.randint(-21, 30), hours=rng.randint(-4, 4))
                data["due_at"] = due.isoformat()
                data["done"] = due < self.now and rng.random() < 0.6
            else:
                data["occurred_at"] = (self.now - timedelta(minutes=rng.randint(30, 150 * 24 * 60))).isoformat()
            self.create("activity", data)
        self.progress(f"  {ACTIVITIES} activities")

    def email(self, local, org):
        """``local@domain`` of the organization, numbered when a namesake already works there."""
        taken = {contact["email"] for contact in org["contacts"]}
        email, number = f"{local}@{org['domain']}", 1
        while email in taken:
            number += 1
            email = f"{local}{number}@{org['domain']}"
        return email

    def phone(self, country):
        """An invented number in the country's international format."""
        rng = self.rng
        return f"+{country.calling_code} {rng.randint(20, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"

    def postal_code(self, country):
        """An invented code shaped like the country's own."""
        rng = self.rng
        return "".join(
            str(rng.randint(0, 9)) if ch == "#" else chr(rng.randint(65, 90)) if ch == "@" else ch
            for ch in country.postal_pattern
        )


def _route(pipeline, start, goal):
    """The shortest list of stage keys from ``start`` to ``goal`` (both included) that
    only takes transitions the pipeline allows."""
    routes = {start: [start]}
    queue = deque([start])
    while queue:
        key = queue.popleft()
        if key == goal:
            return routes[key]
        allowed = pipeline.stage(key).allowed_next
        for following in allowed if allowed is not None else [s.key for s in pipeline.stages]:
            if following not in routes:
                routes[following] = routes[key] + [following]
                queue.append(following)
    raise ValueError(f"the {pipeline.label} pipeline has no way from '{start}' to '{goal}'")


def _ascii(text):
    """Lower-case ASCII for an email address: ``Søren O'Brien`` parts → ``soren``, ``obrien``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return decomposed.encode("ascii", "ignore").decode().lower()
