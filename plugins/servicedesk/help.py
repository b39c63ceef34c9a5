"""The help topic shown beside the ticket pages."""

TICKETS_TOPIC = {
    "key": "servicedesk.tickets",
    "title": "Working with tickets",
    "pages": ["/tickets"],
    "body": """\
A **ticket** is one customer request: a question, a problem or a complaint. It moves
through the **Support** pipeline:

| Stage | What it means | Where it can go next |
| --- | --- | --- |
| New | Nobody has responded yet. The first-response clock is running. | Open, Pending, Solved, Closed |
| Open | An agent is working on it. | Pending, Solved, Closed |
| Pending | Waiting for the customer to answer. | Open, Solved, Closed |
| Solved | Dealt with; reopen it (back to Open) if the customer writes back. | Open, Closed |
| Closed | Finished for good. A follow-up becomes a new ticket. | nowhere |

**First response.** Every new ticket gets a *First response due* time: the time it was
created plus the service desk's target. Moving the ticket out of *New* records *First
responded*; that happens once and is never moved. A ticket logged straight into a later
stage (a phone call answered on the spot) counts as responded when it was logged.
Tickets still in *New* after their due time show as **overdue** on the dashboard.

**Targets.** An administrator sets them in the service desk's settings, e.g.
`accord plugins settings servicedesk first_response_hours=8` on the command line or
`PATCH /api/v1/admin/plugins/servicedesk/settings`:

- *Hours to first response* (`first_response_hours`, 1 to 720, default 8);
- *Hours to first response (urgent)* (`urgent_first_response_hours`, 1 to 72, default 1),
  for tickets of **urgent** priority.

A changed target applies to tickets created afterwards. Raising a waiting ticket to
urgent (or lowering it from urgent) moves its due time to the matching target.

**Resolved at** is when the ticket was solved (or closed, if it was closed without being
solved first); reopening clears it. Give a *close reason* such as "duplicate" or "spam"
when closing a ticket that needed no answer.
""",
}
