"""The plan pane's text: the pre-flight funnel with bars, the variants, the cost and the minimum detectable lift —
for a real plan what `winback campaign plan --real` prints before its figures (what stops the launch, the
content warnings, numbers a mainland provider does not reach), for a dry plan what `winback campaign plan` warns a
real aliyun/tencent launch would refuse or not reach. Shown by the creation flow and the Campaigns screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text

from screens.columns import cut
from screens.format import bar, count, money
from screens.plan_ranking import uplift_line

if TYPE_CHECKING:
    from console.campaigns.finished import Plan

# A plan row: label, count (7), bar (3 to 10), spaces between. Labels take their width first (a step or a template
# cut short reads as another's); the bar has what they leave.
LABEL_MIN, BAR_LEAST, BAR_MOST = 15, 3, 10
# What a plan counts besides messages: SMS parts (what the provider bills); a gift or call list has rows, email and
# push one message each.
UNITS = {"sms": "parts", "gift": "list rows", "call": "list rows"}


def _label(text: str, width: int) -> str:
    """`text` in exactly `width` cells, cut with … when longer (a template name cut bare reads as another's)."""
    shown = str(cut(text, width))
    return shown + " " * (width - cell_len(shown))


def _short_money(value: float | None, currency: str, *, exact: bool = False) -> str:
    """An amount without cents where that loses nothing that matters: a whole amount; for a cost, one of 1 or more
    (the line below gives it to the cent). A budget that is not whole keeps its cents (¥50 for 50.50 would read as
    overspent by a cost of ¥50.50), and nothing non-zero under 1 is shown as ¥0."""
    if value is None:
        return money(value, currency)
    whole = value == int(value) or (not exact and value >= 1)
    return money(value, currency, places=0 if whole else 2)


def render_plan(plan: Plan, currency: str, width: int = 0) -> Text:
    """The pre-flight funnel: counts at every step with bars, variants, cost and the minimum detectable lift.

    `width` is the pane's (0 before it is laid out): labels and template names take the room it leaves."""
    top = max((step["count"] for step in plan["funnel"]), default=0) or 1
    labels = [step["step"].replace("quiet hours (deferred)", "quiet hours") for step in plan["funnel"]]
    labels += [f"{v['variant']} {v['template']}" for v in plan["variants"]]
    # a count is as wide as the widest (FitTable's rule): the cells a million needs beyond 7 come from the label
    numbers = max([7, *(len(count(step["count"])) for step in plan["funnel"]),
                   *(len(count(v["to_send"])) for v in plan["variants"])])
    longest = max([1, *(cell_len(label) for label in labels)])
    if width:
        # the label first, the bar what is left (never the count); a label the least bar leaves no room for is cut
        label_width = max(1, min(longest, width - numbers - 2 - BAR_LEAST))
        bars = max(BAR_LEAST, min(BAR_MOST, width - label_width - numbers - 2))
    else:   # not laid out yet: drawn again at the pane's width
        label_width, bars = min(longest, LABEL_MIN), BAR_MOST
    text = Text()
    if plan.get("state_note"):
        # Running, paused, cancelled or sent (console.campaigns.finished): the ledger's funnel, not a fresh plan.
        text.append(plan["state_note"] + "\n", style="bold")
    if plan.get("real"):
        # what `campaign plan --real` prints before its figures: what stops the launch, then the warnings
        for problem in plan.get("problems") or []:
            text.append(f"✗ a real launch is refused: {problem}\n", style="bold red")
        for warning in plan.get("warnings") or []:
            text.append(f"⚠ content warning (a real launch asks twice): {warning}\n", style="bold yellow")
        for note in plan.get("reach_warnings") or []:
            text.append(f"⚠ {note}\n", style="bold yellow")
    else:
        # a dry plan of an aliyun/tencent campaign: what a real launch would refuse or not reach, as `campaign plan`
        # prints it (console.campaigns.plan: real_launch_warnings, worked out by the plan's own worker)
        for note in plan.get("real_launch_warnings") or []:
            text.append(f"⚠ {note}\n", style="bold yellow")
    for step in plan["funnel"]:
        n = step["count"]
        if step["reason"] and not n:
            continue
        style = "bold" if step["reason"] is None else ""
        label = step["step"].replace("quiet hours (deferred)", "quiet hours")
        text.append(f"{_label(label, label_width)} {count(n):>{numbers}} ", style=style)
        text.append(bar(n / top, bars).rstrip() or " ", "green" if step["step"] == "to send" else "cyan")
        text.append("\n")
    for v in plan["variants"]:
        template = _label(v["template"], max(label_width - cell_len(v["variant"]) - 1, 1))
        text.append(f"{v['variant']} {template} {count(v['to_send']):>{numbers}} "
                    f"{_short_money(v['est_cost'], currency)}\n", style="dim")
    for v in plan["variants"]:
        if v.get("sample_render_errors"):
            text.append(f"⚠ {v['variant']}: {count(v['sample_render_errors'])} of a sample cannot render "
                        "(an offer missing?) — lint it on Messages\n", style="bold yellow")
    waiting = 0 if plan.get("state_note") else plan.get("deferred_quiet_hours", 0)
    units = UNITS.get(plan.get("channel", "sms"), "messages")
    if plan["est_parts"] == 1:
        units = units[:-1]   # "≈ 1 part", "1 list row", "1 message"
    budget = plan.get("budget")
    if plan.get("state_note"):
        spent = "would cost" if plan.get("dry_run") else "spent"
        text.append(f"{count(plan['est_parts'])} {units} · {spent} {money(plan['est_cost'], currency)}")
    else:
        # A plan is a forecast: nothing has been spent, whatever the launch will be.
        text.append(f"≈ {count(plan['est_parts'])} {units} · would cost {money(plan['est_cost'], currency)}"
                    + (" now" if waiting else ""))
    if budget is not None and not waiting:
        text.append(f" of {_short_money(budget, currency, exact=True)}")
    if waiting:
        # Deferred, not dropped: a real run sends them when quiet hours end — and pays for them then; a dry run
        # records them now as "would send". So the cost is now + later (plan.plan's deferred_cost, total_cost).
        total = money(plan.get("total_cost", plan["est_cost"]), currency)
        text.append(f"\n{count(waiting)} wait for quiet hours: ≈ {money(plan.get('deferred_cost', 0.0), currency)} "
                    f"when they end · total ≈ {total}"
                    + (f" of {_short_money(budget, currency, exact=True)}" if budget is not None else ""), style="dim")
    mde = plan.get("min_detectable_lift")
    text.append(f"\nholdout {count(plan['holdout'])}")
    if mde:
        text.append(f" · detects a lift of ≥ {100 * mde:.1f} pp")
    if (ranked := uplift_line(plan, currency)) and not plan.get("state_note"):
        text.append(f"\n{ranked}", style="dim")
    return text
