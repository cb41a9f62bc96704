"""Counts shown by the other screens follow FitTable's rules too (issue 18, "fits at 80 columns"): whole, with
thousands separators, right-aligned; checked on the painted table at 80×24 and 160×45."""

from __future__ import annotations

import copy

import pytest
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Select

from console import offers
from console.policy import caps
from screens.campaigns import CampaignsScreen
from screens.columns import FitTable
from screens.deliveries import DeliveriesScreen
from screens.new_campaign import BY_LAYER, NewCampaignScreen
from screens.segments import render_breakdown
from screens.sources.campaigns import campaign_outcomes, campaign_tally, plan_campaign
from screens.sources.offers import offers_and_grid
from tests.tui_helpers import demo_workspace, launched_demo, make_app, settle, text_of, wait_for

SIZES = [(80, 24), (160, 45)]
NOW = "2026-11-25T10:00:00+08:00"
LONG_OFFER = "winter-comeback-coupon-for-the-dormant-east-china-layer"


def _lines(widget: Widget) -> list[str]:
    """What the widget shows, line by line, as painted."""
    width, height = widget.size
    return ["".join(segment.text for segment in strip) for strip in widget.render_lines(Region(0, 0, width, height))]


@pytest.mark.parametrize("size", SIZES)
async def test_a_caps_limit_is_a_count_with_separators(workspace, db, size):
    caps.set_rule(db, caps.parse_rule("sms", "25000/7d"))
    app = make_app(workspace)
    async with app.run_test(size=size) as pilot:
        await pilot.press("p")
        table = app.screen.query_one("#caps-table", FitTable)
        await wait_for(pilot, lambda: table.row_count == 1, what="the cap")
        await settle(pilot)
        header, line = _lines(table)[:2]
        assert "sms" in line and "25,000" in line and "7d" in line, line
        # right-aligned: the count ends where its header ends
        assert line.index("25,000") + len("25,000") == header.index("at most") + len("at most"), (header, line)


@pytest.mark.parametrize("size", SIZES)
async def test_by_layer_in_the_creation_flow_keeps_counts_and_costs_whole(tmp_path, monkeypatch, size):
    """The creation flow's "by layer": a rich table squeezed into the plan pane cut the costs ('¥103,086,2…') and
    dropped the offers at 80 columns. Shown with the real service's grid, its users raised to the millions."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen)
                       and "dormant" in [str(v) for _, v in app.screen.query_one("#f-segment", Select)._options],
                       what="the creation flow with its segments")
        screen = app.screen
        assert isinstance(screen, NewCampaignScreen)
        screen.query_one("#f-offer", Select).value = BY_LAYER
        await wait_for(pilot, lambda: "what each layer gets" in text_of(pilot, "#plan"), what="by layer")
        await settle(pilot)
        db = ws.open()
        data = copy.deepcopy(offers_and_grid(db, ws.config))
        db.close()
        for line in data["grid"]["cells"]:
            for cell in line:
                cell["users"] = cell["users"] * 4_123 + 1_000_000 if cell["users"] else 0
        screen.show_layer_offers(data)
        await settle(pilot)
        painted = _lines(screen.query_one("#plan"))
        rows = {line.split()[0] + " " + line.split()[1]: line for line in painted if len(line.split()) > 2}
        shown = 0
        for line in data["grid"]["cells"]:
            for cell in line:
                if not cell["users"]:
                    continue
                row = rows[cell["layer"]]
                assert f" {cell['users']:,} " in row, row   # whole, with separators
                assert cell["offer"] in row or "…" in row, row   # an offer cut with …, never a count
                if cell["offer"] and cell["amount"] and size[0] >= 160:
                    assert f"¥{cell['users'] * cell['amount']:,.0f}" in row, row
                shown += 1
        assert shown
        total = sum(c["users"] * (c["amount"] or 0) for line in data["grid"]["cells"] for c in line)
        assert f"¥{total:,.0f} in all" in " ".join(" ".join(painted).split())
        assert not [line for line in painted if "¥" in line and "…" in line], painted


@pytest.mark.parametrize("size", SIZES)
async def test_a_segments_breakdown_cuts_a_long_value_with_an_ellipsis_and_keeps_counts_whole(
        tmp_path, monkeypatch, size):
    """The breakdown cut a value at 12 cells with no mark ('Inner Mongol') and padded counts to 7 cells, so a
    million pushed its row out of line; now FitTable's rules (screens/fit_rows.py) through the same code."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: "by region" in text_of(pilot, "#seg-breakdown"), what="the breakdown")
        rows = [{"value": "Inner Mongolia Autonomous Region", "users": 1_234_567, "share": 0.6, "base_users": 9,
                 "base_share": 0.5, "index": 120},
                {"value": "Tibet", "users": 823_045, "share": 0.4, "base_users": 9, "base_share": 0.5, "index": 80}]
        breakdown = app.screen.query_one("#seg-breakdown")
        breakdown.update(render_breakdown(rows, "region"))
        await settle(pilot)
        painted = [line for line in _lines(breakdown) if line.strip()]
        inner = next(line for line in painted if "Inner" in line)
        tibet = next(line for line in painted if "Tibet" in line)
        assert "1,234,567" in inner and "60%" in inner and "120" in inner, inner
        assert "823,045" in tibet and "40%" in tibet, tibet
        assert inner.index("1,234,567") + 9 == tibet.index("823,045") + 7, (inner, tibet)   # right-aligned
        assert "Inner Mongo" in inner and "…" in inner, inner   # cut, with …: to the pane, or to 20 cells


