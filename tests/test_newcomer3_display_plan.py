"""The plan pane at 80 columns (Campaigns → a campaign's plan, 34 cells wide): labels get their width before the
bars do ("frozen at laun…", "A nostalgic-sm…" while a bar had room), and a gift or call list counts rows, email and
push messages — "parts" are an SMS figure ("7 parts" for a gift list)."""

from __future__ import annotations

import pytest

from screens.new_campaign import render_plan

PANE = 34   # the plan pane's width in the Campaigns screen at 80×24


def _plan(channel: str, template: str, *, frozen: bool = False) -> dict:
    funnel = ([{"step": "frozen at launch", "reason": None, "count": 14343},
               {"step": "holdout", "reason": "holdout", "count": 4287},
               {"step": "would send", "reason": None, "count": 10056}] if frozen else
              [{"step": "segment", "reason": None, "count": 7},
               {"step": "to send", "reason": None, "count": 7}])
    return {"campaign": "c", "channel": channel, "funnel": funnel, "state_note": "c is done:" if frozen else None,
            "variants": [{"variant": "A", "template": template, "to_send": funnel[-1]["count"], "est_cost": 0.0}],
            "est_parts": funnel[-1]["count"], "est_cost": 0.0, "budget": None, "holdout": 0, "dry_run": True,
            "min_detectable_lift": None, "deferred_quiet_hours": 0}


def test_labels_are_whole_when_the_bars_can_give_up_cells():
    text = render_plan(_plan("sms", "nostalgic-sms-zh", frozen=True), "CNY", PANE).plain
    lines = text.splitlines()
    assert any(line.startswith("frozen at launch ") for line in lines), text
    assert any(line.startswith("A nostalgic-sms-zh ") for line in lines), text
    assert "…" not in text, text
    assert all(len(line) <= PANE for line in lines[1:]), text


def test_a_label_longer_than_the_pane_allows_is_cut_and_the_row_still_fits():
    text = render_plan(_plan("sms", "a-very-long-template-name-for-autumn"), "CNY", PANE).plain
    assert "…" in text and all(len(line) <= PANE for line in text.splitlines()), text


@pytest.mark.parametrize(("channel", "words"), [
    ("sms", "7 parts"), ("gift", "7 list rows"), ("call", "7 list rows"), ("email", "7 messages"),
    ("push", "7 messages"),
])
def test_parts_are_said_only_for_sms(channel, words):
    text = render_plan(_plan(channel, f"seed-{channel}-zh"), "CNY", PANE).plain
    assert f"≈ {words} · would cost" in text, text
    if channel != "sms":
        assert "parts" not in text, text
