"""A program's page (issue #14): the returned rate treated vs control by days since entry (`T`), each step's
returns before the next step was due (treated, vs control) as rows of the steps-as-columns table — equal to
`winback program show --json` — and the steps table painted whole the moment it is rebuilt (no squeezed columns),
at 80x24 and a wide size."""

from __future__ import annotations

import copy

import pytest
from textual.geometry import Region
from textual.widgets import DataTable

from console.programs import funnel, runner, store
from screens.format import money
from screens.programs import ProgramPage
from tests.test_tui_programs import NOW, SIZES, _cells, _open_programs
from tests.tui_helpers import demo_workspace, make_app, settle, text_of, wait_for

DAYS = (NOW, "2026-12-02T10:00:00+08:00", "2026-12-16T10:00:00+08:00")


@pytest.fixture
def ladder(tmp_path, monkeypatch):
    """The demo's ladder run for three weeks; a fifth of its treated entrants (and a tenth of control) ordered 1 to
    20 days after entering."""
    workspace = demo_workspace(tmp_path, monkeypatch, users=400, now=NOW)
    db = workspace.open()
    # the program's salt (which draws its control group by hash) is random by design: fixed here, or in some runs
    # the control group's share of orders reached treated's by chance and there was no extra returned user to cost
    db.execute("UPDATE programs SET salt = 'test-salt' WHERE name = 'ladder'")
    db.conn.commit()
    store.start(db, "ladder", real=False)
    for day in DAYS:
        monkeypatch.setenv("WINBACK_NOW", day)
        runner.run(db, workspace.config, "ladder")
    db.execute("INSERT INTO events (user_id, kind, at, fingerprint) SELECT user_id, 'order', "
               "entered_at + 86400 * (1 + user_id % 20), 990000000 + user_id FROM program_entries "
               "WHERE user_id % 5 = 0 AND (control = 0 OR user_id % 10 = 0)")
    db.conn.commit()
    data = funnel.funnel(db, "ladder")
    db.close()
    return workspace, data


async def _open_page(pilot) -> ProgramPage:
    await _open_programs(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProgramPage)
                   and pilot.app.screen.query_one("#program-steps", DataTable).row_count > 0, what="the page")
    await settle(pilot)
    return pilot.app.screen


def _painted(table: DataTable) -> list[str]:
    lines = table.render_lines(Region(0, 0, table.size.width, table.size.height))
    return [line.text.rstrip() for line in lines]


def _share(arm: dict) -> str:
    return f"{arm['rate'] * 100:.1f}% of {arm['users']:,}"


@pytest.mark.parametrize("size", SIZES)
async def test_returns_by_days_since_entry_and_before_each_next_step_equal_the_funnel(ladder, size):
    workspace, data = ladder
    assert data["returned_by_days"] and data["comparison"]["treated"]["returned"] > 0
    app = make_app(workspace)
    async with app.run_test(size=size) as pilot:
        page = await _open_page(pilot)
        # the head: the cost and what each extra returned user cost (treated returns beyond control's rate)
        c = data["comparison"]
        assert c["cost_per_extra_returned"] is not None
        head = " ".join(text_of(pilot, "#program-head").split())
        # a dry run sent nothing: its money is what it would cost (as `winback program show` says it)
        assert f"would cost {money(c['cost'], page.currency)}" in head
        assert f"{money(c['cost_per_extra_returned'], page.currency)} per extra returned user" in head
        steps = {row[0]: row[1:] for row in _cells(pilot, "#program-steps")}
        for k, step in enumerate(data["steps"]):
            treated, control = step["returns"]["treated"], step["returns"]["control"]
            if treated["users"]:
                assert steps["returned"][k] == f"{treated['returned']:,} · {treated['rate'] * 100:.1f}%"
            if control["users"]:
                assert steps["vs control"][k] == f"{control['returned']:,} · {control['rate'] * 100:.1f}%"
        await pilot.press("T")
        await wait_for(pilot, lambda: page.query_one("#program-curve", DataTable).display
                       and page.query_one("#program-curve", DataTable).row_count == len(data["returned_by_days"]),
                       what="the returns by days since entry")
        rows = _cells(pilot, "#program-curve")
        for row, want in zip(rows, data["returned_by_days"], strict=True):
            assert row[0] == f"{want['days']} d"
            assert row[1:3] == [_share(want["treated"]), _share(want["control"])]
            assert row[3] == f"{want['lift'] * 100:+.1f} pp"
            assert row[4] == f"{want['ci_low'] * 100:+.1f} to {want['ci_high'] * 100:+.1f} pp"
        assert "95% interval" in "\n".join(_painted(page.query_one("#program-curve", DataTable)))
        assert not page.query_one("#program-steps", DataTable).display
        await pilot.press("T")   # the same key again: the steps
        await wait_for(pilot, lambda: page.query_one("#program-steps", DataTable).display, what="the steps again")


@pytest.mark.parametrize("size", SIZES)
async def test_the_steps_table_is_painted_whole_the_moment_its_columns_are_rebuilt(ladder, size):
    workspace, data = ladder
    app = make_app(workspace)
    async with app.run_test(size=size) as pilot:
        page = await _open_page(pilot)
        page.on_screen_suspend()   # no polling: the page shows exactly what is given below
        table = page.query_one("#program-steps", DataTable)
        before = _painted(table)
        # an edited draft with other step names (as after the editor's ctrl+s): the columns are rebuilt. The
        # terminal may paint at once, before the table's next idle; that paint must already be the whole table.
        edited = copy.deepcopy(page._shown["page"])
        for step in edited["program"]["steps"]:
            step["name"] = step["name"] + "-v2"
        page.show_page(edited)
        at_once = _painted(table)
        await settle(pilot)
        after = _painted(table)
        assert at_once == after, (at_once, after)
        assert after[0].split() == ["1", "nudge-v2", "2", "offer-v2", "3", "call-v2"], after
        assert [line.split()[:2] for line in after[1:3]] == [["channel", "sms"], ["wait", "+0d"]], after
        assert "would send" in after[4] and "vs control" in after[8], after
        assert len(after) == len(before)
