"""The pre-launch check of a real send: what would stop `launch` before it writes anything, the providers' content
warnings, and the real plan the operator confirms (issue 16: one path for `campaign launch --real`, a real launch
from the console, a scheduled real launch at confirmation and again when run-due launches it).
"""

from __future__ import annotations

import json

import sqlite_utils

from console import audit, content_rules, templates
from console.approved_templates import PROVIDERS
from console.campaigns import model
from console.campaigns.audience import launch_refusal
from console.campaigns.finished import Plan
from console.campaigns.plan import plan
from console.campaigns.plan_provider import coupon_problems
from console.channels import ChannelError, open_channel, transport_of
from console.config import Config
from console.errors import WinbackError


def launch_problems(db: sqlite_utils.Database, config: Config, name: str, *, real: bool,
                    connect: bool = True) -> list[str]:
    """What would stop `launch` before it writes anything, in the operator's words ([] when nothing would).

    The campaign's status (running, paused, cancelled, already sent) and, for a real launch, the channel's
    configuration: a missing url, an environment variable that is not set, an unknown `security`; with
    `connect`, also the server itself (SMTP: connect, STARTTLS, log in). `launch` makes the same checks; calling
    this first lets the CLI refuse before asking the operator to confirm, and lets `plan --real` report them.
    """
    campaign = model.get(db, name)
    problems = []
    refusal = launch_refusal(db, campaign)
    if refusal:
        problems.append(refusal)
    if real:
        try:
            channel = open_channel(campaign.channel, config, campaign=campaign.name, dry_run=False)
            try:
                if connect:
                    channel.verify()
            finally:
                channel.close()
        except ChannelError as exc:
            problems.append(str(exc))
        problems.extend(template_problems(db, config, campaign))
    return problems


def prelaunch_check(db: sqlite_utils.Database, config: Config, name: str, *, connect: bool = True) -> Plan:
    """The real plan with what `winback campaign launch --real` checks before it asks for the count: `problems`
    (status, channel settings, secrets, approved templates — with `connect`, the server itself: SMTP connect and
    log in) and the content `warnings`."""
    data = plan(db, config, name, real=True)
    data["problems"] = launch_problems(db, config, name, real=True, connect=connect)
    data["warnings"] = launch_warnings(db, config, name)
    return data


def real_launch_warnings(db: sqlite_utils.Database, config: Config, name: str) -> tuple[list[str], list[str]]:
    """(content warnings, reach warnings): what a real launch's plan warns of, for a launch that shows no plan
    (`launch --real --yes`). The audience is planned only when the channel's provider has a reach to warn of
    (aliyun/tencent SMS: numbers outside +86), so other scripted launches pay nothing for it."""
    campaign = model.get(db, name)
    transport = transport_of(config, campaign.channel)
    reach: list[str] = []
    if campaign.channel == "sms" and transport in PROVIDERS and launch_refusal(db, campaign) is None:
        reach = plan(db, config, name, real=True).get("reach_warnings") or []
    return launch_warnings(db, config, name), reach


class ContentWarnings(WinbackError):
    """A real launch refused because its templates break the providers' content rules (exit 1)."""

    exit_code = 1


def launch_warnings(db: sqlite_utils.Database, config: Config, name: str) -> list[str]:
    """R (issue 13): what the providers' content rules say about the campaign's templates on its channel
    (console.content_rules), in the operator's words ([] when nothing). Shared by plan, launch and the console."""
    return content_rules.campaign_warnings(db, config, model.get(db, name))


def check_warnings(db: sqlite_utils.Database, config: Config, campaign: model.Campaign, accept: bool) -> None:
    """ContentWarnings unless there are none or `accept` (then audited: `campaign.accept_warnings`)."""
    warnings = launch_warnings(db, config, campaign.name)
    if not warnings:
        return
    if not accept:
        raise ContentWarnings(f"{len(warnings)} content warning{'s' if len(warnings) > 1 else ''} — "
                              + "; ".join(warnings) + ". Fix the template, or launch with --accept-warnings "
                              "(the console asks a second confirmation)")
    audit.record_now(db, "campaign.accept_warnings", campaign=campaign.name, warnings=warnings)


def accepted_before(db: sqlite_utils.Database, config: Config, name: str) -> bool:
    """Whether every current warning of the campaign was accepted at an earlier real launch (a recurring run by
    run-due then goes on; a new warning stops it)."""
    warnings = set(launch_warnings(db, config, name))
    if not warnings:
        return True
    accepted: set[str] = set()
    for (details,) in db.execute("SELECT details FROM audit WHERE action = 'campaign.accept_warnings' "
                                 "AND json_extract(details, '$.campaign') = ?", [name]):
        accepted.update(json.loads(details).get("warnings", []))
    return warnings <= accepted


def template_problems(db: sqlite_utils.Database, config: Config, campaign: model.Campaign) -> list[str]:
    """I (issue 13): a channel on aliyun/tencent sends only templates approved at that provider, and only a
    coupon code a parameter of the approved text carries (console.campaigns.plan_provider)."""
    transport = transport_of(config, campaign.channel)
    return (templates.approval_problems(db, [v.template for v in campaign.variants], transport, campaign.channel)
            + coupon_problems(db, campaign, transport))   # a code the approved text cannot carry
