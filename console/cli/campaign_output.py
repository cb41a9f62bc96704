"""What `winback campaign` prints for people: the plan, a run's summary and the tally (with --json, the commands
print the data instead). Shared by the campaign command modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from console.cli.output import emit_rows, print_json, say

if TYPE_CHECKING:   # the campaign services load only when a command runs
    from console.campaigns.finished import Plan

Name = Annotated[str, typer.Argument(help="Campaign name.")]


def print_plan(data: Plan) -> None:
    if data.get("state_note"):
        print_frozen_plan(data)
        return
    print_warnings(data.get("warnings") or [])
    for note in data.get("reach_warnings") or []:   # numbers outside +86 through a mainland provider
        say(f"warning: {note}")
    for note in data.get("real_launch_warnings") or []:   # a dry plan: what a real aliyun/tencent launch would say
        say(f"warning: {note}")
    emit_rows([{"step": f["step"], "users": f["count"]} for f in data["funnel"]], as_json=False,
              title=f"plan: {data['campaign']} ({data['channel']} via {data['transport']})")
    later = ("deferred", "deferred_cost") if data["deferred_quiet_hours"] else ()
    sms_parts = ("est_parts",) if data["channel"] == "sms" else ()   # an SMS's billed segments; others are one each
    emit_rows([{k: v.get(k) for k in ("variant", "template", "assigned", "to_send", *sms_parts, "est_cost", *later)}
               for v in data["variants"]], as_json=False,
              drop=["deferred_cost", "deferred", "est_parts", "assigned"])   # the deferred: said below the table
    mde = data["min_detectable_lift"]
    r = data.get("ranking")
    if r:
        chosen, everyone = r["chosen"], r["everyone"]
        share = f"{r['share_of_expected_value']:.0%}" if r["share_of_expected_value"] is not None else "n/a"
        # ranked by uplift with no propensity model fitted (the demo), nobody has an expected value: "0.0 of 0.0"
        # read as a finding, so say there is none to compare
        value = ("no expected value scores (`winback model fit`)" if not r.get("scored") else
                 f"expected value {chosen['expected_value']:,.1f} of {everyone['expected_value']:,.1f} ({share}; "
                 f"{r['share_if_random'] or 0:.0%} if picked at random), expected orders "
                 f"{chosen['expected_orders_90d']:,.1f} of {everyone['expected_orders_90d']:,.1f}")
        say(f"ranked by {r['rank_by']}: {chosen['recipients']:,} of {everyone['recipients']:,} sendable users for "
            f"{chosen['cost']:,.2f} {data['currency']} (everyone: {everyone['cost']:,.2f}) — {value}; "
            f"{r['ranked_out']:,} below the cut-off, the holdout cut the same way")
        if r.get("uplift"):   # L (issue 15): the uplift model's estimate of what the budget buys
            from console.uplift.targeting import size_note

            u = r["uplift"]
            by_alive = ("no p_alive scores (`winback model fit`)" if u["extra_returns_ranked_by_p_alive"] is None
                        else f"~{u['extra_returns_ranked_by_p_alive']:,.1f}")
            say(f"uplift model: ~{u['extra_returns']:,.1f} extra returns from these {u['recipients']:,} (ranked by "
                f"p_alive: {by_alive}; at random: ~{u['extra_returns_at_random']:,.1f}; everyone, "
                f"{u['everyone']:,}: ~{u['extra_returns_everyone']:,.1f}) — {size_note(u.get('calibrated'))}; the "
                "holdout measures the real figure")
            if u.get("value"):   # a cash coupon: ranked by extra revenue net of it (console.uplift.value)
                v, cur = u["value"], data["currency"]
                alive = v["ranked_by_p_alive"]
                by_alive = ("no p_alive scores" if alive is None
                            else f"~{alive['net_value']:,.2f} ({alive['net_after_messages']:,.2f})")
                say(f"net of the coupon ({u['offer']}): ~{v['ranked']['net_value']:,.2f} {cur} extra revenue from "
                    f"these, {v['ranked']['net_after_messages']:,.2f} after the messages ({v['worth_it']:,} worth "
                    f"more than their coupon); ranked by p_alive: {by_alive}; everyone: "
                    f"~{v['everyone']['net_value']:,.2f} ({v['everyone']['net_after_messages']:,.2f}) — assumes "
                    "every returner redeems the coupon on one order of their average value")
                losing = u["recipients"] - v["worth_it"]
                if losing > 0:   # ranked by net value, the worth-it come first: a smaller budget stops before these
                    say(f"{losing:,} of the {u['recipients']:,} bought {'is' if losing == 1 else 'are'} expected to "
                        f"bring less than their coupon costs: a budget of "
                        f"{v['worth_it'] * r['cost_per_message']:,.2f} {cur} buys the {v['worth_it']:,} worth it "
                        "first and stops")
    # parts: an SMS split into billed segments; an email, a push, a call list entry is one message
    parts = (f"~{data['est_parts']:,} part{'' if data['est_parts'] == 1 else 's'}, " if data["channel"] == "sms"
             else "")
    say(f"to send: {data['to_send']:,} message{'' if data['to_send'] == 1 else 's'}, {parts}~{data['est_cost']:,.2f} "
        f"{data['currency']}" + (f" (budget {data['budget']:,.2f})" if data["budget"] is not None else ""))
    if data["deferred_quiet_hours"]:
        # deferred, not dropped: sent when quiet hours end, and paid for then (plan.plan's deferred_*, total_*)
        say(f"cost now ~{data['est_cost']:,.2f} {data['currency']} ({data['to_send']:,} messages), deferred to "
            f"after quiet hours ~{data.get('deferred_cost', 0.0):,.2f} {data['currency']} "
            f"({data['deferred_quiet_hours']:,} messages), total "
            f"~{data.get('total_cost', data['est_cost']):,.2f} {data['currency']} "
            f"({data.get('total_to_send', data['to_send']):,} messages"
            + (f", ~{data.get('total_parts', 0):,} parts)" if data["channel"] == "sms" else ")"))
    say(f"holdout {data['holdout']:,} of {data['holdout'] + data['treated']:,}: minimum detectable lift "
        + (f"+{mde * 100:.2f} pp" if mde is not None else "n/a (audience too small)")
        + f" at baseline {data['baseline_rate'] * 100:.1f}% ({data['baseline_source']})")


def print_warnings(warnings: list[str]) -> None:
    """Content-rule warnings (console.content_rules), one per line, before the plan's figures."""
    if warnings:
        say(f"{len(warnings)} content warning{'s' if len(warnings) > 1 else ''} (the providers' rules for "
            "marketing SMS; a real launch needs --accept-warnings):")
        for w in warnings:
            say(f"  ! {w}")


