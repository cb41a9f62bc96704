"""Readable at 80×24: what the tour through tmux found cut off, checked so it stays fixed."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from screens.audit import AuditScreen
from screens.campaigns import CampaignsScreen
from screens.deliveries import DeliveriesScreen
from screens.segments import SegmentsScreen
from tests.tui_helpers import demo_workspace, launched_demo, make_app, settle, wait_for


@pytest.fixture
def demo(tmp_path, monkeypatch):
    return demo_workspace(tmp_path, monkeypatch, users=400, now="2026-11-25T11:00:00+08:00")


def fits(table: DataTable) -> bool:
    """Every column shows without scrolling sideways."""
    return table.virtual_size.width <= table.scrollable_content_region.width


async def test_segment_members_take_the_whole_width_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        members = app.screen.query_one("#seg-members", DataTable)
        assert members.row_count and fits(members)
        assert not app.screen.query_one("#segment-list").display
        assert [str(k.value) for k in members.columns][-1] == "last order"
        for _ in range(6):  # S: sorted by expected value, a score column joins and still everything fits
            await pilot.press("S")
        await settle(pilot)
        assert "exp. value" in [str(k.value) for k in members.columns] and fits(members)
        await pilot.press("1")  # the list comes back with the layer view
        assert app.screen.query_one("#segment-list").display
        assert app.screen.focused is app.screen.query_one("#segments-table")


async def test_segment_members_keep_the_layer_column_when_there_is_room(demo):
    app = make_app(demo)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        members = app.screen.query_one("#seg-members", DataTable)
        assert "layer" in [str(k.value) for k in members.columns] and fits(members)
        assert app.screen.query_one("#segment-list").display


async def test_template_list_shows_its_channel_column_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await settle(pilot)
        assert fits(app.screen.query_one("#templates-table", DataTable))


async def test_consent_of_every_main_channel_shows_in_the_policy_box_at_80_columns(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        consent = app.screen.query_one("#consent")
        lines = str(consent.content).splitlines()
        box = app.screen.query_one("#rules-box").content_region
        for channel in ("sms", "email", "push"):
            row = next(i for i, line in enumerate(lines) if line.startswith(channel))
            assert consent.region.y + row < box.bottom, f"{channel} is below the box"


async def test_the_palette_leaves_out_textual_commands_an_operator_has_no_use_for(demo):
    app = make_app(demo)
    async with app.run_test(size=(80, 24)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Screenshot" not in titles and "Maximize" not in titles and "Quit" in titles


# ---- issue 18: tables choose their columns by width; counts whole, names cut ------------------------------------

BIG = 1_234_567


@pytest.fixture
def launched(tmp_path, monkeypatch):
    return launched_demo(tmp_path, monkeypatch)


def lines(table: DataTable) -> list[str]:
    """The table's lines as drawn (header first)."""
    return [table.render_line(y).text for y in range(min(table.size.height, table.row_count + 1))]


def right_under(header: str, label: str, line: str, value: str) -> bool:
    """`value` is drawn whole in `line`, its last character under the last character of the column `label`."""
    end = header.index(label) + len(label)
    return line[end - len(value):end] == value and line[end - len(value) - 1] == " " and line[end] == " "


