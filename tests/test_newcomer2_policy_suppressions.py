"""The Policy screen lists the newest 200 suppressions in force; when there are more, its foot says how many in all
and that / searches them all — it said '200 shown' on the demo's 1,254, as if that were the whole list."""

from __future__ import annotations

from tests.tui_helpers import make_app, settle


def _suppress(db, n: int) -> None:  # type: ignore[no-untyped-def]
    db.conn.executemany(
        "INSERT INTO suppressions (channel, address, reason, source, at, created_by) "
        "VALUES ('sms', ?, 'manual', 'test', ?, 'tester')",
        [(f"+8613800{i:06d}", 1_700_000_000 + i) for i in range(n)])
    db.conn.commit()


async def test_more_suppressions_than_shown_are_counted_in_the_foot(workspace, db):
    _suppress(db, 205)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        foot = str(app.screen.query_one("#suppress-box").border_subtitle)
        assert foot == "the newest 200 of 205 · / searches them all", foot


async def test_a_whole_list_is_said_as_before(workspace, db):
    _suppress(db, 3)
    app = make_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await settle(pilot)
        assert str(app.screen.query_one("#suppress-box").border_subtitle) == "3 shown"