def print_frozen_plan(data: Plan) -> None:
    """A campaign that cannot start again (console.campaigns.finished): what happened to its frozen audience."""
    from console.campaigns.tallies import cost_words

    say(data["state_note"])
    emit_rows([{"step": f["step"], "users": f["count"]} for f in data["funnel"] if f["count"] or not f["reason"]],
              as_json=False, title=f"{data['campaign']} run {data['run']} ({data['channel']})")
    parts = f", {data['est_parts']:,} parts" if data["channel"] == "sms" else ""
    say(f"{data['funnel'][-1]['step']} {data['to_send']:,} message{'' if data['to_send'] == 1 else 's'}{parts}; "
        f"{cost_words(data['dry_run'])} {data['est_cost']:,.2f} {data['currency']}"
        + (f" (budget {data['budget']:,.2f})" if data["budget"] is not None else ""))
    say(data["launch_refusal"])


def report(summary: Any, as_json: bool, channel: str = "CHANNEL", cost: float | None = None,
            tz: str = "UTC", deferred_now: int | None = None) -> None:
    """The run's line and what to do next. `deferred_now`: the run's messages deferred now (the tally's), said
    instead of the summary's `deferred` (those this dispatch deferred): a resume while quiet hours still hold
    defers nothing new, and read 'deferred 0' with messages waiting."""
    from console.campaigns.tallies import cost_words
    from console.timefmt import local_time

    data = summary.as_dict()
    if deferred_now is not None:
        data["deferred_now"] = deferred_now
    if as_json:
        print_json(data)
        return
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(data["skipped"].items())) or "none"
    money = f", {cost_words(data['dry_run'])} {cost:,.2f}" if cost is not None else ""
    say(f"{data['campaign']} run {data['run']} ({'dry run' if data['dry_run'] else 'real'}): {data['outcome']} — "
        f"{'would send' if data['dry_run'] else 'sent'} {data['sent']:,}{money}, failed {data['failed']:,}, "
        f"deferred {data.get('deferred_now', data['deferred']):,}, "
        + (f"unknown {data['unknown']:,}, " if data.get("unknown") else "")
        + f"skipped {skipped} in {data['seconds']:.1f}s")
    no_reply = (data.get("unknown") or 0) - (data.get("recovered_unknown") or 0)
    if no_reply > 0 and not data["dry_run"]:
        # issue 13: without this line a run whose requests all timed out read "sent 0, failed 0" and nothing more
        say(f"{no_reply:,} recipients got no clear answer from the provider (it may have taken them): they are "
            "[bold]unknown[/] and never resent by themselves. `winback campaign reconcile "
            f"{data['campaign']}` asks the provider's query API (aliyun, tencent, twilio) and settles them; for "
            "other transports check the provider's records and `winback campaign requeue "
            f"{data['campaign']} --not-sent FILE` those it never got")
    if data.get("recovered_unknown"):
        say(f"{data['recovered_unknown']:,} recipients handed to the provider by a dispatcher that died are now "
            "[bold]unknown[/]: they may or may not have been sent, and are never resent by themselves. Reconcile "
            f"them with the provider's delivery report — `winback receipts import REPORT.csv --channel {channel}` "
            "turns those it lists into delivered or failed; those its records show never arrived go back with "
            f"`winback campaign requeue {data['campaign']} --not-sent FILE`; `winback campaign tally "
            f"{data['campaign']}` shows how many stay unknown")
    if data["outcome"] == "paused" and data.get("pause_reason"):
        say(f"paused: {data['pause_reason']} — `winback campaign resume {data['campaign']}` continues")
    if data["dry_run"] and data.get("would_wait") and data.get("next_at"):
        last = data.get("wait_last_at") or data["next_at"]
        span = local_time(data["next_at"], tz) + ("" if last == data["next_at"] else f" to {local_time(last, tz)}")
        say(f"{data['would_wait']:,} would wait for quiet hours (rendered, costed and recorded with their time, "
            f"not waited for): a real launch would send them from {span}")
    if data["outcome"] == "waiting":
        if data.get("wait_reason"):   # the provider asked us to stay away (Retry-After): nothing is sent until then
            say(f"waiting: {data['wait_reason']}")
        say(f"deferred messages are due at {local_time(data['next_at'], tz)}: `winback campaign run-due` (cron) "
            "or `resume` continues them")