@pytest.mark.parametrize("size", SIZES)
async def test_the_overviews_heat_map_keeps_a_million_whole(tmp_path, monkeypatch, size):
    """At 80 columns the heat map is 36 cells wide: three layers of a million users with their shade marks did
    not fit and were cut ('█ 1,234,5…'); the marks go first (the colours still show the heat), the counts stay."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        heat = app.screen.query_one("#heat")
        await wait_for(pilot, lambda: heat.matrix is not None, what="the heat map")
        await settle(pilot)
        rows, columns, _ = heat.matrix
        big = tuple(tuple(1_234_567 + 1_111 * (i * len(columns) + j) for j in range(len(columns)))
                    for i in range(len(rows)))
        heat.matrix = (rows, columns, big)
        await settle(pilot)
        painted = "\n".join(_lines(heat))
        assert "…" not in painted, painted
        for line in big:
            for value in line:
                assert f"{value:,}" in painted, (value, painted)
        if size[0] >= 160:
            assert "█ 1,243,455" in painted, painted   # room for the marks: kept


@pytest.mark.parametrize("size", SIZES)
async def test_the_offers_list_cuts_a_long_name_with_an_ellipsis(tmp_path, monkeypatch, size):
    """The offers below the layer grid were a plain DataTable: a long name pushed the description and layers off
    the screen at 80 columns (sideways scrolling); now a FitTable, the name is cut with … to fit."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    offers.add(db, offers.Offer(name=LONG_OFFER, kind="coupon", threshold=300, amount=50, currency="CNY",
                                validity_days=14))
    db.close()
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("O")
        table = await _wait_table(pilot, "#offer-list")
        await wait_for(pilot, lambda: table.row_count == 6, what="the offers")
        await settle(pilot)
        line = next(line for line in _lines(table) if "winter-comeback" in line)
        assert "50 CNY off orders over 300 CNY, valid 14 days" in line, line
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
        if size[0] >= 160:
            assert LONG_OFFER in line, line
        else:
            assert LONG_OFFER not in line and "…" in line, line


async def _wait_table(pilot, selector: str) -> FitTable:
    await wait_for(pilot, lambda: bool(pilot.app.screen.query(selector)), what=selector)
    return pilot.app.screen.query_one(selector, FitTable)


async def test_the_deliveries_skipped_line_shows_every_count_at_80_columns(tmp_path, monkeypatch):
    """Under the tally, 'skipped: … would wait: … cancelled: …' wraps at 80 columns with big counts; it was two
    lines high at most, so the counts on a third line were not shown at all."""
    ws = launched_demo(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "skipped" in text_of(pilot, "#skipped-line"), what="the tally's skipped line")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DeliveriesScreen)
        screen.on_screen_suspend()
        db = ws.open()
        tally = copy.deepcopy(campaign_tally(db, "nov-sms"))
        db.close()
        tally["skipped_by_reason"] = {"no_consent": 412_345, "invalid_address": 86_234, "suppressed": 12_345,
                                      "capped": 23_456, "over_budget": 123_456, "opted_out": 3_456}
        tally["would_wait"] = 234_567
        tally["cancelled"] = 98_765
        screen.show_tally(tally)
        await settle(pilot)
        shown = " ".join(" ".join(_lines(screen.query_one("#skipped-line"))).split())
        for part in ("no consent 412,345", "over budget 123,456", "opted out 3,456", "quiet hours 234,567",
                     "cancelled: 98,765"):
            assert part in shown, (part, shown)


