"""Where the screens get their data: the same console service functions the CLI calls.

Every function here takes a `sqlite_utils.Database` opened by the calling thread worker and returns plain data.
No SQL lives here; where a capability has not landed yet the function answers None, and the screen says so
honestly ("no profiles yet — run winback refresh") instead of showing made-up numbers.

The package follows the screens' areas: overview.py (the header, Overview, Audit and Model screens),
policy.py, messages.py, campaigns.py (Campaigns, Deliveries, the creation flow, outcomes) and segments.py. Every
function is also a name of this package (`sources.plan_campaign`), as the screens call them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from screens.sources.campaigns import (
    SETTLED_TALLY_SECONDS,
    campaign_choices,
    campaign_outcomes,
    campaign_recipients,
    campaign_rows,
    campaign_tally,
    cancel_campaign,
    create_campaign,
    latest_campaign,
    launch_campaign,
    pause_campaign,
    plan_campaign,
    resume_campaign,
    segment_names,
    why_recipient,
)
from screens.sources.messages import (
    check_template_text,
    lint_template,
    preview_text,
    save_template_text,
    segment_member,
    template_list,
    template_source,
)
from screens.sources.overview import (
    HEAT_STATES,
    audit_page,
    dormancy_funnel,
    layer_heat,
    layer_members,
    layer_rules,
    model_report,
    overview,
    overview_activity,
    overview_profiles,
    profiled,
    recent_audit,
    running_campaign_names,
)
from screens.sources.policy import (
    add_suppression,
    policy_state,
    remove_cap,
    remove_suppression,
    set_cap,
    set_quiet_hours,
)
from screens.sources.segments import (
    rule_count,
    rule_fields,
    save_segment,
    segment_counts,
    segment_detail,
    segment_list,
    segment_members,
)

if TYPE_CHECKING:
    from screens.sources.campaigns import DeliveriesTally as DeliveriesTally
    from screens.sources.overview import AuditPage as AuditPage

__all__ = [
    "HEAT_STATES",
    "SETTLED_TALLY_SECONDS",
    "add_suppression",
    "audit_page",
    "campaign_choices",
    "campaign_outcomes",
    "campaign_recipients",
    "campaign_rows",
    "campaign_tally",
    "cancel_campaign",
    "check_template_text",
    "create_campaign",
    "dormancy_funnel",
    "latest_campaign",
    "launch_campaign",
    "layer_heat",
    "layer_members",
    "layer_rules",
    "lint_template",
    "model_report",
    "overview",
    "overview_activity",
    "overview_profiles",
    "pause_campaign",
    "plan_campaign",
    "policy_state",
    "preview_text",
    "profiled",
    "recent_audit",
    "remove_cap",
    "remove_suppression",
    "resume_campaign",
    "rule_count",
    "rule_fields",
    "running_campaign_names",
    "save_segment",
    "save_template_text",
    "segment_counts",
    "segment_detail",
    "segment_list",
    "segment_member",
    "segment_members",
    "segment_names",
    "set_cap",
    "set_quiet_hours",
    "template_list",
    "template_source",
    "why_recipient",
]
