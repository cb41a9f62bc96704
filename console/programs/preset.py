"""The demo's recall program: the issue's ladder, added in draft to a fresh demo workspace (`winback demo`)."""

from __future__ import annotations

import sqlite_utils

LADDER = """\
# The stepped win-back ladder (由浅入深): a light nudge, then an offer by layer, then a call for big spenders.
name = "ladder"
entry = "dormancy = dormant"      # a rule or a segment name: users who match at a run join the program
control = 10                      # percent of entrants held out of the whole program, by hash, never messaged
exit_on = ["order"]               # an event of these kinds after entry ends it for that user: returned
reentry = "180d"                  # a user can enter again only this long after leaving

[[steps]]
name = "nudge"
wait = "0d"                       # after entry
channel = "sms"
template = "nostalgic-sms-zh"

[[steps]]
name = "offer"
wait = "7d"                       # after the previous step's due time
channel = ["push", "sms"]         # the first channel this user has an address and consent for
template = { push = "offer-push-zh", sms = "offer-sms-zh" }
offer_by_layer = true

[[steps]]
name = "call"
wait = "14d"
channel = "call"
template = "vip-call-zh"
only = "spend >= 1000"            # who gets this step; the others skip it (recorded) and go on
"""


def install_demo_program(db: sqlite_utils.Database) -> None:
    """Add the ladder (draft) unless a program of that name exists. Its templates come from the copy library."""
    from console.programs import spec, store

    if db.execute("SELECT 1 FROM programs WHERE name = 'ladder'").fetchone():
        return
    store.add(db, spec.parse(LADDER, "demo:ladder.toml", db))
