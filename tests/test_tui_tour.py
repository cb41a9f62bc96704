"""The operator loop of docs/console.md, as a newcomer meets it at 80×24 (and 160×45 where width matters): what
the tmux tour of issue 18 found misleading is pinned here — the import's result names the console's own refresh,
the plan pane never cuts a template name into another name, and on Deliveries `/` and `Enter` act on the
recipients (the list the operator came for), not on the three-row tally."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select

from console import templates
from console.campaigns import control, model
from console.policy import quiet_hours
from console.workspace import Workspace
from screens.campaigns import CampaignsScreen
from screens.deliveries import DeliveriesScreen
from screens.dialogs import InfoDialog
from screens.import_screen import ImportScreen
from screens.table_filter import FilterBar
from tests.tui_helpers import (
    demo_workspace,
    filter_recipients,
    make_app,
    settle,
    text_of,
    type_text,
    wait_for,
)

MAPPING = """
[import.mappings.shop]
kind = "order"
date_format = "%d/%m/%Y %H:%M"
where = "状态 != 'refunded'"

[import.mappings.shop.columns]
"会员号" = "user_id"
"付款时间" = "at"
"金额" = "amount"
"""

SHOP_ORDERS = """会员号,付款时间,金额,状态
U0000011,20/11/2026 09:12,129.00,paid
U0000012,21/11/2026 10:30,58.50,refunded
U0000013,22/11/2026 20:05,99.00,paid
"""

# Longer than the plan pane's 15-cell label at 80 columns; cut without a mark it read as another template.
LONG = "nostalgic-sms-en-december"


@pytest.fixture
def demo(tmp_path, monkeypatch) -> Workspace:
    demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")
    (tmp_path / "winback.toml").write_text(MAPPING, encoding="utf-8")
    workspace = Workspace.load(config=tmp_path / "winback.toml", db=tmp_path / "winback.db")
    db = workspace.open()
    templates.save(db, templates.parse_toml(
        f'name = "{LONG}"\nchannel = "sms"\nbody = "{{{{ user.name | default(\'您\') }}}}，好久不见"\n'))
    quiet_hours.set_quiet_hours(db, "off")
    db.close()
    return workspace


async def test_the_import_result_says_how_to_refresh_from_the_console(demo, tmp_path):
    orders = tmp_path / "shop-orders.csv"
    orders.write_text(SHOP_ORDERS, encoding="utf-8")
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
        await pilot.press(*orders.name)
        assert app.screen.query_one("#import-file", Input).value == orders.name
        mapping = app.screen.query_one("#import-mapping", Select)
        mapping.focus()
        await pilot.press("enter", "down", "enter")
        await wait_for(pilot, lambda: mapping.value == "shop", what="the saved mapping chosen")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "events added" in text_of(pilot, "#import-result"), what="the result")
        result = " ".join(text_of(pilot, "#import-result").split())
        assert "2 events added" in result, result
        # The console's way first: an operator in the console alone has R on the overview.
        assert "R on the overview" in result, result


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_plan_pane_never_cuts_a_template_name_into_another_name(demo, size):
    db = demo.open()
    model.create(db, "dec-draft", segment="all", channel="sms", template=LONG, holdout=10)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen)
                       and "to send" in text_of(pilot, "#campaign-plan-text"), what="the draft's plan")
        plan = text_of(pilot, "#campaign-plan-text")
        variant = next(line for line in plan.splitlines() if line.startswith("A "))
        shown = variant.split()[1]
        # Whole, or visibly cut; never "nostalgic-sms", the name of a template that exists too.
        assert shown == LONG or (shown.endswith("…") and LONG.startswith(shown[:-1])), variant
        if size[0] >= 160:
            assert shown == LONG, variant  # the pane is wide enough for it


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_on_deliveries_slash_and_enter_act_on_the_recipients(demo, size):
    db = demo.open()
    model.create(db, "dec-sent", segment="all", channel="sms", template=LONG, holdout=10)
    control.launch(db, demo.config, "dec-sent")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="the dry run on Deliveries")
        tally = app.screen.query_one("#tally-table", DataTable)
        recipients = app.screen.query_one("#recipients-table", DataTable)
        await wait_for(pilot, lambda: tally.row_count == 3, what="the tally: the arm, the holdout, the total")
        await filter_recipients(pilot, "sent")
        # a dry run: its sent recipients read "would send" (nothing was sent)
        assert "would send" in str(app.screen.query_one("#recipients-box").border_title)
        await wait_for(pilot, lambda: recipients.row_count > 0, what="the sent recipients")
        await settle(pilot)
        first = str(recipients.get_row_at(0)[1])  # the user column
        # Enter, with no Tab first: why this recipient was messaged.
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoDialog), what="why, for the first recipient")
        assert first in app.screen.title_text, app.screen.title_text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen), what="back on Deliveries")
        # / searches the recipients, and leaves the tally whole.
        await pilot.press("slash")
        await type_text(pilot, first)
        bar = app.screen.query_one(FilterBar)
        assert bar.table is recipients
        await wait_for(pilot, lambda: recipients.row_count == 1, what=f"{first} found among the recipients")
        assert tally.row_count == 3


def test_the_fixture_file_names_match_the_docs() -> None:
    """docs/console.md's tour imports shop-orders.csv with the mapping `shop`: the same words as this test's."""
    docs = (Path(__file__).parent.parent / "docs" / "console.md").read_text(encoding="utf-8")
    assert "shop-orders.csv" in docs and "[import.mappings.shop]" in docs


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_help_shows_what_each_key_does_whole(demo, size):
    from screens.help import HelpScreen

    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")  # on the overview: l, t and R have the longest words
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        does = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert does["R"] == "Recompute profiles, layers, recommendations and scores (winback refresh)"
        # Nothing to scroll sideways to: a description longer than the column wraps onto a second line.
        assert table.virtual_size.width <= table.scrollable_content_region.width, (
            table.virtual_size.width, table.scrollable_content_region.width)


async def test_the_plan_says_who_waits_for_quiet_hours_and_what_they_cost(demo, monkeypatch):
    """In the evening most of a segment waits for quiet hours: the plan's "to send" is only those sent now, and
    the pane says how many wait, what they cost when quiet hours end and the total (the dry run records all)."""
    from console.campaigns.plan import plan as make_plan

    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T22:00:00+08:00")  # quiet in Shanghai (20:00-08:00)
    db = demo.open()
    quiet_hours.set_quiet_hours(db, "20:00-08:00")
    model.create(db, "dec-evening", segment="all", channel="sms", template=LONG, holdout=10)
    waiting = make_plan(db, demo.config, "dec-evening")["deferred_quiet_hours"]
    db.close()
    assert waiting > 0
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen)
                       and "to send" in text_of(pilot, "#campaign-plan-text"), what="the draft's plan")
        plan = " ".join(text_of(pilot, "#campaign-plan-text").split())
        assert f"{waiting:,} wait for quiet hours" in plan, plan
        assert "when they end · total ≈" in plan, plan


async def test_find_a_person_says_enter_finds(demo):
    """The find dialog has one field: its hint says what Enter does there, not the forms' "next / save"."""
    from screens.dialogs import FormDialog

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        hint = str(app.screen.query_one("Vertical").border_subtitle)
        assert hint == "Enter: find · Esc: back", hint


