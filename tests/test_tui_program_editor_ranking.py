"""The program editor (issue #14) checks a ranked step as you type (issue #15 on program steps): `rank_by =
"uplift"` without a usable uplift fit is named at its line with the fit's verdict; a step's budget without a
ranking too. At 80x24, on the demo's ladder."""

from __future__ import annotations

from tests.test_tui_programs import _open_ladder_editor, demo  # noqa: F401 (fixture)
from tests.tui_helpers import make_app, text_of, wait_for


async def test_the_editor_names_a_ranking_the_uplift_verdict_refuses_at_its_line(demo):  # noqa: F811
    db = demo.open()
    db.execute("INSERT INTO uplift_fits (fitted_at, fitted_by, campaigns, treated, control, treated_conversions, "
               "control_conversions, usable, verdict, report) VALUES (1, 'test', '[]', 900, 100, 40, 4, 0, "
               "'no usable effect: the effect is indistinguishable from zero', '{}')")
    db.conn.commit()
    db.close()
    app = make_app(demo)
    async with app.run_test(size=(80, 24)) as pilot:
        area = await _open_ladder_editor(pilot)
        text = area.text
        only = next(k for k, line in enumerate(text.splitlines()) if line.startswith("only ="))
        lines = text.splitlines()
        area.text = "\n".join([*lines[:only + 1], 'rank_by = "uplift"', "budget = 20", *lines[only + 1:]]) + "\n"
        await wait_for(pilot, lambda: f"line {only + 2}: steps[3].rank_by:" in text_of(pilot, "#program-check")
                       and "indistinguishable from zero" in text_of(pilot, "#program-check"),
                       what="rank_by named at its line with the uplift verdict")
        area.text = "\n".join([*lines[:only + 1], "budget = 20", *lines[only + 1:]]) + "\n"
        await wait_for(pilot, lambda: f"line {only + 2}: steps[3].budget: a step's budget goes with rank_by"
                       in text_of(pilot, "#program-check"), what="a budget without a ranking")
        area.text = text
        await wait_for(pilot, lambda: "✓ ladder" in text_of(pilot, "#program-check"), what="the file good again")
