"""The Campaigns screen's outcomes pane at 80x24 (36 cells beside the list): a lift's 95% interval is read whole,
never split across two lines ("95% [-1.74," / "0.21]")."""

from __future__ import annotations

import copy
import re

from textual.geometry import Region
from textual.widget import Widget

from screens.campaigns import CampaignsScreen
from screens.sources.campaigns import campaign_outcomes
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for


def _lines(widget: Widget) -> list[str]:
    width, height = widget.size
    return ["".join(segment.text for segment in strip) for strip in widget.render_lines(Region(0, 0, width, height))]


async def test_an_interval_stays_on_one_line_at_80x24(tmp_path, monkeypatch):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    db = ws.open()
    from console.campaigns import control, model

    model.create(db, "measured", segment="all", channel="sms", template="nostalgic-sms-en", holdout=10)
    control.launch(db, ws.config, "measured")
    result = copy.deepcopy(campaign_outcomes(db, ws.config, "measured"))
    db.close()
    for c in result["comparisons"]:   # the audit's numbers: a negative lift whose interval spans zero
        c.update(absolute_lift=-0.0076, ci_low=-0.0174, ci_high=0.0021, p_value=0.125, significant=False)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen)
                       and "to send" in text_of(pilot, "#campaign-plan-text"), what="the Campaigns list")
        await pilot.press("t")
        await wait_for(pilot, lambda: "vs holdout" in text_of(pilot, "#campaign-plan-text"), what="the outcomes")
        app.screen.show_outcomes(result)
        await settle(pilot)
        painted = _lines(app.screen.query_one("#campaign-plan-text"))
        whole = [line for line in painted if re.search(r"95% \[-1\.74, ?0\.21\]", line)]
        assert len(whole) == len(result["comparisons"]) > 0, painted
