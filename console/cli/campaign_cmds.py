"""`winback campaign create|list|show|plan|schedule|unschedule|launch|pause|resume|cancel|requeue|reconcile|tally|failures|run-due` (issue #6).

The commands live in three modules along their seams — before the send (campaign_setup_cmds), sending and
stopping (campaign_send_cmds), the ledger afterwards (campaign_ledger_cmds) — and are registered here, in the
order `winback campaign --help` lists them.
"""

from __future__ import annotations

import typer

from console.cli import campaign_ledger_cmds as ledger_cmds
from console.cli import campaign_schedule_cmds as schedule_cmds
from console.cli import campaign_send_cmds as send_cmds
from console.cli import campaign_setup_cmds as setup_cmds

campaign_app = typer.Typer(help="Campaigns: create, plan (pre-flight), launch, control and tallies.",
                           no_args_is_help=True)

for _name, _command in (
    ("create", setup_cmds.create),
    ("list", setup_cmds.list_),
    ("show", setup_cmds.show),
    ("plan", setup_cmds.plan),
    ("schedule", schedule_cmds.schedule),
    ("unschedule", schedule_cmds.unschedule),
    ("launch", send_cmds.launch),
    ("pause", send_cmds.pause),
    ("resume", send_cmds.resume),
    ("cancel", send_cmds.cancel),
    ("requeue", ledger_cmds.requeue),
    ("reconcile", ledger_cmds.reconcile_),
    ("tally", ledger_cmds.tally),
    ("failures", ledger_cmds.failures),
    ("run-due", send_cmds.run_due),
):
    campaign_app.command(_name)(_command)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(campaign_app, name="campaign")