async def test_why_on_deliveries_wraps_each_fact_under_its_text(demo, monkeypatch):
    """At 80 columns the quiet-hours fact is longer than the dialog: its rest goes under the fact's text (as on
    the person page), not back to the dialog's left edge where it read as a line of its own."""
    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T22:00:00+08:00")  # quiet in Shanghai: the long NO line
    db = demo.open()
    quiet_hours.set_quiet_hours(db, "20:00-08:00")
    model.create(db, "dec-evening", segment="all", channel="sms", template=LONG, holdout=10)
    control.launch(db, demo.config, "dec-evening")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and "completed" in text_of(pilot, "#deliveries-title"), what="the dry run on Deliveries")
        recipients = app.screen.query_one("#recipients-table", DataTable)
        await filter_recipients(pilot, "sent")
        await wait_for(pilot, lambda: recipients.row_count > 0, what="the sent recipients")
        await settle(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoDialog), what="why")
        await settle(pilot)
        body = app.screen.query_one("#info-body")
        shown = ["".join(segment.text for segment in body.render_line(y)) for y in range(body.size.height)]
        at = next(i for i, line in enumerate(shown) if "NO  quiet hours" in line)
        assert shown[at + 1].startswith(" " * 19) and shown[at + 1].strip(), shown[at:at + 3]


