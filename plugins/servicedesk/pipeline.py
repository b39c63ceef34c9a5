"""The support pipeline: new → open → pending → solved → closed.

Solved and closed are the finished stages (outcome ``won``: the request was dealt with);
the others are the open work. A solved ticket can be reopened when the customer writes
back; a closed one is final, so a follow-up becomes a new ticket. Stages are stored as
data when the plugin is switched on, so an admin or a vertical pack may relabel them.
"""

SUPPORT_PIPELINE = {
    "key": "support",
    "record_type": "ticket",
    "label": "Support",
    "default": True,
    "stages": [
        {"key": "new", "label": "New", "probability": 0,
         "allowed_next": ["open", "pending", "solved", "closed"]},
        {"key": "open", "label": "Open", "probability": 0,
         "allowed_next": ["pending", "solved", "closed"]},
        {"key": "pending", "label": "Pending", "probability": 0,
         "allowed_next": ["open", "solved", "closed"]},
        {"key": "solved", "label": "Solved", "probability": 100, "outcome": "won",
         "allowed_next": ["open", "closed"]},
        {"key": "closed", "label": "Closed", "probability": 100, "outcome": "won",
         "allowed_next": []},
    ],
}
