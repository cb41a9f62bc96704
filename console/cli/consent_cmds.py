"""`winback consent`: consent per user and channel (append-only history), and the PIPL Art. 24 choice about
personalised marketing. Registered with the other contact-policy commands by console.cli.policy_cmds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from

consent_app = typer.Typer(help="Consent per user and channel (append-only history).", no_args_is_help=True)


def _change(ctx: typer.Context, user: str, channels: list[str], status: str, source: str) -> None:
    from console.policy.consent import change_consent

    with workspace_from(ctx).open() as db:
        for channel in channels:
            change_consent(db, user, channel, status, source=source)
    say(f"consent {status} for {user} on {', '.join(channels)}")


ConsentChannels = Annotated[list[str], typer.Option("--channel", "-c", help="sms | email | push | call | gift "
                                                                           "(repeat for several).")]


@consent_app.command("grant")
def consent_grant(ctx: typer.Context, user: Annotated[str, typer.Argument(help="External id.")],
                  channel: ConsentChannels,
                  source: Annotated[str, typer.Option("--source", help="Where the consent was given.")] = "cli") -> None:
    """Record that USER agreed to marketing on a channel."""
    _change(ctx, user, channel, "granted", source)


@consent_app.command("withdraw")
def consent_withdraw(ctx: typer.Context, user: Annotated[str, typer.Argument(help="External id.")],
                     channel: ConsentChannels,
                     source: Annotated[str, typer.Option("--source", help="Where the withdrawal came from.")] = "cli") -> None:
    """Record that USER withdrew consent on a channel (takes effect for every send not yet handed over)."""
    _change(ctx, user, channel, "withdrawn", source)


@consent_app.command("personalised")
def consent_personalised(ctx: typer.Context, user: Annotated[str, typer.Argument(help="External id.")],
                         refuse: Annotated[bool, typer.Option("--refuse/--allow", help="Refuse (or allow again) "
                                                              "marketing decided by a personal model.")],
                         source: Annotated[str, typer.Option("--source", help="Where the choice was made.")] = "cli",
                         as_json: JsonFlag = False) -> None:
    """Record USER's choice about personalised marketing (PIPL Art. 24): refused, no personal model ranks or
    orders them (no predicted uplift; budget ranking gives them the audience's average); they still get what
    their segment gets."""
    from console.personalisation import set_choice

    with workspace_from(ctx).open() as db:
        result = set_choice(db, user, refuse=refuse, source=source)
    if as_json:
        print_json(result)
        return
    state = "refuses" if refuse else "allows"
    say(f"{user} {state} personalised marketing" + ("" if result["changed"] else " (already so: nothing changed)"))


@consent_app.command("show")
def consent_show(ctx: typer.Context, user: Annotated[str, typer.Argument(help="External id.")],
                 history: Annotated[bool, typer.Option("--history", help="Every row, not only those in force.")] = False,
                 as_json: JsonFlag = False) -> None:
    """Consent in force per channel for USER (unknown channels follow the channel's unknown_consent setting)."""
    from console.personalisation import choice_of
    from console.policy.consent import CHANNELS, ConsentRow, consent_history, unknown_consent_allows
    from console.timefmt import local_time
    from console.users import require_user_id

    ws = workspace_from(ctx)
    with ws.open() as db:
        user_id = require_user_id(db, user)
        rows = consent_history(db, user_id)
        refusal = choice_of(db, user_id)   # PIPL Art. 24: no personalised marketing
    out: list[dict[str, Any]]   # its times become text below
    if history:
        out = [dict(row) for row in rows]
    else:
        latest: dict[str, ConsentRow] = {}
        for row in rows:
            latest.setdefault(row["channel"], row)
        out = []
        for channel in CHANNELS:
            # Machine values for --json: the stored status ("unknown" when none), what unknown means on this
            # channel (its unknown_consent setting), and whether consent lets a send through; the table joins
            # the first two into one display string below.
            setting = "allow" if unknown_consent_allows(ws.config, channel) else "deny"
            current = latest.get(channel)
            status = current["status"] if current else "unknown"
            out.append({"channel": channel, "status": status, "unknown_consent": setting,
                        "allowed": status == "granted" or (status == "unknown" and setting == "allow"),
                        "at": current["at"] if current else None, "source": current["source"] if current else None})
    if not as_json:
        for shown in out:
            shown["at"] = local_time(shown["at"], ws.config.timezone) if shown["at"] is not None else None
            if shown["status"] == "unknown":
                shown["status"] = f"unknown ({shown['unknown_consent']})"
    emit_rows(out, as_json=as_json, columns=["channel", "status", "at", "source"], title=f"consent of {user}")
    if refusal and not as_json:
        say(f"personalised marketing: refused {local_time(refusal['at'], ws.config.timezone)} (source "
            f"{refusal['source']}) — no personal model ranks or orders {user}")