def shown(table: DataTable) -> list[str]:
    return [str(k.value) for k in table.columns]


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_seven_digit_campaign_count_shows_whole_and_right_aligned(launched, size):
    from screens import sources

    db = launched.open()
    rows = sources.campaign_rows(db)
    db.close()
    for row in rows:  # a campaign of 1,234,567 recipients (a ledger that size is too slow to build in a test)
        row.update(planned=BIG, sent=BIG, failed=12_345, skipped=0)
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen)
                       and app.screen.query_one("#campaigns-table", DataTable).row_count == len(rows),
                       what="the campaign list")
        table = app.screen.query_one("#campaigns-table", DataTable)
        app.screen.show_campaigns(rows)
        await settle(pilot)
        header = lines(table)[0]
        [line] = [line for line in lines(table) if "nov-sms" in line]
        assert right_under(header, "sent", line, "1,234,567") and fits(table)
        if size[0] == 80:  # the state and the sent count stay; channel, failures and cost step aside
            assert {"name", "status", "sent"} <= set(shown(table)) and "channel" not in shown(table)
            assert "cost" not in shown(table)
        else:
            assert shown(table)[:6] == ["name", "channel", "status", "planned", "sent", "failed"]
            assert right_under(header, "failed", line, "12,345")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_tally_of_millions_keeps_every_count_whole(launched, size):
    from screens import sources

    db = launched.open()
    tally = sources.campaign_tally(db, "nov-sms")
    db.close()
    for bucket in (tally, *tally["variants"].values()):
        bucket.update(planned=BIG, sent=1_000_000, delivered=200_000, failed=34_567, deferred=123_456,
                      unknown=1_234, skipped=234_567)
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeliveriesScreen)
                       and app.screen.query_one("#tally-table", DataTable).row_count == 2, what="the tally")
        table = app.screen.query_one("#tally-table", DataTable)
        app.screen.show_tally(tally)
        await settle(pilot)
        header, arm, total = lines(table)[:3]
        for line in (arm, total):
            assert right_under(header, "planned", line, "1,234,567")
            # a dry run sends nothing: its `sent` column is what it would send
            assert right_under(header, "would send", line, "1,000,000")
            assert right_under(header, "failed", line, "34,567")
        assert fits(table)
        # Two rows keep no room for a scrollbar (screens.columns): at 80 that room lets 'unknown' in too; every
        # count whole, the arm's letter whole; its variant (template) name steps aside at 80 for the counts.
        variant = ["variant"] if size[0] >= 160 else []
        assert shown(table) == ["arm", *variant, "planned", "sent", "delivered", "failed", "deferred", "unknown",
                                "skipped"]
        assert right_under(header, "skipped", arm, "234,567")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_long_segment_name_is_cut_and_its_count_is_not(demo, size):
    from console import segments

    name = "dormant-users-who-bought-twice-in-the-east-and-never-again-x"
    assert len(name) == 60
    db = demo.open()
    segments.create(db, name, "dormancy = dormant")
    users = segments.count(db, name)
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SegmentsScreen), what="Segments")
        table = app.screen.query_one("#segments-table", DataTable)
        await wait_for(pilot, lambda: f"{users:,}" in " ".join(lines(table)[1:]) and "…" not in lines(table)[0]
                       and table.row_count > 14, what="the segments with their counts")
        header = lines(table)[0]
        [line] = [line for line in lines(table) if line.strip().startswith("dormant-users")]
        assert "…" in line and name not in line  # the name is cut, visibly
        assert right_under(header, "users", line, f"{users:,}") and fits(table)


@pytest.mark.parametrize(("size", "wanted"), [((80, 24), {"id", "at", "action", "details"}),
                                             ((160, 45), {"id", "at", "actor", "host", "action", "details"})])
