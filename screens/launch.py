"""A real launch from the console, in the order `winback campaign launch NAME --real` takes (issue 16) — from the
Campaigns list (L) and from the creation flow alike:

1. the pre-launch check (`prelaunch_check`, in a worker: it connects to the channel's server, as the CLI does
   before it asks) — what would stop the launch is said, and nothing is asked;
2. the content warnings, if any: a second, explicit confirmation;
3. the typed message count: the whole run's — who quiet hours defer is sent by the same run when they end, and
   paid for — said as the CLI says it ("10 messages: 4 now, 6 after quiet hours end, ≈ ¥0.40 in all");
4. the send, whose notices (provider unreachable, giving up) reach the screen as the CLI's reach stderr
   (`worker_notice`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import sqlite_utils
from textual.screen import Screen
from textual.worker import Worker

from console.config import Config
from screens.base import winback_app
from screens.dialogs import ConfirmDialog, TypedCountDialog
from screens.format import count, money

if TYPE_CHECKING:
    from console.campaigns.finished import Plan


def prelaunch_check(db: sqlite_utils.Database, config: Config, name: str) -> Plan:
    """The real plan with what `winback campaign launch --real` checks before it asks for the count: `problems`
    (status, channel settings, secrets, approved templates — and the server itself: SMTP connect and log in) and
    the content `warnings`. A plain real plan (sources.plan_campaign) makes no connection, so a refused login
    used to show only after the operator had typed the count. One definition: console.campaigns.prelaunch (a
    scheduled real send is confirmed, and checked again by run-due, on the same check)."""
    from console.campaigns.prelaunch import prelaunch_check as check

    return check(db, config, name, connect=True)


def confirm_real_launch(screen: Screen, plan: Plan) -> None:
    """Ask the operator to type the message count of the real plan; launch for real only if they do.

    `plan` is prelaunch_check's answer: what would stop the launch (the dry-run transport, a bad secret, a server
    that refuses: console.campaigns.control.launch_problems) is said first, and nothing is asked."""
    if plan.get("problems"):
        winback_app(screen).report_failure("launch_campaign", "; ".join(plan["problems"]), action=True)
        return
    body = (f"{count_words(plan)}\n{count(plan.get('total_parts', plan['est_parts']))} billed parts · "
            f"{plan['channel']} via {plan['transport']} · holdout {count(plan['holdout'])} users")
    name = plan["campaign"]

    def answered(yes: bool) -> None:
        if yes:
            winback_app(screen).start_dispatch("launch", name, real=True,
                                      accept_warnings=bool(plan.get("warnings")))
            after = getattr(screen, "after_launch", None)
            if after is not None:
                after()
            else:
                winback_app(screen).open_deliveries(name)

    ask_warnings_then_count(screen, plan, f"Launch {name} for real?", body, "Send", answered)


def count_words(plan: Plan, *, scheduled: bool = False) -> str:
    """The count to type and its cost as the whole run's, in the CLI's words (console.campaigns.confirmation):
    '10 messages: 4 now, 6 after quiet hours end, ≈ ¥0.40 in all'."""
    from console.campaigns.confirmation import total_words

    currency = plan.get("currency", "CNY")
    return total_words(plan, lambda value: money(value, currency), scheduled=scheduled)


def ask_warnings_then_count(screen: Screen, plan: Plan, title: str, body: str, verb: str,
                            answered: Callable[[bool], None]) -> None:
    """Steps 2 and 3 of a real send's confirmation, for a launch now and a send scheduled for later alike: the
    content warnings, if any, as a second explicit confirmation ("Send anyway" / "Schedule anyway"), then the
    typed message count — the whole run's (now and after quiet hours: the same run sends both), as the CLI asks it.
    `answered(True)` once the count is typed, `answered(False)` when the operator went back."""
    from console.campaigns.confirmation import run_total

    warnings = plan.get("warnings") or []
    total = run_total(plan)

    def ask_count(go: bool | None = True) -> None:
        if not go:
            answered(False)
            return
        screen.app.push_screen(TypedCountDialog(title, body, total["total"], later=total["deferred"]),
                               lambda yes: answered(bool(yes)))

    if warnings:   # R (issue 13): the providers' content rules — a second, explicit confirmation first
        screen.app.push_screen(ConfirmDialog(
            f"{len(warnings)} content warning{'s' if len(warnings) > 1 else ''}",
            "\n".join(f"! {w}" for w in warnings)
            + f"\n\nThe providers may refuse these messages or suspend the signature. {verb} anyway?",
            yes=f"{verb} anyway", no="Fix first"), ask_count)
        return
    ask_count()


def worker_notice(worker: Worker[Any], name: str) -> Callable[[str], None]:
    """The dispatcher's `notice` for a send in a console thread worker: each line becomes a notification (the CLI
    prints it on stderr). Without it the console said nothing while a provider stayed unreachable, and only
    "paused" once the send had ended."""
    app = worker.node.app

    def notice(text: str) -> None:
        # A notice must never break the send it reports on: the app may be closing (the worker is then
        # cancelled and the dispatcher stops after its batch).
        with suppress(RuntimeError):
            app.call_from_thread(app.notify, text, title=f"sending {name}", severity="warning", timeout=12)

    return notice