TALLY_COLUMNS = ["planned", "waiting", "claimed", "sent", "delivered", "bounced", "failed", "deferred", "unknown",
                 "skipped", "cancelled", "cost"]
ALWAYS_SHOWN = {"planned", "sent", "skipped", "cost"}


def _mode_note(data: Mapping[str, Any]) -> str:
    """' (dry run)' / ' (simulated)' after a tally's title; nothing for a real run."""
    mode = data.get("mode") or ("dry run" if data["dry_run"] else "real")
    return "" if mode == "real" else f" ({mode})"


def print_tally(data: Mapping[str, Any], tz: str = "UTC") -> None:   # a tallies.Tally, read by column
    # 80 columns: the states that occur, plus the ones an operator always looks for
    from console.campaigns.tallies import cost_words

    started = data["run"] is not None   # a draft or a scheduled campaign has no run: nothing counted, no rate
    if not started:   # a table of zeros would read as a run that counted nothing (--json keeps the whole tally)
        say(f"{data['campaign']} — {data['status']}{_mode_note(data)}: not started: no run yet, so nothing "
            "planned, sent or skipped, and no sending rate")
        _print_after_tally(data, tz)
        return
    columns = [c for c in TALLY_COLUMNS if c in ALWAYS_SHOWN or data[c]]
    money = cost_words(data["dry_run"])  # a dry run spends nothing: its cost is what it would cost
    # … nor sends anything (nor does the demo's simulated campaign): its `sent` rows are what it would send
    sent = "sent" if (data.get("mode") or ("dry run" if data["dry_run"] else "real")) == "real" else "would send"
    heads = [money if c == "cost" else sent if c == "sent" else c for c in columns]
    rows = [{"variant": "all", **{h: data[c] for h, c in zip(heads, columns, strict=True)}}]
    rows += [{"variant": arm, **{h: v[c] for h, c in zip(heads, columns, strict=True)}}
             for arm, v in data["variants"].items() if arm != "holdout"]
    emit_rows(rows, as_json=False, columns=["variant", *heads],
              title=f"{data['campaign']} run {data['run']} — {data['status']}{_mode_note(data)}",
              # a narrow terminal: planned, sent, skipped and cost stay; these step aside, the first first
              drop=["claimed", "cancelled", "waiting", "bounced", "deferred", "delivered", "unknown", "failed"])
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(data["skipped_by_reason"].items())) or "none"
    say(f"holdout {data['holdout']:,}; skipped: {skipped}; {data['msgs_per_s_last_minute']:.1f} msgs/s "
        "over the last minute")
    _print_after_tally(data, tz)


