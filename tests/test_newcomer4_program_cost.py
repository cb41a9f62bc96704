"""`winback program show` of a dry-run program: its cost is what it would cost, with the currency — it read
"0.51 per extra returned user; cost 297.28" for the demo's simulated ladder, which sent nothing."""

from __future__ import annotations

from tests.test_programs_ladder import add_program, cli, db, ws  # noqa: F401 (fixtures)


def test_a_dry_run_programs_cost_is_what_it_would_cost_in_the_currency(ws, db, tmp_path):  # noqa: F811
    assert add_program(ws, tmp_path).exit_code == 0
    assert cli(ws, "program", "start", "ladder").exit_code == 0
    shown = cli(ws, "program", "show", "ladder")
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    steps = db.execute("SELECT COUNT(*) FROM sends WHERE status = 'sent'").fetchone()[0]
    assert f"would cost {steps * 0.04:,.2f} CNY" in said, said
    assert "no budget (dry run: would cost" in said and "spent" not in said, said


def test_adding_a_one_step_program_says_one_step(ws, db, tmp_path):  # noqa: F811
    one = tmp_path / "one.toml"
    one.write_text('name = "one"\nentry = "all"\n\n[[steps]]\nname = "nudge"\nchannel = "sms"\n'
                   'template = "miss-you"\n', encoding="utf-8")
    added = cli(ws, "program", "add", str(one))
    assert added.exit_code == 0, added.output
    assert "added program 'one' (draft, 1 step):" in " ".join(added.output.split())
