"""The demo ships the issue's ladder in draft; a dry-run start shows users at its steps after simulated days."""

from __future__ import annotations

from console.workspace import Workspace
from fixtures.demo import build_demo


def test_the_demo_ladder_is_a_draft_and_a_dry_run_moves_users_through_its_steps(tmp_path, monkeypatch):
    from console.programs import funnel, runner, store

    monkeypatch.setenv("WINBACK_NOW", "2026-11-25T09:00:00+08:00")
    ws = Workspace.load(db=tmp_path / "demo.db")
    build_demo(ws, users=600, seed=7)
    db = ws.open()
    program = store.get(db, "ladder")
    assert program.status == "draft" and [s.name for s in program.steps] == ["nudge", "offer", "call"]
    store.start(db, "ladder", real=False)
    for day in ("2026-11-25T10:00:00+08:00", "2026-12-02T10:00:00+08:00", "2026-12-16T10:00:00+08:00"):
        monkeypatch.setenv("WINBACK_NOW", day)
        runner.run(db, ws.config, "ladder")
    data = funnel.funnel(db, "ladder")
    nudge, offer, call = data["steps"]
    assert data["entered"] > 0 and 0 < data["control"] < data["entered"]
    assert nudge["reached"] > 0 and nudge["holdout"] > 0
    assert offer["reached"] > 0 and offer["taken"] == nudge["taken"] - sum(nudge["skipped"].values())
    assert call["taken"] == offer["taken"] and call["skipped"].get("only", 0) > 0
    # every step reaches someone: some big spenders agreed to calls (fixtures/demo.py), so `call` is not empty
    assert [s["reached"] > 0 for s in (nudge, offer, call)] == [True, True, True]
    # nothing real left the machine for the program (the demo's history has real past campaigns of its own), and
    # the ledger agrees with the funnel
    assert db.execute("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
                      "WHERE c.program_id IS NOT NULL AND s.dry_run = 0").fetchone()[0] == 0
    assert nudge["reached"] == db.execute(
        "SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id "
        "WHERE c.name = 'program:ladder/nudge/sms' AND s.status = 'sent'").fetchone()[0]
