"""The steps of the demo's simulated ladder after the operator's own `winback program run-due` (a dry run):
`campaign list --all`, `campaign tally`, `campaign show` (text and --json) and the console's Deliveries screen tell
the demo's made-up runs (started by demo:simulation) from the operator's own dry run, with counts per mode — as
`program show`, `why` and the person page do (tests/test_program_modes_shown.py). Nothing of the operator's is
called simulated, nothing simulated is shown as theirs."""

from __future__ import annotations

import json

from console.workspace import Workspace
from tests.conftest import Cli
from tests.test_demo_program import built, demo  # noqa: F401  (fixtures: one `winback demo --users 1000`)
from tests.test_program_modes_shown import advanced  # noqa: F401  (the demo, then the operator's run-due)
from tests.tui_helpers import make_app, text_of, wait_for

SIMULATED_BY = "demo:simulation"


def _mixed_step(ws: Workspace) -> tuple[str, dict[str, dict[str, int]], int, int]:
    """A step the operator's run-due ran after the demo's runs: its name, its runs counted per mode straight from
    the ledger (who started each run), the operator's run and the demo's last run."""
    db = ws.open()
    name, cid = db.execute(
        "SELECT c.name, c.id FROM campaigns c JOIN campaign_runs r ON r.campaign_id = c.id WHERE c.program_id IS NOT "
        "NULL AND r.started_by != ? ORDER BY c.id LIMIT 1", [SIMULATED_BY]).fetchone()
    counts: dict[str, dict[str, int]] = {}
    for by, runs, recipients, would in db.execute(
            "SELECT r.started_by = ?, COUNT(DISTINCT r.run), COUNT(s.id), "
            "COALESCE(SUM(s.status IN ('sent', 'delivered')), 0) FROM campaign_runs r LEFT JOIN sends s ON "
            "s.campaign_id = r.campaign_id AND s.run = r.run WHERE r.campaign_id = ? GROUP BY 1",
            [SIMULATED_BY, cid]):
        counts["simulated" if by else "dry run"] = {"runs": runs, "recipients": recipients, "would_send": would}
    ours = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ? AND started_by != ?",
                      [cid, SIMULATED_BY]).fetchone()[0]
    theirs = db.execute("SELECT MAX(run) FROM campaign_runs WHERE campaign_id = ? AND started_by = ?",
                        [cid, SIMULATED_BY]).fetchone()[0]
    db.close()
    assert set(counts) == {"simulated", "dry run"}, counts
    return name, counts, ours, theirs


def _by_mode(modes: list[dict[str, int | str]]) -> dict[str, dict[str, int | str]]:
    return {str(m["mode"]): {k: v for k, v in m.items() if k in ("runs", "recipients", "would_send")}
            for m in modes}


def test_list_all_counts_each_mode_of_a_step_the_operator_ran_too(advanced) -> None:  # noqa: F811
    ws, cli = advanced
    name, counts, _, _ = _mixed_step(ws)
    rows = {r["name"]: r for r in json.loads(cli("campaign", "list", "--all", "--json").stdout)}
    step = rows[name]
    assert step["mode"] == "simulated + dry run", step
    assert _by_mode(step["modes"]) == counts, step["modes"]
    assert step["simulated_program"] == "ladder" and "would_send" in step   # the keys scripts read stay
    assert rows["simulated"]["mode"] == "simulated" and rows["simulated"]["modes"] is None
    text = " ".join(cli("campaign", "list", "--all").output.split())
    dry = counts["dry run"]
    assert (f"{name}: simulated (made up by the demo): {counts['simulated']['runs']} runs" in text
            and f"dry run (yours, after the demo's weeks): {dry['runs']} run, {dry['recipients']} "
            in text), text


def test_a_fresh_demo_step_is_simulated_alone(demo) -> None:  # noqa: F811
    rows = json.loads(Cli(demo.db_path)("campaign", "list", "--all", "--json").stdout)
    steps = [r for r in rows if r["name"].startswith("program:ladder/")]
    assert steps and all(r["mode"] == "simulated" for r in steps), steps
    assert all([m["mode"] for m in r["modes"]] == ["simulated"] for r in steps), steps


def test_tally_and_show_say_the_operators_run_is_a_dry_run(advanced) -> None:  # noqa: F811
    ws, cli = advanced
    name, counts, ours, theirs = _mixed_step(ws)
    tally = json.loads(cli("campaign", "tally", name, "--json").stdout)
    assert tally["run"] == ours and tally["mode"] == "dry run" and tally["simulated_program"] == "ladder"
    assert _by_mode(tally["modes"]) == counts
    text = " ".join(cli("campaign", "tally", name).output.split())
    assert f"{name} run {ours} — completed (dry run)" in text and "runs of" in text, text
    # the demo's own run of the same step stays simulated
    old = json.loads(cli("campaign", "tally", name, "--run", str(theirs), "--json").stdout)
    assert old["mode"] == "simulated", old["mode"]
    assert f"run {theirs} — completed (simulated)" in cli("campaign", "tally", name, "--run", str(theirs)).output
    shown = json.loads(cli("campaign", "show", name, "--json").stdout)
    assert shown["mode"] == "simulated + dry run" and _by_mode(shown["modes"]) == counts, shown
    said = " ".join(cli("campaign", "show", name).output.split())
    assert "simulated + dry run" in said and "your own dry run" in said, said


def test_recipients_and_outcomes_of_the_operators_run_are_a_dry_run(advanced) -> None:  # noqa: F811
    from console.campaigns import tallies

    ws, cli = advanced
    name, _, ours, theirs = _mixed_step(ws)
    db = ws.open()
    assert {r["mode"] for r in tallies.recipients(db, name)} == {"dry run"}
    assert {r["mode"] for r in tallies.recipients(db, name, run=theirs)} == {"simulated"}
    db.close()
    mine = json.loads(cli("outcomes", name, "--json").stdout)
    assert mine["run"] == ours and mine["mode"] == "dry run", (mine["run"], mine["mode"])
    assert json.loads(cli("outcomes", name, "--run", str(theirs), "--json").stdout)["mode"] == "simulated"


async def test_deliveries_says_the_operators_run_is_a_dry_run_with_counts_per_mode(advanced) -> None:  # noqa: F811
    ws, _ = advanced
    name, counts, _, _ = _mixed_step(ws)
    app = make_app(ws)
    async with app.run_test(size=(160, 45)) as pilot:
        app.followed_campaign = name
        await pilot.press("d")
        await wait_for(pilot, lambda: "runs:" in text_of(pilot, "#skipped-line"), what="the runs per mode")
        title = text_of(pilot, "#deliveries-title")
        assert "dry-run" in title and "this run is your dry run" in title and "simulated ·" not in title, title
        line = " ".join(text_of(pilot, "#skipped-line").split())
        assert f"simulated (made up by the demo): {counts['simulated']['runs']} runs" in line, line
        assert "dry run (yours, after the demo's weeks)" in line, line
