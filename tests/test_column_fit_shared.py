"""One rule for fitting table columns (issue 16): the CLI's (console/column_fit.py) decides the console's FitTables too
(screens/columns.py), the differences between the two views being parameters of that rule."""

from __future__ import annotations

from console.column_fit import Fit, fit_columns, fit_whole_first
from screens.columns import EXTRA, Column, fit, rule

NAME = Fit("name", whole=False, least=8)
NATURAL = {"name": 30, "sent": 9, "held": 7, "ch": 5}
LISTING = (NAME, Fit("sent"), Fit("held", priority=EXTRA), Fit("ch", priority=EXTRA + 1))


def test_extra_columns_step_aside_before_a_name_is_narrowed_when_that_shows_every_cell_whole():
    # 30+9+7+5 and 2 cells each = 59. At 52 the plain rule narrows the name and keeps every column…
    assert [(c.key, w) for c, w in fit_columns(LISTING, NATURAL, 52, gap=2, edge=0)] == \
        [("name", 23), ("sent", 9), ("held", 7), ("ch", 5)]
    # …where a list whose names matter more lets its extras go, the highest first, until the rest is whole.
    assert [(c.key, w) for c, w in fit_whole_first(LISTING, NATURAL, 52, extras=EXTRA, gap=2, edge=0)] == \
        [("name", 30), ("sent", 9), ("held", 7)]
    assert [(c.key, w) for c, w in fit_whole_first(LISTING, NATURAL, 43, extras=EXTRA, gap=2, edge=0)] == \
        [("name", 30), ("sent", 9)]
    # When even without its extras the rest is not whole, the plain rule decides (the extras may come back).
    assert fit_whole_first(LISTING, NATURAL, 40, extras=EXTRA, gap=2, edge=0) == \
        fit_columns(LISTING, NATURAL, 40, gap=2, edge=0)
    # A rich Table's gap and rule (the CLI's defaults): 30+9 and 3 cells each, less the last rule = 44.
    assert [(c.key, w) for c, w in fit_whole_first(LISTING, NATURAL, 44, extras=EXTRA)] == [("name", 30), ("sent", 9)]


def test_the_console_decides_by_the_shared_rule_at_every_width():
    columns = (Column("name", "name", "name", least=8), Column("sent", "sent", "count"),
               Column("step", "step", "mixed", priority=1, least=4), Column("id", "id", "id", priority=2),
               Column("ch", "ch", priority=EXTRA, least=3), Column("note", "note", priority=EXTRA, least=6))
    natural = {"name": 30, "sent": 9, "step": 12, "id": 6, "ch": 5, "note": 20}
    figures = {"step": 7}
    rules = [rule(c, figures) for c in columns]
    assert [r.whole for r in rules] == [False, True, False, True, False, False]   # counts and ids never cut
    assert rules[2].least == 7                                                   # a mixed column: its widest figure
    for room in range(0, 110):
        for extras_first in (False, True):
            console = [(c.key, w) for c, w in fit(columns, natural, room, extras_first=extras_first,
                                                  figures=figures)]
            shared = fit_whole_first(rules, natural, room, extras=EXTRA, gap=2, edge=0) if extras_first \
                else fit_columns(rules, natural, room, gap=2, edge=0)
            assert console == [(r.key, w) for r, w in shared], (room, extras_first)