async def test_the_audit_log_leaves_out_the_host_at_80_columns_and_shows_it_at_160(demo, size, wanted):
    from console import audit

    db = demo.open()
    audit.record_now(db, "segment.create", segment="x" * 60, rule="dormancy = dormant and region = 华东")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=size) as pilot:
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen), what="Audit")
        table = app.screen.query_one("#audit-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, what="the audit log")
        await settle(pilot)
        assert fits(table)
        assert wanted <= set(shown(table))
        if size[0] == 80:
            assert "host" not in shown(table)
        header = lines(table)[0]
        assert "when" in header and all("…" not in line.split()[1] for line in lines(table)[1:])  # time whole


async def test_columns_are_chosen_again_when_the_terminal_narrows(launched):
    from screens import sources

    db = launched.open()
    rows = sources.campaign_rows(db)
    db.close()
    for row in rows:
        row.update(planned=BIG, sent=BIG, failed=12_345)
    app = make_app(launched)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen)
                       and app.screen.query_one("#campaigns-table", DataTable).row_count == len(rows),
                       what="the campaign list")
        table = app.screen.query_one("#campaigns-table", DataTable)
        app.screen.show_campaigns(rows)
        await settle(pilot)
        assert "channel" in shown(table) and "failed" in shown(table)
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "channel" not in shown(table), what="the columns to be chosen again")
        await settle(pilot)
        header = lines(table)[0]
        [line] = [line for line in lines(table) if "nov-sms" in line]
        assert right_under(header, "sent", line, "1,234,567") and fits(table)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_overviews_campaigns_keep_a_seven_digit_count_whole(launched, size):
    from screens import sources

    db = launched.open()
    rows = sources.campaign_rows(db)
    db.close()
    for row in rows:
        row.update(name=row["name"] + "-with-a-long-name-for-november-win-back", planned=BIG, done=BIG, sent=BIG,
                   skipped=2_345_678, cost=123_456.0)
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        table = app.screen.query_one("#campaign-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == len(rows), what="the overview's campaigns")
        app.screen._show_campaigns(rows)
        await settle(pilot)
        header = lines(table)[0]
        [line] = [line for line in lines(table) if "nov-sms" in line]
        assert right_under(header, "sent", line, "1,234,567") and fits(table)
        if size[0] == 80:  # the name is cut and the channel steps aside rather than a count being cut
            assert "…" in line and "channel" not in shown(table)
        else:
            assert right_under(header, "skipped", line, "2,345,678") and "would ¥123,456" in line


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_a_persons_messages_cut_a_long_campaign_name_not_the_state(launched, size):
    from console.campaigns import control, model
    from screens.dialogs import FormDialog
    from screens.person import PersonScreen
    from tests.tui_helpers import text_of

    long_name = "november-win-back-for-the-dormant-east-china-buyers-second-go"
    db = launched.open()
    model.create(db, long_name, segment="all", channel="sms", template="miss-you", holdout=0)
    control.launch(db, launched.config, long_name)
    db.close()
    app = make_app(launched)
    async with app.run_test(size=size) as pilot:
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, FormDialog), what="the find dialog")
        await pilot.press(*"U0000003", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PersonScreen)
                       and "loading" not in text_of(pilot, "#person-profile"), what="the person's page")
        table = app.screen.query_one("#person-messages", DataTable)
        await wait_for(pilot, lambda: any("november" in line for line in lines(table)), what="their messages")
        await settle(pilot)
        [line] = [line for line in lines(table) if "november" in line]
        assert long_name not in line and "…" in line and fits(table)
        assert "would send" in line or "skipped dry" in line  # the state whole (a dry run's 'sent' would send)


async def test_a_long_template_name_is_cut_and_its_channel_and_version_stay(demo):
    from console import templates

    name = "winback-november-nostalgic-reminder-for-east-china-zh"
    db = demo.open()
    templates.save(db, templates.parse_toml(f'name = "{name}"\nchannel = "email"\nsubject = "hi"\n'
                                            'body = "hi {{ links.unsubscribe }}"\n'))
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await wait_for(pilot, lambda: app.screen.query("#templates-table")
                       and app.screen.query_one("#templates-table", DataTable).row_count > 0, what="the templates")
        table = app.screen.query_one("#templates-table", DataTable)
        await wait_for(pilot, lambda: any(line.strip().startswith("winback-") for line in lines(table)),
                       what="the long name")
        [line] = [line for line in lines(table) if line.strip().startswith("winback-")]
        assert name not in line and "…" in line and " email " in line and line.rstrip().endswith("1")
        assert fits(table)


async def test_a_long_suppressed_address_is_cut_and_the_date_stays(demo):
    from screens import sources
    from screens.policy import PolicyScreen

    address = "a.very.long.mailbox.name.for.testing@subdomain.mail.example-company.com.cn"
    db = demo.open()
    sources.add_suppression(db, demo.config, target=address, channel="email", reason="complaint", note="")
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyScreen)
                       and app.screen.query_one("#suppress-table", DataTable).row_count > 0, what="suppressions")
        table = app.screen.query_one("#suppress-table", DataTable)
        await settle(pilot)
        [line] = [line for line in lines(table) if "complaint" in line]
        assert "…" in line and "2026-11-25" in line and fits(table)
