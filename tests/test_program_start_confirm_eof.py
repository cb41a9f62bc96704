"""`winback program start NAME --real` with stdin at its end (`< /dev/null`, a script that forgot --yes): the prompt
for the program's name got no answer and the CLI printed click's bare 'Aborted.' (exit 1), which says neither what
happened nor what to do — `campaign launch --real` says it in words (tests/test_first_sms_confirm_eof.py)."""

from __future__ import annotations

from tests.test_programs_ladder import add_program, cli, db, step_rows, ws  # noqa: F401 - fixtures


def test_a_real_program_start_whose_confirmation_gets_no_answer_says_so_and_exits_2(ws, db, tmp_path):  # noqa: F811
    assert add_program(ws, tmp_path, control=0).exit_code == 0
    result = cli(ws, "program", "start", "ladder", "--real", input="")
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert "Aborted" not in text
    assert "no answer to the typed confirmation: nothing was started; type the program's name at a terminal, " \
           "or pass --yes in scripts" in text, text
    assert db.execute("SELECT status FROM programs WHERE name = 'ladder'").fetchone()[0] != "running"
    assert db.execute("SELECT COUNT(*) FROM program_entries").fetchone()[0] == 0 and step_rows(db) == {}
