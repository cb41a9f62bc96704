"""A real launch from the console: the typed message count first (and the content warnings, if any), as
`winback campaign launch --real` asks for them — from the Campaigns list (L) and from the creation flow alike."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from screens.base import winback_app
from screens.dialogs import ConfirmDialog, TypedCountDialog
from screens.format import count, money


def confirm_real_launch(screen: Screen, plan: dict[str, Any]) -> None:
    """Ask the operator to type the message count of the real plan; launch for real only if they do.

    What would stop the launch (the dry-run transport, a bad secret: console.campaigns.control.launch_problems,
    in the plan) is said first, and nothing is asked."""
    if plan.get("problems"):
        winback_app(screen).report_failure("launch_campaign", "; ".join(plan["problems"]), action=True)
        return
    currency = plan.get("currency", "CNY")
    body = (f"{count(plan['to_send'])} messages · {count(plan['est_parts'])} billed parts · about "
            f"{money(plan['est_cost'], currency)} · {plan['channel']} via {plan['transport']}\n"
            f"holdout {count(plan['holdout'])} users · deferred by quiet hours "
            f"{count(plan['deferred_quiet_hours'])}")
    name = plan["campaign"]

    warnings = plan.get("warnings") or []

    def answered(yes: bool | None) -> None:
        if yes:
            winback_app(screen).start_dispatch("launch", name, real=True,
                                      accept_warnings=bool(warnings))
            after = getattr(screen, "after_launch", None)
            if after is not None:
                after()
            else:
                winback_app(screen).open_deliveries(name)

    def ask_count(go: bool | None = True) -> None:
        if go:
            screen.app.push_screen(TypedCountDialog(f"Launch {name} for real?", body, plan["to_send"]), answered)

    if warnings:   # R (issue 13): the providers' content rules — a second, explicit confirmation first
        screen.app.push_screen(ConfirmDialog(
            f"{len(warnings)} content warning{'s' if len(warnings) > 1 else ''}",
            "\n".join(f"! {w}" for w in warnings)
            + "\n\nThe providers may refuse these messages or suspend the signature. Send anyway?",
            yes="Send anyway", no="Fix first"), ask_count)
        return
    ask_count()