async def test_a_layers_segment_is_announced_once_with_where_to_use_it(demo):
    from screens.overview import LayerMembersScreen
    from screens.segment_editor import SegmentEditorScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l", "enter")  # the first cell of the heat map, whatever it holds
        await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen), what="the layer's users")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SegmentEditorScreen), what="the segment editor")
        await pilot.press(*"tour-layer", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, LayerMembersScreen), what="saved, back on the list")
        await settle(pilot)
        said = [n.message for n in app._notifications if "tour-layer" in n.message]
        assert said == ["Segment tour-layer saved: the campaign form (c, n) offers it."], said


async def test_the_refresh_line_says_it_goes_on_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: text_of(pilot, "#refresh-status").startswith("Refreshed"), what="the result")
        await settle(pilot)
        status = app.screen.query_one("#refresh-status")
        shown = "".join(segment.text for segment in status.render_line(0)).rstrip()
        whole = text_of(pilot, "#refresh-status")
        # Longer than the line: cut with … (the notification has it whole), not at a comma that reads as the end.
        assert len(whole) > status.content_size.width
        assert shown.endswith("…"), shown


async def test_the_real_send_switch_shows_no_x_while_it_is_off(demo):
    """Textual's checkbox draws its X on and off (only its colour changes): off read as ticked at a glance."""
    from textual.widgets import Checkbox

    from screens.new_campaign import NewCampaignScreen

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the creation flow")
        switch = app.screen.query_one("#f-real", Checkbox)

        def drawn() -> str:
            return "".join(segment.text for segment in switch.render_line(0)).strip()

        await settle(pilot)
        assert drawn().startswith("▐ ▌ real send: OFF"), drawn()
        switch.value = True
        await wait_for(pilot, lambda: drawn().startswith("▐X▌ REAL SEND: ON"), what="the X and the words, on")
        switch.value = False
        await wait_for(pilot, lambda: drawn().startswith("▐ ▌ real send: OFF"), what="no X, off again")


async def test_back_from_the_flow_the_list_highlights_the_new_draft(demo):
    """Esc from the creation flow after ctrl+s: the list's cursor is on the new draft, so `l` launches it — it
    stayed on the campaign highlighted before, and `l` (which never asks) ran that one again."""
    from screens.base import cursor_key
    from screens.new_campaign import NewCampaignScreen

    db = demo.open()
    model.create(db, "older", segment="all", channel="sms", template=LONG, holdout=10)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        table = app.screen.query_one("#campaigns-table", DataTable)
        await wait_for(pilot, lambda: cursor_key(table) == "older", what="the list, on the older draft")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewCampaignScreen), what="the creation flow")
        flow = app.screen
        await pilot.press(*"dec-two", "tab", "enter", "end", "enter")  # the last segment, as in the docs
        segment = flow.query_one("#f-segment", Select)
        await wait_for(pilot, lambda: segment.value != Select.NULL, what="a segment chosen")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: flow.created == "dec-two", what="the draft created")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen), what="back on the list")
        await wait_for(pilot, lambda: cursor_key(table) == "dec-two", what="the cursor on the new draft")
        await wait_for(pilot, lambda: str(app.screen.query_one("#campaign-plan").border_title) == "Plan · dec-two",
                       what="its plan beside it")


async def test_settle_waits_past_a_fetch_a_newer_one_superseded(demo):
    """tests/tui_helpers.settle: a fetch cancelled by a newer one of the same key (exclusive workers — a live
    refresh during a search) is not an error; test_tui_filter failed on it under load (WorkerCancelled)."""
    import threading

    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        gate = threading.Event()

        def slow(db) -> None:
            gate.wait(60)

        app.screen.fetch("probe", slow)
        await wait_for(pilot, lambda: any(w.name == "probe" and w.state.name == "RUNNING" for w in app.workers),
                       what="the first fetch running")
        app.screen.fetch("probe", lambda db: None)  # supersedes it: the first is cancelled
        gate.set()
        await settle(pilot)
        assert not [w for w in app.workers if w.name == "probe" and w.state.name in ("PENDING", "RUNNING")]