def _print_after_tally(data: Mapping[str, Any], tz: str) -> None:
    """The lines under a tally: quiet-hours waits of a dry run, the pause reason, the brakes."""
    from console.timefmt import local_time

    if data.get("modes") and len(data["modes"]) > 1:   # a step of the demo's ladder the operator ran too
        from console.simulated import parts_words

        say(f"runs of {data['campaign']}: {parts_words(data['modes'])}")
    if data.get("would_wait") and data.get("would_wait_between"):
        first, last = data["would_wait_between"]
        span = local_time(first, tz) + ("" if last == first else f" to {local_time(last, tz)}")
        # a dry run's rows: nothing was sent (real means real), so not "of the sent"
        say(f"{data['would_wait']:,} of those it would send would wait for quiet hours in a real run: from {span}")
    if data.get("pause_reason"):
        say(f"paused: {data['pause_reason']}")
    if data.get("deferred") and data.get("deferred_due") and data["status"] == "running":
        # nothing sends them by itself: a newcomer watching `running` at 0 msgs/s would wait for ever
        reasons = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in sorted(data.get("deferred_by_reason", {}).items()))
        say(f"{data['deferred']:,} deferred ({reasons}): the first due at {local_time(data['deferred_due'], tz)} — "
            f"`winback campaign run-due` (cron) or `winback campaign resume {data['campaign']}` sends them then")
    b = data.get("brakes")
    if b and b["sends"]:
        def rate(key: str, count: str) -> str:
            return f"{b[count]:,} ({b[key]:.1%}, limit {b['limits'][key]:.1%})"

        say(f"brakes over the last {b['sends']:,} sends: opt-outs {rate('opt_out_rate', 'opt_outs')}, "
            f"complaints {rate('complaint_rate', 'complaints')}, failures {rate('failure_rate', 'failures')}"
            + (f"; none before {b['min_sends']} sends" if b["sends"] < b["min_sends"] else ""))