async def test_the_deliveries_progress_line_keeps_its_cost_at_80_columns(tmp_path, monkeypatch):
    """The progress line ('… 1,234,567/2,345,678  rate … /s  would cost ¥…') was one line high: at 80 columns with
    big counts its cost wrapped onto a second line that was not shown."""
    ws = launched_demo(tmp_path, monkeypatch)
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "rate" in text_of(pilot, "#rate-line"), what="the progress line")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DeliveriesScreen)
        screen.on_screen_suspend()
        db = ws.open()
        tally = copy.deepcopy(campaign_tally(db, "nov-sms"))
        db.close()
        tally.update(planned=2_345_678, cost=123_456.78, budget=200_000.0, msgs_per_s_last_minute=12_345)
        tally["rate_history"] = []
        screen.show_tally(tally)
        await settle(pilot)
        shown = " ".join(" ".join(_lines(screen.query_one("#rate-line"))).split())
        assert "/2,345,678" in shown and "¥123,456.78" in shown and "¥200,000" in shown, shown


@pytest.mark.parametrize("size", SIZES)
async def test_the_overviews_funnel_keeps_a_line_per_state_with_a_million(tmp_path, monkeypatch, size):
    """The dormancy funnel padded counts to 7 cells: a million (9) pushed each line past the chart's width, so its
    share wrapped onto a line of its own and the last states fell out of the box. The bars give up the cells."""
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    app = make_app(ws)
    async with app.run_test(size=size) as pilot:
        funnel = app.screen.query_one("#funnel")
        await wait_for(pilot, lambda: bool(funnel.rows), what="the funnel")
        await settle(pilot)
        rows = tuple((label, 1_234_567 * (i + 1)) for i, (label, _) in enumerate(funnel.rows))
        funnel.rows = rows
        await settle(pilot)
        painted = [line for line in _lines(funnel) if line.strip()]
        assert len(painted) == len(rows), painted   # one line each: nothing wrapped
        for (_label, n), line in zip(rows, painted, strict=True):
            assert f"{n:,}" in line and "%" in line, line


async def _campaigns_with_measured(pilot, ws) -> CampaignsScreen:
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, CampaignsScreen)
                   and "to send" in text_of(pilot, "#campaign-plan-text"), what="the Campaigns list and a plan")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CampaignsScreen)
    return screen


@pytest.fixture
def measured(tmp_path, monkeypatch):
    ws = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = ws.open()
    from console.campaigns import control, model

    model.create(db, "measured", segment="all", channel="sms", template="nostalgic-sms-en", holdout=10)
    control.launch(db, ws.config, "measured")
    db.close()
    return ws


@pytest.mark.parametrize("size", SIZES)
async def test_the_plan_and_the_outcomes_keep_a_million_on_its_line(measured, size):
    """Beside the Campaigns list (36 cells at 80 columns) the plan's and the outcomes' counts were padded to 7
    cells: a million pushed a plan row's bar onto a line of its own, and the outcomes' columns out of line."""
    app = make_app(measured)
    async with app.run_test(size=size) as pilot:
        screen = await _campaigns_with_measured(pilot, measured)
        name = screen._planned_for
        assert name
        db = measured.open()
        plan = copy.deepcopy(plan_campaign(db, measured.config, name))
        db.close()
        for step in plan["funnel"]:
            step["count"] = step["count"] * 3_001 + 1_000_000 if step["count"] else 0
        screen.show_plan(plan)
        await settle(pilot)
        painted = _lines(screen.query_one("#campaign-plan-text"))
        for step in plan["funnel"]:
            if step["count"]:
                assert [line for line in painted if f" {step['count']:,} " in line], (step, painted)
        bars = [line for line in painted if any(block in line for block in "█▉▊▋▌▍▎▏")]
        assert bars and all(any(ch.isdigit() for ch in line) for line in bars), painted   # no bar on its own
        await pilot.press("t")
        await wait_for(pilot, lambda: "vs holdout" in text_of(pilot, "#campaign-plan-text"), what="the outcomes")
        db = measured.open()
        result = copy.deepcopy(campaign_outcomes(db, measured.config, screen._planned_for or ""))
        db.close()
        for arm in result["arms"]:
            arm["users"], arm["converters"] = arm["users"] * 3_001 + 1_000_000, arm["converters"] * 3_001 + 12_345
        screen.show_outcomes(result)
        await settle(pilot)
        painted = _lines(screen.query_one("#campaign-plan-text"))
        header = next(line for line in painted if "users" in line and "back" in line)
        for arm in result["arms"]:
            line = next(line for line in painted if f"{arm['users']:,}" in line)
            assert f"{arm['converters']:,}" in line, line
            # right-aligned under their headers
            assert line.index(f"{arm['users']:,}") + len(f"{arm['users']:,}") == header.index("users") + 5, (
                header, line)
