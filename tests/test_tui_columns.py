"""screens/columns.py: which columns fit, how wide, what is cut (issue 18: "fits at 80 columns")."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from screens.columns import Column, FitTable, cut, fit, number

COLUMNS = (Column("name", "name", "name", least=8, most=40), Column("sent", "sent", "count"),
           Column("state", "state", priority=1, least=9), Column("ch", "ch", priority=2))


def test_a_count_is_whole_with_separators_and_right_aligned():
    cell = number(1_234_567)
    assert cell.plain == "1,234,567" and cell.justify == "right"
    assert number(None).plain == "—"


def test_a_name_is_cut_with_an_ellipsis_counting_wide_characters():
    assert cut("dormant-east-china", 10) == "dormant-e…"
    assert cut("东部沉睡用户群", 7) == "东部沉…"  # three wide characters (6 cells) and the ellipsis
    assert cut("short", 10) == "short"
    assert cut(Text("a-long-arm-name", style="bold"), 6).plain == "a-lon…"


def test_names_are_cut_to_their_least_before_a_column_goes_and_counts_never():
    natural = {"name": 30, "sent": 9, "state": 9, "ch": 3}
    # Everything at its natural width: 30+9+9+3 and 2 cells of padding each = 59.
    assert [(c.key, w) for c, w in fit(COLUMNS, natural, 59)] == [("name", 30), ("sent", 9), ("state", 9), ("ch", 3)]
    # 10 cells less: the name gives them up, every column stays.
    assert [(c.key, w) for c, w in fit(COLUMNS, natural, 49)] == [("name", 20), ("sent", 9), ("state", 9), ("ch", 3)]
    # Less than the name at its least can make room for: the lowest priority (ch) goes, the name grows back.
    assert [(c.key, w) for c, w in fit(COLUMNS, natural, 33)] == [("name", 9), ("sent", 9), ("state", 9)]
    # Then the state; a count is never cut, even when it does not fit (the table scrolls).
    assert [(c.key, w) for c, w in fit(COLUMNS, natural, 20)] == [("name", 8), ("sent", 9)]
    assert [(c.key, w) for c, w in fit(COLUMNS, natural, 5)] == [("name", 8), ("sent", 9)]


class _OneTable(App):
    def compose(self) -> ComposeResult:
        yield FitTable(COLUMNS, id="t")


async def test_a_table_emptied_by_its_screen_does_not_bring_old_rows_back_on_resize():
    app = _OneTable()
    async with app.run_test(size=(80, 10)) as pilot:
        table = app.query_one(FitTable)
        table.show([("a", {"name": "nov-sms", "sent": 12, "state": "completed", "ch": "sms"})])
        await pilot.pause()
        assert table.row_count == 1
        table.clear()  # e.g. Deliveries follows another campaign
        await pilot.resize_terminal(60, 10)
        await pilot.pause()
        assert table.row_count == 0


async def test_columns_come_back_when_the_terminal_widens():
    app = _OneTable()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(FitTable)
        table.show([("a", {"name": "a-campaign-with-a-long-name", "sent": 1_234_567, "state": "completed",
                           "ch": "sms"})])
        await pilot.pause()
        assert table.shown == ("name", "sent")
        await pilot.resize_terminal(100, 10)
        await pilot.pause()
        assert table.shown == ("name", "sent", "state", "ch")
